// npm run bench, capacity section: what the capacity answer costs per tick (CapacityTracker.update, energy
// meter included) and per request (GET /api/v1/capacity over loopback HTTP), on fleet-sim hosts: a typical
// whole-GPU host and an all-MIG one (56 slices, 56 engines), the largest answer a real host gives.
import autocannon from 'autocannon';
import type { AddressInfo } from 'node:net';
import { createApp } from '../api/app.js';
import { SidecarMetrics } from '../api/metrics.js';
import { CapacityTracker } from '../capacity/tracker.js';
import type { CapacityAnswer } from '../capacity/types.js';
import { SourceTracker } from '../collectors/sourceTracker.js';
import { EnergyMeter } from '../energy/energyMeter.js';
import { buildFleet, type FleetMix } from '../fleet/fleetModel.js';
import { hostSnapshotAt, prepareHost } from '../fleet/hostSnapshot.js';
import { Store } from '../store/store.js';
import { systemClock } from '../util/clock.js';

type Line = (label: string, value: string, target?: string) => void;

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

async function oneHost(mix: FleetMix, line: Line): Promise<void> {
  const hosts = buildFleet({ hosts: 50, seed: 1, mix });
  const host = hosts.reduce((a, b) => (b.scenario.engines.length > a.scenario.engines.length ? b : a));
  const p = prepareHost(host);
  const epoch = Date.now() - 600_000;
  const snaps = Array.from({ length: 20 }, (_, i) => hostSnapshotAt(p, 600 + i, epoch));
  const tracker = new CapacityTracker({ idleHeldAfterMs: 900_000, idleUtilization: 0.05, unavailableAfterXidMs: 600_000 }, systemClock);
  const energy = new EnergyMeter({ maxGapMs: 5000 }, systemClock);
  const times: number[] = [];
  let answer: CapacityAnswer | null = null;
  for (let i = 0; i < 2000; i++) {
    const snap = snaps[i % snaps.length]!;
    const t = performance.now();
    answer = tracker.update({ snap, lost: [] });
    energy.record(snap.gpus, snap.engines);
    if (i >= 200) times.push(performance.now() - t); // after warm-up (JIT)
  }
  times.sort((a, b) => a - b);
  const a = answer as CapacityAnswer;
  const body = JSON.stringify(a);
  console.log(`\n   ${mix} mix, the host with most engines of 50 (${host.kind}): ${a.gpus.length} GPUs, ${a.mig.length} MIG profile rows, ${snaps[0]!.engines.length} engines, ${a.models.length} models`);
  line('capacity + energy per tick, median / p99', `${(quantile(times, 0.5) * 1000).toFixed(0)} / ${(quantile(times, 0.99) * 1000).toFixed(0)} µs`, '< 1 ms');
  line('answer size', `${(body.length / 1024).toFixed(1)} KiB`);

  const app = createApp({
    store: new Store({ capacity: 1, maxSeries: 100 }), sources: new SourceTracker(10_000), metrics: new SidecarMetrics({ maxSeries: 10, defaultMetrics: false }),
    version: 'bench', startedAt: performance.now(), capacity: () => answer,
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((r) => server.once('listening', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/capacity`;
  const r = await autocannon({ url, connections: 8, duration: 4, overallRate: 500 });
  server.close();
  line('GET /api/v1/capacity at 500 req/s: p50 / p99', `${r.latency.p50} / ${r.latency.p99} ms`, 'p99 < 20 ms');
  line('  answered (non-2xx)', `${r.requests.total} (${r.non2xx})`);
}

export async function capacityBench(line: Line): Promise<void> {
  console.log('\n18. capacity answer: per tick and per request (fleet-sim hosts)');
  await oneHost('typical', line);
  await oneHost('all-mig', line);
}
