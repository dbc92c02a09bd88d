// Run by the benchmark as its own process: the API over a full hour of demo history, so the load
// generator's CPU does not land on the server's event loop. Prints the port, then serves until killed.
// With GPUFLEET_BENCH_EXPORT=FILE it first writes the gpu.utilization history there as OpenMetrics,
// for Prometheus to be backfilled with the same data (peers/prometheus.ts). With GPUFLEET_BENCH_PUBLISH=1
// it also records the latest reading again each second, as the sidecar publishes a tick: what is kept
// per publication (snapshot bytes, query answers) is then dropped and rebuilt each second, as it is in
// production, instead of being built once for the whole run.
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createApp } from '../api/app.js';
import { SidecarMetrics } from '../api/metrics.js';
import { SourceTracker } from '../collectors/sourceTracker.js';
import { fillHistory } from './demoHost.js';
import { historyToOpenMetrics } from './openMetrics.js';

const { store, snapshot, clock } = fillHistory(3600, 1000);
const span = store.history.span();
const exportFile = process.env.GPUFLEET_BENCH_EXPORT;
if (exportFile && span) {
  writeFileSync(exportFile, historyToOpenMetrics(store.history.range((m) => m.metric === 'gpu.utilization', span.from, span.to)));
}
const sources = new SourceTracker(60_000);
for (const s of ['gpu', 'vgpu'] as const) sources.success(s);
const metrics = new SidecarMetrics({ maxSeries: 5000, host: 'bench' });
metrics.update(snapshot, []);
// As the sidecar does: the gauges rewritten and the /metrics text rendered once per 1 s tick.
const publish = process.env.GPUFLEET_BENCH_PUBLISH === '1';
setInterval(() => {
  if (publish) {
    clock.advance(1000);
    store.record({ ...snapshot, host: { ...snapshot.host, collectedAt: new Date(clock.wallMs()).toISOString() } }, true);
  }
  metrics.update(store.latest ?? snapshot, []);
}, 1000);
const app = createApp({ store, sources, metrics, version: 'bench', startedAt: performance.now(), token: null });
const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port, series: store.history.seriesCount, span })}\n`);
});
