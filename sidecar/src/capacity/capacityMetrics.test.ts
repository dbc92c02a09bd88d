// The capacity and energy families on /metrics, as Prometheus reads them.
import { parsePromText } from '../engines/promText.js';
import { SidecarMetrics } from '../api/metrics.js';
import type { Snapshot } from '../model.js';
import { FakeClock } from '../testing/fakeClock.js';
import { engineFixture } from '../testing/engineFixture.js';
import { wholeGpu } from '../testing/wholeGpu.js';
import { EnergyMeter } from '../energy/energyMeter.js';
import { CapacityTracker } from './tracker.js';

const snap = (s: Omit<Snapshot, 'host'>): Snapshot => ({
  host: { hostname: 'h1', driverVersion: null, cudaVersion: null, collectedAt: new Date(0).toISOString(), sources: {} as Snapshot['host']['sources'] },
  ...s,
});

async function rows(m: SidecarMetrics, name: string): Promise<Array<Record<string, string | number>>> {
  const text = await m.render();
  return (parsePromText(text).byName.get(name) ?? []).map((s) => ({ ...s.labels, value: s.value }));
}

describe('capacity and energy on /metrics', () => {
  const clock = new FakeClock();
  const busy = engineFixture('h1:1', [{ rank: 0, pid: 1, gpuUuids: ['GPU-a'], migUuids: [] }], { model: 'llama', busy: true });
  const s = snap({ gpus: [wholeGpu('GPU-a', 0, [1]), wholeGpu('GPU-b', 1, [])], engines: [busy] });
  const capacity = new CapacityTracker({ idleHeldAfterMs: 60_000, idleUtilization: 0.05, unavailableAfterXidMs: 600_000 }, clock).update({ snap: s, lost: [] });
  const energy = new EnergyMeter({ maxGapMs: 5000 }, clock);
  energy.record(s.gpus, s.engines);
  clock.advance(2000);
  energy.record(s.gpus, s.engines);

  it('one state series per GPU and state, 1 for the current one; since as Unix seconds', async () => {
    const m = new SidecarMetrics({ maxSeries: 100, host: 'h1', defaultMetrics: false });
    m.update(s, [], { capacity, energy: energy.reading() });
    const states = await rows(m, 'gpufleet_gpu_capacity_state');
    expect(states.filter((r) => r.value === 1).map((r) => [r.gpu_uuid, r.gpu_index, r.state])).toEqual([['GPU-a', '0', 'busy'], ['GPU-b', '1', 'free']]);
    expect(states).toHaveLength(8);
    expect(await rows(m, 'gpufleet_gpu_capacity_state_since_timestamp_seconds')).toEqual([
      { host: 'h1', gpu_uuid: 'GPU-a', gpu_index: '0', value: 1_700_000_000 },
      { host: 'h1', gpu_uuid: 'GPU-b', gpu_index: '1', value: 1_700_000_000 },
    ]);
    expect(await rows(m, 'gpufleet_model_engines')).toEqual([{ host: 'h1', model: 'llama', value: 1 }]);
    expect(await rows(m, 'gpufleet_model_engines_busy')).toEqual([{ host: 'h1', model: 'llama', value: 1 }]);
  });

  it('energy counters per GPU and engine, and the engine\'s share', async () => {
    const m = new SidecarMetrics({ maxSeries: 100, host: 'h1', defaultMetrics: false });
    m.update(s, [], { capacity, energy: energy.reading() });
    expect(await rows(m, 'gpufleet_gpu_energy_joules_total')).toEqual([
      { host: 'h1', gpu_uuid: 'GPU-a', gpu_index: '0', value: 600 },
      { host: 'h1', gpu_uuid: 'GPU-b', gpu_index: '1', value: 600 },
    ]);
    expect(await rows(m, 'gpufleet_engine_energy_joules_total')).toEqual([{ host: 'h1', engine_id: 'h1:1', value: 600 }]);
    expect(await rows(m, 'gpufleet_engine_power_share_ratio')).toEqual([{ host: 'h1', engine_id: 'h1:1', gpu_uuid: 'GPU-a', value: 1 }]);
    expect(await m.render()).toMatch(/# TYPE gpufleet_gpu_energy_joules_total counter/);
  });

  it('MIG profile families: free and used per profile, creatable only when known', async () => {
    const m = new SidecarMetrics({ maxSeries: 100, host: 'h1', defaultMetrics: false });
    m.update(s, [], {
      capacity: { ...capacity, mig: [{ gpuUuid: 'GPU-m', gpuIndex: 2, profile: '1g.10gb', free: 2, used: 1, creatable: 3 }, { gpuUuid: 'GPU-m', gpuIndex: 2, profile: '3g.40gb', free: 1, used: 0 }] },
    });
    expect(await rows(m, 'gpufleet_mig_profile_instances')).toEqual([
      { host: 'h1', gpu_uuid: 'GPU-m', profile: '1g.10gb', state: 'free', value: 2 },
      { host: 'h1', gpu_uuid: 'GPU-m', profile: '1g.10gb', state: 'used', value: 1 },
      { host: 'h1', gpu_uuid: 'GPU-m', profile: '3g.40gb', state: 'free', value: 1 },
      { host: 'h1', gpu_uuid: 'GPU-m', profile: '3g.40gb', state: 'used', value: 0 },
    ]);
    expect(await rows(m, 'gpufleet_mig_profile_creatable')).toEqual([{ host: 'h1', gpu_uuid: 'GPU-m', profile: '1g.10gb', value: 3 }]);
  });
});
