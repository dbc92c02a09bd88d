// The scenario format of the simulated GPU host: types, loader and validation.
//
// A scenario is YAML (JSON is accepted, being YAML). Every error names the field it is about with a path such
// as `gpus[3].mig.instances[1].profile`. See README.md in this folder for the format.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { GPU_MODELS, type GpuModelInfo, type MigProfileInfo } from './catalog.js';
import { parseEngines, type EngineSpec } from './engineScenario.js';
import {
  asList,
  asObj,
  describe,
  join,
  num,
  oneOf,
  onlyKeys,
  optNum,
  optStr,
  parseLoad,
  ScenarioError,
  str,
  type LoadSpec,
  type Obj,
  timeWindow,
} from './scenarioFields.js';

export { parseLoad, ScenarioError, type LoadSpec } from './scenarioFields.js';

// ---------------------------------------------------------------------------------------------------------
// Normalized types (what the validator returns; defaults filled in)

export type ProcessType = 'C' | 'G' | 'C+G';

export interface ProcessSpec {
  pid: number;
  name: string;
  memoryMiB: number;
  type: ProcessType;
  /** Position in the GPU's current `mig.instances` list; only on MIG-enabled GPUs. */
  mig: number | null;
}

export interface MigInstanceSpec {
  profile: string;
  /** GPU instance id to use instead of the driver's choice. */
  gi: number | null;
  load: LoadSpec | null;
}

export interface MigSpec {
  instances: MigInstanceSpec[];
}

export interface VgpuInstanceSpec {
  vmName: string;
  type: string;
  typeId: number;
  framebufferMiB: number;
  /** true: licensed; false: unlicensed; null: no guest driver reported (License Status N/A). */
  licensed: boolean | null;
  guestDriverVersion: string | null;
  vmUuid: string | null;
  pid: number | null;
  load: LoadSpec;
}

export type VgpuHostMode = 'sriov' | 'non-sriov';

export interface VgpuSpec {
  hostMode: VgpuHostMode;
  instances: VgpuInstanceSpec[];
}

export interface GpuSpec {
  model: GpuModelInfo;
  name: string;
  memoryMiB: number;
  powerLimitW: number;
  uuid: string | null;
  pciBusId: string | null;
  serial: string | null;
  /** null: derived (from processes, MIG instances or VMs). */
  load: LoadSpec | null;
  /** null: MIG disabled (or unsupported by the model). */
  mig: MigSpec | null;
  vgpu: VgpuSpec | null;
  processes: ProcessSpec[];
}

export interface ChangeSpec {
  at: number;
  every: number | null;
  /** Seconds each occurrence lasts; null: until the next occurrence (or for ever). */
  for: number | null;
  gpu: number;
  /** undefined: the change leaves MIG alone; null: MIG disabled during the change. */
  mig?: MigSpec | null;
  /** Processes while the change is active (replace the GPU's). */
  processes?: ProcessSpec[];
  vgpu?: { detach: string[]; attach: VgpuInstanceSpec[] };
  load?: LoadSpec;
}

export const FAULT_KINDS = ['hang', 'garbage', 'exit-error', 'gpu-lost', 'xid', 'slow', 'hot'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export const COMMANDS = ['xml', 'list', 'vgpu', 'query-gpu', 'compute-apps', 'mig'] as const;
export type CommandName = (typeof COMMANDS)[number];
export const EXIT_MESSAGES = ['mismatch', 'unknown', 'lost', 'no-driver'] as const;
export type ExitMessage = (typeof EXIT_MESSAGES)[number];

export interface FaultOptions {
  kind: FaultKind;
  commands: CommandName[];
  gpu: number | null;
  /** slow: delay before answering. */
  delayMs: number;
  /** exit-error: which real message. */
  message: ExitMessage;
  /** hot: temperature the GPU reaches. */
  temperatureC: number;
  /** hang: ignore SIGTERM like a process stuck in an NVML call (only SIGKILL ends it). */
  ignoreSigterm: boolean;
  /** xid: the Xid code (kept for the event collector; nvidia-smi output is unchanged). */
  xid: number;
}

export interface FaultSpec extends FaultOptions {
  from: number;
  /** null: for ever. */
  to: number | null;
  every: number | null;
}

export interface Scenario {
  hostname: string;
  driverVersion: string;
  cudaVersion: string;
  description: string | null;
  gpus: GpuSpec[];
  changes: ChangeSpec[];
  faults: FaultSpec[];
  /** The fake vLLM engines (engineScenario.ts), started as real processes by simHost. */
  engines: EngineSpec[];
}

// ---------------------------------------------------------------------------------------------------------
// Parts

function parseProcess(v: unknown, path: string): ProcessSpec {
  const o = asObj(v, path);
  onlyKeys(o, path, ['pid', 'name', 'memoryMiB', 'type', 'mig']);
  if (o.pid === undefined) throw new ScenarioError(join(path, 'pid'), 'is required');
  if (o.name === undefined) throw new ScenarioError(join(path, 'name'), 'is required');
  if (o.memoryMiB === undefined) throw new ScenarioError(join(path, 'memoryMiB'), 'is required');
  return {
    pid: num(o.pid, join(path, 'pid'), { int: true, min: 1, max: 4194304 }),
    name: str(o.name, join(path, 'name')),
    memoryMiB: num(o.memoryMiB, join(path, 'memoryMiB'), { int: true, min: 0 }),
    type: o.type === undefined ? 'C' : oneOf(o.type, join(path, 'type'), ['C', 'G', 'C+G'] as const),
    mig: optNum(o, 'mig', path, { int: true, min: 0 }),
  };
}

function parseMig(v: unknown, path: string, model: GpuModelInfo): MigSpec | null {
  if (v === null || v === false || v === 'disabled') return null;
  const o = asObj(v, path);
  onlyKeys(o, path, ['instances']);
  if (model.migSlots === 0) throw new ScenarioError(path, `${model.key} does not support MIG`);
  const list = o.instances === undefined ? [] : asList(o.instances, join(path, 'instances'));
  const instances = list.map((raw, i): MigInstanceSpec => {
    const ip = join(join(path, 'instances'), i);
    // A bare profile name is accepted: instances: [3g.40gb, 1g.10gb]
    const io = typeof raw === 'string' ? { profile: raw } : asObj(raw, ip);
    onlyKeys(io, ip, ['profile', 'gi', 'load']);
    if (io.profile === undefined) throw new ScenarioError(join(ip, 'profile'), 'is required');
    const profile = str(io.profile, join(ip, 'profile')).replace(/^MIG /, '');
    if (!model.migProfiles[profile]) {
      throw new ScenarioError(
        join(ip, 'profile'),
        `"${profile}" is not a MIG profile of ${model.key} (one of ${Object.keys(model.migProfiles).join(', ')})`
      );
    }
    return {
      profile,
      gi: optNum(io, 'gi', ip, { int: true, min: 0 }),
      load: io.load === undefined || io.load === null ? null : parseLoad(io.load, join(ip, 'load')),
    };
  });
  const spec = { instances };
  placeMig(model, spec, path); // throws when the layout does not fit
  return spec;
}

function parseVgpuInstance(v: unknown, path: string, model: GpuModelInfo, driverVersion: string): VgpuInstanceSpec {
  const o = asObj(v, path);
  onlyKeys(o, path, [
    'vmName',
    'type',
    'typeId',
    'framebufferMiB',
    'licensed',
    'guestDriverVersion',
    'vmUuid',
    'pid',
    'load',
  ]);
  if (o.vmName === undefined) throw new ScenarioError(join(path, 'vmName'), 'is required');
  if (o.type === undefined)
    throw new ScenarioError(
      join(path, 'type'),
      `is required (e.g. ${Object.keys(model.vgpuTypes)[0] ?? 'NVIDIA H100XM-20C'})`
    );
  const type = str(o.type, join(path, 'type'));
  const known = model.vgpuTypes[type];
  const typeId = optNum(o, 'typeId', path, { int: true, min: 1 }) ?? known?.typeId ?? null;
  const framebufferMiB = optNum(o, 'framebufferMiB', path, { int: true, min: 1 }) ?? known?.framebufferMiB ?? null;
  if (typeId === null || framebufferMiB === null) {
    throw new ScenarioError(
      join(path, 'type'),
      `"${type}" is not a built-in vGPU type of ${model.key} (${Object.keys(model.vgpuTypes).join(', ')}); give typeId and framebufferMiB for a custom type`
    );
  }
  let licensed: boolean | null = true;
  if (o.licensed === null) licensed = null;
  else if (o.licensed !== undefined) {
    if (typeof o.licensed !== 'boolean')
      throw new ScenarioError(join(path, 'licensed'), `must be true, false or null, got ${describe(o.licensed)}`);
    licensed = o.licensed;
  }
  let guestDriverVersion: string | null = licensed === null ? null : driverVersion;
  if (o.guestDriverVersion !== undefined) guestDriverVersion = optStr(o, 'guestDriverVersion', path);
  const vmUuid = optStr(o, 'vmUuid', path);
  if (vmUuid !== null && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(vmUuid)) {
    throw new ScenarioError(join(path, 'vmUuid'), 'must be a lower-case UUID (8-4-4-4-12 hex)');
  }
  return {
    vmName: str(o.vmName, join(path, 'vmName')),
    type,
    typeId,
    framebufferMiB,
    licensed,
    guestDriverVersion,
    vmUuid,
    pid: optNum(o, 'pid', path, { int: true, min: 1, max: 4194304 }),
    load:
      o.load === undefined || o.load === null
        ? { base: 0.15, amplitude: 0.1, periodSeconds: 420, phase: 0, noise: 0.03 }
        : parseLoad(o.load, join(path, 'load')),
  };
}

function parseVgpu(
  v: unknown,
  path: string,
  model: GpuModelInfo,
  driverVersion: string,
  memoryMiB: number
): VgpuSpec | null {
  if (v === null || v === false) return null;
  const o = asObj(v, path);
  onlyKeys(o, path, ['hostMode', 'instances']);
  const hostMode =
    o.hostMode === undefined ? 'sriov' : oneOf(o.hostMode, join(path, 'hostMode'), ['sriov', 'non-sriov'] as const);
  const list = o.instances === undefined ? [] : asList(o.instances, join(path, 'instances'));
  const instances = list.map((raw, i) =>
    parseVgpuInstance(raw, join(join(path, 'instances'), i), model, driverVersion)
  );
  checkVgpuInstances(instances, join(path, 'instances'), memoryMiB);
  return { hostMode, instances };
}

function checkVgpuInstances(instances: VgpuInstanceSpec[], path: string, memoryMiB: number): void {
  const seen = new Set<string>();
  let fb = 0;
  instances.forEach((inst, i) => {
    if (seen.has(inst.vmName))
      throw new ScenarioError(join(join(path, i), 'vmName'), `"${inst.vmName}" appears twice on this GPU`);
    seen.add(inst.vmName);
    fb += inst.framebufferMiB;
  });
  // vGPU sizes are in whole GiB of the board's nominal size (an "80GB" H100 has 81559 MiB usable, yet 4× 20C fit).
  const nominal = Math.ceil(memoryMiB / 4096) * 4096;
  if (fb > nominal) throw new ScenarioError(path, `the VMs' framebuffers (${fb} MiB) exceed the GPU's ${nominal} MiB`);
}

function checkProcesses(
  processes: ProcessSpec[],
  path: string,
  gpu: { mig: MigSpec | null; vgpu: VgpuSpec | null; model: GpuModelInfo; memoryMiB: number }
): void {
  if (gpu.vgpu && processes.length > 0) {
    throw new ScenarioError(
      path,
      'a vGPU host GPU runs no host processes (its VMs appear as `vgpu` processes); remove them'
    );
  }
  const pids = new Set<number>();
  const usePerInstance = new Map<number, number>();
  let total = 0;
  processes.forEach((p, i) => {
    const pp = join(path, i);
    if (pids.has(p.pid)) throw new ScenarioError(join(pp, 'pid'), `${p.pid} appears twice on this GPU`);
    pids.add(p.pid);
    if (gpu.mig) {
      if (p.mig === null)
        throw new ScenarioError(join(pp, 'mig'), 'is required on a MIG-enabled GPU (position in mig.instances)');
      if (p.mig >= gpu.mig.instances.length) {
        throw new ScenarioError(
          join(pp, 'mig'),
          `${p.mig} is not a position in mig.instances (there are ${gpu.mig.instances.length})`
        );
      }
      usePerInstance.set(p.mig, (usePerInstance.get(p.mig) ?? 0) + p.memoryMiB);
    } else if (p.mig !== null) {
      throw new ScenarioError(join(pp, 'mig'), 'only allowed on a MIG-enabled GPU');
    }
    total += p.memoryMiB;
  });
  if (gpu.mig) {
    for (const [pos, used] of usePerInstance) {
      const inst = gpu.mig.instances[pos];
      const prof = inst ? gpu.model.migProfiles[inst.profile] : undefined;
      if (prof && used + prof.idleUsedMiB > prof.memoryMiB) {
        throw new ScenarioError(
          path,
          `processes on mig instance ${pos} (${inst?.profile}) use ${used} MiB, more than its ${prof.memoryMiB - prof.idleUsedMiB} MiB`
        );
      }
    }
  } else if (total > gpu.memoryMiB - gpu.model.reservedMiB) {
    throw new ScenarioError(
      path,
      `processes use ${total} MiB, more than the GPU's ${gpu.memoryMiB - gpu.model.reservedMiB} MiB`
    );
  }
}

// ---------------------------------------------------------------------------------------------------------
// MIG placement: where the driver puts each GPU instance and which id it gets.

export interface PlacedMigInstance {
  /** Position in the spec's instance list. */
  position: number;
  profile: MigProfileInfo;
  start: number;
  gpuInstanceId: number;
  load: LoadSpec | null;
}

/**
 * Places instances in list order the way `nvidia-smi mig -cgi` does: each at the first free placement of its
 * profile (3g prefers the upper half, as the real driver did in the captures), GPU instance ids from the
 * placement. With capture_h100-mig's order (3g.40gb, 2g.20gb, 1g.10gb, 1g.10gb) this gives GI 2, 3, 9, 10.
 */
export function placeMig(model: GpuModelInfo, spec: MigSpec, path: string): PlacedMigInstance[] {
  const used = new Array<boolean>(model.migSlots).fill(false);
  let compute = 0;
  const gis = new Set<number>();
  return spec.instances.map((inst, position) => {
    const ip = join(join(path, 'instances'), position);
    const prof = model.migProfiles[inst.profile];
    if (!prof) throw new ScenarioError(join(ip, 'profile'), `"${inst.profile}" is not a MIG profile of ${model.key}`);
    compute += prof.computeSlices;
    if (compute > model.migComputeSlices) {
      throw new ScenarioError(
        join(ip, 'profile'),
        `no room for ${prof.name}: the instances need more than the GPU's ${model.migComputeSlices} compute slices`
      );
    }
    const free = (s: number) =>
      used.slice(s, s + prof.memorySlices).every((u) => !u) && s + prof.memorySlices <= model.migSlots;
    const candidates = prof.starts.filter(free);
    let start: number | undefined;
    if (inst.gi !== null) {
      start = candidates.find((s) => prof.gpuInstanceId(s) === inst.gi);
      if (start === undefined) {
        const possible = prof.starts.map((s) => prof.gpuInstanceId(s));
        throw new ScenarioError(
          join(ip, 'gi'),
          `GPU instance ${inst.gi} is not free for ${prof.name} (a ${prof.name} can have GI ${possible.join(', ')})`
        );
      }
    } else {
      start = candidates[0];
    }
    if (start === undefined) {
      throw new ScenarioError(
        join(ip, 'profile'),
        `no free placement for ${prof.name}: the GPU's ${model.migSlots} memory slices are taken by the instances before it`
      );
    }
    for (let s = start; s < start + prof.memorySlices; s++) used[s] = true;
    const gpuInstanceId = prof.gpuInstanceId(start);
    if (gis.has(gpuInstanceId))
      throw new ScenarioError(join(ip, 'gi'), `GPU instance id ${gpuInstanceId} is used twice`);
    gis.add(gpuInstanceId);
    return { position, profile: prof, start, gpuInstanceId, load: inst.load };
  });
}

// ---------------------------------------------------------------------------------------------------------
// GPU, change, fault

const BUS_ID = /^[0-9A-F]{8}:[0-9A-F]{2}:[0-9A-F]{2}\.[0-9A-F]$/;
const GPU_UUID = /^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function parseGpu(v: unknown, path: string, driverVersion: string): GpuSpec {
  const o = asObj(v, path);
  onlyKeys(o, path, [
    'model',
    'name',
    'memoryMiB',
    'powerLimitW',
    'uuid',
    'pciBusId',
    'serial',
    'load',
    'mig',
    'vgpu',
    'processes',
  ]);
  const modelKey = o.model === undefined ? 'H100-SXM5-80GB' : str(o.model, join(path, 'model'));
  const model = GPU_MODELS[modelKey];
  if (!model)
    throw new ScenarioError(
      join(path, 'model'),
      `unknown model "${modelKey}" (built in: ${Object.keys(GPU_MODELS).join(', ')})`
    );
  const memoryMiB = optNum(o, 'memoryMiB', path, { int: true, min: 1024 }) ?? model.memoryMiB;
  const uuid = optStr(o, 'uuid', path);
  if (uuid !== null && !GPU_UUID.test(uuid))
    throw new ScenarioError(
      join(path, 'uuid'),
      'must look like GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (lower-case hex)'
    );
  const pciBusId = optStr(o, 'pciBusId', path);
  if (pciBusId !== null && !BUS_ID.test(pciBusId))
    throw new ScenarioError(join(path, 'pciBusId'), 'must look like 00000000:18:00.0 (upper-case hex)');
  const mig = o.mig === undefined ? null : parseMig(o.mig, join(path, 'mig'), model);
  const vgpu = o.vgpu === undefined ? null : parseVgpu(o.vgpu, join(path, 'vgpu'), model, driverVersion, memoryMiB);
  if (mig && vgpu)
    throw new ScenarioError(join(path, 'vgpu'), 'MIG-backed vGPU is not simulated: give a GPU either mig or vgpu');
  const processes =
    o.processes === undefined
      ? []
      : asList(o.processes, join(path, 'processes')).map((p, i) => parseProcess(p, join(join(path, 'processes'), i)));
  const spec: GpuSpec = {
    model,
    name: optStr(o, 'name', path) ?? model.name,
    memoryMiB,
    powerLimitW: optNum(o, 'powerLimitW', path, { min: 1 }) ?? model.powerLimitW,
    uuid,
    pciBusId,
    serial: optStr(o, 'serial', path),
    load: o.load === undefined || o.load === null ? null : parseLoad(o.load, join(path, 'load')),
    mig,
    vgpu,
    processes,
  };
  checkProcesses(processes, join(path, 'processes'), spec);
  return spec;
}

function parseChange(v: unknown, path: string, gpus: GpuSpec[], driverVersion: string): ChangeSpec {
  const o = asObj(v, path);
  onlyKeys(o, path, ['at', 'every', 'for', 'gpu', 'mig', 'processes', 'vgpu', 'load']);
  if (o.at === undefined) throw new ScenarioError(join(path, 'at'), 'is required (seconds after the start)');
  if (o.gpu === undefined) throw new ScenarioError(join(path, 'gpu'), 'is required (position in gpus)');
  const gpuIdx = num(o.gpu, join(path, 'gpu'), { int: true, min: 0 });
  const gpu = gpus[gpuIdx];
  if (!gpu) throw new ScenarioError(join(path, 'gpu'), `there is no gpus[${gpuIdx}] (the scenario has ${gpus.length})`);
  const every = optNum(o, 'every', path, { min: 0, above: true });
  const dur = optNum(o, 'for', path, { min: 0, above: true });
  if (every !== null && dur !== null && dur > every)
    throw new ScenarioError(join(path, 'for'), `must not exceed every (${every})`);
  const change: ChangeSpec = { at: num(o.at, join(path, 'at'), { min: 0 }), every, for: dur, gpu: gpuIdx };
  if (o.mig !== undefined) {
    if (gpu.vgpu)
      throw new ScenarioError(join(path, 'mig'), `gpus[${gpuIdx}] is a vGPU host; MIG-backed vGPU is not simulated`);
    change.mig = parseMig(o.mig, join(path, 'mig'), gpu.model);
  }
  if (o.processes !== undefined) {
    change.processes = asList(o.processes, join(path, 'processes')).map((p, i) =>
      parseProcess(p, join(join(path, 'processes'), i))
    );
  }
  const migNow = change.mig !== undefined ? change.mig : gpu.mig;
  if (change.processes) checkProcesses(change.processes, join(path, 'processes'), { ...gpu, mig: migNow });
  else if (change.mig !== undefined && gpu.processes.length > 0) {
    // The GPU's processes are killed by a reconfiguration; without a list the GPU has none during the change.
    change.processes = [];
  }
  if (o.vgpu !== undefined) {
    const vp = join(path, 'vgpu');
    if (!gpu.vgpu) throw new ScenarioError(vp, `gpus[${gpuIdx}] has no vgpu section`);
    const vo = asObj(o.vgpu, vp);
    onlyKeys(vo, vp, ['detach', 'attach']);
    const detachRaw = vo.detach === undefined ? [] : Array.isArray(vo.detach) ? vo.detach : [vo.detach];
    const detach = detachRaw.map((d, i) => {
      const name = str(d, Array.isArray(vo.detach) ? join(join(vp, 'detach'), i) : join(vp, 'detach'));
      if (!gpu.vgpu?.instances.some((x) => x.vmName === name)) {
        throw new ScenarioError(join(vp, 'detach'), `no VM named "${name}" on gpus[${gpuIdx}]`);
      }
      return name;
    });
    const attach =
      vo.attach === undefined
        ? []
        : asList(vo.attach, join(vp, 'attach')).map((a, i) =>
            parseVgpuInstance(a, join(join(vp, 'attach'), i), gpu.model, driverVersion)
          );
    const during = [...gpu.vgpu.instances.filter((x) => !detach.includes(x.vmName)), ...attach];
    checkVgpuInstances(during, join(vp, 'attach'), gpu.memoryMiB);
    change.vgpu = { detach, attach };
  }
  if (o.load !== undefined) change.load = parseLoad(o.load, join(path, 'load'));
  if (
    change.mig === undefined &&
    change.processes === undefined &&
    change.vgpu === undefined &&
    change.load === undefined
  ) {
    throw new ScenarioError(path, 'a change needs at least one of mig, processes, vgpu, load');
  }
  return change;
}

export function parseFaultOptions(o: Obj, path: string, gpuCount: number): FaultOptions {
  if (o.kind === undefined)
    throw new ScenarioError(join(path, 'kind'), `is required (one of ${FAULT_KINDS.join(', ')})`);
  const kind = oneOf(o.kind, join(path, 'kind'), FAULT_KINDS);
  let commands: CommandName[] = [...COMMANDS];
  if (o.command !== undefined && o.command !== 'all') {
    const raw = Array.isArray(o.command) ? o.command : [o.command];
    commands = raw.map((c, i) =>
      oneOf(c, Array.isArray(o.command) ? join(join(path, 'command'), i) : join(path, 'command'), COMMANDS)
    );
  }
  const gpu = optNum(o, 'gpu', path, { int: true, min: 0 });
  if (gpu !== null && gpu >= gpuCount)
    throw new ScenarioError(join(path, 'gpu'), `there is no gpus[${gpu}] (the scenario has ${gpuCount})`);
  if ((kind === 'gpu-lost' || kind === 'hot' || kind === 'xid') && gpu === null) {
    throw new ScenarioError(join(path, 'gpu'), `is required for kind ${kind}`);
  }
  let ignoreSigterm = false;
  if (o.ignoreSigterm !== undefined) {
    if (typeof o.ignoreSigterm !== 'boolean')
      throw new ScenarioError(join(path, 'ignoreSigterm'), 'must be true or false');
    ignoreSigterm = o.ignoreSigterm;
  }
  return {
    kind,
    commands,
    gpu,
    delayMs: optNum(o, 'delayMs', path, { int: true, min: 0, max: 600000 }) ?? 5000,
    message: o.message === undefined ? 'mismatch' : oneOf(o.message, join(path, 'message'), EXIT_MESSAGES),
    temperatureC: optNum(o, 'temperatureC', path, { min: 0, max: 130 }) ?? 92,
    ignoreSigterm,
    xid: optNum(o, 'xid', path, { int: true, min: 1 }) ?? 79,
  };
}

const FAULT_OPTION_KEYS = ['kind', 'command', 'gpu', 'delayMs', 'message', 'temperatureC', 'ignoreSigterm', 'xid'];

function parseFault(v: unknown, path: string, gpuCount: number): FaultSpec {
  const o = asObj(v, path);
  onlyKeys(o, path, [...FAULT_OPTION_KEYS, 'from', 'to', 'every']);
  const opts = parseFaultOptions(o, path, gpuCount);
  return { ...opts, ...timeWindow(o, path) };
}

// ---------------------------------------------------------------------------------------------------------
// Entry points

/** `maxEngines`: a scenario that never runs as processes (the fleet simulator's) may have more than 32. */
export function validateScenario(raw: unknown, opts: { maxEngines?: number } = {}): Scenario {
  const o = asObj(raw, '');
  onlyKeys(o, '', ['hostname', 'driverVersion', 'cudaVersion', 'description', 'gpus', 'changes', 'faults', 'engines']);
  const hostname = o.hostname === undefined ? 'sim-host' : str(o.hostname, 'hostname');
  if (!/^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(hostname))
    throw new ScenarioError('hostname', 'must be a host name (letters, digits, dots, dashes)');
  const driverVersion = o.driverVersion === undefined ? '570.124.06' : str(o.driverVersion, 'driverVersion');
  if (!/^\d+\.\d+(\.\d+)?$/.test(driverVersion))
    throw new ScenarioError('driverVersion', `must look like 570.124.06, got "${driverVersion}"`);
  const cudaVersion = o.cudaVersion === undefined ? '12.8' : str(o.cudaVersion, 'cudaVersion');
  if (o.gpus === undefined) throw new ScenarioError('gpus', 'is required (a list of GPUs)');
  const gpuList = asList(o.gpus, 'gpus');
  if (gpuList.length === 0) throw new ScenarioError('gpus', 'needs at least one GPU');
  if (gpuList.length > 32) throw new ScenarioError('gpus', 'at most 32 GPUs are simulated');
  const gpus = gpuList.map((g, i) => parseGpu(g, `gpus[${i}]`, driverVersion));
  const uuids = new Set<string>();
  const buses = new Set<string>();
  gpus.forEach((g, i) => {
    if (g.uuid) {
      if (uuids.has(g.uuid)) throw new ScenarioError(`gpus[${i}].uuid`, 'appears twice');
      uuids.add(g.uuid);
    }
    if (g.pciBusId) {
      if (buses.has(g.pciBusId)) throw new ScenarioError(`gpus[${i}].pciBusId`, 'appears twice');
      buses.add(g.pciBusId);
    }
  });
  const changes =
    o.changes === undefined || o.changes === null
      ? []
      : asList(o.changes, 'changes').map((c, i) => parseChange(c, `changes[${i}]`, gpus, driverVersion));
  const faults =
    o.faults === undefined || o.faults === null
      ? []
      : asList(o.faults, 'faults').map((f, i) => parseFault(f, `faults[${i}]`, gpus.length));
  const engines = parseEngines(o.engines, { gpus, maxEngines: opts.maxEngines });
  return {
    hostname,
    driverVersion,
    cudaVersion,
    description: optStr(o, 'description', ''),
    gpus,
    changes,
    faults,
    engines,
  };
}

/** Parses scenario text (YAML or JSON). `source` names the file in errors. */
export function parseScenario(text: string, source = 'scenario'): Scenario {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ScenarioError('', `${source}: not valid YAML: ${(err as Error).message}`);
  }
  try {
    return validateScenario(raw);
  } catch (err) {
    if (err instanceof ScenarioError)
      throw new ScenarioError(err.field, `${err.message.slice(err.field ? err.field.length + 2 : 0)} (in ${source})`);
    throw err;
  }
}

export function loadScenarioFile(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ScenarioError(
      '',
      `cannot read scenario ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`
    );
  }
  return parseScenario(text, path);
}
