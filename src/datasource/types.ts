import type { DataQuery, DataSourceJsonData } from '@grafana/schema';

/**
 * Query kinds the sidecar's POST /api/v1/query understands (ARCHITECTURE.md, "Query kinds").
 * `events` is not a sidecar query kind: the data source answers it itself from GET /api/v1/events,
 * and only the annotation editor creates it.
 */
export const QUERY_KINDS = ['topology', 'gpus', 'gpu', 'engines', 'processes', 'timeseries'] as const;
export type SidecarQueryKind = (typeof QUERY_KINDS)[number];
export type QueryKind = SidecarQueryKind | 'events';

export const QUERY_KIND_LABELS: Record<SidecarQueryKind, { label: string; description: string }> = {
  topology: { label: 'Topology', description: 'Engines → ranks → GPUs → MIG / vGPU instances (nodes + edges frames)' },
  gpus: { label: 'GPUs', description: 'One row per GPU: memory, utilization, temperature, power, MIG / vGPU mode' },
  gpu: { label: 'GPU', description: "One GPU's MIG and vGPU instances (set the GPU filter)" },
  engines: { label: 'Engines', description: 'vLLM engines with model, health, load and workers' },
  processes: { label: 'Processes', description: 'Compute processes per GPU / MIG instance' },
  timeseries: { label: 'Time series', description: 'A metric over time from the sidecar store' },
};

/**
 * Metric names for the `timeseries` kind, exactly as the sidecar names them (its
 * GET /api/v1/variables/metrics). The query editor asks the sidecar for its list and falls back to
 * this one when it cannot; a name typed by hand is kept too (a newer sidecar may know more).
 */
export const METRICS = [
  'gpu.utilization',
  'gpu.memory.utilization',
  'gpu.memory.used',
  'gpu.memory.total',
  'gpu.temperature',
  'gpu.power',
  'gpu.power.limit',
  'gpu.clocks.sm',
  'mig.memory.used',
  'mig.memory.total',
  'vgpu.utilization',
  'vgpu.memory.utilization',
  'vgpu.framebuffer.used',
  'vgpu.framebuffer.total',
  'engine.kvCacheUsage',
  'engine.running',
  'engine.waiting',
  'engine.promptTokensPerSec',
  'engine.generationTokensPerSec',
  'engine.ttft.p95',
  'engine.itl.p95',
  'engine.e2e.p95',
] as const;
export type MetricName = (typeof METRICS)[number] | (string & {});

export const METRIC_DESCRIPTIONS: Partial<Record<MetricName, string>> = {
  'gpu.utilization': 'GPU compute utilization (%)',
  'gpu.memory.utilization': 'GPU memory bandwidth utilization (%)',
  'gpu.memory.used': 'GPU memory used (bytes)',
  'gpu.memory.total': 'GPU memory total (bytes)',
  'gpu.temperature': 'GPU temperature (°C)',
  'gpu.power': 'GPU power draw (W)',
  'gpu.power.limit': 'GPU power limit (W)',
  'gpu.clocks.sm': 'SM clock (MHz)',
  'mig.memory.used': 'MIG instance memory used (bytes)',
  'mig.memory.total': 'MIG instance memory total (bytes)',
  'vgpu.utilization': 'vGPU utilization (%)',
  'vgpu.memory.utilization': 'vGPU memory utilization (%)',
  'vgpu.framebuffer.used': 'vGPU framebuffer used (bytes)',
  'vgpu.framebuffer.total': 'vGPU framebuffer total (bytes)',
  'engine.kvCacheUsage': 'Engine KV-cache usage (0..1)',
  'engine.running': 'Engine requests running',
  'engine.waiting': 'Engine requests waiting',
  'engine.promptTokensPerSec': 'Engine prompt tokens / s',
  'engine.generationTokensPerSec': 'Engine generation tokens / s',
  'engine.ttft.p95': 'Engine time to first token, p95 (s)',
  'engine.itl.p95': 'Engine inter-token latency, p95 (s)',
  'engine.e2e.p95': 'Engine end-to-end request latency, p95 (s)',
};

/** Filter names, as sent in `filters`. Values may contain dashboard variables ($host, ${gpu}). */
export const FILTER_NAMES = ['host', 'gpu', 'mig', 'vgpu', 'vm', 'engine', 'model'] as const;
export type FilterName = (typeof FILTER_NAMES)[number];
export type QueryFilters = Partial<Record<FilterName, string>>;

export interface GpufleetQuery extends DataQuery {
  kind: QueryKind;
  filters?: QueryFilters;
  /** Only for kind `timeseries`. */
  metric?: MetricName;
  /** Only for kind `events` (annotations): event kinds to keep; empty keeps all. */
  eventKinds?: EventKind[];
}

export const DEFAULT_QUERY: Partial<GpufleetQuery> = {
  kind: 'topology',
  filters: {},
};

/** jsonData: the sidecar URL itself is the data source's standard `url` (used by the proxy route). */
export interface GpufleetOptions extends DataSourceJsonData {}

/** secureJsonData: never sent back to the browser; the data proxy route adds it as a bearer token. */
export interface GpufleetSecureJsonData {
  token?: string;
}

/* ---------------------------------------------------------------------------------------------
 * Sidecar API shapes (ARCHITECTURE.md, "API"). Only what the plugin reads is typed.
 * ------------------------------------------------------------------------------------------- */

/** A filter after variable interpolation: one value, or several from a multi-value variable. */
export type FilterValue = string | string[];

export interface SidecarQuery {
  refId: string;
  kind: SidecarQueryKind;
  filters: Partial<Record<FilterName, FilterValue>>;
  metric?: MetricName;
  /** ISO-8601 UTC (the sidecar also accepts ms epoch). */
  from: string;
  to: string;
  maxDataPoints?: number;
}

export interface SidecarQueryRequest {
  queries: SidecarQuery[];
}

/** Grafana DataFrameJSON as the sidecar writes it. */
export interface FrameJSON {
  schema?: {
    refId?: string;
    name?: string;
    meta?: Record<string, unknown>;
    fields: Array<{ name: string; type?: string; labels?: Record<string, string>; config?: Record<string, unknown> }>;
  };
  data?: { values: unknown[][] };
}

export interface SidecarQueryResponse {
  results: Record<string, { frames?: FrameJSON[]; error?: string | SidecarErrorBody['error']; status?: number }>;
}

export interface SidecarErrorBody {
  error: { code: string; message: string; field?: string };
}

/** `starting`: not had its first chance to collect yet (just after the sidecar started). */
export type SourceState = 'starting' | 'ok' | 'stale' | 'failed' | 'disabled';
export interface SourceStatus {
  status: SourceState;
  error?: string;
  lastSuccessAt?: string;
  ageSeconds?: number;
}
/** The sidecar's sources in the order "Save & test" lists them; sources it adds later are listed after these. */
export const SOURCE_NAMES = ['gpu', 'vgpu', 'xid', 'engines', 'docker'] as const;
export type SourceName = (typeof SOURCE_NAMES)[number];

export interface SidecarHealth {
  status: 'ok' | 'starting' | 'degraded' | 'failing';
  version: string;
  uptimeSeconds: number;
  /** The host the sidecar collects (null before its first collection). */
  host?: string | null;
  sources: Partial<Record<SourceName, SourceStatus>> & Record<string, SourceStatus | undefined>;
}

export const VARIABLE_NAMES = ['hosts', 'gpus', 'migs', 'vgpus', 'vms', 'engines', 'models', 'metrics'] as const;
export type VariableName = (typeof VARIABLE_NAMES)[number];

export interface VariableQuery extends DataQuery {
  name: VariableName;
  /** Narrow the values (e.g. the MIG instances of $gpu); variables allowed. */
  filters?: QueryFilters;
}

export interface SidecarVariableValues {
  values: Array<{ text: string; value: string }>;
}

export const EVENT_KINDS = [
  'engine-up',
  'engine-down',
  'mig-reconfigured',
  'vgpu-attached',
  'vgpu-detached',
  'xid',
  'gpu-lost',
  'gpu-back',
  'engine-flapping',
  'gpu-flapping',
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export interface SidecarEvent {
  time: string;
  host: string;
  kind: EventKind | string;
  subject: string;
  text: string;
  /** Occurrences folded into this event (flapping, repeated Xid). */
  count?: number;
  timeEnd?: string;
}

export interface SidecarEvents {
  events: SidecarEvent[];
  truncated?: boolean;
}
