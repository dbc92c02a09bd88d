// Engine → ranks → GPUs / MIG instances. The engine's processes are matched against the processes
// nvidia-smi reports on each GPU (pid → GPU UUID, and GI/CI → MIG instance). Who holds the CUDA
// context depends on the vLLM version and layout: with TP or PP > 1 the VLLM::Worker_* processes
// (one GPU each); with one GPU the VLLM::EngineCore (v1) or the API server itself (v0, whose extra
// ranks are VllmWorkerProcess children). CUDA_VISIBLE_DEVICES fills in where nvidia-smi shows no
// process (a PID namespace apart, or the context not created yet).
import type { EngineWorker, Gpu } from '../model.js';
import type { EngineCandidate } from './discovery.js';
import type { EnvState, ProcInfo, ProcLookup } from './procScan.js';
import { classifyProcesses, type ProcessRole } from './vllmCmdline.js';

export interface GpuMapping {
  workers: EngineWorker[];
  status: 'resolved' | 'partial' | 'unresolved';
  reason: string | null;
}

interface GpuHold {
  gpuUuid: string;
  migUuid: string | null;
}

/** pid → the GPUs / MIG instances it holds a context on, from the snapshot's processes. */
export function gpuHoldsByPid(gpus: Gpu[]): Map<number, GpuHold[]> {
  const out = new Map<number, GpuHold[]>();
  for (const g of gpus) {
    for (const p of g.processes) {
      const list = out.get(p.pid) ?? [];
      if (!list.some((h) => h.gpuUuid === g.uuid && h.migUuid === (p.migUuid ?? null))) list.push({ gpuUuid: g.uuid, migUuid: p.migUuid ?? null });
      out.set(p.pid, list);
    }
  }
  return out;
}

/** CUDA_VISIBLE_DEVICES entries (indexes, GPU-…, MIG-… UUIDs) → holds. */
export function visibleDevices(value: string, gpus: Gpu[]): GpuHold[] {
  const out: GpuHold[] = [];
  for (const raw of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (/^\d+$/.test(raw)) {
      const g = gpus.find((x) => x.index === Number(raw));
      if (g) out.push({ gpuUuid: g.uuid, migUuid: null });
    } else if (raw.startsWith('MIG-')) {
      const g = gpus.find((x) => x.mig.instances.some((m) => m.uuid === raw));
      if (g) out.push({ gpuUuid: g.uuid, migUuid: raw });
    } else {
      const g = gpus.find((x) => x.uuid === raw || x.uuid.startsWith(raw));
      if (g) out.push({ gpuUuid: g.uuid, migUuid: null });
    }
  }
  return out;
}

interface RankProc {
  rank: number;
  pid: number;
  role: ProcessRole | null;
}

/** The processes that are the engine's ranks, with their global rank (dp·pp·tp + pp·tp + tp). */
export function rankProcesses(candidate: EngineCandidate, procs: ProcLookup): RankProc[] {
  const tpSize = candidate.launch?.parallel.tensor ?? 1;
  const ppSize = candidate.launch?.parallel.pipeline ?? 1;
  // Roles from titles, and from the tree where there are none (v0 forks repeat the launch line).
  const classified = classifyProcesses(candidate.pids.map((pid) => procs.get(pid)).filter((p): p is ProcInfo => p !== undefined));
  const roles = candidate.pids
    .map((pid) => ({ pid, role: classified.get(pid) ?? null }))
    .filter((r) => r.role !== null) as { pid: number; role: ProcessRole }[];
  const rankOf = (r: ProcessRole) => (r.dp ?? 0) * ppSize * tpSize + (r.pp ?? 0) * tpSize + (r.tp ?? r.rank ?? 0);

  const titledWorkers = roles.filter((r) => r.role.role === 'worker' && (r.role.tp !== undefined || r.role.pp !== undefined || r.role.rank !== undefined));
  if (titledWorkers.length) return titledWorkers.map((r) => ({ rank: rankOf(r.role), pid: r.pid, role: r.role })).sort((a, b) => a.rank - b.rank);

  const cores = roles.filter((r) => r.role.role === 'engine-core' && r.role.source !== 'tree');
  if (cores.length) return cores.map((r) => ({ rank: (r.role.dp ?? 0) * ppSize * tpSize, pid: r.pid, role: r.role })).sort((a, b) => a.rank - b.rank);

  // v0: the API server is rank 0 and its plain worker children follow in start order.
  const out: RankProc[] = [];
  if (candidate.apiPid !== null) out.push({ rank: 0, pid: candidate.apiPid, role: null });
  const plain = roles
    .filter((r) => (r.role.role === 'worker' || (r.role.role === 'engine-core' && r.role.source === 'tree')) && r.pid !== candidate.apiPid)
    .sort((a, b) => (procs.get(a.pid)?.startTime ?? 0) - (procs.get(b.pid)?.startTime ?? 0) || a.pid - b.pid);
  plain.forEach((r, i) => out.push({ rank: i + 1, pid: r.pid, role: r.role }));
  return out;
}

export function mapEngineGpus(
  candidate: EngineCandidate,
  procs: ProcLookup,
  gpus: Gpu[],
  env: Map<number, EnvState>,
): GpuMapping {
  if (candidate.pids.length === 0) {
    return {
      workers: [],
      status: 'unresolved',
      reason: candidate.source === 'flag' ? 'engine given by --engine: its processes are not on this host (or not in --proc)' : 'no processes found',
    };
  }
  const holds = gpuHoldsByPid(gpus);
  const children = new Map<number, number[]>();
  for (const pid of candidate.pids) {
    const pp = procs.get(pid)?.ppid;
    if (pp !== undefined) children.set(pp, [...(children.get(pp) ?? []), pid]);
  }
  const ranks = rankProcesses(candidate, procs);
  const claimed = new Set<number>();
  const workers: EngineWorker[] = ranks.map((r) => {
    // A rank's context may sit in a child of its process (a spawned helper): look down its subtree,
    // but not into another rank's.
    const mine: GpuHold[] = [];
    const rankPids = new Set(ranks.map((x) => x.pid));
    const queue = [r.pid];
    while (queue.length) {
      const pid = queue.shift() as number;
      if (claimed.has(pid)) continue;
      claimed.add(pid);
      for (const h of holds.get(pid) ?? []) if (!mine.some((m) => m.gpuUuid === h.gpuUuid && m.migUuid === h.migUuid)) mine.push(h);
      for (const c of children.get(pid) ?? []) if (!rankPids.has(c)) queue.push(c);
    }
    if (mine.length === 0) {
      const e = env.get(r.pid);
      const cvd = e?.state === 'set' ? e.value : null;
      if (cvd) {
        const visible = visibleDevices(cvd, gpus);
        // One device per rank: a worker uses the device at its local rank within what it sees.
        const local = r.role?.tp !== undefined ? (r.role.pp ?? 0) * (candidate.launch?.parallel.tensor ?? 1) + r.role.tp : 0;
        const pick = visible.length === 1 ? visible[0] : visible[local];
        if (pick) mine.push(pick);
      }
    }
    return {
      rank: r.rank,
      pid: r.pid,
      gpuUuids: [...new Set(mine.map((h) => h.gpuUuid))],
      migUuids: mine.map((h) => h.migUuid).filter((x): x is string => x !== null),
    };
  });
  const withGpu = workers.filter((w) => w.gpuUuids.length > 0).length;
  if (workers.length > 0 && withGpu === workers.length) return { workers, status: 'resolved', reason: null };
  const missingWorkers = workers.filter((w) => w.gpuUuids.length === 0);
  const missing = missingWorkers.map((w) => `rank ${w.rank} (pid ${w.pid})`);
  const reason =
    workers.length === 0
      ? 'no vLLM rank process found in the engine\'s process tree'
      : `nvidia-smi lists no GPU process for ${missing.join(', ')} and ${environmentReason(missingWorkers.map((w) => (w.pid === null ? undefined : env.get(w.pid))))}`;
  return { workers, status: withGpu === 0 ? 'unresolved' : 'partial', reason };
}

/**
 * Why CUDA_VISIBLE_DEVICES did not place the ranks, by what the environments said: each case sends
 * the operator to a different fix.
 */
function environmentReason(states: (EnvState | undefined)[]): string {
  const has = (s: EnvState['state']) => states.some((e) => e?.state === s);
  const parts: string[] = [];
  if (has('unreadable') || states.some((e) => e === undefined)) {
    parts.push('their environment is not readable (a sidecar in a container needs pid: host to see the same PIDs as nvidia-smi, and CAP_SYS_PTRACE to read another user\'s process)');
  }
  if (has('unset')) {
    parts.push('CUDA_VISIBLE_DEVICES is not set in their environment (every GPU is visible to them, so only nvidia-smi\'s process list can place them: is the engine still starting, or in another PID namespace?)');
  }
  if (has('set')) parts.push('their CUDA_VISIBLE_DEVICES names no GPU nvidia-smi reports on this host');
  return parts.join('; ');
}
