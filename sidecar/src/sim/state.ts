// The simulated host's state at a moment: a pure function of the scenario, the time since the start and the
// live control overrides. Same inputs → same output (no clocks, no randomness).
import { defaultBusId, type GpuModelInfo } from './catalog.js';
import {
  parseFaultOptions,
  parseLoad,
  placeMig,
  ScenarioError,
  type ChangeSpec,
  type CommandName,
  type FaultOptions,
  type GpuSpec,
  type LoadSpec,
  type MigSpec,
  type ProcessSpec,
  type ProcessType,
  type Scenario,
  type VgpuInstanceSpec,
} from './scenario.js';
import { clamp, hashInt, hashUnit, uuidFrom } from './util.js';

// ---------------------------------------------------------------------------------------------------------
// State types

export interface SimMigDevice {
  /** The `mig_device` index and `Device N` of `nvidia-smi -L`. */
  index: number;
  gpuInstanceId: number;
  computeInstanceId: number;
  profile: string;
  uuid: string;
  placementStart: number;
  multiprocessors: number;
  copyEngines: number;
  encoders: number;
  decoders: number;
  ofas: number;
  jpegs: number;
  memoryTotalMiB: number;
  memoryUsedMiB: number;
  bar1TotalMiB: number;
  bar1UsedMiB: number;
  /** 0..1, not printed by nvidia-smi (it has no per-instance utilization); drives power and temperature. */
  load: number;
  /** Position of the instance in the `mig.instances` list of the layout in effect. */
  specPosition: number;
}

export interface SimProcess {
  pid: number;
  name: string;
  type: ProcessType;
  usedMemoryMiB: number;
  gpuInstanceId: number | null;
  computeInstanceId: number | null;
  migUuid: string | null;
}

export interface SimVgpu {
  vgpuId: number;
  uuid: string;
  vmUuid: string;
  vmName: string;
  typeName: string;
  typeId: number;
  guestDriverVersion: string | null;
  licensed: boolean | null;
  licenseStatus: string;
  placementId: number;
  guestPciBusId: string;
  framebufferTotalMiB: number;
  framebufferUsedMiB: number;
  utilization: { gpu: number; memory: number; encoder: number; decoder: number };
  /** Host pid of the VM's `vgpu` process. */
  pid: number;
}

export interface SimGpu {
  /** Position in the scenario's `gpus` list (stable; faults and changes use it). */
  position: number;
  /** Enumeration index (`nvidia-smi -L`, `-i`): positions of the GPUs present, so it shifts when one is lost. */
  index: number;
  /** Device minor number (/dev/nvidiaN): stays with the board. */
  minorNumber: number;
  model: GpuModelInfo;
  uuid: string;
  name: string;
  serial: string;
  pciBusId: string;
  memory: { totalMiB: number; reservedMiB: number; usedMiB: number; freeMiB: number };
  bar1: { totalMiB: number; usedMiB: number };
  /** null where nvidia-smi prints N/A (all of them on a MIG-enabled GPU). */
  utilization: {
    gpu: number | null;
    memory: number | null;
    encoder: number | null;
    decoder: number | null;
    jpeg: number | null;
    ofa: number | null;
  };
  temperature: { gpuC: number; memoryC: number | null };
  power: {
    averageW: number;
    instantW: number;
    limitW: number;
    defaultLimitW: number;
    minLimitW: number;
    maxLimitW: number;
  };
  clocks: { graphics: number; sm: number; mem: number; video: number };
  pstate: string;
  throttle: {
    idle: boolean;
    swPowerCap: boolean;
    hwSlowdown: boolean;
    hwThermalSlowdown: boolean;
    swThermalSlowdown: boolean;
  };
  /** `base`: the layout is the scenario's own `mig` (not a change's or the control file's). */
  mig: { capable: boolean; enabled: boolean; base: boolean; devices: SimMigDevice[] };
  vgpu: { hostMode: 'sriov' | 'non-sriov'; vgpus: SimVgpu[] } | null;
  processes: SimProcess[];
  /** The effective 0..1 load behind the numbers above. */
  load: number;
}

export interface ActiveFault extends FaultOptions {
  source: 'scenario' | 'control';
  /** `faults[i]` of the scenario, or `control`. */
  id: string;
  /** Start of the current occurrence (seconds since the scenario start); null for control faults. */
  since: number | null;
}

export interface SimHostState {
  hostname: string;
  driverVersion: string;
  cudaVersion: string;
  /** Seconds since the scenario start. */
  t: number;
  /** Wall-clock time of this state (ms since the Unix epoch), for timestamps. */
  timeMs: number;
  /** GPUs present (not lost), in enumeration order. */
  gpus: SimGpu[];
  /** Scenario positions of GPUs that fell off the bus. */
  lostGpus: number[];
  /** Every fault in effect (scenario windows and control), including gpu-lost/hot/xid. */
  faults: ActiveFault[];
}

// ---------------------------------------------------------------------------------------------------------
// Control file (live overrides)

export interface SimControl {
  /** Pin the simulation time (seconds since start). */
  t: number | null;
  faults: ActiveFault[];
  lostGpus: number[];
  mig: Map<number, MigSpec | null>;
  vgpuDetach: Map<number, string[]>;
  load: Map<number, number>;
  hot: Map<number, number>;
  /** Stable text of the MIG overrides (part of the MIG UUIDs they create). */
  migKey: Map<number, string>;
}

function emptyControl(): SimControl {
  return { t: null, faults: [], lostGpus: [], mig: new Map(), vgpuDetach: new Map(), load: new Map(), hot: new Map(), migKey: new Map() };
}

export const EMPTY_CONTROL: SimControl = emptyControl();

function gpuKey(k: string, path: string, scenario: Scenario): number {
  const n = Number(k);
  if (!Number.isInteger(n) || n < 0 || n >= scenario.gpus.length) {
    throw new ScenarioError(path, `"${k}" is not a GPU position (0..${scenario.gpus.length - 1})`);
  }
  return n;
}

function ctlObj(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ScenarioError(path, 'must be an object');
  return v as Record<string, unknown>;
}

/**
 * Validates a control object (the JSON of GPUFLEET_SIM_CONTROL) against the scenario. Keys:
 * t, fault, faults, lostGpus, mig, vgpuDetach, load, hot. Errors name the field (`control.mig.1[0]`).
 */
export function parseControl(raw: unknown, scenario: Scenario): SimControl {
  const p = 'control';
  const o = ctlObj(raw, p);
  const allowed = ['t', 'fault', 'faults', 'lostGpus', 'mig', 'vgpuDetach', 'load', 'hot'];
  for (const k of Object.keys(o))
    if (!allowed.includes(k)) throw new ScenarioError(`${p}.${k}`, `unknown field (allowed: ${allowed.join(', ')})`);
  const ctl = emptyControl();
  if (o.t !== undefined && o.t !== null) {
    if (typeof o.t !== 'number' || !Number.isFinite(o.t) || o.t < 0)
      throw new ScenarioError(`${p}.t`, 'must be a number of seconds ≥ 0');
    ctl.t = o.t;
  }
  const faultList: Array<[unknown, string]> = [];
  if (o.fault !== undefined && o.fault !== null) faultList.push([o.fault, `${p}.fault`]);
  if (o.faults !== undefined && o.faults !== null) {
    if (!Array.isArray(o.faults)) throw new ScenarioError(`${p}.faults`, 'must be a list');
    o.faults.forEach((f, i) => faultList.push([f, `${p}.faults[${i}]`]));
  }
  for (const [f, fp] of faultList) {
    const fo = typeof f === 'string' ? { kind: f } : ctlObj(f, fp);
    for (const k of Object.keys(fo)) {
      if (!['kind', 'command', 'gpu', 'delayMs', 'message', 'temperatureC', 'ignoreSigterm', 'xid'].includes(k))
        throw new ScenarioError(`${fp}.${k}`, 'unknown field');
    }
    ctl.faults.push({ ...parseFaultOptions(fo, fp, scenario.gpus.length), source: 'control', id: fp, since: null });
  }
  if (o.lostGpus !== undefined && o.lostGpus !== null) {
    if (!Array.isArray(o.lostGpus)) throw new ScenarioError(`${p}.lostGpus`, 'must be a list of GPU positions');
    ctl.lostGpus = o.lostGpus.map((g, i) => gpuKey(String(g), `${p}.lostGpus[${i}]`, scenario));
  }
  if (o.mig !== undefined && o.mig !== null) {
    for (const [k, v] of Object.entries(ctlObj(o.mig, `${p}.mig`))) {
      const mp = `${p}.mig.${k}`;
      const pos = gpuKey(k, mp, scenario);
      const gpu = scenario.gpus[pos];
      if (!gpu) continue;
      if (gpu.vgpu) throw new ScenarioError(mp, `gpus[${pos}] is a vGPU host`);
      if (gpu.model.migSlots === 0) throw new ScenarioError(mp, `${gpu.model.key} does not support MIG`);
      if (v === null || v === 'disabled' || v === false) {
        ctl.mig.set(pos, null);
      } else {
        const list = Array.isArray(v) ? v : (ctlObj(v, mp).instances as unknown);
        if (!Array.isArray(list))
          throw new ScenarioError(mp, 'must be a list of profiles, {instances:[...]}, or "disabled"');
        const spec: MigSpec = {
          instances: list.map((item, i) => {
            const io = typeof item === 'string' ? { profile: item } : ctlObj(item, `${mp}[${i}]`);
            if (typeof io.profile !== 'string' || !gpu.model.migProfiles[io.profile]) {
              throw new ScenarioError(
                `${mp}[${i}]`,
                `not a MIG profile of ${gpu.model.key} (${Object.keys(gpu.model.migProfiles).join(', ')})`
              );
            }
            return {
              profile: io.profile,
              gi: typeof io.gi === 'number' ? io.gi : null,
              load: io.load === undefined ? null : parseLoad(io.load, `${mp}[${i}].load`),
            };
          }),
        };
        placeMig(gpu.model, spec, mp);
        ctl.mig.set(pos, spec);
      }
      ctl.migKey.set(pos, JSON.stringify(v));
    }
  }
  if (o.vgpuDetach !== undefined && o.vgpuDetach !== null) {
    for (const [k, v] of Object.entries(ctlObj(o.vgpuDetach, `${p}.vgpuDetach`))) {
      const vp = `${p}.vgpuDetach.${k}`;
      const pos = gpuKey(k, vp, scenario);
      const names = Array.isArray(v) ? v : [v];
      if (!names.every((n): n is string => typeof n === 'string'))
        throw new ScenarioError(vp, 'must be a VM name or a list of VM names');
      ctl.vgpuDetach.set(pos, names);
    }
  }
  for (const key of ['load', 'hot'] as const) {
    const v = o[key];
    if (v === undefined || v === null) continue;
    for (const [k, val] of Object.entries(ctlObj(v, `${p}.${key}`))) {
      const vp = `${p}.${key}.${k}`;
      const pos = gpuKey(k, vp, scenario);
      const max = key === 'load' ? 1 : 130;
      if (typeof val !== 'number' || !Number.isFinite(val) || val < 0 || val > max)
        throw new ScenarioError(vp, `must be a number from 0 to ${max}`);
      ctl[key].set(pos, val);
    }
  }
  return ctl;
}

// ---------------------------------------------------------------------------------------------------------
// Time windows

interface Window {
  start: number;
  end: number;
}

/** The occurrence of a change that covers t, if any. */
function changeWindow(c: ChangeSpec, t: number): Window | null {
  if (t < c.at) return null;
  const k = c.every !== null ? Math.floor((t - c.at) / c.every) : 0;
  const start = c.at + k * (c.every ?? 0);
  const len = c.for ?? c.every ?? Infinity;
  return t < start + len ? { start, end: start + len } : null;
}

/** End of the latest occurrence of a change that finished at or before t (−∞ if none). */
function lastEnded(c: ChangeSpec, t: number): number {
  if (t < c.at) return -Infinity;
  const len = c.for ?? c.every ?? Infinity;
  if (len === Infinity) return -Infinity;
  const k = c.every !== null ? Math.floor((t - c.at) / c.every) : 0;
  for (let j = k; j >= Math.max(0, k - 1); j--) {
    const end = c.at + j * (c.every ?? 0) + len;
    if (end <= t) return end;
  }
  return -Infinity;
}

function faultActive(f: { from: number; to: number | null; every: number | null }, t: number): boolean {
  if (t < f.from) return false;
  if (f.to === null) return true;
  const since = f.every !== null ? (t - f.from) % f.every : t - f.from;
  return since < f.to - f.from;
}

// ---------------------------------------------------------------------------------------------------------
// Values

function loadAt(l: LoadSpec, t: number, ...salt: Array<string | number>): number {
  const wave = l.amplitude * Math.sin(2 * Math.PI * (t / l.periodSeconds + l.phase));
  const noise = l.noise * (hashUnit('noise', ...salt, Math.floor(t)) * 2 - 1);
  return clamp(l.base + wave + noise, 0, 1);
}

const round2 = (v: number) => Math.round(v * 100) / 100;

function licenseStatus(licensed: boolean | null, timeMs: number, salt: string): string {
  if (licensed === null) return 'N/A (Expiry: N/A)';
  if (!licensed) return 'Unlicensed (Unrestricted)';
  // Leases are renewed: expiry some days ahead of now, fixed within a day.
  const day = Math.floor(timeMs / 86_400_000) * 86_400_000;
  const d = new Date(day + 30 * 86_400_000 + (hashInt('lease', salt) % 86_400) * 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  return `Licensed (Expiry: ${d.getUTCFullYear()}-${d.getUTCMonth() + 1}-${d.getUTCDate()} ${d.getUTCHours()}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} GMT)`;
}

/**
 * A process of a running fake vLLM engine that holds a CUDA context (simHost writes them to engines.json):
 * nvidia-smi lists it on its GPU, or on its MIG instance when the instance with that UUID exists.
 */
export interface EngineGpuProcess {
  /** Position of the GPU in `gpus`. */
  gpu: number;
  /** The MIG instance it runs on (null: the whole GPU). */
  migUuid: string | null;
  pid: number;
  name: string;
  memoryMiB: number;
  /** The engine's load now, 0..1: drives the GPU's (instance's) utilization unless the scenario sets one. */
  load: number;
}

interface GpuCtx {
  scenario: Scenario;
  spec: GpuSpec;
  position: number;
  t: number;
  timeMs: number;
  control: SimControl;
  hotC: number | null;
  engineProcs: EngineGpuProcess[];
}

/** GPU (or instance) load from the engines running on it. */
function engineDrivenLoad(procs: EngineGpuProcess[]): number {
  return clamp(0.08 + 0.87 * Math.max(...procs.map((p) => p.load)), 0, 1);
}

function buildGpu(ctx: GpuCtx, index: number): SimGpu {
  const { scenario, spec, position, t, control } = ctx;
  const host = scenario.hostname;
  const model = spec.model;

  // Which changes are active now on this GPU (latest start wins).
  const active: Array<{ change: ChangeSpec; order: number; win: Window }> = [];
  scenario.changes.forEach((change, order) => {
    if (change.gpu !== position) return;
    const win = changeWindow(change, t);
    if (win) active.push({ change, order, win });
  });
  active.sort((a, b) => a.win.start - b.win.start || a.order - b.order);
  const latest = <K extends keyof ChangeSpec>(key: K) => [...active].reverse().find((a) => a.change[key] !== undefined);

  // MIG layout and the "epoch" that names its instances (new UUIDs whenever instances are re-created).
  let mig: MigSpec | null = spec.mig;
  let migEpoch = 'base@start';
  let migBase = true;
  let processes: ProcessSpec[] = spec.processes;
  const migChange = latest('mig');
  if (control.mig.has(position)) {
    mig = control.mig.get(position) ?? null;
    migEpoch = `control:${control.migKey.get(position) ?? ''}`;
    migBase = false;
    processes = [];
  } else if (migChange) {
    mig = migChange.change.mig ?? null;
    migEpoch = `change${migChange.order}@${migChange.win.start}`;
    migBase = false;
  } else {
    let reverted = -Infinity;
    for (const c of scenario.changes)
      if (c.gpu === position && c.mig !== undefined) reverted = Math.max(reverted, lastEnded(c, t));
    if (reverted > -Infinity) migEpoch = `base@${reverted}`;
  }
  const procChange = latest('processes');
  if (!control.mig.has(position) && procChange?.change.processes) processes = procChange.change.processes;

  // Load.
  const loadChange = latest('load');
  const explicitLoad = control.load.has(position)
    ? (control.load.get(position) ?? 0)
    : loadChange?.change.load
      ? loadAt(loadChange.change.load, t, host, position, 'gpu')
      : spec.load
        ? loadAt(spec.load, t, host, position, 'gpu')
        : null;

  // MIG devices.
  const placed = mig ? placeMig(model, mig, `gpus[${position}].mig`) : [];
  const byGi = [...placed].sort((a, b) => a.gpuInstanceId - b.gpuInstanceId);
  const devices: SimMigDevice[] = byGi.map((p, index) => {
    const procs = processes.filter((pr) => pr.mig === p.position);
    const uuid = `MIG-${uuidFrom('5', 'mig', host, position, migEpoch, p.gpuInstanceId, 0)}`;
    const engines = ctx.engineProcs.filter((e) => e.migUuid === uuid);
    const procMem = procs.reduce((s, pr) => s + pr.memoryMiB, 0) + engines.reduce((s, e) => s + e.memoryMiB, 0);
    const defaultLoad: LoadSpec = {
      base: 0.6,
      amplitude: 0.25,
      periodSeconds: 240,
      phase: (p.position * 0.17) % 1,
      noise: 0.03,
    };
    const l = p.load
      ? loadAt(p.load, t, host, position, 'mig', p.position)
      : engines.length > 0
        ? engineDrivenLoad(engines)
        : procs.length > 0
          ? loadAt(defaultLoad, t, host, position, 'mig', p.position)
          : 0;
    return {
      index,
      gpuInstanceId: p.gpuInstanceId,
      computeInstanceId: 0,
      profile: p.profile.name,
      uuid,
      placementStart: p.start,
      multiprocessors: p.profile.multiprocessors,
      copyEngines: p.profile.copyEngines,
      encoders: p.profile.encoders,
      decoders: p.profile.decoders,
      ofas: p.profile.ofas,
      jpegs: p.profile.jpegs,
      memoryTotalMiB: p.profile.memoryMiB,
      memoryUsedMiB: Math.min(p.profile.memoryMiB, p.profile.idleUsedMiB + procMem),
      bar1TotalMiB: p.profile.bar1MiB,
      bar1UsedMiB: 0,
      load: l,
      specPosition: p.position,
    };
  });
  const devByPosition = new Map(byGi.map((p, i) => [p.position, devices[i]]));

  // vGPU instances.
  let vgpus: SimVgpu[] | null = null;
  if (spec.vgpu) {
    const detached = new Set<string>(control.vgpuDetach.get(position) ?? []);
    for (const a of active) for (const name of a.change.vgpu?.detach ?? []) detached.add(name);
    const present: Array<{ inst: VgpuInstanceSpec; epoch: number }> = [];
    for (const inst of spec.vgpu.instances) {
      if (detached.has(inst.vmName)) continue;
      // A VM that came back after a detach window gets a new vGPU (new id and UUID).
      let epoch = 0;
      for (const c of scenario.changes) {
        if (c.gpu === position && c.vgpu?.detach.includes(inst.vmName)) epoch = Math.max(epoch, lastEnded(c, t));
      }
      present.push({ inst, epoch });
    }
    for (const a of active) for (const inst of a.change.vgpu?.attach ?? []) present.push({ inst, epoch: a.win.start });
    let placementGiB = 0;
    const ids = new Set<number>();
    vgpus = present.map(({ inst, epoch }) => {
      const salt = [host, position, inst.vmName, epoch] as const;
      let vgpuId = 3251634176 + 10 + (hashInt('vgpu-id', ...salt) % 50000);
      while (ids.has(vgpuId)) vgpuId++;
      ids.add(vgpuId);
      const hasGuest = inst.licensed !== null && inst.guestDriverVersion !== null;
      const l = hasGuest ? loadAt(inst.load, t, host, position, 'vm', inst.vmName) : 0;
      const placementId = placementGiB;
      placementGiB += Math.round(inst.framebufferMiB / 1024);
      return {
        vgpuId,
        uuid: uuidFrom('1', 'vgpu-uuid', ...salt),
        vmUuid: inst.vmUuid ?? uuidFrom('4', 'vm', host, inst.vmName),
        vmName: inst.vmName,
        typeName: inst.type,
        typeId: inst.typeId,
        guestDriverVersion: inst.guestDriverVersion,
        licensed: inst.licensed,
        licenseStatus: licenseStatus(inst.licensed, ctx.timeMs, `${host}|${inst.vmName}`),
        placementId,
        guestPciBusId: hasGuest ? '00000000:00:05.0' : '00000000:00:00.0',
        framebufferTotalMiB: inst.framebufferMiB,
        framebufferUsedMiB: hasGuest
          ? Math.min(inst.framebufferMiB, 128 + Math.round((inst.framebufferMiB - 128) * 0.7 * l))
          : 128,
        utilization: { gpu: Math.round(l * 100), memory: Math.round(l * 60), encoder: 0, decoder: 0 },
        pid: inst.pid ?? 2000 + (hashInt('vgpu-pid', ...salt) % 400000),
      };
    });
  }

  // Processes as nvidia-smi lists them.
  let simProcs: SimProcess[];
  if (vgpus) {
    simProcs = vgpus.map((v) => ({
      pid: v.pid,
      name: 'vgpu',
      type: 'C+G' as const,
      usedMemoryMiB: Math.max(0, v.framebufferTotalMiB - 12),
      gpuInstanceId: null,
      computeInstanceId: null,
      migUuid: null,
    }));
  } else {
    simProcs = [];
    for (const pr of processes) {
      if (mig) {
        const dev = pr.mig === null ? undefined : devByPosition.get(pr.mig);
        if (!dev) continue; // its instance is gone
        simProcs.push({
          pid: pr.pid,
          name: pr.name,
          type: pr.type,
          usedMemoryMiB: pr.memoryMiB,
          gpuInstanceId: dev.gpuInstanceId,
          computeInstanceId: dev.computeInstanceId,
          migUuid: dev.uuid,
        });
      } else if (pr.mig === null) {
        simProcs.push({
          pid: pr.pid,
          name: pr.name,
          type: pr.type,
          usedMemoryMiB: pr.memoryMiB,
          gpuInstanceId: null,
          computeInstanceId: null,
          migUuid: null,
        });
      }
    }
    // The fake engines' processes: on their MIG instance while it exists, on the whole GPU while MIG is off.
    for (const e of ctx.engineProcs) {
      const dev = e.migUuid === null ? null : devices.find((d) => d.uuid === e.migUuid);
      if (e.migUuid !== null ? !dev : mig !== null) continue;
      if (simProcs.some((x) => x.pid === e.pid)) continue;
      simProcs.push({
        pid: e.pid,
        name: e.name,
        type: 'C',
        usedMemoryMiB: e.memoryMiB,
        gpuInstanceId: dev ? dev.gpuInstanceId : null,
        computeInstanceId: dev ? dev.computeInstanceId : null,
        migUuid: dev ? dev.uuid : null,
      });
    }
  }
  const wholeGpuEngines = mig || vgpus ? [] : ctx.engineProcs.filter((e) => e.migUuid === null);

  // Effective load.
  let load: number;
  if (explicitLoad !== null) load = explicitLoad;
  else if (mig)
    load =
      devices.reduce((s, d) => s + d.load * (model.migProfiles[d.profile]?.computeSlices ?? 1), 0) /
      model.migComputeSlices;
  else if (vgpus)
    load = clamp(
      vgpus.reduce((s, v) => s + v.utilization.gpu / 100, 0),
      0,
      1
    );
  else if (wholeGpuEngines.length > 0) load = engineDrivenLoad(wholeGpuEngines);
  else if (simProcs.length > 0)
    load = loadAt(
      { base: 0.55, amplitude: 0.3, periodSeconds: 300, phase: (position * 0.13) % 1, noise: 0.03 },
      t,
      host,
      position,
      'gpu'
    );
  else load = 0;

  // Memory.
  let usedMiB: number;
  if (mig) usedMiB = devices.reduce((s, d) => s + d.memoryUsedMiB, 0);
  else usedMiB = 1 + simProcs.reduce((s, p) => s + p.usedMemoryMiB, 0);
  const totalMiB = spec.memoryMiB;
  const reservedMiB = model.reservedMiB;
  usedMiB = Math.min(usedMiB, totalMiB - reservedMiB);

  // Power, temperature, clocks.
  const hot = ctx.hotC;
  const idle = load < 0.03;
  const n1 = hashUnit('pw', host, position, Math.floor(t)) * 2 - 1;
  const n2 = hashUnit('pi', host, position, Math.floor(t)) * 2 - 1;
  const n3 = hashUnit('tp', host, position, Math.floor(t)) * 2 - 1;
  const limitW = spec.powerLimitW;
  const throttled = hot !== null && hot >= model.temps.maxOperatingC;
  let averageW = model.idlePowerW + (limitW - model.idlePowerW) * Math.pow(load, 1.2) * 0.92 + n1 * 2;
  if (throttled) averageW *= 0.85; // thermal slowdown sheds power
  averageW = clamp(round2(averageW), model.idlePowerW * 0.8, limitW);
  const instantW = clamp(round2(averageW * (1 + 0.02 * n2)), 0, limitW);
  const gpuC = hot !== null ? Math.round(hot + n3) : Math.round(model.temps.idleC + model.temps.loadRiseC * load + n3);
  const step = model.graphicsClockStep;
  const sm = idle
    ? model.idleClocks.sm
    : throttled
      ? Math.round((model.maxClocks.sm * 0.7) / step) * step
      : model.maxClocks.sm;

  const util = mig
    ? { gpu: null, memory: null, encoder: null, decoder: null, jpeg: null, ofa: null }
    : { gpu: Math.round(load * 100), memory: Math.round(load * 45), encoder: 0, decoder: 0, jpeg: 0, ofa: 0 };

  return {
    position,
    index,
    minorNumber: position,
    model,
    uuid: spec.uuid ?? `GPU-${uuidFrom(null, 'gpu', host, position)}`,
    name: spec.name,
    serial: spec.serial ?? String(1650000000000 + (hashInt('serial', host, position) % 9_999_999)),
    pciBusId: spec.pciBusId ?? defaultBusId(position),
    memory: { totalMiB, reservedMiB, usedMiB, freeMiB: totalMiB - reservedMiB - usedMiB },
    bar1: { totalMiB: model.bar1MiB, usedMiB: mig ? 1 : 5 + 2 * simProcs.length },
    utilization: util,
    temperature: { gpuC, memoryC: model.memoryTemp ? gpuC + 5 : null },
    power: {
      averageW,
      instantW,
      limitW,
      defaultLimitW: model.powerLimitW,
      minLimitW: model.minPowerLimitW,
      maxLimitW: model.powerLimitW,
    },
    clocks: {
      graphics: sm,
      sm,
      mem: idle ? model.idleClocks.mem : model.maxClocks.mem,
      video: idle ? model.idleClocks.video : model.maxClocks.video,
    },
    pstate: idle ? model.idlePstate : 'P0',
    throttle: {
      idle,
      swPowerCap: !throttled && load > 0.97,
      hwSlowdown: false,
      hwThermalSlowdown: throttled,
      swThermalSlowdown: throttled,
    },
    mig: { capable: model.migSlots > 0, enabled: mig !== null, base: migBase, devices },
    vgpu: spec.vgpu && vgpus ? { hostMode: spec.vgpu.hostMode, vgpus } : null,
    processes: simProcs,
    load,
  };
}

/**
 * The host at `tSeconds` after the scenario start. `epochMs` (wall-clock of the start) only feeds timestamps
 * and license expiries; everything else depends on the scenario, t and the control overrides alone.
 */
export function hostStateAt(
  scenario: Scenario,
  tSeconds: number,
  control: SimControl = EMPTY_CONTROL,
  epochMs = 0,
  engineProcs: readonly EngineGpuProcess[] = []
): SimHostState {
  const t = tSeconds;
  const timeMs = epochMs + Math.round(t * 1000);
  const faults: ActiveFault[] = [];
  scenario.faults.forEach((f, i) => {
    if (faultActive(f, t))
      faults.push({
        kind: f.kind,
        commands: f.commands,
        gpu: f.gpu,
        delayMs: f.delayMs,
        message: f.message,
        temperatureC: f.temperatureC,
        ignoreSigterm: f.ignoreSigterm,
        xid: f.xid,
        source: 'scenario',
        id: `faults[${i}]`,
        since: f.every !== null ? f.from + Math.floor((t - f.from) / f.every) * f.every : f.from,
      });
  });
  faults.push(...control.faults);
  const lost = new Set<number>(control.lostGpus);
  const hot = new Map<number, number>(control.hot);
  for (const f of faults) {
    if (f.gpu === null) continue;
    if (f.kind === 'gpu-lost') lost.add(f.gpu);
    if (f.kind === 'hot' && !hot.has(f.gpu)) hot.set(f.gpu, f.temperatureC);
  }
  const gpus: SimGpu[] = [];
  scenario.gpus.forEach((spec, position) => {
    if (lost.has(position)) return;
    const mine = engineProcs.filter((e) => e.gpu === position);
    gpus.push(
      buildGpu({ scenario, spec, position, t, timeMs, control, hotC: hot.get(position) ?? null, engineProcs: mine }, gpus.length)
    );
  });
  return {
    hostname: scenario.hostname,
    driverVersion: scenario.driverVersion,
    cudaVersion: scenario.cudaVersion,
    t,
    timeMs,
    gpus,
    lostGpus: [...lost].sort((a, b) => a - b),
    faults,
  };
}

/**
 * The process-level faults that apply to a command now: `slow` delays the answer; `fail` (hang, garbage or
 * exit-error; the first one listed wins) replaces it.
 */
export function commandFaults(
  state: SimHostState,
  command: CommandName
): { slow: ActiveFault | null; fail: ActiveFault | null } {
  let slow: ActiveFault | null = null;
  let fail: ActiveFault | null = null;
  for (const f of state.faults) {
    if (!f.commands.includes(command)) continue;
    if (f.kind === 'slow') slow ??= f;
    else if (f.kind === 'hang' || f.kind === 'garbage' || f.kind === 'exit-error') fail ??= f;
  }
  return { slow, fail };
}
