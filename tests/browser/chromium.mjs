// How the Playwright tests and the plugin bench launch Debian's Chromium (both name
// executablePath: '/usr/bin/chromium' themselves).
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
