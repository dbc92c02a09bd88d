// The snapshot model of ARCHITECTURE.md. Everything the collectors produce, the store keeps and the
// API serves is one of these types. Missing or unsupported values are null, never 0.

export type Ratio = number; // 0..1
export type Percent = number; // 0..100

export interface MemoryUsage {
  totalBytes: number | null;
  usedBytes: number | null;
}

export interface Utilization {
  gpu: Percent | null;
  memory: Percent | null;
  encoder: Percent | null;
  decoder: Percent | null;
}

export interface GpuProcess {
  pid: number;
  name: string;
  /** 'C' compute, 'G' graphics, 'C+G' both (vGPU VMs show up as 'C+G' processes named 'vgpu'). */
  type: string | null;
  usedMemoryBytes: number | null;
  gpuUuid: string;
  migUuid?: string;
}

export interface MigInstance {
  /** From `nvidia-smi -L`; null when -L could not be read. */
  uuid: string | null;
  /** The `mig_device` index, which is the `Device N` of `nvidia-smi -L`. */
  index: number;
  gpuInstanceId: number;
  computeInstanceId: number;
  /** e.g. "3g.40gb" or "1c.3g.71gb"; from `nvidia-smi -L`. */
  profile: string | null;
  multiprocessorCount: number | null;
  memory: MemoryUsage;
  processes: GpuProcess[];
}

export type MigMode = 'enabled' | 'disabled' | 'unsupported';
export type VgpuHostMode = 'sriov' | 'non-sriov' | 'none';

export interface VgpuInstance {
  id: string;
  uuid: string | null;
  vmId: string | null;
  vmName: string | null;
  /** vGPU name, e.g. "GRID A100-10C" or "NVIDIA RTX Pro 6000 Blackwell DC-3Q". */
  type: string | null;
  /** Numeric vGPU type id as printed by `vgpu -q` (`vGPU Type`). */
  typeId: string | null;
  guestDriverVersion: string | null;
  licenseStatus: string | null;
  /** MIG-backed vGPUs name their GPU instance. */
  gpuInstanceId: number | null;
  framebuffer: MemoryUsage;
  utilization: Utilization;
  /** The vGPU is listed by `nvidia-smi vgpu -q`, i.e. attached to a running VM. */
  active: boolean;
  /** true/false when the guest reported a license state; null when unknown (no guest driver). */
  licensed: boolean | null;
}

export interface Gpu {
  host: string;
  uuid: string;
  /** nvidia-smi's index (not minor_number); null when `-L` could not be read. */
  index: number | null;
  name: string;
  pciBusId: string;
  memory: MemoryUsage;
  utilization: Utilization;
  temperatureC: number | null;
  powerW: number | null;
  /** The 1 s average power nvidia-smi reports (what energy is integrated from); absent or null when not reported. */
  powerAverageW?: number | null;
  powerLimitW: number | null;
  clocks: { smMHz: number | null; memMHz: number | null };
  mig: { mode: MigMode; pendingMode: MigMode | null; instances: MigInstance[] };
  vgpu: {
    hostMode: VgpuHostMode;
    /** e.g. "Best Effort", "Equal Share", "Fixed Share"; null when not reported. */
    schedulerPolicy: string | null;
    /** Adaptive round-robin state, when reported. */
    arr: boolean | null;
    instances: VgpuInstance[];
  };
  processes: GpuProcess[];
  /** Whole-GPU volatile uncorrected ECC errors, when reported. */
  eccUncorrectedVolatile: number | null;
}

/** `starting`: the source has not had its first chance to publish yet (e.g. nvidia-smi's first document). */
export type SourceState = 'starting' | 'ok' | 'stale' | 'failed' | 'disabled';

export interface SourceStatus {
  status: SourceState;
  error?: string;
  /** ISO-8601 UTC. */
  lastSuccessAt?: string;
  /** Age of the data served for this source, in seconds. */
  ageSeconds?: number;
}

export type SourceName = 'gpu' | 'vgpu' | 'xid' | 'engines' | 'docker';

export interface HostInfo {
  hostname: string;
  driverVersion: string | null;
  cudaVersion: string | null;
  /** ISO-8601 UTC of the tick that produced the snapshot. */
  collectedAt: string;
  sources: Record<SourceName, SourceStatus>;
}

export type EngineHealth = 'up' | 'down' | 'unknown';

export interface Quantiles {
  p50: number | null;
  p95: number | null;
}

export interface EngineWorker {
  rank: number;
  pid: number | null;
  gpuUuids: string[];
  migUuids: string[];
}

export interface EngineLoad {
  running: number | null;
  waiting: number | null;
  kvCacheUsage: Ratio | null;
  promptTokensPerSec: number | null;
  generationTokensPerSec: number | null;
  ttftSeconds: Quantiles;
  itlSeconds: Quantiles;
  e2eSeconds: Quantiles;
  preemptions: number | null;
  /** Prefix-cache hits / queries over the window. */
  prefixCacheHitRatio?: number | null;
  /** Finished requests per second over the window. */
  requestsPerSec?: number | null;
}

/**
 * One data-parallel rank of an engine, as its own series of the engine's /metrics say (the `engine`
 * label). KV usage, running and waiting are the rank's own; `busy` is its KV usage above
 * --busy-threshold.
 */
export interface EngineRank {
  /** The global DP rank (with hybrid load balancing a node's ranks start at its start rank). */
  rank: number;
  running: number | null;
  waiting: number | null;
  kvCacheUsage: Ratio | null;
  busy: boolean;
}

export interface Engine {
  host: string;
  id: string;
  type: 'vllm';
  endpoint: string;
  deployment: 'native' | 'docker';
  /** Container name, for a docker-deployed engine. */
  container?: string;
  /** Container image as Docker reports it (`vllm/vllm-openai:v0.11.0`), for a docker-deployed engine. */
  image?: string;
  model: string | null;
  servedModels: string[];
  maxModelLen: number | null;
  version: string | null;
  health: EngineHealth;
  parallel: { tensor: number; pipeline: number; data: number };
  workers: EngineWorker[];
  /** Whether every rank's GPU was found; when not, why (shown to the user). */
  gpuMapping: { status: 'resolved' | 'partial' | 'unresolved'; reason: string | null };
  /**
   * The engine's figures over all its data-parallel ranks: running and waiting and the rates add up,
   * KV usage is the highest rank's.
   */
  load: EngineLoad;
  /**
   * Every data-parallel rank is busy (KV usage above --busy-threshold), as Dynamo's worker monitor
   * decides: a router can still send work to an engine with one free rank. With one rank: that rank.
   */
  busy: boolean;
  /** Per data-parallel rank, by global rank, when the engine's /metrics was read; absent before. */
  ranks?: EngineRank[];
  /** The text format of the engine's last /metrics answer (the Rust frontend speaks only OpenMetrics). */
  metricsFormat?: 'openmetrics' | 'prometheus-text' | null;
  /** How the engine was found: the process scan, Docker, or --engine. */
  discoveredBy: 'proc' | 'docker' | 'flag';
  /** The last problem talking to the engine (scrape failed, bad /metrics…), null when none. */
  lastError: string | null;
  /** Answered /health and a /metrics holding vLLM metrics at least once (only such engines are SD targets). */
  answeredAsVllm: boolean;
  /** ISO-8601 UTC of the last successful /health answer. */
  lastSeenUpAt: string | null;
  /**
   * true when the last engine collection ran out of its time budget before this engine's probe
   * finished: health, load and errors are those of an earlier collection.
   */
  stale: boolean;
}

export type EventKind =
  | 'engine-up'
  | 'engine-down'
  | 'mig-reconfigured'
  | 'vgpu-attached'
  | 'vgpu-detached'
  | 'xid'
  | 'gpu-lost'
  | 'gpu-back'
  /** An engine or GPU that changed state over and over: one event per window, with the count. */
  | 'engine-flapping'
  | 'gpu-flapping';

export interface FleetEvent {
  /** ISO-8601 UTC. */
  time: string;
  host: string;
  kind: EventKind;
  /** The GPU/MIG/vGPU/engine id the event is about. */
  subject: string;
  text: string;
  /** Occurrences folded into this event (flaps, or the same Xid on the same GPU); absent when one. */
  count?: number;
  /** ISO-8601 UTC of the last occurrence folded in, when there were several. */
  timeEnd?: string;
}

export interface Snapshot {
  host: HostInfo;
  gpus: Gpu[];
  engines: Engine[];
}
