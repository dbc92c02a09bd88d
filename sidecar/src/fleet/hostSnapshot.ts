// One simulated fleet host at time t as the sidecar's Snapshot: the simulator's host state (sim/state.ts, the
// same model the fake nvidia-smi prints) with the host's engines' ranks as GPU processes, turned into the
// sidecar's model the way its parsers and engine collector would see it. Pure: (host, t) gives one snapshot.
import type { Engine, EngineRank, EngineWorker, Gpu, GpuProcess, Snapshot, SourceName, SourceStatus } from '../model.js';
import { engineDevicesAt, type EngineDevice } from '../sim/engineLayout.js';
import { rankGaugesAt, engineLoadAt } from '../sim/engineMetrics.js';
import { inDowntime, servedNames, type EngineSpec } from '../sim/engineScenario.js';
import { EMPTY_CONTROL, hostStateAt, type EngineGpuProcess, type SimGpu, type SimProcess } from '../sim/state.js';
import type { FleetHost } from './fleetModel.js';

const MIB = 1024 * 1024;
/** KV-cache usage above which an engine counts as busy (the sidecar's default --busy-threshold). */
export const BUSY_THRESHOLD = 0.9;

export interface PreparedHost {
  host: FleetHost;
  /** Each engine's devices, one per rank: fleet hosts never reconfigure MIG, so they are fixed. */
  devices: EngineDevice[][];
}

/** Resolves the engines' devices once (the MIG UUIDs come from the host state). */
export function prepareHost(host: FleetHost): PreparedHost {
  const state = hostStateAt(host.scenario, 0);
  const devices = host.scenario.engines.map((e) => {
    const d = engineDevicesAt(e, host.scenario, state);
    if (!d.ok) throw new Error(`${host.name}: engine ${e.name}: ${d.reason}`);
    return d.devices;
  });
  return { host, devices };
}

function rankPid(engineIndex: number, rank: number): number {
  return 100_000 + engineIndex * 16 + rank;
}

function dpRankOf(e: EngineSpec, rank: number): number {
  return Math.floor(rank / (e.tensorParallel * e.pipelineParallel));
}

function engineProcs(p: PreparedHost, t: number): EngineGpuProcess[] {
  const out: EngineGpuProcess[] = [];
  p.host.scenario.engines.forEach((e, i) => {
    if (inDowntime(e, t)) return;
    for (const d of p.devices[i] as EngineDevice[]) {
      out.push({
        gpu: d.gpu,
        migUuid: d.migUuid,
        pid: rankPid(i, d.rank),
        name: e.tensorParallel * e.pipelineParallel > 1 ? `VLLM::Worker_TP${d.rank % e.tensorParallel}` : 'VLLM::EngineCore',
        memoryMiB: d.memoryMiB,
        load: engineLoadAt(e, dpRankOf(e, d.rank), t),
      });
    }
  });
  return out;
}

const bytes = (mib: number | null | undefined) => (mib === null || mib === undefined ? null : mib * MIB);

function toProcess(p: SimProcess, gpuUuid: string): GpuProcess {
  return { pid: p.pid, name: p.name, type: p.type, usedMemoryBytes: bytes(p.usedMemoryMiB), gpuUuid, ...(p.migUuid ? { migUuid: p.migUuid } : {}) };
}

function toGpu(host: string, g: SimGpu): Gpu {
  const processes = g.processes.map((p) => toProcess(p, g.uuid));
  return {
    host,
    uuid: g.uuid,
    index: g.index,
    name: g.name,
    pciBusId: g.pciBusId,
    memory: { totalBytes: bytes(g.memory.totalMiB), usedBytes: bytes(g.memory.usedMiB) },
    utilization: { gpu: g.utilization.gpu, memory: g.utilization.memory, encoder: g.utilization.encoder, decoder: g.utilization.decoder },
    temperatureC: g.temperature.gpuC,
    powerW: g.power.instantW,
    powerLimitW: g.power.limitW,
    clocks: { smMHz: g.clocks.sm, memMHz: g.clocks.mem },
    mig: {
      mode: !g.model.migSlots ? 'unsupported' : g.mig.enabled ? 'enabled' : 'disabled',
      pendingMode: null,
      instances: g.mig.devices.map((m) => ({
        uuid: m.uuid,
        index: m.index,
        gpuInstanceId: m.gpuInstanceId,
        computeInstanceId: m.computeInstanceId,
        profile: m.profile,
        multiprocessorCount: m.multiprocessors,
        memory: { totalBytes: bytes(m.memoryTotalMiB), usedBytes: bytes(m.memoryUsedMiB) },
        processes: processes.filter((p) => p.migUuid === m.uuid),
      })),
    },
    vgpu: {
      hostMode: g.vgpu?.hostMode ?? 'none',
      schedulerPolicy: g.vgpu ? 'Best Effort' : null,
      arr: null,
      instances: (g.vgpu?.vgpus ?? []).map((v) => ({
        id: String(v.vgpuId),
        uuid: v.uuid,
        vmId: v.vmUuid,
        vmName: v.vmName,
        type: v.typeName,
        typeId: String(v.typeId),
        guestDriverVersion: v.guestDriverVersion,
        licenseStatus: v.licenseStatus,
        gpuInstanceId: null,
        framebuffer: { totalBytes: bytes(v.framebufferTotalMiB), usedBytes: bytes(v.framebufferUsedMiB) },
        utilization: v.utilization,
        active: true,
        licensed: v.licensed,
      })),
    },
    processes,
    eccUncorrectedVolatile: 0,
  };
}

const NO_QUANTILES = { p50: null, p95: null };

function toEngine(host: string, e: EngineSpec, i: number, devices: EngineDevice[], t: number, nowIso: string): Engine {
  const down = inDowntime(e, t);
  const workers: EngineWorker[] = devices.map((d) => ({
    rank: d.rank,
    pid: down ? null : rankPid(i, d.rank),
    gpuUuids: [d.gpuUuid],
    migUuids: d.migUuid ? [d.migUuid] : [],
  }));
  let running = 0;
  let waiting = 0;
  let kv = 0;
  let lambda = 0;
  // As the sidecar reads a data-parallel engine: per rank, the sums, the fullest rank's KV, busy when every rank is.
  const ranks: EngineRank[] = [];
  for (let dp = 0; dp < e.dataParallel; dp++) {
    const g = rankGaugesAt(e, dp, t);
    running += g.running;
    waiting += g.waiting;
    kv = Math.max(kv, g.kvCacheUsage);
    lambda += engineLoadAt(e, dp, t);
    ranks.push({ rank: dp, running: g.running, waiting: g.waiting, kvCacheUsage: g.kvCacheUsage, busy: g.kvCacheUsage > BUSY_THRESHOLD });
  }
  // engineMetrics' request rate (3 per GPU at full load) times its mean prompt and generation lengths.
  const rate = 3 * e.tensorParallel * e.pipelineParallel * lambda;
  return {
    host,
    id: `${host}:${e.port}`,
    type: 'vllm',
    endpoint: `http://${host}:${e.port}`,
    deployment: 'native',
    model: e.model,
    servedModels: servedNames(e),
    maxModelLen: e.maxModelLen,
    version: e.version,
    health: down ? 'down' : 'up',
    parallel: { tensor: e.tensorParallel, pipeline: e.pipelineParallel, data: e.dataParallel },
    workers,
    gpuMapping: { status: 'resolved', reason: null },
    load: down
      ? { running: null, waiting: null, kvCacheUsage: null, promptTokensPerSec: null, generationTokensPerSec: null, ttftSeconds: NO_QUANTILES, itlSeconds: NO_QUANTILES, e2eSeconds: NO_QUANTILES, preemptions: null }
      : { running, waiting, kvCacheUsage: kv, promptTokensPerSec: rate * 500, generationTokensPerSec: rate * 200, ttftSeconds: NO_QUANTILES, itlSeconds: NO_QUANTILES, e2eSeconds: NO_QUANTILES, preemptions: 0 },
    busy: !down && ranks.every((r) => r.busy),
    ...(down ? {} : { ranks }),
    discoveredBy: 'proc',
    lastError: down ? '/health: connection refused' : null,
    lastSeenUpAt: down ? null : nowIso,
    answeredAsVllm: true,
    stale: false,
  };
}

/** The collectors a sidecar on this host runs: vgpu only where a GPU is in vGPU host mode. */
export function hostCollectors(p: PreparedHost): SourceName[] {
  return p.host.kind === 'vgpu' ? ['gpu', 'vgpu', 'engines'] : ['gpu', 'engines'];
}

/** The host at t seconds after epochMs. */
export function hostSnapshotAt(p: PreparedHost, t: number, epochMs: number): Snapshot {
  const host = p.host.name;
  const state = hostStateAt(p.host.scenario, t, EMPTY_CONTROL, epochMs, engineProcs(p, t));
  const nowIso = new Date(state.timeMs).toISOString();
  const ok: SourceStatus = { status: 'ok', lastSuccessAt: nowIso, ageSeconds: 0 };
  const sources = { gpu: ok, vgpu: ok, xid: { status: 'disabled' }, engines: ok, docker: { status: 'disabled' } } as Record<SourceName, SourceStatus>;
  if (p.host.kind !== 'vgpu') sources.vgpu = { status: 'disabled' };
  return {
    host: { hostname: host, driverVersion: state.driverVersion, cudaVersion: state.cudaVersion, collectedAt: nowIso, sources },
    gpus: state.gpus.map((g) => toGpu(host, g)),
    engines: p.host.scenario.engines.map((e, i) => toEngine(host, e, i, p.devices[i] as EngineDevice[], t, nowIso)),
  };
}
