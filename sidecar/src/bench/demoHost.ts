// The simulated demo host for benchmarks: real outputs of the fake nvidia-smi, parsed by the real
// parsers, recorded into a real Store as the sidecar would at each tick.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Snapshot } from '../model.js';
import { buildGpus } from '../parsers/gpuSnapshot.js';
import { parseNvidiaSmiList } from '../parsers/nvidiaSmiList.js';
import { parseNvidiaSmiXml } from '../parsers/nvidiaSmiXml.js';
import { parseVgpuQuery } from '../parsers/vgpuQuery.js';
import { FakeClock } from '../testing/fakeClock.js';
import { Store } from '../store/store.js';

export const FAKE = fileURLToPath(new URL('../sim/fakeNvidiaSmi.js', import.meta.url));

export function demoEnv(epochMs = Date.now() - 600_000): NodeJS.ProcessEnv {
  return { ...process.env, GPUFLEET_SIM_SCENARIO: 'demo', GPUFLEET_SIM_EPOCH: String(epochMs), GPUFLEET_SIM_CONTROL: '' };
}

/** A store holding `ticks` ticks of the demo host, `stepMs` apart, ending now. */
export function fillHistory(ticks: number, stepMs: number): { store: Store; snapshot: Snapshot; clock: FakeClock } {
  // Twelve readings a minute apart stand in for the hour; each tick parses one anew, as the sidecar does.
  const base = Date.now();
  const readings = Array.from({ length: 12 }, (_, i) => {
    const env = demoEnv(base - i * 60_000);
    return {
      xml: execFileSync(FAKE, ['-q', '-x'], { env, encoding: 'utf8', maxBuffer: 64 << 20 }),
      list: execFileSync(FAKE, ['-L'], { env, encoding: 'utf8' }),
      vgpu: execFileSync(FAKE, ['vgpu', '-q'], { env, encoding: 'utf8' }),
    };
  });
  const start = Date.now() - ticks * stepMs;
  // The history is stamped when a tick is recorded: a fake clock spreads the ticks over the hour.
  const clock = new FakeClock(start, 0);
  const store = new Store({ capacity: ticks, maxSeries: 5000, clock });
  let snapshot: Snapshot | null = null;
  for (let i = 0; i < ticks; i++) {
    if (i > 0) clock.advance(stepMs);
    const r = readings[i % readings.length] as (typeof readings)[number];
    const log = parseNvidiaSmiXml(r.xml);
    snapshot = {
      host: {
        hostname: 'bench',
        driverVersion: log.driverVersion,
        cudaVersion: log.cudaVersion,
        collectedAt: new Date(start + i * stepMs).toISOString(),
        sources: {} as Snapshot['host']['sources'],
      },
      gpus: buildGpus('bench', log, parseNvidiaSmiList(r.list), parseVgpuQuery(r.vgpu)),
      engines: [],
    };
    store.record(snapshot, true);
  }
  return { store, snapshot: snapshot as Snapshot, clock };
}
