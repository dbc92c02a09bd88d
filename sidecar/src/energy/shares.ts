// Which share of each GPU's power an engine is charged with. A MIG instance owns a fixed part of the GPU's
// compute (its slice count over the GPU's compute slices), so its engine gets that part, whatever the
// instance's memory use. Whole GPUs shared by several processes have no such partition: the processes'
// memory is the only per-process figure nvidia-smi gives (no per-process power or SM share without
// accounting mode), and an inference engine's memory is its preallocated KV cache, so memory is the share.
import type { Engine, Gpu, MigInstance } from '../model.js';

const isCompute = (p: { type: string | null }) => p.type === null || p.type.includes('C');

/** Compute slices of a MIG-capable GPU: 4 on A30, 7 on A100/H100/H200/B200. */
export function gpuComputeSlices(gpuName: string): number {
  return /\bA30\b/.test(gpuName) ? 4 : 7;
}

/** Compute slices of a MIG profile: "3g.40gb" → 3; a compute instance "1c.3g.71gb" → 1. */
export function profileComputeSlices(profile: string | null): number | null {
  const m = profile ? /^(?:(\d+)c\.)?(\d+)g\./.exec(profile) : null;
  if (!m) return null;
  return Number(m[1] ?? m[2]);
}

/**
 * Splits `whole` among holders by memory when every holder's memory is known and some is used, else evenly.
 * Holders are engine ids and, for other processes, "pid:<n>" (they take their share away from engines).
 */
function split(whole: number, memory: Map<string, number | null>): Map<string, number> {
  const out = new Map<string, number>();
  if (memory.size === 0) return out;
  const known = [...memory.values()];
  const total = known.every((v) => v !== null) ? (known as number[]).reduce((a, b) => a + b, 0) : 0;
  for (const [k, v] of memory) out.set(k, total > 0 ? (whole * (v as number)) / total : whole / memory.size);
  return out;
}

function holdersOf(
  processes: readonly { pid: number; type: string | null; usedMemoryBytes: number | null }[],
  engines: readonly Engine[],
  enginePids: Map<string, Set<number>>,
): Map<string, number | null> {
  const memory = new Map<string, number | null>();
  const add = (k: string, v: number | null) => {
    const prev = memory.get(k);
    memory.set(k, prev === undefined ? v : prev === null || v === null ? null : prev + v);
  };
  const claimed = new Set<number>();
  for (const e of engines) {
    const pids = enginePids.get(e.id) as Set<number>;
    const mine = processes.filter((p) => isCompute(p) && pids.has(p.pid));
    for (const p of mine) claimed.add(p.pid);
    // An engine mapped to the device whose process nvidia-smi does not list (yet) still holds it.
    if (mine.length === 0) add(e.id, null);
    for (const p of mine) add(e.id, p.usedMemoryBytes);
  }
  for (const p of processes) if (isCompute(p) && !claimed.has(p.pid)) add(`pid:${p.pid}`, p.usedMemoryBytes);
  return memory;
}

/** engine id → GPU UUID → share (0..1) of that GPU's power. Engines on no GPU are absent. */
export function engineShares(gpus: readonly Gpu[], engines: readonly Engine[]): Map<string, Map<string, number>> {
  const enginePids = new Map(engines.map((e) => [e.id, new Set(e.workers.map((w) => w.pid).filter((p): p is number => p !== null))]));
  const out = new Map<string, Map<string, number>>();
  const credit = (engine: string, gpu: string, share: number) => {
    if (engine.startsWith('pid:') || share <= 0) return;
    const m = out.get(engine) ?? new Map<string, number>();
    m.set(gpu, Math.min(1, (m.get(gpu) ?? 0) + share));
    out.set(engine, m);
  };
  for (const g of gpus) {
    if (g.mig.mode === 'enabled') {
      const slices = gpuComputeSlices(g.name);
      for (const m of g.mig.instances) {
        const part = (profileComputeSlices(m.profile) ?? 0) / slices;
        const on = engines.filter((e) => m.uuid !== null && e.workers.some((w) => w.migUuids.includes(m.uuid as string)));
        for (const [k, v] of split(part, holdersOf((m as MigInstance).processes, on, enginePids))) credit(k, g.uuid, v);
      }
      continue;
    }
    const on = engines.filter((e) => e.workers.some((w) => w.gpuUuids.includes(g.uuid)));
    if (on.length === 0) continue;
    for (const [k, v] of split(1, holdersOf(g.processes, on, enginePids))) credit(k, g.uuid, v);
  }
  return out;
}
