// A fake vLLM engine's launch command line, its devices at a moment, and the process tree it runs as (exact
// command lines, process names, CUDA_VISIBLE_DEVICES). Pure: simHost and fakeVllm turn the plan into processes.
import { loraPath } from './engineMetrics.js';
import { rankCount, rankMemoryMiB, type EngineSpec } from './engineScenario.js';
import type { Scenario } from './scenario.js';
import type { SimHostState } from './state.js';
import { rustFrontendArgv } from './rustFrontend.js';
import { engineCoreTitle, spawnBootstrap, TITLE_PREFIX, workerSuffix } from './vllmVersion.js';

/** The `vllm` console script next to the interpreter (a venv), else the system-wide pip location. */
export function vllmScriptPath(interpreter: string): string {
  const slash = interpreter.lastIndexOf('/');
  if (slash <= 0) return '/usr/local/bin/vllm';
  const dir = interpreter.slice(0, slash);
  return dir === '/usr/bin' || dir === '/bin' ? '/usr/local/bin/vllm' : `${dir}/vllm`;
}

/** The API server's argv as /proc/PID/cmdline shows it. */
export function launchArgv(e: EngineSpec): string[] {
  const serve = e.launch === 'vllm-serve';
  const argv = serve
    ? [e.interpreter, vllmScriptPath(e.interpreter), 'serve', e.model]
    : [e.interpreter, '-m', 'vllm.entrypoints.openai.api_server', '--model', e.model];
  if (e.host !== null) argv.push('--host', e.host);
  // With the Rust frontend the port is left to the socket (a --config file or the default, in real use).
  if (e.frontend !== 'rust') argv.push('--port', String(e.port));
  if (e.servedModelNames.length > 0) argv.push('--served-model-name', ...e.servedModelNames);
  // `vllm serve` users tend to the short flags, module launches (scripts, images) to the long ones.
  if (e.tensorParallel > 1) argv.push(serve ? '-tp' : '--tensor-parallel-size', String(e.tensorParallel));
  if (e.pipelineParallel > 1) argv.push(serve ? '-pp' : '--pipeline-parallel-size', String(e.pipelineParallel));
  if (e.dataParallel > 1) argv.push(serve ? '-dp' : '--data-parallel-size', String(e.dataParallel));
  if (e.maxModelLenGiven) argv.push('--max-model-len', String(e.maxModelLen));
  if (e.gpuMemoryUtilizationGiven) argv.push('--gpu-memory-utilization', String(e.gpuMemoryUtilization));
  if (e.loraAdapters.length > 0) argv.push('--enable-lora', '--lora-modules', ...e.loraAdapters.map((n) => `${n}=${loraPath(n)}`));
  argv.push(...e.extraArgs);
  return argv;
}

/** The device one rank of an engine uses now. */
export interface EngineDevice {
  rank: number;
  /** Position in `gpus`. */
  gpu: number;
  gpuUuid: string;
  /** Position in the GPU's mig.instances (null: whole GPU). */
  instance: number | null;
  migUuid: string | null;
  /** How CUDA_VISIBLE_DEVICES names it: the enumeration index or GPU UUID, or the MIG-… UUID. */
  visible: string;
  memoryMiB: number;
}

export type EngineDevices = { ok: true; devices: EngineDevice[] } | { ok: false; reason: string };

/**
 * The engine's devices in the host state now: each whole GPU present with MIG off, each MIG instance present in
 * the GPU's base layout. Otherwise the engine cannot run (its GPU fell off the bus, or its instance was
 * destroyed by a MIG reconfiguration).
 */
export function engineDevicesAt(e: EngineSpec, scenario: Scenario, state: SimHostState): EngineDevices {
  const devices: EngineDevice[] = [];
  const n = rankCount(e);
  for (let rank = 0; rank < n; rank++) {
    const pos = e.gpus ? (e.gpus[rank] as number) : (e.mig?.[rank]?.gpu as number);
    const instance = e.mig ? (e.mig[rank]?.instance as number) : null;
    const gpu = state.gpus.find((g) => g.position === pos);
    const spec = scenario.gpus[pos];
    if (!gpu || !spec) return { ok: false, reason: `gpus[${pos}] is not present (fell off the bus)` };
    if (instance === null) {
      if (gpu.mig.enabled) return { ok: false, reason: `gpus[${pos}] has MIG enabled now` };
      devices.push({
        rank,
        gpu: pos,
        gpuUuid: gpu.uuid,
        instance: null,
        migUuid: null,
        visible: e.visibleDevices === 'uuid' ? gpu.uuid : String(gpu.index),
        memoryMiB: rankMemoryMiB(e, spec, null),
      });
    } else {
      const dev = gpu.mig.enabled && gpu.mig.base ? gpu.mig.devices.find((d) => d.specPosition === instance) : undefined;
      if (!dev) return { ok: false, reason: `MIG instance ${instance} of gpus[${pos}] does not exist now (MIG reconfigured)` };
      devices.push({
        rank,
        gpu: pos,
        gpuUuid: gpu.uuid,
        instance,
        migUuid: dev.uuid,
        visible: dev.uuid,
        memoryMiB: rankMemoryMiB(e, spec, instance),
      });
    }
  }
  return { ok: true, devices };
}

export type ProcRole = 'api-server' | 'engine-core' | 'worker' | 'dp-coordinator';

/** One process of an engine's tree. */
export interface ProcPlan {
  /** Unique within the engine: api, coordinator, core-dp0, worker-dp0-pp0-tp1, rank1. */
  key: string;
  role: ProcRole;
  /** /proc/PID/cmdline, element by element (a title is one element, as setproctitle leaves it). */
  argv: string[];
  /** /proc/PID/comm as the real process shows it (15 characters at most). */
  comm: string;
  /** Environment on top of the engine's: CUDA_VISIBLE_DEVICES where vLLM (or the user) sets it. */
  env: Record<string, string>;
  /** The rank whose CUDA context it holds (null: none). */
  rank: number | null;
  dpRank: number | null;
  device: EngineDevice | null;
  children: ProcPlan[];
}

function basename(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

/** comm after setproctitle (it also sets the kernel's 15-character task name) or after exec. */
function commOf(title: string): string {
  return title.slice(0, 15);
}

/**
 * The engine's process tree for these devices (one per rank, rank order). The API server's environment has the
 * engine's whole device list, as the operator set it; each data-parallel engine core gets its slice (vLLM's
 * set_device_control_env_var), which its workers inherit (a worker picks its device by local rank).
 */
export function engineProcessPlan(e: EngineSpec, devices: EngineDevice[]): ProcPlan {
  const launch = launchArgv(e);
  const apiComm = e.launch === 'vllm-serve' ? 'vllm' : basename(e.interpreter).slice(0, 15);
  const style = e.profile.processStyle;
  const tp = e.tensorParallel;
  const pp = e.pipelineParallel;
  const dpSize = e.dataParallel;
  const perEngine = tp * pp;
  const cvd = (list: EngineDevice[]) => ({ CUDA_VISIBLE_DEVICES: list.map((d) => d.visible).join(',') });
  const all = cvd(devices);
  const fork = (key: string, role: ProcRole, env: Record<string, string>, device: EngineDevice | null, dpRank: number | null, children: ProcPlan[] = []): ProcPlan => ({
    key,
    role,
    argv: launch,
    comm: apiComm,
    env,
    rank: device?.rank ?? null,
    dpRank,
    device,
    children,
  });
  const titled = (key: string, role: ProcRole, title: string, env: Record<string, string>, device: EngineDevice | null, dpRank: number | null, children: ProcPlan[] = []): ProcPlan => ({
    key,
    role,
    argv: [title],
    comm: title.includes('/') ? basename(e.interpreter).slice(0, 15) : commOf(title),
    env,
    rank: device?.rank ?? null,
    dpRank,
    device,
    children,
  });

  if (style === 'v0') {
    // The API server runs the driver worker (rank 0); the other ranks are forked VllmWorkerProcess children.
    const children = devices.slice(1).map((d) => fork(`rank${d.rank}`, 'worker', all, d, 0));
    return { ...fork('api', 'api-server', all, devices[0] ?? null, 0, children) };
  }

  const children: ProcPlan[] = [];
  if (dpSize > 1 && style !== 'v1-untitled') children.push(titled('coordinator', 'dp-coordinator', `${TITLE_PREFIX}::DPCoordinator`, all, null, null));
  for (let d = 0; d < dpSize; d++) {
    const mine = devices.slice(d * perEngine, (d + 1) * perEngine);
    const env = cvd(mine);
    const workers: ProcPlan[] = [];
    if (perEngine > 1) {
      let spawnIndex = 0;
      for (let p = 0; p < pp; p++) {
        for (let t = 0; t < tp; t++) {
          const device = mine[p * tp + t] ?? null;
          const key = `worker-dp${d}-pp${p}-tp${t}`;
          const sizes = { dp: dpSize, pp, tp };
          const ranks = { dp: d, pp: p, tp: t };
          if (style === 'titled') {
            workers.push(titled(key, 'worker', `${TITLE_PREFIX}::Worker${workerSuffix(sizes, ranks, true)}`, env, device, d));
          } else if (style === 'titled-append') {
            const boot = spawnBootstrap(e.interpreter, 56, 55 + 2 * spawnIndex++);
            workers.push(titled(key, 'worker', `${boot}${workerSuffix(sizes, ranks, false)}`, env, device, d));
          } else {
            workers.push(fork(key, 'worker', env, device, d));
          }
        }
      }
    }
    const coreDevice = perEngine === 1 ? (mine[0] ?? null) : null;
    children.push(
      style === 'v1-untitled'
        ? fork(`core-dp${d}`, 'engine-core', env, coreDevice, d, workers)
        : titled(`core-dp${d}`, 'engine-core', engineCoreTitle(dpSize, d), env, coreDevice, d, workers)
    );
  }
  if (e.frontend === 'rust') {
    // The Rust frontend: a child of the `vllm serve` process (before the engine cores), with the engine's devices
    // in its environment like every process the API server starts.
    const argv = rustFrontendArgv(e);
    children.unshift({ key: 'frontend', role: 'api-server', argv, comm: 'vllm-rs', env: all, rank: null, dpRank: null, device: null, children: [] });
  }
  return fork('api', 'api-server', all, null, null, children);
}

/** Every process of a plan, depth first (the API server first). */
export function flattenPlan(plan: ProcPlan): ProcPlan[] {
  return [plan, ...plan.children.flatMap(flattenPlan)];
}

/** The name nvidia-smi shows for a process: the first element of its command line. */
export function gpuProcessName(plan: ProcPlan): string {
  return plan.argv[0] ?? plan.comm;
}
