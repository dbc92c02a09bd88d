import type { Gpu, Snapshot, VgpuInstance } from '../model.js';
import { FakeClock } from '../testing/fakeClock.js';
import { Store } from './store.js';

function gpu(uuid: string, index: number, opts: { mig?: string[]; vms?: string[] } = {}): Gpu {
  const vgpu = (id: string): VgpuInstance => ({
    id, uuid: null, vmId: null, vmName: `vm-${id}`, type: 'NVIDIA H100XM-20C', typeId: null, guestDriverVersion: null, licenseStatus: null,
    gpuInstanceId: null, framebuffer: { totalBytes: 1, usedBytes: 0 }, utilization: { gpu: 1, memory: 1, encoder: 0, decoder: 0 }, active: true, licensed: null,
  });
  return {
    host: 'h', uuid, index, name: 'NVIDIA H100 80GB HBM3', pciBusId: `0000000${index}:00:00.0`,
    memory: { totalBytes: 100, usedBytes: 10 }, utilization: { gpu: 5, memory: 1, encoder: 0, decoder: 0 },
    temperatureC: 40, powerW: 100, powerLimitW: 700, clocks: { smMHz: null, memMHz: null }, eccUncorrectedVolatile: null,
    mig: {
      mode: opts.mig ? 'enabled' : 'disabled',
      pendingMode: null,
      instances: (opts.mig ?? []).map((profile, i) => ({
        uuid: `MIG-${uuid}-${i}`, index: i, gpuInstanceId: i + 1, computeInstanceId: 0, profile, multiprocessorCount: null,
        memory: { totalBytes: 10, usedBytes: 1 }, processes: [],
      })),
    },
    vgpu: { hostMode: opts.vms ? 'sriov' : 'none', schedulerPolicy: null, arr: null, instances: (opts.vms ?? []).map(vgpu) },
    processes: [],
  };
}

const snap = (t: number, gpus: Gpu[]): Snapshot => ({
  host: { hostname: 'h', driverVersion: null, cudaVersion: null, collectedAt: new Date(t).toISOString(), sources: {} as Snapshot['host']['sources'] },
  gpus,
  engines: [],
});

describe('Store events', () => {
  it('reports a lost GPU, keeps it listed as lost, and reports it back', () => {
    const s = new Store({ capacity: 10, maxSeries: 100 });
    s.record(snap(1000, [gpu('A', 0), gpu('B', 1)]), true);
    const lost = s.record(snap(2000, [gpu('A', 0)]), true);
    expect(lost.map((e) => [e.kind, e.subject])).toEqual([['gpu-lost', 'B']]);
    expect([...s.lostGpus.keys()]).toEqual(['B']);
    const back = s.record(snap(3000, [gpu('A', 0), gpu('B', 1)]), true);
    expect(back.map((e) => [e.kind, e.subject])).toEqual([['gpu-back', 'B']]);
    expect(s.lostGpus.size).toBe(0);
    expect(s.events.between(0, 5000).map((e) => e.kind)).toEqual(['gpu-lost', 'gpu-back']);
  });

  it('does not call a GPU lost when nvidia-smi failed (stale reading)', () => {
    const s = new Store({ capacity: 10, maxSeries: 100 });
    s.record(snap(1000, [gpu('A', 0)]), true);
    expect(s.record(snap(2000, []), false)).toEqual([]);
    expect(s.lostGpus.size).toBe(0);
  });

  it('reports MIG reconfiguration and vGPU attach/detach', () => {
    const s = new Store({ capacity: 10, maxSeries: 100 });
    s.record(snap(1000, [gpu('A', 0, { mig: ['3g.40gb', '3g.40gb'] }), gpu('B', 1, { vms: ['1', '2'] })]), true);
    const ev = s.record(snap(2000, [gpu('A', 0, { mig: ['7g.80gb'] }), gpu('B', 1, { vms: ['2', '3'] })]), true);
    expect(ev.map((e) => `${e.kind} ${e.subject}`).sort()).toEqual(['mig-reconfigured A', 'vgpu-attached 3', 'vgpu-detached 1']);
    expect(ev.find((e) => e.kind === 'mig-reconfigured')?.text).toContain('7g.80gb');
    expect(ev.find((e) => e.kind === 'vgpu-detached')?.text).toContain('vm-1');
  });

  it('leaves a gap in history for a stale tick instead of repeating old values', () => {
    const clock = new FakeClock(1000, 0);
    const s = new Store({ capacity: 10, maxSeries: 100, clock });
    s.record(snap(1000, [gpu('A', 0)]), true);
    clock.advance(1000);
    s.record(snap(2000, [gpu('A', 0)]), false);
    clock.advance(1000);
    s.record(snap(3000, [gpu('A', 0)]), true);
    const [r] = s.history.range((m) => m.metric === 'gpu.utilization', 0, 5000);
    expect(r?.values).toEqual([5, null, 5]);
  });
});
