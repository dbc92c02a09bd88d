// Pure views of one snapshot for the capacity model: what holds each GPU and whether it is doing anything
// right now, the MIG instances per profile, and the engines per model as a router wants them. Time (how
// long a GPU has been idle, how recent an Xid is) is the tracker's business (tracker.ts), not this file's.
import type { Engine, Gpu } from '../model.js';
import type { MigProfileCapacity, ModelCapacity, RouterEngine } from './types.js';

/** What a GPU looks like in one snapshot. */
export interface GpuObservation {
  /** free: nothing holds it; idle: held, but no request in flight and utilization low; active: held and working. */
  condition: 'free' | 'idle' | 'active';
  reason: string | null;
  engines: string[];
  pids: number[];
}

/** A GPU's `nvidia-smi mig -lgip` row: instances of a profile that could still be created, of how many. */
export interface MigProfileAvailability {
  profile: string;
  free: number;
  total: number;
}

const isCompute = (p: { type: string | null }) => p.type === null || p.type.includes('C');

/** Engine ids per physical GPU UUID (a rank on a MIG instance counts for the instance's parent GPU). */
export function enginesByGpu(gpus: readonly Gpu[], engines: readonly Engine[]): Map<string, Engine[]> {
  const parentOfMig = new Map<string, string>();
  for (const g of gpus) for (const m of g.mig.instances) if (m.uuid) parentOfMig.set(m.uuid, g.uuid);
  const out = new Map<string, Engine[]>();
  for (const e of engines) {
    const on = new Set<string>();
    for (const w of e.workers) {
      for (const u of w.gpuUuids) on.add(u);
      for (const m of w.migUuids) {
        const parent = parentOfMig.get(m);
        if (parent) on.add(parent);
      }
    }
    for (const u of on) {
      const list = out.get(u) ?? [];
      list.push(e);
      out.set(u, list);
    }
  }
  return out;
}

function computePids(g: Gpu): number[] {
  const pids = new Set<number>();
  for (const p of g.processes) if (isCompute(p)) pids.add(p.pid);
  for (const m of g.mig.instances) for (const p of m.processes) if (isCompute(p)) pids.add(p.pid);
  return [...pids].sort((a, b) => a - b);
}

const pct = (ratio: number) => `${Math.round(ratio * 100)} %`;

/**
 * Free: no compute process, no engine, no vGPU instance and no MIG instance (MIG on with no instance is free
 * too: any profile can be created). Held otherwise; then idle when no engine on it has a request running or
 * waiting and its utilization is under `idleUtilization` (0..1). A held GPU whose utilization nvidia-smi does not
 * report (MIG on) is idle only when everything on it is an idle engine: other processes could be working.
 */
export function observeGpu(g: Gpu, engines: readonly Engine[], idleUtilization: number): GpuObservation {
  const pids = computePids(g);
  const ids = engines.map((e) => e.id).sort();
  const vgpus = g.vgpu.instances.length;
  const migInstances = g.mig.mode === 'enabled' ? g.mig.instances.length : 0;
  if (pids.length === 0 && ids.length === 0 && vgpus === 0 && migInstances === 0) {
    return { condition: 'free', reason: null, engines: ids, pids };
  }
  const holders: string[] = [];
  if (ids.length) holders.push(`engine${ids.length > 1 ? 's' : ''} ${ids.join(', ')}`);
  const enginePids = new Set<number>();
  for (const e of engines) for (const w of e.workers) if (w.pid !== null) enginePids.add(w.pid);
  const others = pids.filter((p) => !enginePids.has(p));
  if (others.length) holders.push(`${others.length} other process${others.length > 1 ? 'es' : ''}`);
  if (vgpus) holders.push(`${vgpus} vGPU instance${vgpus > 1 ? 's' : ''}`);
  if (!holders.length) holders.push(`${migInstances} MIG instance${migInstances > 1 ? 's' : ''} with no process`);
  const heldBy = `held by ${holders.join(', ')}`;

  for (const e of engines) {
    if (e.health !== 'up') continue;
    const { running, waiting } = e.load;
    if (running === null || waiting === null) return { condition: 'active', reason: `${heldBy}; engine ${e.id} reports no request counts`, engines: ids, pids };
    if (running > 0 || waiting > 0) {
      return { condition: 'active', reason: `${heldBy}; engine ${e.id}: ${running} running, ${waiting} waiting`, engines: ids, pids };
    }
  }
  let util = g.utilization.gpu === null ? null : g.utilization.gpu / 100;
  if (util === null && vgpus) {
    const vm = g.vgpu.instances.map((v) => v.utilization.gpu).filter((u): u is number => u !== null);
    if (vm.length) util = Math.max(...vm) / 100;
  }
  if (util !== null && util >= idleUtilization) {
    return { condition: 'active', reason: `${heldBy}; utilization ${pct(util)}`, engines: ids, pids };
  }
  if (util === null && (others.length > 0 || vgpus > 0)) {
    return { condition: 'active', reason: `${heldBy}; utilization not reported, so not known to be idle`, engines: ids, pids };
  }
  const quiet = ids.length ? 'no request running or waiting' : 'no engine';
  return { condition: 'idle', reason: `${heldBy}; ${quiet}, utilization ${util === null ? 'not reported' : pct(util)}`, engines: ids, pids };
}

/**
 * MIG instances per GPU and profile: used when a compute process or an engine rank is on the instance, free
 * otherwise; with `nvidia-smi mig -lgip` rows, also how many more of each profile could be created (profiles
 * with no instance appear then with free 0, used 0).
 */
export function migProfiles(
  gpus: readonly Gpu[],
  engines: readonly Engine[],
  availability?: ReadonlyMap<string, readonly MigProfileAvailability[]> | null,
): MigProfileCapacity[] {
  const engineMigs = new Set<string>();
  for (const e of engines) for (const w of e.workers) for (const m of w.migUuids) engineMigs.add(m);
  const out: MigProfileCapacity[] = [];
  for (const g of gpus) {
    if (g.mig.mode !== 'enabled') continue;
    const rows = new Map<string, MigProfileCapacity>();
    const row = (profile: string) => {
      let r = rows.get(profile);
      if (!r) rows.set(profile, (r = { gpuUuid: g.uuid, gpuIndex: g.index, profile, free: 0, used: 0 }));
      return r;
    };
    for (const m of g.mig.instances) {
      const r = row(m.profile ?? 'unknown');
      const used = m.processes.some(isCompute) || (m.uuid !== null && engineMigs.has(m.uuid));
      if (used) r.used++;
      else r.free++;
    }
    for (const a of availability?.get(g.uuid) ?? []) row(a.profile).creatable = a.free;
    out.push(...[...rows.values()].sort((a, b) => a.profile.localeCompare(b.profile)));
  }
  return out;
}

function routerEngine(e: Engine): RouterEngine {
  const kv = e.load.kvCacheUsage;
  return {
    id: e.id,
    endpoint: e.endpoint,
    busy: e.busy,
    kvHeadroom: kv === null ? null : Math.max(0, Math.min(1, 1 - kv)),
    waiting: e.load.waiting,
    running: e.load.running,
    servedModels: e.servedModels,
  };
}

/** Not busy first; then most KV headroom (unknown last); then shortest queue; then id, so the order is stable. */
function byRoute(a: RouterEngine, b: RouterEngine): number {
  if (a.busy !== b.busy) return a.busy ? 1 : -1;
  const ha = a.kvHeadroom ?? -1;
  const hb = b.kvHeadroom ?? -1;
  if (ha !== hb) return hb - ha;
  const wa = a.waiting ?? Infinity;
  const wb = b.waiting ?? Infinity;
  if (wa !== wb) return wa < wb ? -1 : 1;
  return a.id.localeCompare(b.id);
}

/**
 * Engines per model (the engine's `model`, the same value as the `model` label of gpufleet_engine_info and of the
 * SD targets; its served names are listed per engine). Only up engines count; a model whose engines are all
 * down has engineCount 0 and allBusy false (nothing to route to is "unavailable", not "busy").
 */
export function modelCapacity(engines: readonly Engine[]): ModelCapacity[] {
  const byModel = new Map<string, Engine[]>();
  for (const e of engines) {
    if (!e.model) continue;
    const list = byModel.get(e.model) ?? [];
    list.push(e);
    byModel.set(e.model, list);
  }
  return [...byModel.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([model, list]) => {
      const up = list.filter((e) => e.health === 'up').map(routerEngine).sort(byRoute);
      const busyCount = up.filter((e) => e.busy).length;
      return {
        model,
        allBusy: up.length > 0 && busyCount === up.length,
        engineCount: up.length,
        busyCount,
        engines: up,
        unavailable: list.filter((e) => e.health !== 'up').map((e) => e.id).sort(),
      };
    });
}
