// The `engines:` section of a scenario: fake vLLM engines that simHost starts as real processes. Types and
// validation; every error names its field (`engines[2].mig[1].instance`). See README.md, "Fake vLLM engines".
import type { GpuSpec } from './scenario.js';
import {
  asList,
  asObj,
  join,
  num,
  oneOf,
  onlyKeys,
  optNum,
  parseLoad,
  ScenarioError,
  str,
  type LoadSpec,
  timeWindow,
} from './scenarioFields.js';
import { compareVersions, parseVersion, vllmProfile, type VllmProfile } from './vllmVersion.js';

export const ENGINE_LAUNCHES = ['vllm-serve', 'python-module'] as const;
export type EngineLaunch = (typeof ENGINE_LAUNCHES)[number];

export const ENGINE_FAULT_KINDS = ['hang', 'hang-metrics', 'html-metrics', 'bad-histograms', 'slow-prefill'] as const;
export type EngineFaultKind = (typeof ENGINE_FAULT_KINDS)[number];

export interface EngineMigRef {
  /** Position in `gpus`. */
  gpu: number;
  /** Position in that GPU's (base) `mig.instances`. */
  instance: number;
}

export interface DowntimeSpec {
  at: number;
  every: number | null;
  for: number;
}

export interface EngineContainerSpec {
  name: string;
  image: string;
}

export interface EngineFaultSpec {
  kind: EngineFaultKind;
  from: number;
  to: number | null;
  every: number | null;
}

export interface EngineSpec {
  /** Position in `engines`. */
  index: number;
  name: string;
  model: string;
  /** `--served-model-name` values as given ([]: not given, the model id is served). */
  servedModelNames: string[];
  port: number;
  /** `--host` in the launch line (null: not given). The fake always binds 127.0.0.1. */
  host: string | null;
  launch: EngineLaunch;
  /** argv[0] of the API server: the interpreter the shebang or the user named. */
  interpreter: string;
  version: string;
  profile: VllmProfile;
  tensorParallel: number;
  pipelineParallel: number;
  dataParallel: number;
  /** Whole GPUs, one per rank in rank order (dp-major, then pp, then tp); null when `mig`. */
  gpus: number[] | null;
  /** MIG instances, one per rank; null when `gpus`. */
  mig: EngineMigRef[] | null;
  /** How CUDA_VISIBLE_DEVICES names whole GPUs (MIG instances are always `MIG-<uuid>`). */
  visibleDevices: 'index' | 'uuid';
  maxModelLen: number;
  maxModelLenGiven: boolean;
  gpuMemoryUtilization: number;
  gpuMemoryUtilizationGiven: boolean;
  loraAdapters: string[];
  load: LoadSpec;
  downtime: DowntimeSpec | null;
  /** `docker`: simHost also answers the Docker Engine API for it, as a container with its port published. */
  deployment: 'native' | 'docker';
  /**
   * `rust`: the HTTP server is vLLM's Rust frontend (VLLM_USE_RUST_FRONTEND=1): a `vllm-rs frontend --listen-fd 3
   * … --args-json {…}` child of the `vllm serve` process, serving on the socket that process bound, OpenMetrics
   * only. The `vllm serve` line then leaves the port out: only the socket says it.
   */
  frontend: 'python' | 'rust';
  /** The container a docker-deployed engine runs in (null for native). */
  container: EngineContainerSpec | null;
  extraArgs: string[];
  faults: EngineFaultSpec[];
}

/** The served names: `--served-model-name` values, else the model id. */
export function servedNames(e: EngineSpec): string[] {
  return e.servedModelNames.length > 0 ? e.servedModelNames : [e.model];
}

export function rankCount(e: Pick<EngineSpec, 'tensorParallel' | 'pipelineParallel' | 'dataParallel'>): number {
  return e.tensorParallel * e.pipelineParallel * e.dataParallel;
}

const DEFAULT_VERSION = '0.11.0';
const DEFAULT_LOAD: LoadSpec = { base: 0.5, amplitude: 0.3, periodSeconds: 300, phase: 0, noise: 0.05 };
const TOKEN = /^[^\s\0]+$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '0.0.0.0'] as const;

function token(v: unknown, path: string, what: string): string {
  const s = str(v, path);
  if (!TOKEN.test(s)) throw new ScenarioError(path, `must be ${what} without spaces, got "${s}"`);
  if (s.length > 512) throw new ScenarioError(path, 'is longer than 512 characters');
  return s;
}

function strList(v: unknown, path: string, what: string): string[] {
  const list = typeof v === 'string' ? [v] : asList(v, path);
  return list.map((x, i) => token(x, typeof v === 'string' ? path : join(path, i), what));
}

function parseDowntime(v: unknown, path: string): DowntimeSpec {
  const o = asObj(v, path);
  onlyKeys(o, path, ['at', 'every', 'for']);
  if (o.at === undefined) throw new ScenarioError(join(path, 'at'), 'is required (seconds after the start)');
  if (o.for === undefined) throw new ScenarioError(join(path, 'for'), 'is required (seconds the engine stays down)');
  const every = optNum(o, 'every', path, { min: 0, above: true });
  const dur = num(o.for, join(path, 'for'), { min: 0, above: true });
  if (every !== null && dur >= every)
    throw new ScenarioError(join(path, 'for'), `must be shorter than every (${every}), or the engine never comes back`);
  return { at: num(o.at, join(path, 'at'), { min: 0 }), every, for: dur };
}

const IMAGE = /^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]{1,128})?$/;

/** `container: {name?, image?}` of a docker-deployed engine; the image defaults to vLLM's own for the version. */
function parseContainer(v: unknown, path: string, engineName: string, version: string): EngineContainerSpec {
  const o = v === undefined || v === null ? {} : asObj(v, path);
  onlyKeys(o, path, ['name', 'image']);
  const name = o.name === undefined ? engineName : str(o.name, join(path, 'name'));
  if (!NAME.test(name)) throw new ScenarioError(join(path, 'name'), 'must be letters, digits, dots, dashes or underscores');
  const image = o.image === undefined ? `vllm/vllm-openai:v${version}` : str(o.image, join(path, 'image'));
  if (!IMAGE.test(image) || image.length > 256) throw new ScenarioError(join(path, 'image'), `must be an image reference like vllm/vllm-openai:v0.11.0, got "${image}"`);
  return { name, image };
}

function parseEngineFault(v: unknown, path: string): EngineFaultSpec {
  const o = typeof v === 'string' ? { kind: v } : asObj(v, path);
  onlyKeys(o, path, ['kind', 'from', 'to', 'every']);
  if (o.kind === undefined)
    throw new ScenarioError(join(path, 'kind'), `is required (one of ${ENGINE_FAULT_KINDS.join(', ')})`);
  const kind = oneOf(o.kind, join(path, 'kind'), ENGINE_FAULT_KINDS);
  return { kind, ...timeWindow(o, path) };
}

function parseEngine(v: unknown, path: string, gpus: GpuSpec[], index: number): EngineSpec {
  const o = asObj(v, path);
  onlyKeys(o, path, [
    'name',
    'model',
    'servedModelName',
    'port',
    'host',
    'launch',
    'interpreter',
    'version',
    'tensorParallel',
    'pipelineParallel',
    'dataParallel',
    'gpus',
    'mig',
    'visibleDevices',
    'maxModelLen',
    'gpuMemoryUtilization',
    'loraAdapters',
    'load',
    'downtime',
    'deployment',
    'container',
    'frontend',
    'extraArgs',
    'faults',
  ]);
  if (o.model === undefined) throw new ScenarioError(join(path, 'model'), 'is required (a Hugging Face model id)');
  if (o.port === undefined) throw new ScenarioError(join(path, 'port'), 'is required (a loopback port, e.g. 18001)');
  const model = token(o.model, join(path, 'model'), 'a model id or path');
  const port = num(o.port, join(path, 'port'), { int: true, min: 1024, max: 65535 });
  const name = o.name === undefined ? `vllm-${port}` : str(o.name, join(path, 'name'));
  if (!NAME.test(name))
    throw new ScenarioError(join(path, 'name'), 'must be letters, digits, dots, dashes or underscores');
  const host = o.host === undefined || o.host === null ? null : oneOf(o.host, join(path, 'host'), LOOPBACK_HOSTS);

  const versionText = o.version === undefined ? DEFAULT_VERSION : str(o.version, join(path, 'version'));
  const tuple = parseVersion(versionText);
  if (!tuple) throw new ScenarioError(join(path, 'version'), `must look like 0.11.0, got "${versionText}"`);
  if (compareVersions(tuple, [0, 4, 0]) < 0)
    throw new ScenarioError(join(path, 'version'), 'versions before 0.4.0 are not simulated');
  const profile = vllmProfile(versionText);

  const launch = o.launch === undefined ? 'vllm-serve' : oneOf(o.launch, join(path, 'launch'), ENGINE_LAUNCHES);
  if (launch === 'vllm-serve' && compareVersions(tuple, [0, 5, 0]) < 0)
    throw new ScenarioError(join(path, 'launch'), `"vllm serve" appeared in vLLM 0.5.0; use python-module for ${versionText}`);
  const interpreter =
    o.interpreter === undefined
      ? launch === 'vllm-serve'
        ? '/usr/bin/python3'
        : 'python3'
      : token(o.interpreter, join(path, 'interpreter'), 'an interpreter path');

  const size = (key: string) => optNum(o, key, path, { int: true, min: 1, max: 64 }) ?? 1;
  const tensorParallel = size('tensorParallel');
  const pipelineParallel = size('pipelineParallel');
  const dataParallel = size('dataParallel');
  const ranks = tensorParallel * pipelineParallel * dataParallel;
  if (ranks > 64) throw new ScenarioError(path, `tensorParallel × pipelineParallel × dataParallel = ${ranks}, at most 64`);
  if (dataParallel > 1 && profile.metrics === 'v0')
    throw new ScenarioError(join(path, 'dataParallel'), `data-parallel serving needs vLLM 0.8 or later (V1), not ${versionText}`);

  // Devices.
  if ((o.gpus === undefined) === (o.mig === undefined))
    throw new ScenarioError(path, 'give exactly one of gpus (whole GPUs) or mig (MIG instances), one per rank');
  let gpuList: number[] | null = null;
  let migList: EngineMigRef[] | null = null;
  if (o.gpus !== undefined) {
    const gp = join(path, 'gpus');
    gpuList = asList(o.gpus, gp).map((g, i) => {
      const p = join(gp, i);
      const pos = num(g, p, { int: true, min: 0 });
      const gpu = gpus[pos];
      if (!gpu) throw new ScenarioError(p, `there is no gpus[${pos}] (the scenario has ${gpus.length})`);
      if (gpu.vgpu) throw new ScenarioError(p, `gpus[${pos}] is a vGPU host: it runs no host processes`);
      if (gpu.mig) throw new ScenarioError(p, `gpus[${pos}] has MIG enabled: place the engine on its instances with mig`);
      return pos;
    });
    if (gpuList.length !== ranks)
      throw new ScenarioError(gp, `needs ${ranks} GPU(s), one per rank (tensor × pipeline × data parallel), got ${gpuList.length}`);
    gpuList.forEach((g, i) => {
      if (gpuList?.indexOf(g) !== i) throw new ScenarioError(join(gp, i), `gpus[${g}] is listed twice`);
    });
  } else {
    const mp = join(path, 'mig');
    if (tensorParallel * pipelineParallel > 1)
      throw new ScenarioError(
        mp,
        'tensor or pipeline parallelism across MIG instances is not possible (a CUDA process sees one MIG instance); use dataParallel'
      );
    migList = asList(o.mig, mp).map((m, i) => {
      const p = join(mp, i);
      const mo = asObj(m, p);
      onlyKeys(mo, p, ['gpu', 'instance']);
      if (mo.gpu === undefined) throw new ScenarioError(join(p, 'gpu'), 'is required (position in gpus)');
      if (mo.instance === undefined)
        throw new ScenarioError(join(p, 'instance'), "is required (position in that GPU's mig.instances)");
      const pos = num(mo.gpu, join(p, 'gpu'), { int: true, min: 0 });
      const gpu = gpus[pos];
      if (!gpu) throw new ScenarioError(join(p, 'gpu'), `there is no gpus[${pos}] (the scenario has ${gpus.length})`);
      if (!gpu.mig) throw new ScenarioError(join(p, 'gpu'), `gpus[${pos}] does not have MIG enabled`);
      const inst = num(mo.instance, join(p, 'instance'), { int: true, min: 0 });
      if (inst >= gpu.mig.instances.length)
        throw new ScenarioError(
          join(p, 'instance'),
          `gpus[${pos}] has ${gpu.mig.instances.length} MIG instance(s); ${inst} is not a position in its mig.instances`
        );
      return { gpu: pos, instance: inst };
    });
    if (migList.length !== ranks)
      throw new ScenarioError(mp, `needs ${ranks} MIG instance(s), one per rank, got ${migList.length}`);
    migList.forEach((m, i) => {
      if (migList?.findIndex((x) => x.gpu === m.gpu && x.instance === m.instance) !== i)
        throw new ScenarioError(join(mp, i), `instance ${m.instance} of gpus[${m.gpu}] is listed twice`);
    });
  }

  const servedModelNames =
    o.servedModelName === undefined ? [] : strList(o.servedModelName, join(path, 'servedModelName'), 'a model name');
  const loraAdapters =
    o.loraAdapters === undefined ? [] : strList(o.loraAdapters, join(path, 'loraAdapters'), 'an adapter name');
  loraAdapters.forEach((n, i) => {
    if (n.includes('=')) throw new ScenarioError(join(join(path, 'loraAdapters'), i), 'must not contain "="');
    if (loraAdapters.indexOf(n) !== i || servedNames({ model, servedModelNames } as EngineSpec).includes(n))
      throw new ScenarioError(join(join(path, 'loraAdapters'), i), `"${n}" is already a served name`);
  });
  const deployment = o.deployment === undefined ? 'native' : oneOf(o.deployment, join(path, 'deployment'), ['native', 'docker'] as const);
  const container = deployment === 'docker' ? parseContainer(o.container, join(path, 'container'), name, versionText) : null;
  if (deployment !== 'docker' && o.container !== undefined)
    throw new ScenarioError(join(path, 'container'), 'is only for deployment: docker');
  const frontend = o.frontend === undefined ? 'python' : oneOf(o.frontend, join(path, 'frontend'), ['python', 'rust'] as const);
  if (frontend === 'rust' && (launch !== 'vllm-serve' || deployment !== 'native' || profile.metrics !== 'v1'))
    throw new ScenarioError(join(path, 'frontend'), 'the Rust frontend is simulated for native `vllm serve` launches of V1 versions (0.8 on) only');
  const maxModelLen = optNum(o, 'maxModelLen', path, { int: true, min: 16, max: 10_000_000 });
  const gmu = optNum(o, 'gpuMemoryUtilization', path, { min: 0.05, max: 1 });
  const vd = o.visibleDevices === undefined ? 'index' : oneOf(o.visibleDevices, join(path, 'visibleDevices'), ['index', 'uuid'] as const);
  const extraArgs =
    o.extraArgs === undefined
      ? []
      : asList(o.extraArgs, join(path, 'extraArgs')).map((a, i) => {
          const s = str(a, join(join(path, 'extraArgs'), i));
          if (s.includes('\0')) throw new ScenarioError(join(join(path, 'extraArgs'), i), 'must not contain NUL');
          return s;
        });
  const faults =
    o.faults === undefined || o.faults === null
      ? []
      : asList(o.faults, join(path, 'faults')).map((f, i) => parseEngineFault(f, join(join(path, 'faults'), i)));

  return {
    index,
    name,
    model,
    servedModelNames,
    port,
    host,
    launch,
    interpreter,
    version: versionText,
    profile,
    tensorParallel,
    pipelineParallel,
    dataParallel,
    gpus: gpuList,
    mig: migList,
    visibleDevices: vd,
    maxModelLen: maxModelLen ?? 32768,
    maxModelLenGiven: maxModelLen !== null,
    gpuMemoryUtilization: gmu ?? 0.9,
    gpuMemoryUtilizationGiven: gmu !== null,
    loraAdapters,
    load: o.load === undefined || o.load === null ? { ...DEFAULT_LOAD } : parseLoad(o.load, join(path, 'load')),
    downtime: o.downtime === undefined || o.downtime === null ? null : parseDowntime(o.downtime, join(path, 'downtime')),
    deployment,
    container,
    frontend,
    extraArgs,
    faults,
  };
}

/** GPU memory one rank of the engine takes (MiB): gpu_memory_utilization of the GPU or MIG instance. */
export function rankMemoryMiB(e: EngineSpec, gpu: GpuSpec, instance: number | null): number {
  if (instance === null) return Math.round(gpu.memoryMiB * e.gpuMemoryUtilization);
  const profile = gpu.mig?.instances[instance]?.profile;
  const prof = profile ? gpu.model.migProfiles[profile] : undefined;
  return prof ? Math.round(prof.memoryMiB * e.gpuMemoryUtilization) : 0;
}

/** Validates the `engines` list against the GPUs (devices exist, memory fits, ports and names unique). */
export function parseEngines(raw: unknown, ctx: { gpus: GpuSpec[]; maxEngines?: number }): EngineSpec[] {
  if (raw === undefined || raw === null) return [];
  const list = asList(raw, 'engines');
  // Each engine of a simulated host is a few real processes; the fleet simulator's are not, and may be more.
  const max = ctx.maxEngines ?? 32;
  if (list.length > max) throw new ScenarioError('engines', `at most ${max} engines are simulated`);
  const engines = list.map((e, i) => parseEngine(e, `engines[${i}]`, ctx.gpus, i));
  const ports = new Map<number, number>();
  const names = new Map<string, number>();
  const containers = new Map<string, number>();
  engines.forEach((e, i) => {
    const otherPort = ports.get(e.port);
    if (otherPort !== undefined) throw new ScenarioError(`engines[${i}].port`, `${e.port} is also engines[${otherPort}]'s port`);
    ports.set(e.port, i);
    const otherName = names.get(e.name);
    if (otherName !== undefined) throw new ScenarioError(`engines[${i}].name`, `"${e.name}" is also engines[${otherName}]'s name`);
    names.set(e.name, i);
    if (e.container) {
      const other = containers.get(e.container.name);
      if (other !== undefined) throw new ScenarioError(`engines[${i}].container.name`, `"${e.container.name}" is also engines[${other}]'s container`);
      containers.set(e.container.name, i);
    }
  });
  // Memory: what the engines preallocate plus the scenario's static processes must fit each GPU / instance.
  const use = new Map<string, { mib: number; path: string }>();
  engines.forEach((e, i) => {
    const devices: Array<{ gpu: number; instance: number | null; path: string }> = e.gpus
      ? e.gpus.map((g, r) => ({ gpu: g, instance: null, path: `engines[${i}].gpus[${r}]` }))
      : (e.mig ?? []).map((m, r) => ({ gpu: m.gpu, instance: m.instance, path: `engines[${i}].mig[${r}]` }));
    for (const d of devices) {
      const gpu = ctx.gpus[d.gpu] as GpuSpec;
      const key = `${d.gpu}/${d.instance ?? '-'}`;
      const before = use.get(key)?.mib ?? 0;
      const mib = before + rankMemoryMiB(e, gpu, d.instance);
      let capacity: number;
      let statics: number;
      if (d.instance === null) {
        capacity = gpu.memoryMiB - gpu.model.reservedMiB;
        statics = gpu.processes.reduce((s, p) => s + p.memoryMiB, 0);
      } else {
        const prof = gpu.model.migProfiles[gpu.mig?.instances[d.instance]?.profile ?? ''];
        capacity = prof ? prof.memoryMiB - prof.idleUsedMiB : 0;
        statics = gpu.processes.filter((p) => p.mig === d.instance).reduce((s, p) => s + p.memoryMiB, 0);
      }
      if (mib + statics > capacity) {
        throw new ScenarioError(
          `engines[${i}].gpuMemoryUtilization`,
          `the engines on ${d.instance === null ? `gpus[${d.gpu}]` : `instance ${d.instance} of gpus[${d.gpu}]`} need ${mib} MiB` +
            (statics > 0 ? ` besides its processes' ${statics} MiB` : '') +
            `; it has ${capacity} MiB (lower gpuMemoryUtilization)`
        );
      }
      use.set(key, { mib, path: d.path });
    }
  });
  return engines;
}

/** Whether t (seconds since the scenario start) is in one of the engine's downtime windows. */
export function inDowntime(e: EngineSpec, t: number): boolean {
  const d = e.downtime;
  if (!d || t < d.at) return false;
  const since = d.every !== null ? (t - d.at) % d.every : t - d.at;
  return since < d.for;
}

/** The engine faults in effect at t. */
export function engineFaultsAt(e: EngineSpec, t: number): Set<EngineFaultKind> {
  const out = new Set<EngineFaultKind>();
  for (const f of e.faults) {
    if (t < f.from) continue;
    if (f.to !== null) {
      const since = f.every !== null ? (t - f.from) % f.every : t - f.from;
      if (since >= f.to - f.from) continue;
    }
    out.add(f.kind);
  }
  return out;
}
