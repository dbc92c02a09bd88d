import { isAbsolute, resolve } from 'node:path';

import { defineConfig } from '@playwright/test';

import { CHROMIUM_ARGS } from './chromium.mjs';

// scripts/test-all.sh names the JSON report relative to the repository root, where it runs; the json
// reporter would resolve it against this folder. Anchor it to the working directory.
const jsonOut = process.env.PLAYWRIGHT_JSON_OUTPUT_NAME;
if (jsonOut && !isAbsolute(jsonOut)) {
  process.env.PLAYWRIGHT_JSON_OUTPUT_NAME = resolve(process.cwd(), jsonOut);
}

/**
 * Browser tests: the built plugin (dist/) loaded the way Grafana loads it (SystemJS + AMD, shared
 * externals) in Debian's Chromium, once per host package set. Run from the repository root:
 *   npx playwright test -c tests/browser
 * scripts/test-all.sh adds --reporter=line,json with PLAYWRIGHT_JSON_OUTPUT_NAME.
 */
export default defineConfig({
  testDir: './specs',
  outputDir: '../artifacts/browser/test-results',
  globalSetup: './global-setup.ts',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  // One sidecar and one control file are shared: tests run one at a time (2 cores anyway).
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: Boolean(process.env.CI),
  reporter: 'line',
  use: {
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1400, height: 1100 },
    launchOptions: {
      // Debian's Chromium (apt-get install chromium), never a downloaded browser.
      executablePath: '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
    },
    screenshot: 'only-on-failure',
    trace: 'off',
  },
  // The same specs on both package sets; the project name is the set (tests/browser/hosts/<name>).
  projects: [{ name: 'grafana12' }, { name: 'grafana13' }],
});
