import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { startFleet } from './fleet.mjs';
import { PLUGIN_DIR, startHarnessServer } from './server.mjs';
import { startSidecar } from './sidecars.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
export const DEMO_UID = 'gpufleet-demo';
/** The uid the provisioned fleet dashboard's targets name. */
export const PROMETHEUS_UID = 'gpufleet-prometheus';
/** Hosts of the simulated fleet behind Prometheus (fleet-sim, `typical` mix, seed 1). */
export const FLEET_HOSTS = 20;
const TOKEN = 'browser-test-token';

/**
 * Before the browser tests: the host package sets installed and bundled (setup.sh), a sidecar on
 * the `demo` host (with its simulated vLLM engines) and a bearer token, a second sidecar started and stopped again (its URL is a
 * sidecar that is not running), a simulated fleet (fleet-sim, 20 hosts) scraped by a real Prometheus with
 * the fleet rules, and the harness server with the `gpufleet-demo` data source and the Prometheus data
 * source `gpufleet-prometheus` (queried through @grafana/prometheus and the server's /api/ds/query).
 * What the specs need goes to them through GPUFLEET_BROWSER_* variables. Returns the teardown.
 */
export default async function globalSetup() {
  for (const f of ['datasource/module.js', 'panels/topology/module.js', 'module.js']) {
    if (!existsSync(join(PLUGIN_DIR, f))) {
      throw new Error(`${join(PLUGIN_DIR, f)} is missing: build the plugin first (npm run build)`);
    }
  }
  execFileSync('bash', [join(HERE, 'setup.sh')], { stdio: 'inherit' });

  // The fleet (fleet-sim and Prometheus, most of the wait) starts beside the sidecars.
  const fleetStarting = startFleet({ hosts: FLEET_HOSTS, interval: 10 });
  fleetStarting.catch(() => {});
  let sidecar: Awaited<ReturnType<typeof startSidecar>> | undefined;
  let stoppedUrl: string;
  try {
    sidecar = await startSidecar({ token: TOKEN });
    // Only one demo sidecar may run the simulated engines (fixed ports); this one needs none.
    const other = await startSidecar({ engines: false });
    stoppedUrl = other.url;
    await other.stop();
  } catch (err) {
    await sidecar?.stop();
    await fleetStarting.then((f) => f.stop(), () => {});
    throw err;
  }
  const fleet = await fleetStarting.catch(async (err) => {
    await sidecar!.stop();
    throw err;
  });
  const server = await startHarnessServer({
    datasources: [
      { uid: DEMO_UID, name: 'gpufleet demo', url: sidecar!.url, secureJsonData: { token: TOKEN } },
      {
        uid: PROMETHEUS_UID,
        name: 'Prometheus',
        type: 'prometheus',
        url: fleet.promUrl,
        jsonData: { httpMethod: 'POST', timeInterval: '10s' },
      },
      // Bad input: a Prometheus that is not there, and one that never answers in time.
      { uid: `${PROMETHEUS_UID}-down`, name: 'Prometheus (down)', type: 'prometheus', url: stoppedUrl },
      {
        uid: `${PROMETHEUS_UID}-slow`,
        name: 'Prometheus (1 ms timeout)',
        type: 'prometheus',
        url: fleet.promUrl,
        jsonData: { httpMethod: 'POST', queryTimeout: '1ms' },
      },
    ],
  });

  process.env.GPUFLEET_BROWSER_URL = server.url;
  process.env.GPUFLEET_BROWSER_SIDECAR_URL = sidecar!.url;
  process.env.GPUFLEET_BROWSER_SIDECAR_TOKEN = TOKEN;
  process.env.GPUFLEET_BROWSER_CONTROL_FILE = sidecar!.controlFile;
  process.env.GPUFLEET_BROWSER_STOPPED_SIDECAR_URL = stoppedUrl;
  process.env.GPUFLEET_BROWSER_PROMETHEUS_URL = fleet.promUrl;
  process.env.GPUFLEET_BROWSER_FLEET_HOSTS = String(FLEET_HOSTS);

  return async () => {
    await server.close();
    await fleet.stop();
    await sidecar!.stop();
  };
}
