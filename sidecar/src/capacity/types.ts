// The capacity answer (GET /api/v1/capacity and the gpufleet_*capacity* families). The top level
// `{host, gpus: [{uuid, index, state, since, reason?}], mig: [{gpuUuid, profile, free, used}],
// models: [{model, allBusy, engines: [{id, endpoint, busy, kvHeadroom, waiting}]}]}` is fixed: other tools
// read it. Fields beside those are ours.

export const GPU_CAPACITY_STATES = ['free', 'idle-held', 'busy', 'unavailable'] as const;
export type GpuCapacityState = (typeof GPU_CAPACITY_STATES)[number];

export interface GpuCapacity {
  uuid: string;
  index: number | null;
  name: string;
  state: GpuCapacityState;
  /** ISO-8601 UTC: when the GPU entered this state (at the latest: when the sidecar first saw it). */
  since: string;
  /** Why, in words (absent for a plain free GPU). */
  reason?: string;
  /** Engines on the GPU (ids) and compute processes (pids) that hold it. */
  engines: string[];
  pids: number[];
  /** Seconds the GPU has been idle while held; null when it is not idle (or not held). */
  idleSeconds: number | null;
}

export interface MigProfileCapacity {
  gpuUuid: string;
  gpuIndex: number | null;
  profile: string;
  /** Instances of this profile without a compute process. */
  free: number;
  /** Instances of this profile with at least one compute process. */
  used: number;
  /** More instances of this profile that could be created now (`nvidia-smi mig -lgip` Free); absent when unknown. */
  creatable?: number;
}

export interface RouterEngine {
  id: string;
  endpoint: string;
  busy: boolean;
  /** 1 − KV-cache usage; null when the engine does not report its KV-cache use. */
  kvHeadroom: number | null;
  /** Requests waiting in the engine's queue; null when unknown. */
  waiting: number | null;
  running: number | null;
  /** Names the engine answers to in requests (`/v1/models`: served names and LoRA adapters). */
  servedModels: string[];
}

export interface ModelCapacity {
  model: string;
  /** Every engine serving the model is busy (and there is at least one). */
  allBusy: boolean;
  /** Engines up and serving the model, and how many of them are busy. */
  engineCount: number;
  busyCount: number;
  /** Every up engine of the model: not busy first, then by KV headroom (most first), then by queue. */
  engines: RouterEngine[];
  /** Engines of the model that are not up (down or unknown): not to be routed to. */
  unavailable: string[];
}

export interface CapacitySettings {
  idleHeldAfterMs: number;
  /** Utilization ratio (0..1) under which a GPU counts as idle. */
  idleUtilization: number;
  unavailableAfterXidMs: number;
}

export interface CapacityAnswer {
  host: string;
  /** ISO-8601 UTC of the GPU reading this answer was computed from. */
  collectedAt: string;
  settings: { idleHeldAfterSeconds: number; idleUtilization: number; unavailableAfterXidSeconds: number; busyThreshold: number | null };
  /** Counts per state, for a glance. */
  summary: Record<GpuCapacityState, number>;
  gpus: GpuCapacity[];
  mig: MigProfileCapacity[];
  models: ModelCapacity[];
}
