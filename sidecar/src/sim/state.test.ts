import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderList, renderQueryXml, renderVgpuQuery } from './render.js';
import { loadScenarioFile, ScenarioError, validateScenario, type Scenario } from './scenario.js';
import {
  commandFaults,
  EMPTY_CONTROL,
  hostStateAt,
  parseControl,
  type EngineGpuProcess,
  type SimGpu,
  type SimHostState,
} from './state.js';

const here = dirname(fileURLToPath(import.meta.url));
const load = (name: string) => loadScenarioFile(join(here, 'scenarios', `${name}.yaml`));
const demo = load('demo');
const faults = load('faults');

function gpuAt(state: SimHostState, position: number) {
  const g = state.gpus.find((x) => x.position === position);
  if (!g) throw new Error(`GPU ${position} not present`);
  return g;
}

describe('determinism', () => {
  it('the same t gives the same state and the same output', () => {
    for (const t of [0, 59.5, 1234.567, 3599]) {
      const a = hostStateAt(demo, t, undefined, 1_700_000_000_000);
      const b = hostStateAt(demo, t, undefined, 1_700_000_000_000);
      expect(a).toEqual(b);
      expect(renderQueryXml(a)).toBe(renderQueryXml(b));
      expect(renderVgpuQuery(a)).toBe(renderVgpuQuery(b));
    }
  });

  it('UUIDs derive from the hostname and position, in the real format', () => {
    const s = hostStateAt(demo, 10);
    const uuids = s.gpus.map((g) => g.uuid);
    expect(new Set(uuids).size).toBe(8);
    for (const u of uuids) expect(u).toMatch(/^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    for (const d of gpuAt(s, 2).mig.devices)
      expect(d.uuid).toMatch(/^MIG-[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const other: Scenario = { ...demo, hostname: 'another-host' };
    expect(hostStateAt(other, 10).gpus[0]?.uuid).not.toBe(uuids[0]);
  });

  it('load moves over time and stays in range', () => {
    // GPU 7 (a training job, load 0.9 ± 0.08 over 60 s); the engines' GPUs follow their engines (simHost).
    const utils = [0, 10, 20, 35, 50].map((t) => hostStateAt(demo, t).gpus[7]?.utilization.gpu ?? -1);
    expect(new Set(utils).size).toBeGreaterThan(2);
    for (const u of utils) expect(u).toBeGreaterThanOrEqual(0);
    for (const u of utils) expect(u).toBeLessThanOrEqual(100);
  });
});

describe('MIG layout changes (demo GPU 1: 7g.80gb from t=300 for 300 s, every 600 s)', () => {
  const before = hostStateAt(demo, 299);
  const during = hostStateAt(demo, 300);
  const after = hostStateAt(demo, 600);

  it('changes -L and the XML at `at`', () => {
    expect(gpuAt(before, 1).mig.devices.map((d) => [d.profile, d.gpuInstanceId])).toEqual([
      ['3g.40gb', 2],
      ['2g.20gb', 3],
      ['1g.10gb', 9],
      ['1g.10gb', 10],
    ]);
    expect(gpuAt(during, 1).mig.devices.map((d) => d.profile)).toEqual(['7g.80gb']);
    expect(renderList(before)).toContain('  MIG 3g.40gb     Device  0: (UUID: MIG-');
    expect(renderList(during)).toContain('  MIG 7g.80gb     Device  0: (UUID: MIG-');
    expect(renderList(during)).not.toContain('3g.40gb');
    expect(renderQueryXml(during, { gpus: [gpuAt(during, 1)] })).toContain(
      '<multiprocessor_count>132</multiprocessor_count>'
    );
    expect(renderQueryXml(before, { gpus: [gpuAt(before, 1)] })).not.toContain(
      '<multiprocessor_count>132</multiprocessor_count>'
    );
  });

  // The engine that simHost runs on GPU 1's first instance (3g.40gb, GI 2) while that instance exists.
  const engineOn = (s: SimHostState, pid = 50001): EngineGpuProcess[] => [
    { gpu: 1, migUuid: gpuAt(before, 1).mig.devices[0]?.uuid ?? null, pid, name: 'VLLM::EngineCore', memoryMiB: 36403, load: 0.8 },
    { gpu: 1, migUuid: s === before ? null : 'MIG-gone', pid: pid + 1, name: 'stale', memoryMiB: 1, load: 0 },
  ];

  it('the job on the new layout replaces the old processes', () => {
    expect(hostStateAt(demo, 299, EMPTY_CONTROL, 0, engineOn(before)).gpus[1]?.processes.map((p) => p.pid)).toEqual([50001]);
    // During the change the engine's instance is gone (simHost stops it; a stale entry is not shown).
    expect(hostStateAt(demo, 300, EMPTY_CONTROL, 0, engineOn(during)).gpus[1]?.processes.map((p) => [p.pid, p.gpuInstanceId])).toEqual([[42900, 0]]);
  });

  it('re-created instances get new UUIDs; a layout keeps its UUIDs while it lasts', () => {
    const uuids = (s: SimHostState) => gpuAt(s, 1).mig.devices.map((d) => d.uuid);
    expect(uuids(hostStateAt(demo, 10))).toEqual(uuids(before));
    expect(uuids(hostStateAt(demo, 450))).toEqual(uuids(during));
    expect(uuids(after)).toHaveLength(4);
    expect(uuids(after)).not.toEqual(uuids(before));
    expect(uuids(hostStateAt(demo, 899))).toEqual(uuids(after));
    expect(uuids(hostStateAt(demo, 900))).not.toEqual(uuids(during));
  });

  it('MIG-enabled GPUs report N/A utilization and attribute processes to GI/CI', () => {
    const g = hostStateAt(demo, 299, EMPTY_CONTROL, 0, engineOn(before)).gpus[1] as SimGpu;
    expect(g.utilization.gpu).toBeNull();
    const p = g.processes.find((x) => x.pid === 50001);
    expect(p && [p.gpuInstanceId, p.computeInstanceId]).toEqual([2, 0]);
    expect(p?.migUuid).toBe(g.mig.devices[0]?.uuid);
    // The engine's memory is the instance's, its load drives the instance.
    expect(g.mig.devices[0]?.memoryUsedMiB).toBeGreaterThanOrEqual(36403);
    expect(g.mig.devices[0]?.load).toBeGreaterThan(gpuAt(before, 1).mig.devices[0]?.load ?? 1);
  });
});

describe('vGPU detach and re-attach (demo GPU 3: tenant-b-linux away 120–240 every 240)', () => {
  it('the VM disappears in the window and comes back as a new vGPU', () => {
    const vms = (t: number) => gpuAt(hostStateAt(demo, t), 3).vgpu?.vgpus ?? [];
    expect(vms(100).map((v) => v.vmName)).toEqual([
      'tenant-a-win11',
      'tenant-b-linux',
      'tenant-c-linux',
      'tenant-d-ci',
    ]);
    expect(vms(130).map((v) => v.vmName)).toEqual(['tenant-a-win11', 'tenant-c-linux', 'tenant-d-ci']);
    expect(renderVgpuQuery(hostStateAt(demo, 130), { gpus: [gpuAt(hostStateAt(demo, 130), 3)] })).toContain(
      'Active vGPUs                          : 3'
    );
    const idBefore = vms(100).find((v) => v.vmName === 'tenant-b-linux')?.vgpuId;
    const idAfter = vms(250).find((v) => v.vmName === 'tenant-b-linux')?.vgpuId;
    expect(idAfter).toBeDefined();
    expect(idAfter).not.toBe(idBefore);
    // Other VMs keep their vGPU ids.
    expect(vms(250).find((v) => v.vmName === 'tenant-a-win11')?.vgpuId).toBe(
      vms(100).find((v) => v.vmName === 'tenant-a-win11')?.vgpuId
    );
    // vGPU ids look like the real ones (0xC1D0xxxx).
    for (const v of vms(100)) expect(v.vgpuId).toBeGreaterThan(3251634176);
  });

  it('each VM shows as a C+G `vgpu` process on the host', () => {
    const g = gpuAt(hostStateAt(demo, 100), 3);
    expect(g.processes.map((p) => [p.name, p.type])).toEqual(Array.from({ length: 4 }, () => ['vgpu', 'C+G']));
  });
});

describe('faults take effect in their windows (faults.yaml, 1200 s cycle)', () => {
  const at = (t: number) => hostStateAt(faults, t);

  it('baseline: six GPUs, no command faults', () => {
    const s = at(30);
    expect(s.gpus).toHaveLength(6);
    expect(commandFaults(s, 'xml')).toEqual({ slow: null, fail: null });
  });

  it('hot GPU 1 in 60–300', () => {
    expect(gpuAt(at(59), 1).temperature.gpuC).toBeLessThan(85);
    const g = gpuAt(at(100), 1);
    expect(g.temperature.gpuC).toBeGreaterThanOrEqual(92);
    expect(g.throttle.swThermalSlowdown).toBe(true);
    expect(renderQueryXml(at(100), { gpus: [g] })).toContain(
      '<clocks_event_reason_hw_thermal_slowdown>Active</clocks_event_reason_hw_thermal_slowdown>'
    );
    expect(gpuAt(at(100), 0).temperature.gpuC).toBeLessThan(85);
  });

  it('hang (XML only) in 300–330, again one cycle later', () => {
    expect(commandFaults(at(310), 'xml').fail?.kind).toBe('hang');
    expect(commandFaults(at(310), 'list').fail).toBeNull();
    expect(commandFaults(at(331), 'xml').fail).toBeNull();
    expect(commandFaults(at(1200 + 310), 'xml').fail?.kind).toBe('hang');
  });

  it('garbage (XML) in 360–380, slow everywhere in 420–480, exit-error in 900–920', () => {
    expect(commandFaults(at(370), 'xml').fail?.kind).toBe('garbage');
    expect(commandFaults(at(450), 'vgpu').slow?.delayMs).toBe(4000);
    expect(commandFaults(at(910), 'compute-apps').fail?.kind).toBe('exit-error');
    expect(commandFaults(at(910), 'compute-apps').fail?.message).toBe('mismatch');
  });

  it('GPU 2 falls off the bus in 540–840: missing, attached count lower, indices shift', () => {
    const s = at(600);
    expect(s.gpus).toHaveLength(5);
    expect(s.lostGpus).toEqual([2]);
    expect(s.gpus.map((g) => g.position)).toEqual([0, 1, 3, 4, 5]);
    expect(gpuAt(s, 3).index).toBe(2);
    expect(gpuAt(s, 3).minorNumber).toBe(3);
    expect(renderQueryXml(s)).toContain('<attached_gpus>5</attached_gpus>');
    expect(renderList(s)).not.toContain(gpuAt(at(30), 2).uuid);
    expect(at(850).gpus).toHaveLength(6);
  });

  it('xid 79 on GPU 2 just before it is lost', () => {
    expect(at(535).faults.some((f) => f.kind === 'xid' && f.gpu === 2 && f.xid === 79)).toBe(true);
  });

  it('always: a saturated vGPU and a nearly full MIG instance', () => {
    for (const t of [0, 100, 700, 1100]) {
      const s = at(t);
      const hog = gpuAt(s, 3).vgpu?.vgpus.find((v) => v.vmName === 'tenant-hog');
      expect(hog?.utilization.gpu).toBeGreaterThanOrEqual(95);
      expect(gpuAt(s, 3).utilization.gpu).toBeGreaterThanOrEqual(95);
      const inst = gpuAt(s, 4).mig.devices.find((d) => d.gpuInstanceId === 9);
      expect(inst && inst.memoryUsedMiB / inst.memoryTotalMiB).toBeGreaterThan(0.98);
    }
  });
});

describe('control overrides', () => {
  it('injects faults, lost GPUs, MIG layouts, load and heat', () => {
    const ctl = parseControl(
      { fault: 'garbage', lostGpus: [5], mig: { '1': ['7g.80gb'] }, load: { '0': 1 }, hot: { '7': 95 } },
      demo
    );
    const s = hostStateAt(demo, 10, ctl);
    expect(commandFaults(s, 'list').fail?.kind).toBe('garbage');
    expect(s.gpus.map((g) => g.position)).toEqual([0, 1, 2, 3, 4, 6, 7]);
    expect(gpuAt(s, 1).mig.devices.map((d) => d.profile)).toEqual(['7g.80gb']);
    expect(gpuAt(s, 0).utilization.gpu).toBe(100);
    expect(gpuAt(s, 7).temperature.gpuC).toBeGreaterThanOrEqual(94);
  });

  it('can disable MIG and detach VMs', () => {
    const ctl = parseControl({ mig: { '2': 'disabled' }, vgpuDetach: { '4': ['staging-vm'] } }, demo);
    const s = hostStateAt(demo, 10, ctl);
    expect(gpuAt(s, 2).mig.enabled).toBe(false);
    expect(gpuAt(s, 4).vgpu?.vgpus.map((v) => v.vmName)).toEqual(['research-ws-01', 'research-ws-02']);
  });

  it('names the bad field', () => {
    const fieldOf = (raw: unknown) => {
      try {
        parseControl(raw, demo);
      } catch (err) {
        if (err instanceof ScenarioError) return err.field;
      }
      return null;
    };
    expect(fieldOf({ lostGpus: [9] })).toBe('control.lostGpus[0]');
    expect(fieldOf({ fault: 'melt' })).toBe('control.fault.kind');
    expect(fieldOf({ mig: { '3': ['7g.80gb'] } })).toBe('control.mig.3');
    expect(fieldOf({ mig: { '1': ['2g.10gb'] } })).toBe('control.mig.1[0]');
    expect(fieldOf({ load: { '0': 2 } })).toBe('control.load.0');
    expect(fieldOf({ bogus: 1 })).toBe('control.bogus');
  });
});

describe('small scenarios built in tests', () => {
  it('a GPU with an empty MIG layout is MIG-enabled with no devices', () => {
    const s = validateScenario({ gpus: [{ model: 'H100-SXM5-80GB', mig: { instances: [] } }] });
    const st = hostStateAt(s, 0);
    expect(st.gpus[0]?.mig).toMatchObject({ enabled: true, devices: [] });
    expect(renderQueryXml(st)).toMatch(/<mig_devices>\n\t\t\tNone\n\t\t<\/mig_devices>/);
  });
});
