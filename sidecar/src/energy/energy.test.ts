// Energy: the counter equals power × time (within 1 %) under the fake clock, gaps are left out, and an engine
// is charged its MIG slices' or its memory's share.
import type { Gpu } from '../model.js';
import { FakeClock } from '../testing/fakeClock.js';
import { engineFixture } from '../testing/engineFixture.js';
import { wholeGpu } from '../testing/wholeGpu.js';
import { EnergyMeter } from './energyMeter.js';
import { engineShares, profileComputeSlices } from './shares.js';

const withPower = (g: Gpu, avg: number | null, instant: number | null = 999): Gpu => ({ ...g, powerW: instant, powerAverageW: avg });

describe('energy', () => {
  it('integrates constant power into power × time within 1 %, starting at 0', () => {
    const clock = new FakeClock();
    const m = new EnergyMeter({ maxGapMs: 5000 }, clock);
    const g = withPower(wholeGpu('GPU-a', 0, []), 300);
    m.record([g], []);
    expect(m.reading().gpus).toEqual([{ uuid: 'GPU-a', index: 0, joules: 0 }]);
    for (let i = 0; i < 3600; i++) {
      clock.advance(1000 + (i % 3) * 10); // a tick is never exactly on time
      m.record([g], []);
    }
    const seconds = (3600 * 1000 + 1200 * (0 + 10 + 20)) / 1000;
    const j = m.reading().gpus[0]?.joules as number;
    expect(Math.abs(j - 300 * seconds) / (300 * seconds)).toBeLessThan(0.01);
  });

  it('follows a power ramp with trapezoids (a sine over an hour within 1 %)', () => {
    const clock = new FakeClock();
    const m = new EnergyMeter({ maxGapMs: 10_000 }, clock);
    const watts = (s: number) => 400 + 250 * Math.sin((2 * Math.PI * s) / 600);
    let exact = 0;
    for (let s = 0; s <= 3600; s += 5) {
      if (s > 0) {
        clock.advance(5000);
        // ∫ over the 5 s step of the sine, analytically.
        const k = 600 / (2 * Math.PI);
        exact += 400 * 5 - 250 * k * (Math.cos((2 * Math.PI * s) / 600) - Math.cos((2 * Math.PI * (s - 5)) / 600));
      }
      m.record([withPower(wholeGpu('GPU-a', 0, []), watts(s))], []);
    }
    const j = m.reading().gpus[0]?.joules as number;
    expect(Math.abs(j - exact) / exact).toBeLessThan(0.01);
  });

  it('uses the 1 s average power, the instant reading only without it', () => {
    const clock = new FakeClock();
    const m = new EnergyMeter({ maxGapMs: 5000 }, clock);
    m.record([withPower(wholeGpu('GPU-a', 0, []), 100), withPower(wholeGpu('GPU-b', 1, []), null, 200)], []);
    clock.advance(1000);
    m.record([withPower(wholeGpu('GPU-a', 0, []), 100), withPower(wholeGpu('GPU-b', 1, []), null, 200)], []);
    expect(m.reading().gpus.map((g) => g.joules)).toEqual([100, 200]);
  });

  it('leaves a gap longer than maxGapMs out and never decreases', () => {
    const clock = new FakeClock();
    const m = new EnergyMeter({ maxGapMs: 5000 }, clock);
    const g = withPower(wholeGpu('GPU-a', 0, []), 100);
    m.record([g], []);
    clock.advance(1000);
    m.record([g], []);
    clock.advance(60_000); // nvidia-smi hung for a minute
    m.record([g], []);
    expect(m.reading()).toMatchObject({ gpus: [{ joules: 100 }], skippedSeconds: 60 });
    m.record([withPower(g, null, null)], []); // power N/A: no reading, no bridge over it either
    clock.advance(1000);
    m.record([g], []);
    clock.advance(1000);
    m.record([g], []);
    expect(m.reading().gpus[0]?.joules).toBe(200);
  });

  it('charges an engine its GPU\'s energy by its share', () => {
    const clock = new FakeClock();
    const m = new EnergyMeter({ maxGapMs: 20_000 }, clock);
    const g = withPower(wholeGpu('GPU-a', 0, [11, 12]), 400);
    g.processes[0]!.usedMemoryBytes = 3;
    g.processes[1]!.usedMemoryBytes = 1;
    const e = engineFixture('h1:8000', [{ rank: 0, pid: 11, gpuUuids: ['GPU-a'], migUuids: [] }]);
    m.record([g], [e]);
    clock.advance(10_000);
    m.record([g], [e]);
    expect(m.reading().engines).toEqual([{ id: 'h1:8000', joules: 3000, shares: [{ gpuUuid: 'GPU-a', ratio: 0.75 }] }]);
  });
});

describe('power shares', () => {
  it('reads compute slices from MIG profile names', () => {
    expect([profileComputeSlices('3g.40gb'), profileComputeSlices('1c.3g.71gb'), profileComputeSlices('7g.80gb'), profileComputeSlices(null), profileComputeSlices('x')]).toEqual([3, 1, 7, null, null]);
  });

  it('a MIG instance\'s engine gets its slices over 7; two engines on one instance split it by memory', () => {
    const base = wholeGpu('GPU-m', 0, []);
    const inst = (i: number, profile: string, procs: Array<[number, number]>) => ({
      uuid: `MIG-${i}`, index: i, gpuInstanceId: i, computeInstanceId: 0, profile, multiprocessorCount: null, memory: { totalBytes: 1, usedBytes: 1 },
      processes: procs.map(([pid, mem]) => ({ pid, name: 'p', type: 'C', usedMemoryBytes: mem, gpuUuid: 'GPU-m', migUuid: `MIG-${i}` })),
    });
    const g: Gpu = { ...base, mig: { mode: 'enabled', pendingMode: null, instances: [inst(0, '3g.40gb', [[1, 5]]), inst(1, '2g.20gb', [[2, 1], [3, 3]])] } };
    const engines = [
      engineFixture('e:1', [{ rank: 0, pid: 1, gpuUuids: ['GPU-m'], migUuids: ['MIG-0'] }]),
      engineFixture('e:2', [{ rank: 0, pid: 2, gpuUuids: ['GPU-m'], migUuids: ['MIG-1'] }]),
      engineFixture('e:3', [{ rank: 0, pid: 3, gpuUuids: ['GPU-m'], migUuids: ['MIG-1'] }]),
    ];
    const s = engineShares([g], engines);
    expect(s.get('e:1')?.get('GPU-m')).toBeCloseTo(3 / 7, 10);
    expect(s.get('e:2')?.get('GPU-m')).toBeCloseTo(2 / 7 / 4, 10);
    expect(s.get('e:3')?.get('GPU-m')).toBeCloseTo((2 / 7) * 0.75, 10);
  });

  it('a whole GPU: one engine alone gets all of it; unknown memory splits evenly among the holders', () => {
    const tp = engineFixture('e:tp', [
      { rank: 0, pid: 1, gpuUuids: ['GPU-a'], migUuids: [] },
      { rank: 1, pid: 2, gpuUuids: ['GPU-b'], migUuids: [] },
    ]);
    const b = wholeGpu('GPU-b', 1, [2, 9]);
    b.processes[1]!.usedMemoryBytes = null;
    const s = engineShares([wholeGpu('GPU-a', 0, [1]), b], [tp]);
    expect(Object.fromEntries(s.get('e:tp') ?? [])).toEqual({ 'GPU-a': 1, 'GPU-b': 0.5 });
  });
});
