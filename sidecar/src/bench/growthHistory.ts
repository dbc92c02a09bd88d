// Run by the bench in a fresh process per history length: resident memory and the cost of recording
// one more tick with `ticks` ticks of demo history held at 1 s. Prints one JSON line.
//   node --expose-gc growthHistory.js TICKS
import { execFileSync } from 'node:child_process';
import type { Snapshot } from '../model.js';
import { buildGpus } from '../parsers/gpuSnapshot.js';
import { parseNvidiaSmiList } from '../parsers/nvidiaSmiList.js';
import { parseNvidiaSmiXml } from '../parsers/nvidiaSmiXml.js';
import { parseVgpuQuery } from '../parsers/vgpuQuery.js';
import { FakeClock } from '../testing/fakeClock.js';
import { Store } from '../store/store.js';
import { demoEnv, FAKE } from './demoHost.js';

const ticks = Number(process.argv[2]);
if (!Number.isInteger(ticks) || ticks < 1) throw new Error('usage: growthHistory.js TICKS');
const gc = (globalThis as { gc?: () => void }).gc;

// Twelve demo readings a minute apart, parsed once: filling 6 h must not take 6 h of parsing.
const base = Date.now();
const snapshots: Snapshot[] = Array.from({ length: 12 }, (_, i) => {
  const env = demoEnv(base - i * 60_000);
  const log = parseNvidiaSmiXml(execFileSync(FAKE, ['-q', '-x'], { env, encoding: 'utf8', maxBuffer: 64 << 20 }));
  const list = parseNvidiaSmiList(execFileSync(FAKE, ['-L'], { env, encoding: 'utf8' }));
  const vgpu = parseVgpuQuery(execFileSync(FAKE, ['vgpu', '-q'], { env, encoding: 'utf8' }));
  return {
    host: { hostname: 'bench', driverVersion: log.driverVersion, cudaVersion: log.cudaVersion, collectedAt: new Date(base).toISOString(), sources: {} as Snapshot['host']['sources'] },
    gpus: buildGpus('bench', log, list, vgpu),
    engines: [],
  };
});
gc?.();
const baselineRssMB = process.memoryUsage().rss / 1e6;
const clock = new FakeClock(base - ticks * 1000, 0);
const store = new Store({ capacity: ticks, maxSeries: 5000, clock });
for (let i = 0; i < ticks; i++) {
  clock.advance(1000);
  store.record(snapshots[i % snapshots.length] as Snapshot, true);
}
// Recording into a full ring: the steady state of a sidecar that has run longer than its --history.
const cpu: number[] = [];
for (let i = 0; i < 300; i++) {
  clock.advance(1000);
  const c0 = process.cpuUsage();
  store.record(snapshots[i % snapshots.length] as Snapshot, true);
  const c = process.cpuUsage(c0);
  cpu.push((c.user + c.system) / 1000);
}
cpu.sort((a, b) => a - b);
gc?.();
const m = process.memoryUsage();
process.stdout.write(
  `${JSON.stringify({
    ticks: store.history.length,
    series: store.history.seriesCount,
    rssMB: m.rss / 1e6,
    heapMB: m.heapUsed / 1e6,
    arrayBuffersMB: m.arrayBuffers / 1e6,
    baselineRssMB,
    recordMsMedian: cpu[150],
  })}\n`,
);
