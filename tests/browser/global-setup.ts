import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { PLUGIN_DIR, startHarnessServer } from './server.mjs';
import { startSidecar } from './sidecars.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
export const DEMO_UID = 'gpufleet-demo';
const TOKEN = 'browser-test-token';

/**
 * Before the browser tests: the host package sets installed and bundled (setup.sh), a sidecar on
 * the `demo` host (with its simulated vLLM engines) and a bearer token, a second sidecar started and stopped again (its URL is a
 * sidecar that is not running), and the harness server with the `gpufleet-demo` data source.
 * What the specs need goes to them through GPUFLEET_BROWSER_* variables. Returns the teardown.
 */
export default async function globalSetup() {
  for (const f of ['datasource/module.js', 'panels/topology/module.js', 'module.js']) {
    if (!existsSync(join(PLUGIN_DIR, f))) {
      throw new Error(`${join(PLUGIN_DIR, f)} is missing: build the plugin first (npm run build)`);
    }
  }
  execFileSync('bash', [join(HERE, 'setup.sh')], { stdio: 'inherit' });

  const sidecar = await startSidecar({ token: TOKEN });
  // Only one demo sidecar may run the simulated engines (fixed ports); this one needs none.
  const other = await startSidecar({ engines: false });
  const server = await startHarnessServer({
    datasources: [{ uid: DEMO_UID, name: 'gpufleet demo', url: sidecar.url, secureJsonData: { token: TOKEN } }],
  });
  const stoppedUrl = other.url;
  await other.stop();

  process.env.GPUFLEET_BROWSER_URL = server.url;
  process.env.GPUFLEET_BROWSER_SIDECAR_URL = sidecar.url;
  process.env.GPUFLEET_BROWSER_SIDECAR_TOKEN = TOKEN;
  process.env.GPUFLEET_BROWSER_CONTROL_FILE = sidecar.controlFile;
  process.env.GPUFLEET_BROWSER_STOPPED_SIDECAR_URL = stoppedUrl;

  return async () => {
    await server.close();
    await sidecar.stop();
  };
}
