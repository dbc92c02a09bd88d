// The capacity model on hand-made hosts: each GPU state with its reason, the idle timer and the Xid window on
// a fake clock, MIG profiles free / used / creatable, and the router's order of engines per model.
import type { Engine, Gpu, Snapshot } from '../model.js';
import { FakeClock } from '../testing/fakeClock.js';
import { engineFixture } from '../testing/engineFixture.js';
import { wholeGpu } from '../testing/wholeGpu.js';
import { CapacityTracker } from './tracker.js';

const MIN = 60_000;

function snap(gpus: Gpu[], engines: Engine[] = []): Snapshot {
  return {
    host: { hostname: 'h1', driverVersion: null, cudaVersion: null, collectedAt: new Date(0).toISOString(), sources: {} as Snapshot['host']['sources'] },
    gpus, engines,
  };
}

function idle(g: Gpu): Gpu {
  return { ...g, utilization: { ...g.utilization, gpu: 0 } };
}

function migGpu(uuid: string, index: number, layout: Array<{ profile: string; pids: number[] }>): Gpu {
  const g = wholeGpu(uuid, index, []);
  return {
    ...g,
    utilization: { gpu: null, memory: null, encoder: null, decoder: null },
    mig: {
      mode: 'enabled', pendingMode: null,
      instances: layout.map((x, i) => ({
        uuid: `MIG-${uuid}-${i}`, index: i, gpuInstanceId: 7 + i, computeInstanceId: 0, profile: x.profile, multiprocessorCount: null,
        memory: { totalBytes: 10, usedBytes: 1 },
        processes: x.pids.map((pid) => ({ pid, name: 'python3', type: 'C', usedMemoryBytes: 1, gpuUuid: uuid, migUuid: `MIG-${uuid}-${i}` })),
      })),
    },
  };
}

const settings = { idleHeldAfterMs: 15 * MIN, idleUtilization: 0.05, unavailableAfterXidMs: 10 * MIN };

describe('capacity model: GPU states', () => {
  it('a GPU with nothing on it is free; one with a working process is busy', () => {
    const t = new CapacityTracker(settings, new FakeClock());
    const a = t.update({ snap: snap([wholeGpu('GPU-free', 0, []), wholeGpu('GPU-job', 1, [7])]), lost: [] });
    expect(a.gpus.map((g) => [g.uuid, g.state])).toEqual([['GPU-free', 'free'], ['GPU-job', 'busy']]);
    expect(a.gpus[1]?.reason).toBe('held by 1 other process; utilization 50 %');
    expect(a.summary).toEqual({ free: 1, 'idle-held': 0, busy: 1, unavailable: 0 });
  });

  it('a graphics-only process (a display server) does not hold a GPU', () => {
    const g = wholeGpu('GPU-x', 0, []);
    g.processes.push({ pid: 5, name: 'Xorg', type: 'G', usedMemoryBytes: 1, gpuUuid: 'GPU-x' });
    const a = new CapacityTracker(settings, new FakeClock()).update({ snap: snap([idle(g)]), lost: [] });
    expect(a.gpus[0]?.state).toBe('free');
  });

  it('an engine with no request and a quiet GPU becomes idle-held after --idle-held-after, with since at that moment', () => {
    const clock = new FakeClock();
    const t = new CapacityTracker(settings, clock);
    const e = engineFixture('h1:8000', [{ rank: 0, pid: 11, gpuUuids: ['GPU-a'], migUuids: [] }], { load: { running: 0, waiting: 0 } });
    const s = snap([idle(wholeGpu('GPU-a', 0, [11]))], [e]);
    let a = t.update({ snap: s, lost: [] });
    expect(a.gpus[0]).toMatchObject({ state: 'busy', idleSeconds: 0 });
    expect(a.gpus[0]?.reason).toContain('idle-held after 15m');
    clock.advance(15 * MIN - 1000);
    expect(t.update({ snap: s, lost: [] }).gpus[0]?.state).toBe('busy');
    clock.advance(1000);
    a = t.update({ snap: s, lost: [] });
    expect(a.gpus[0]).toMatchObject({ state: 'idle-held', engines: ['h1:8000'], pids: [11], idleSeconds: 900, since: new Date(clock.wallMs()).toISOString() });
    expect(a.gpus[0]?.reason).toBe('held by engine h1:8000; no request running or waiting, utilization 0 %; idle for 15m');
    clock.advance(5 * MIN);
    expect(t.update({ snap: s, lost: [] }).gpus[0]?.since).toBe(new Date(clock.wallMs() - 5 * MIN).toISOString());
  });

  it('one request or utilization above the threshold restarts the idle timer', () => {
    const clock = new FakeClock();
    const t = new CapacityTracker({ ...settings, idleHeldAfterMs: MIN }, clock);
    const w = [{ rank: 0, pid: 11, gpuUuids: ['GPU-a'], migUuids: [] }];
    const quiet = snap([idle(wholeGpu('GPU-a', 0, [11]))], [engineFixture('h1:8000', w, { load: { running: 0, waiting: 0 } })]);
    const queued = snap([idle(wholeGpu('GPU-a', 0, [11]))], [engineFixture('h1:8000', w, { load: { running: 0, waiting: 2 } })]);
    const hot = snap([wholeGpu('GPU-a', 0, [11])], [engineFixture('h1:8000', w, { load: { running: 0, waiting: 0 } })]);
    t.update({ snap: quiet, lost: [] });
    clock.advance(50_000);
    expect(t.update({ snap: queued, lost: [] }).gpus[0]?.reason).toContain('0 running, 2 waiting');
    clock.advance(50_000);
    t.update({ snap: quiet, lost: [] });
    clock.advance(50_000);
    expect(t.update({ snap: quiet, lost: [] }).gpus[0]?.state).toBe('busy');
    expect(t.update({ snap: hot, lost: [] }).gpus[0]?.reason).toContain('utilization 50 %');
    clock.advance(MIN);
    expect(t.update({ snap: quiet, lost: [] }).gpus[0]?.state).toBe('busy');
    clock.advance(MIN);
    expect(t.update({ snap: quiet, lost: [] }).gpus[0]?.state).toBe('idle-held');
  });

  it('a MIG GPU (utilization N/A) is idle only when everything on it is an idle engine', () => {
    const clock = new FakeClock();
    const t = new CapacityTracker({ ...settings, idleHeldAfterMs: 0 }, clock);
    const e = engineFixture('h1:8000', [{ rank: 0, pid: 11, gpuUuids: ['GPU-m'], migUuids: ['MIG-GPU-m-0'] }], { load: { running: 0, waiting: 0 } });
    const onlyEngine = migGpu('GPU-m', 0, [{ profile: '3g.40gb', pids: [11] }, { profile: '1g.10gb', pids: [] }]);
    expect(t.update({ snap: snap([onlyEngine], [e]), lost: [] }).gpus[0]?.state).toBe('idle-held');
    const withJob = migGpu('GPU-m', 0, [{ profile: '3g.40gb', pids: [11] }, { profile: '1g.10gb', pids: [99] }]);
    const a = t.update({ snap: snap([withJob], [e]), lost: [] });
    expect(a.gpus[0]?.state).toBe('busy');
    expect(a.gpus[0]?.reason).toContain('utilization not reported');
    const empty = migGpu('GPU-m', 0, [{ profile: '7g.80gb', pids: [] }]);
    expect(t.update({ snap: snap([empty]), lost: [] }).gpus[0]).toMatchObject({ state: 'idle-held', reason: expect.stringContaining('1 MIG instance with no process') });
    expect(t.update({ snap: snap([migGpu('GPU-m', 0, [])]), lost: [] }).gpus[0]?.state).toBe('free');
  });

  it('an Xid makes a GPU unavailable for --unavailable-after-xid, counted from the Xid record\'s time', () => {
    const clock = new FakeClock();
    const t = new CapacityTracker(settings, clock);
    const s = snap([wholeGpu('GPU-a', 0, [])]);
    t.noteXid('GPU-a', 79, clock.wallMs() - 2 * MIN);
    let a = t.update({ snap: s, lost: [] });
    expect(a.gpus[0]).toMatchObject({ state: 'unavailable', reason: 'Xid 79 2m ago (unavailable for 10m after an Xid)' });
    clock.advance(8 * MIN - 1);
    expect(t.update({ snap: s, lost: [] }).gpus[0]?.state).toBe('unavailable');
    clock.advance(1);
    a = t.update({ snap: s, lost: [] });
    expect(a.gpus[0]).toMatchObject({ state: 'free', since: new Date(clock.wallMs()).toISOString() });
    // A record from before the window (replayed from the kernel log at start) changes nothing.
    t.noteXid('GPU-a', 48, clock.wallMs() - 11 * MIN);
    expect(t.update({ snap: s, lost: [] }).gpus[0]?.state).toBe('free');
  });

  it('a lost GPU is unavailable, with when it was lost', () => {
    const t = new CapacityTracker(settings, new FakeClock());
    const a = t.update({ snap: snap([wholeGpu('GPU-a', 0, [])]), lost: [{ uuid: 'GPU-b', index: 1, name: 'NVIDIA H100 80GB HBM3', since: '2026-01-01T00:00:00.000Z' }] });
    expect(a.gpus[1]).toMatchObject({ uuid: 'GPU-b', index: 1, state: 'unavailable', reason: 'lost since 2026-01-01T00:00:00.000Z: nvidia-smi no longer reports it' });
  });

  it('a vGPU host is held by its VMs and idle only when their utilization is under the threshold', () => {
    const g = wholeGpu('GPU-v', 0, []);
    const vm = (util: number) => ({
      id: '1', uuid: null, vmId: null, vmName: 'vm', type: null, typeId: null, guestDriverVersion: null, licenseStatus: null, gpuInstanceId: null,
      framebuffer: { totalBytes: 1, usedBytes: 1 }, utilization: { gpu: util, memory: null, encoder: null, decoder: null }, active: true, licensed: true,
    });
    const t = new CapacityTracker({ ...settings, idleHeldAfterMs: 0 }, new FakeClock());
    const host = (util: number): Gpu => ({ ...g, utilization: { ...g.utilization, gpu: null }, vgpu: { hostMode: 'sriov', schedulerPolicy: null, arr: null, instances: [vm(util)] } });
    expect(t.update({ snap: snap([host(30)]), lost: [] }).gpus[0]?.state).toBe('busy');
    expect(t.update({ snap: snap([host(1)]), lost: [] }).gpus[0]?.state).toBe('idle-held');
  });
});

describe('capacity model: MIG profiles', () => {
  it('counts instances per profile, used when a process or an engine rank is on them, and adds mig -lgip counts', () => {
    const g = migGpu('GPU-m', 3, [{ profile: '3g.40gb', pids: [] }, { profile: '1g.10gb', pids: [5] }, { profile: '1g.10gb', pids: [] }, { profile: '1g.10gb', pids: [] }]);
    const e = engineFixture('h1:8000', [{ rank: 0, pid: null, gpuUuids: ['GPU-m'], migUuids: ['MIG-GPU-m-2'] }]);
    const availability = new Map([['GPU-m', [{ profile: '1g.10gb', free: 0, total: 7 }, { profile: '2g.20gb', free: 0, total: 3 }]]]);
    const a = new CapacityTracker(settings, new FakeClock()).update({ snap: snap([g, wholeGpu('GPU-w', 0, [])], [e]), lost: [], migAvailability: availability });
    expect(a.mig).toEqual([
      { gpuUuid: 'GPU-m', gpuIndex: 3, profile: '1g.10gb', free: 1, used: 2, creatable: 0 },
      { gpuUuid: 'GPU-m', gpuIndex: 3, profile: '2g.20gb', free: 0, used: 0, creatable: 0 },
      { gpuUuid: 'GPU-m', gpuIndex: 3, profile: '3g.40gb', free: 1, used: 0 },
    ]);
  });
});

describe('capacity model: models for a router', () => {
  const w = (pid: number) => [{ rank: 0, pid, gpuUuids: ['GPU-a'], migUuids: [] }];
  it('lists every up engine of a model, not busy first by KV headroom, and says when all are busy', () => {
    const engines = [
      engineFixture('h1:1', w(1), { model: 'llama', busy: true, load: { kvCacheUsage: 0.95, waiting: 9 } }),
      engineFixture('h1:2', w(2), { model: 'llama', load: { kvCacheUsage: 0.6, waiting: 1 } }),
      engineFixture('h1:3', w(3), { model: 'llama', load: { kvCacheUsage: 0.2, waiting: 0 } }),
      engineFixture('h1:4', w(4), { model: 'llama', health: 'down' }),
      engineFixture('h1:5', w(5), { model: 'qwen', busy: true, load: { kvCacheUsage: 0.93 } }),
      engineFixture('h1:6', w(6), { model: 'qwen', busy: true, load: { kvCacheUsage: 0.91 } }),
      engineFixture('h1:7', w(7), { model: 'gone', health: 'down' }),
      engineFixture('h1:8', w(8), { model: null }),
    ];
    const a = new CapacityTracker(settings, new FakeClock()).update({ snap: snap([], engines), lost: [] });
    expect(a.models.map((m) => [m.model, m.allBusy, m.engineCount, m.busyCount, m.engines.map((e) => e.id), m.unavailable])).toEqual([
      ['gone', false, 0, 0, [], ['h1:7']],
      ['llama', false, 3, 1, ['h1:3', 'h1:2', 'h1:1'], ['h1:4']],
      ['qwen', true, 2, 2, ['h1:6', 'h1:5'], []],
    ]);
    expect(a.models[1]?.engines[0]).toEqual({ id: 'h1:3', endpoint: 'http://127.0.0.1:3', busy: false, kvHeadroom: 0.8, waiting: 0, running: 1, servedModels: ['m'] });
  });
});
