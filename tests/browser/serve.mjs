#!/usr/bin/env node
// Runs the browser tests' host by hand: a demo sidecar (with a token) and the harness server, with a
// data source `gpufleet-demo` pointing at it. Open the printed URLs in a browser; Ctrl+C stops both.
//
//   bash tests/browser/setup.sh && node tests/browser/serve.mjs [port]
import { startHarnessServer } from './server.mjs';
import { startSidecar } from './sidecars.mjs';

const sidecar = await startSidecar({ token: 'demo-token' });
const server = await startHarnessServer({
  port: Number(process.argv[2] ?? 0),
  datasources: [
    { uid: 'gpufleet-demo', name: 'gpufleet demo', url: sidecar.url, secureJsonData: { token: sidecar.token } },
    { uid: 'gpufleet-new', name: 'gpufleet new', url: '' },
  ],
});
console.log(`sidecar ${sidecar.url} (token demo-token, control file ${sidecar.controlFile})`);
for (const set of ['grafana12', 'grafana13']) {
  console.log(`${set}: ${server.url}/?set=${set}&view=dashboard&kind=topology&ds=gpufleet-demo`);
  console.log(`${set}: ${server.url}/?set=${set}&view=config&ds=gpufleet-new`);
}
const stop = async () => {
  await server.close();
  await sidecar.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
