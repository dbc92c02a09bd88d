/**
 * The documented contract between Prometheus table frames and the topology panel (README, "Topology
 * panel on Prometheus"). Two questions per row:
 *
 * 1. WHAT is the row about? Decided by which identifying labels the row carries (non-empty), never by
 *    the query text, so `{cluster="x"}`, `max by (...)` or extra operator labels do not matter.
 * 2. WHAT does its value mean? Decided by `__name__` when the row has one (a plain selector), else by the
 *    frame's refId (a `by (...)` aggregation drops `__name__`). Both names are listed in MEANINGS.
 */

export type RowKind = 'host' | 'gpu' | 'mig' | 'vgpu' | 'engine' | 'edge';

/** What a row's labels make it. Edges carry engine_id and a GPU or MIG instance; `rank` is optional. */
export function rowKind(l: Readonly<Record<string, string | undefined>>): RowKind | undefined {
  if (l.engine_id) {
    return l.gpu_uuid || l.mig_uuid ? 'edge' : 'engine';
  }
  if (l.mig_uuid) {
    return 'mig';
  }
  if (l.vgpu_id) {
    return 'vgpu';
  }
  if (l.gpu_uuid) {
    return 'gpu';
  }
  return l.host ? 'host' : undefined;
}

/** A value's meaning: which kind of row it belongs to, the field it fills, and the family that sends it. */
export interface Meaning {
  /** The documented refId (also the key of MEANINGS). */
  refId: string;
  kind: RowKind;
  /** The family (or recording rule) whose `__name__` means this. */
  metric: string;
  /** Words for notices: "GPU utilization". */
  what: string;
  /** Info series: the value is 1 and the data labels are what counts. */
  info?: boolean;
  /**
   * One series per value of a label (`state`), 1 for the current one and 0 for the others: rows of 0 are
   * skipped, and the row kept says the value by that label.
   */
  oneHot?: boolean;
}

const m = (refId: string, kind: RowKind, metric: string, what: string, info = false, oneHot = false): Meaning => ({
  refId,
  kind,
  metric,
  what,
  info,
  ...(oneHot ? { oneHot } : {}),
});

export const MEANING_LIST: Meaning[] = [
  // Fleet level: one row per host, from the gpufleet:host_* recording rules (and the host info series).
  m('hosts', 'host', 'gpufleet_host_info', 'host info', true),
  m('host_gpus', 'host', 'gpufleet:host_gpus:count', 'GPUs'),
  m('host_gpus_free', 'host', 'gpufleet:host_gpus_free:count', 'free GPUs'),
  m('host_mig', 'host', 'gpufleet:host_mig_instances:count', 'MIG instances'),
  m('host_mig_free', 'host', 'gpufleet:host_mig_instances_free:count', 'free MIG instances'),
  m('host_vgpu', 'host', 'gpufleet:host_vgpu_instances:count', 'vGPU instances'),
  m('host_engines', 'host', 'gpufleet:host_engines:count', 'engines'),
  m('host_engines_up', 'host', 'gpufleet:host_engines_up:count', 'engines up'),
  m('host_engines_busy', 'host', 'gpufleet:host_engines_busy:count', 'busy engines'),
  m('host_util', 'host', 'gpufleet:host_gpu_utilization:avg', 'GPU utilization'),
  m('host_mem', 'host', 'gpufleet:host_gpu_memory_used:ratio', 'GPU memory use'),
  m('host_alerts', 'host', 'gpufleet:host_alerts_firing:count', 'firing alerts'),
  // Host level and filtered topology.
  m('gpus', 'gpu', 'gpufleet_gpu_info', 'GPU info', true),
  m('gpu_util', 'gpu', 'gpufleet_gpu_utilization_ratio', 'GPU utilization'),
  m('gpu_mem_used', 'gpu', 'gpufleet_gpu_memory_used_bytes', 'GPU memory used'),
  m('gpu_mem_total', 'gpu', 'gpufleet_gpu_memory_total_bytes', 'GPU memory total'),
  m('gpu_temp', 'gpu', 'gpufleet_gpu_temperature_celsius', 'GPU temperature'),
  m('gpu_power', 'gpu', 'gpufleet_gpu_power_watts', 'GPU power'),
  m('gpu_procs', 'gpu', 'gpufleet_gpu_processes', 'GPU compute processes'),
  // The capacity model: label `state` (free, idle-held, busy, unavailable) of the series that is 1.
  m('gpu_capacity', 'gpu', 'gpufleet_gpu_capacity_state', 'GPU capacity state', false, true),
  m('gpu_capacity_since', 'gpu', 'gpufleet_gpu_capacity_state_since_timestamp_seconds', 'GPU capacity state since'),
  m('mig', 'mig', 'gpufleet_mig_instance_info', 'MIG instance info', true),
  m('mig_mem_used', 'mig', 'gpufleet_mig_memory_used_bytes', 'MIG memory used'),
  m('mig_mem_total', 'mig', 'gpufleet_mig_memory_total_bytes', 'MIG memory total'),
  m('vgpu', 'vgpu', 'gpufleet_vgpu_instance_info', 'vGPU instance info', true),
  m('vgpu_util', 'vgpu', 'gpufleet_vgpu_utilization_ratio', 'vGPU utilization'),
  m('vgpu_fb_used', 'vgpu', 'gpufleet_vgpu_framebuffer_used_bytes', 'vGPU framebuffer used'),
  m('vgpu_fb_total', 'vgpu', 'gpufleet_vgpu_framebuffer_total_bytes', 'vGPU framebuffer total'),
  m('vgpu_active', 'vgpu', 'gpufleet_vgpu_active', 'vGPU active'),
  m('engines', 'engine', 'gpufleet_engine_info', 'engine info', true),
  m('engine_up', 'engine', 'gpufleet_engine_up', 'engine health'),
  m('engine_kv', 'engine', 'gpufleet_engine_kv_cache_usage_ratio', 'KV-cache use'),
  m('engine_running', 'engine', 'gpufleet_engine_requests_running', 'running requests'),
  m('engine_waiting', 'engine', 'gpufleet_engine_requests_waiting', 'waiting requests'),
  m('engine_busy', 'engine', 'gpufleet_engine_busy', 'engine busy'),
  m('edges_gpu', 'edge', 'gpufleet_engine_gpu', 'engine rank → GPU', true),
  m('edges_mig', 'edge', 'gpufleet_engine_mig', 'engine rank → MIG instance', true),
];

export const MEANINGS: ReadonlyMap<string, Meaning> = new Map(MEANING_LIST.map((x) => [x.refId, x]));
const BY_METRIC: ReadonlyMap<string, Meaning> = new Map(MEANING_LIST.map((x) => [x.metric, x]));

/** The meaning of a row: its `__name__` first, else the refId of its frame (or of its `Value #<refId>` column). */
export function meaningOf(name: string, refId: string): Meaning | undefined {
  return (name ? BY_METRIC.get(name) : undefined) ?? MEANINGS.get(refId);
}

/** Labels that identify something (or are data of an info series) and so are never the grouping label. */
export const OWN_LABELS = new Set([
  '__name__',
  'host',
  'gpu_uuid',
  'gpu_index',
  'mig_uuid',
  'vgpu_id',
  'engine_id',
  'rank',
]);
