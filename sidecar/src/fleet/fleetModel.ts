// A simulated fleet of GPU hosts: one scenario per host (the same scenario format and validator as
// `--simulate`), drawn from a seed, with the placement of its groups (cluster, rack) an operator's
// relabeling would give it. Pure: the same options give the same fleet.
import { rankCount, type EngineSpec } from '../sim/engineScenario.js';
import { validateScenario, type Scenario } from '../sim/scenario.js';
import { hashUnit } from '../sim/util.js';

export const FLEET_MIXES = ['typical', 'all-mig'] as const;
export type FleetMix = (typeof FLEET_MIXES)[number];

export interface FleetOptions {
  hosts: number;
  seed: number;
  mix: FleetMix;
  /** One extra host with the first host's name in another cluster (bad-input tests). */
  dupHost?: boolean;
}

export type HostKind = 'whole' | 'mig' | 'vgpu';

export interface FleetHost {
  /** The `host` label (not unique with dupHost; the scenario's hostname then differs). */
  name: string;
  /** Unique among the fleet's hosts: the name, or name@cluster for a duplicated name. */
  key: string;
  cluster: string;
  rack: string;
  kind: HostKind;
  scenario: Scenario;
}

export const GPUS_PER_HOST = 8;
const HOSTS_PER_RACK = 16;
const RACKS_PER_CLUSTER = 16;
/** Engine ports on a simulated host start here (engine id `host:port`). */
export const FIRST_ENGINE_PORT = 8000;

const CLUSTER_NAMES = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel'];

/** Models by tensor-parallel size, as an operator would size them on 80–141 GB GPUs. */
const MODELS: Record<number, string[]> = {
  1: ['meta-llama/Llama-3.1-8B-Instruct', 'Qwen/Qwen2.5-7B-Instruct', 'mistralai/Mistral-7B-Instruct-v0.3', 'google/gemma-2-9b-it'],
  2: ['Qwen/Qwen2.5-32B-Instruct', 'mistralai/Mistral-Small-24B-Instruct-2501'],
  4: ['meta-llama/Llama-3.1-70B-Instruct', 'Qwen/Qwen2.5-72B-Instruct'],
  8: ['meta-llama/Llama-3.1-405B-Instruct-FP8', 'deepseek-ai/DeepSeek-V3'],
};
const SLICE_MODELS = ['Qwen/Qwen2.5-1.5B-Instruct', 'Qwen/Qwen2.5-0.5B-Instruct', 'microsoft/Phi-3.5-mini-instruct', 'google/gemma-2-2b-it'];
const VERSIONS = ['0.11.0', '0.11.0', '0.10.1', '0.9.2'];

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** A seeded draw in [0, 1) for one decision about one host. */
function draw(seed: number, host: number, ...what: Array<string | number>): number {
  return hashUnit('fleet', seed, host, ...what);
}

function pick<T>(list: readonly T[], u: number): T {
  return list[Math.min(list.length - 1, Math.floor(u * list.length))] as T;
}

interface HostDraft {
  gpus: Array<Record<string, unknown>>;
  engines: Array<Record<string, unknown>>;
}

function engineLoad(seed: number, i: number, e: number): Record<string, number> {
  const u = (what: string) => draw(seed, i, 'load', e, what);
  return {
    base: 0.15 + 0.7 * u('base'),
    amplitude: 0.05 + 0.25 * u('amp'),
    periodSeconds: Math.round(60 + 540 * u('period')),
    phase: u('phase'),
  };
}

/** One engine in three in a hundred goes down for a minute every 15 minutes (alerts and "engines up" get exercised). */
function downtime(seed: number, i: number, e: number): Record<string, number> | undefined {
  if (draw(seed, i, 'down', e) >= 0.03) return undefined;
  return { at: Math.round(900 * draw(seed, i, 'down-at', e)), every: 900, for: 60 };
}

/** Whole GPUs: engines TP1–TP8 (some DP=2), free GPUs and training jobs in between. */
function wholeHost(seed: number, i: number, model: string): HostDraft {
  const gpus: HostDraft['gpus'] = Array.from({ length: GPUS_PER_HOST }, () => ({ model }));
  const engines: HostDraft['engines'] = [];
  let pos = 0;
  while (pos < GPUS_PER_HOST) {
    const e = engines.length;
    const r = draw(seed, i, 'slot', pos);
    if (r < 0.12) {
      pos++; // a free GPU
      continue;
    }
    if (r < 0.2) {
      (gpus[pos] as Record<string, unknown>).processes = [{ pid: 70000 + pos, name: '/opt/conda/bin/python', memoryMiB: 61440 }];
      (gpus[pos] as Record<string, unknown>).load = { base: 0.85, amplitude: 0.1, periodSeconds: 120 };
      pos++;
      continue;
    }
    const left = GPUS_PER_HOST - pos;
    let tp = pick([1, 1, 1, 2, 2, 4, 8], draw(seed, i, 'tp', pos));
    while (tp > left) tp /= 2;
    const dp = tp * 2 <= left && draw(seed, i, 'dp', pos) < 0.1 ? 2 : 1;
    // About one single-GPU engine in twelve serves nothing at all: its GPU is idle-held in the capacity model.
    const idle = tp * dp === 1 && draw(seed, i, 'idle', pos) < 0.08;
    if (idle) (gpus[pos] as Record<string, unknown>).load = { base: 0.01, amplitude: 0, noise: 0 };
    engines.push({
      name: `engine-${e}`,
      model: pick(MODELS[tp] as string[], draw(seed, i, 'model', pos)),
      port: FIRST_ENGINE_PORT + e,
      version: pick(VERSIONS, draw(seed, i, 'version', pos)),
      tensorParallel: tp,
      dataParallel: dp,
      gpus: Array.from({ length: tp * dp }, (_, k) => pos + k),
      load: idle ? { base: 0, amplitude: 0, noise: 0 } : engineLoad(seed, i, e),
      downtime: downtime(seed, i, e),
    });
    pos += tp * dp;
  }
  return { gpus, engines };
}

/** Every GPU in 7 one-slice instances; engines on `share` of the slices (all of them for all-mig). */
function migHost(seed: number, i: number, model: string, share: number): HostDraft {
  const slice = model === 'H200-SXM-141GB' ? '1g.18gb' : '1g.10gb';
  const gpus: HostDraft['gpus'] = Array.from({ length: GPUS_PER_HOST }, () => ({ model, mig: { instances: Array(7).fill(slice) } }));
  const engines: HostDraft['engines'] = [];
  for (let g = 0; g < GPUS_PER_HOST; g++) {
    for (let s = 0; s < 7; s++) {
      if (share < 1 && draw(seed, i, 'mig-slot', g, s) >= share) continue;
      const e = engines.length;
      engines.push({
        name: `slice-${g}-${s}`,
        model: pick(SLICE_MODELS, draw(seed, i, 'slice-model', g, s)),
        port: FIRST_ENGINE_PORT + e,
        version: pick(VERSIONS, draw(seed, i, 'slice-version', g, s)),
        maxModelLen: 4096,
        mig: [{ gpu: g, instance: s }],
        load: engineLoad(seed, i, e),
        downtime: downtime(seed, i, e),
      });
    }
  }
  return { gpus, engines };
}

/** vGPU host mode on every GPU, 1–4 VMs of 20 GB each; no engine on the host itself. */
function vgpuHost(seed: number, i: number, model: string): HostDraft {
  const type = model === 'H200-SXM-141GB' ? 'NVIDIA H200X-35C' : 'NVIDIA H100XM-20C';
  const gpus: HostDraft['gpus'] = Array.from({ length: GPUS_PER_HOST }, (_, g) => {
    const vms = 1 + Math.floor(4 * draw(seed, i, 'vms', g));
    return {
      model,
      vgpu: {
        hostMode: 'sriov',
        instances: Array.from({ length: vms }, (_, v) => ({
          vmName: `vm-${pad(i, 4)}-${g}${v}`,
          type,
          load: { base: 0.1 + 0.6 * draw(seed, i, 'vm-load', g, v), amplitude: 0.1, periodSeconds: 300 },
        })),
      },
    };
  });
  return { gpus, engines: [] };
}

function hostKind(opts: FleetOptions, i: number): HostKind {
  if (opts.mix === 'all-mig') return 'mig';
  const r = draw(opts.seed, i, 'kind');
  return r < 0.1 ? 'mig' : r < 0.2 ? 'vgpu' : 'whole';
}

/** The scenario of host number i (0-based) of a fleet. */
export function hostScenario(opts: FleetOptions, i: number, name: string, kind: HostKind): Scenario {
  const model = draw(opts.seed, i, 'model') < 0.3 ? 'H200-SXM-141GB' : 'H100-SXM5-80GB';
  const draft =
    kind === 'vgpu' ? vgpuHost(opts.seed, i, model) : kind === 'mig' ? migHost(opts.seed, i, model, opts.mix === 'all-mig' ? 1 : 0.6) : wholeHost(opts.seed, i, model);
  return validateScenario(
    { hostname: name, driverVersion: '570.124.06', cudaVersion: '12.8', gpus: draft.gpus, engines: draft.engines },
    { maxEngines: GPUS_PER_HOST * 7 },
  );
}

/** The fleet: hosts named gpuNNNN (NNNN from 0001), 16 to a rack, 16 racks to a cluster. */
export function buildFleet(opts: FleetOptions): FleetHost[] {
  if (!Number.isInteger(opts.hosts) || opts.hosts < 1) throw new Error(`hosts must be a positive integer, got ${opts.hosts}`);
  const width = Math.max(4, String(opts.hosts).length);
  const hosts: FleetHost[] = [];
  for (let i = 0; i < opts.hosts; i++) {
    const rackNo = Math.floor(i / HOSTS_PER_RACK);
    const clusterNo = Math.floor(rackNo / RACKS_PER_CLUSTER);
    const cluster = CLUSTER_NAMES[clusterNo % CLUSTER_NAMES.length] + (clusterNo >= CLUSTER_NAMES.length ? `-${Math.floor(clusterNo / CLUSTER_NAMES.length)}` : '');
    const rack = `${cluster}-r${pad((rackNo % RACKS_PER_CLUSTER) + 1, 2)}`;
    const name = `gpu${pad(i + 1, width)}`;
    const kind = hostKind(opts, i);
    hosts.push({ name, key: name, cluster, rack, kind, scenario: hostScenario(opts, i, name, kind) });
  }
  if (opts.dupHost) {
    // One more host, named like the first, in a cluster the first is not in: two real hosts that share a name.
    const first = hosts[0] as FleetHost;
    const last = hosts[hosts.length - 1] as FleetHost;
    const cluster = last.cluster !== first.cluster ? last.cluster : `${first.cluster}-dup`;
    const i = opts.hosts;
    first.key = `${first.name}@${first.cluster}`;
    const kind = hostKind(opts, i);
    // Its scenario has a name of its own so that its GPU and MIG UUIDs (derived from the name) differ.
    hosts.push({ name: first.name, key: `${first.name}@${cluster}`, cluster, rack: `${cluster}-r99`, kind, scenario: hostScenario(opts, i, `${first.name}-dup`, kind) });
  }
  return hosts;
}

/** Counts for the bench and the README: GPUs, MIG instances, vGPUs and engines of a fleet. */
export function fleetCounts(hosts: readonly FleetHost[]): { hosts: number; gpus: number; mig: number; vgpu: number; engines: number; ranks: number } {
  let gpus = 0;
  let mig = 0;
  let vgpu = 0;
  let engines = 0;
  let ranks = 0;
  for (const h of hosts) {
    gpus += h.scenario.gpus.length;
    for (const g of h.scenario.gpus) {
      mig += g.mig?.instances.length ?? 0;
      vgpu += g.vgpu?.instances.length ?? 0;
    }
    engines += h.scenario.engines.length;
    ranks += h.scenario.engines.reduce((n: number, e: EngineSpec) => n + rankCount(e), 0);
  }
  return { hosts: hosts.length, gpus, mig, vgpu, engines, ranks };
}
