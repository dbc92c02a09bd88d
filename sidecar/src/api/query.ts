// POST /api/v1/query: Grafana-style queries in, DataFrameJSON out, one result per refId. One bad
// query fails the whole request with a 400 naming it (Grafana shows that to the user at once).
import { z } from 'zod';
import type { Engine, Gpu, Snapshot, SourceName } from '../model.js';
import type { SeriesMeta, SeriesRange } from '../store/history.js';
import type { Store } from '../store/store.js';
import { TIMESERIES_METRIC_NAMES, TIMESERIES_METRICS } from '../store/samples.js';
import type { CapacityAnswer } from '../capacity/types.js';
import { ApiError, validate } from './errors.js';
import { tableFrame, type DataFrameJSON } from './frames.js';
import { buildTopology, topologyFrames } from './topology.js';

export const QUERY_KINDS = ['topology', 'gpus', 'gpu', 'engines', 'processes', 'timeseries'] as const;

/** Points per series when a timeseries query gives no maxDataPoints (about a panel's width in pixels). */
export const DEFAULT_MAX_DATA_POINTS = 1000;
export const MAX_DATA_POINTS = 20_000;
export const MAX_QUERIES = 50;
/**
 * Series × points per series, summed over a request's timeseries queries: a request past it is refused
 * before any work (a few KB of JSON must not ask for gigabytes). Four times what the largest plausible
 * panel needs (a vGPU host's 128 series × 1,000 points).
 */
export const POINT_BUDGET = 1_000_000;
/** Series read from the history at once while an answer is written (between them the loop is free). */
const POINTS_PER_SLICE = 5_000;

const filterValue = z.union([z.string().max(512), z.array(z.string().max(512)).max(1000)]);

export const FiltersSchema = z
  .object({
    host: filterValue.optional(),
    gpu: filterValue.optional(),
    mig: filterValue.optional(),
    vgpu: filterValue.optional(),
    vm: filterValue.optional(),
    engine: filterValue.optional(),
    model: filterValue.optional(),
  })
  .strict();

/** ms since epoch as a number or numeric string, or an ISO-8601 date. */
export const TimeSchema = z.union([z.number().finite(), z.string().max(64)]).transform((v, ctx) => {
  const ms = typeof v === 'number' ? v : /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: 'not a time (ms since epoch or ISO-8601)' });
    return z.NEVER;
  }
  return ms;
});

const QuerySchema = z.object({
  refId: z.string().min(1).max(64),
  kind: z.enum(QUERY_KINDS),
  filters: FiltersSchema.default({}),
  metric: z.string().max(128).optional(),
  from: TimeSchema.optional(),
  to: TimeSchema.optional(),
  maxDataPoints: z.number().int().min(1).max(MAX_DATA_POINTS).optional(),
});

export const QueryBodySchema = z.object({ queries: z.array(QuerySchema).min(1).max(MAX_QUERIES) }).strict();

export type Query = z.infer<typeof QuerySchema>;
export type Filters = z.infer<typeof FiltersSchema>;

const ALL = new Set(['', '*', '$__all', 'All', 'all']);

/** The accepted values of one filter, or null for "no filter". */
export function filterSet(v: string | string[] | undefined): Set<string> | null {
  if (v === undefined) return null;
  const list = (Array.isArray(v) ? v : [v]).filter((x) => !ALL.has(x));
  return list.length ? new Set(list) : null;
}

export function gpuMatches(g: Gpu, want: Set<string> | null): boolean {
  if (!want) return true;
  if (want.has(g.uuid) || (g.index !== null && want.has(String(g.index)))) return true;
  return g.mig.instances.some((m) => m.uuid !== null && want.has(m.uuid));
}

function requireSnapshot(store: Store): Snapshot {
  if (!store.latest) throw new ApiError(503, 'not-ready', 'the first collection has not finished yet; retry in a few seconds');
  return store.latest;
}

function hostOk(snap: Snapshot, f: Filters): boolean {
  const hosts = filterSet(f.host);
  return !hosts || hosts.has(snap.host.hostname);
}

function gpusFrame(snap: Snapshot, q: Query): DataFrameJSON {
  const want = filterSet(q.filters.gpu);
  const rows = hostOk(snap, q.filters) ? snap.gpus.filter((g) => gpuMatches(g, want)) : [];
  return tableFrame('gpus', q.refId, rows, [
    { name: 'host', type: 'string', get: () => snap.host.hostname },
    { name: 'index', type: 'number', get: (g) => g.index },
    { name: 'uuid', type: 'string', get: (g) => g.uuid },
    { name: 'name', type: 'string', get: (g) => g.name },
    { name: 'utilization', type: 'number', get: (g) => g.utilization.gpu, config: { unit: 'percent', min: 0, max: 100 } },
    { name: 'memoryUsed', type: 'number', get: (g) => g.memory.usedBytes, config: { unit: 'bytes' } },
    { name: 'memoryTotal', type: 'number', get: (g) => g.memory.totalBytes, config: { unit: 'bytes' } },
    { name: 'temperature', type: 'number', get: (g) => g.temperatureC, config: { unit: 'celsius' } },
    { name: 'power', type: 'number', get: (g) => g.powerW, config: { unit: 'watt' } },
    { name: 'powerLimit', type: 'number', get: (g) => g.powerLimitW, config: { unit: 'watt' } },
    { name: 'migMode', type: 'string', get: (g) => g.mig.mode },
    { name: 'migInstances', type: 'number', get: (g) => g.mig.instances.length },
    { name: 'vgpuMode', type: 'string', get: (g) => g.vgpu.hostMode },
    { name: 'vgpuInstances', type: 'number', get: (g) => g.vgpu.instances.length },
    { name: 'processes', type: 'number', get: (g) => g.processes.length },
  ]);
}

/** One GPU's drill-down: its MIG instances and its vGPU instances, one frame each. */
function gpuFrames(snap: Snapshot, q: Query): DataFrameJSON[] {
  const want = filterSet(q.filters.gpu);
  if (!want || want.size !== 1) {
    throw new ApiError(400, 'bad-request', 'filters.gpu: the gpu kind needs exactly one GPU (uuid, index or MIG uuid)', 'filters.gpu');
  }
  const g = snap.gpus.find((x) => gpuMatches(x, want));
  if (!g) throw new ApiError(404, 'not-found', `filters.gpu: no GPU ${[...want][0]} on ${snap.host.hostname}`, 'filters.gpu');
  const mig = tableFrame('mig', q.refId, g.mig.instances, [
    { name: 'gpu', type: 'string', get: () => g.uuid },
    { name: 'uuid', type: 'string', get: (m) => m.uuid },
    { name: 'profile', type: 'string', get: (m) => m.profile },
    { name: 'gpuInstanceId', type: 'number', get: (m) => m.gpuInstanceId },
    { name: 'computeInstanceId', type: 'number', get: (m) => m.computeInstanceId },
    { name: 'memoryUsed', type: 'number', get: (m) => m.memory.usedBytes, config: { unit: 'bytes' } },
    { name: 'memoryTotal', type: 'number', get: (m) => m.memory.totalBytes, config: { unit: 'bytes' } },
    { name: 'processes', type: 'number', get: (m) => m.processes.length },
  ]);
  const vgpu = tableFrame('vgpu', q.refId, g.vgpu.instances, [
    { name: 'gpu', type: 'string', get: () => g.uuid },
    { name: 'id', type: 'string', get: (v) => v.id },
    { name: 'uuid', type: 'string', get: (v) => v.uuid },
    { name: 'type', type: 'string', get: (v) => v.type },
    { name: 'vmId', type: 'string', get: (v) => v.vmId },
    { name: 'vmName', type: 'string', get: (v) => v.vmName },
    { name: 'utilization', type: 'number', get: (v) => v.utilization.gpu, config: { unit: 'percent', min: 0, max: 100 } },
    { name: 'framebufferUsed', type: 'number', get: (v) => v.framebuffer.usedBytes, config: { unit: 'bytes' } },
    { name: 'framebufferTotal', type: 'number', get: (v) => v.framebuffer.totalBytes, config: { unit: 'bytes' } },
    { name: 'active', type: 'boolean', get: (v) => v.active },
    { name: 'licensed', type: 'boolean', get: (v) => v.licensed },
  ]);
  return [mig, vgpu];
}

function processesFrame(snap: Snapshot, q: Query): DataFrameJSON {
  const want = filterSet(q.filters.gpu);
  const rows = hostOk(snap, q.filters)
    ? snap.gpus.filter((g) => gpuMatches(g, want)).flatMap((g) => g.processes.map((p) => ({ g, p })))
    : [];
  const migProfile = new Map(snap.gpus.flatMap((g) => g.mig.instances.map((m) => [m.uuid, m.profile] as const)));
  return tableFrame('processes', q.refId, rows, [
    { name: 'pid', type: 'number', get: (r) => r.p.pid },
    { name: 'name', type: 'string', get: (r) => r.p.name },
    { name: 'type', type: 'string', get: (r) => r.p.type },
    { name: 'gpuIndex', type: 'number', get: (r) => r.g.index },
    { name: 'gpu', type: 'string', get: (r) => r.g.uuid },
    { name: 'mig', type: 'string', get: (r) => r.p.migUuid ?? null },
    { name: 'migProfile', type: 'string', get: (r) => (r.p.migUuid ? migProfile.get(r.p.migUuid) ?? null : null) },
    { name: 'usedMemory', type: 'number', get: (r) => r.p.usedMemoryBytes, config: { unit: 'bytes' } },
  ]);
}

function engineRows(snap: Snapshot, f: Filters): Engine[] {
  const ids = filterSet(f.engine);
  const models = filterSet(f.model);
  return snap.engines.filter(
    (e) => (!ids || ids.has(e.id)) && (!models || (e.model !== null && models.has(e.model)) || e.servedModels.some((m) => models?.has(m))),
  );
}

/** Whether one of the engine's ranks runs on the GPU (whole, or one of its MIG instances). */
function engineOnGpu(e: Engine, g: Gpu): boolean {
  const migs = new Set(g.mig.instances.map((m) => m.uuid));
  return e.workers.some((w) => w.gpuUuids.includes(g.uuid) || w.migUuids.some((u) => migs.has(u)));
}

/**
 * The part of the host a topology query asks for: a GPU filter keeps those GPUs and the engines on them,
 * an engine or model filter keeps those engines and the GPUs they run on (a dashboard's drill-down into
 * one GPU or one engine).
 */
function topologySnapshot(snap: Snapshot, f: Filters): Snapshot {
  if (!hostOk(snap, f)) return { ...snap, gpus: [], engines: [] };
  const gpuWant = filterSet(f.gpu);
  const byEngine = filterSet(f.engine) !== null || filterSet(f.model) !== null;
  let engines = engineRows(snap, f);
  let gpus = snap.gpus;
  if (gpuWant) {
    gpus = gpus.filter((g) => gpuMatches(g, gpuWant));
    engines = engines.filter((e) => gpus.some((g) => engineOnGpu(e, g)));
  } else if (byEngine) {
    gpus = gpus.filter((g) => engines.some((e) => engineOnGpu(e, g)));
  }
  return { ...snap, gpus, engines };
}

function enginesFrame(snap: Snapshot, q: Query): DataFrameJSON {
  const rows = engineRows(snap, q.filters);
  return tableFrame('engines', q.refId, rows, [
    { name: 'id', type: 'string', get: (e) => e.id },
    { name: 'model', type: 'string', get: (e) => e.model },
    { name: 'health', type: 'string', get: (e) => e.health },
    { name: 'endpoint', type: 'string', get: (e) => e.endpoint },
    { name: 'deployment', type: 'string', get: (e) => e.deployment },
    { name: 'version', type: 'string', get: (e) => e.version },
    { name: 'tensorParallel', type: 'number', get: (e) => e.parallel.tensor },
    { name: 'pipelineParallel', type: 'number', get: (e) => e.parallel.pipeline },
    { name: 'dataParallel', type: 'number', get: (e) => e.parallel.data },
    { name: 'running', type: 'number', get: (e) => e.load.running },
    { name: 'waiting', type: 'number', get: (e) => e.load.waiting },
    { name: 'kvCacheUsage', type: 'number', get: (e) => e.load.kvCacheUsage, config: { unit: 'percentunit', min: 0, max: 1 } },
    { name: 'generationTokensPerSec', type: 'number', get: (e) => e.load.generationTokensPerSec },
    { name: 'busy', type: 'boolean', get: (e) => e.busy },
  ]);
}

/** A timeseries query's matching series, counted before any value is read. */
function timeseriesPlan(store: Store, snap: Snapshot, q: Query, now: number): { points: number; series: number; frames: () => Iterable<DataFrameJSON> } {
  if (!q.metric) throw new ApiError(400, 'bad-request', 'metric: required for the timeseries kind', 'metric');
  const info = TIMESERIES_METRICS.find((m) => m.name === q.metric);
  if (!info) {
    throw new ApiError(400, 'bad-request', `metric: unknown metric "${q.metric}" (one of ${TIMESERIES_METRIC_NAMES.join(', ')})`, 'metric');
  }
  const to = q.to ?? now;
  const from = q.from ?? to - 3_600_000;
  if (from > to) throw new ApiError(400, 'bad-request', 'from: must not be after to', 'from');
  const f = q.filters;
  const gpus = filterSet(f.gpu);
  const migs = filterSet(f.mig);
  const vgpus = filterSet(f.vgpu);
  const vms = filterSet(f.vm);
  const engines = filterSet(f.engine);
  const models = filterSet(f.model);
  if (!hostOk(snap, f)) return { points: 0, series: 0, frames: () => [] };
  // A GPU filter given as index or MIG uuid is resolved against the current GPUs.
  const gpuUuids = gpus ? new Set(snap.gpus.filter((g) => gpuMatches(g, gpus)).map((g) => g.uuid)) : null;
  if (gpus) for (const v of gpus) if (v.startsWith('GPU-')) gpuUuids?.add(v);
  const matches = (s: SeriesMeta) => {
    if (s.metric !== info.name) return false;
    const l = s.labels;
    if (gpuUuids && !gpuUuids.has(l.gpu ?? '')) return false;
    if (migs && !migs.has(l.mig ?? '')) return false;
    if (vgpus && !vgpus.has(l.vgpu ?? '') && !vgpus.has(l.vgpuUuid ?? '')) return false;
    if (vms && !vms.has(l.vmName ?? '') && !vms.has(l.vmId ?? '')) return false;
    if (engines && !engines.has(l.engine ?? '')) return false;
    if (models && !models.has(l.model ?? '')) return false;
    return true;
  };
  // Select without reading values: the filter sees every series and keeps none.
  const selected: SeriesMeta[] = [];
  store.history.range((s) => (matches(s) && selected.push(s), false), from, to);
  const maxPoints = q.maxDataPoints ?? DEFAULT_MAX_DATA_POINTS;
  const perSeries = Math.min(maxPoints, store.history.length);
  const unit = { percent: 'percent', bytes: 'bytes', celsius: 'celsius', watt: 'watt', MHz: 'rothz', percentunit: 'percentunit', short: 'short', s: 's' }[info.unit];
  const toFrame = (s: SeriesRange): DataFrameJSON => {
    const l = s.labels;
    const who =
      info.entity === 'engine'
        ? `${l.model || l.engine} (${l.engine})`
        : info.entity === 'gpu'
        ? `GPU ${l.gpuIndex || l.gpu}`
        : info.entity === 'mig'
          ? `GPU ${l.gpuIndex || l.gpu} ${l.profile || 'MIG'} (GI ${l.gi})`
          : `${l.vmName || l.vmId || `vGPU ${l.vgpu}`} on GPU ${l.gpuIndex || l.gpu}`;
    return {
      schema: {
        name: `${info.name} ${who}`,
        refId: q.refId,
        fields: [
          { name: 'time', type: 'time' },
          { name: info.name, type: 'number', labels: l, config: { displayNameFromDS: who, ...(unit ? { unit } : {}) } },
        ],
      },
      data: { values: [s.times, s.values] },
    };
  };
  // Values are read a slice of series at a time, as the answer is written.
  function* frames(): Iterable<DataFrameJSON> {
    const step = Math.max(1, Math.floor(POINTS_PER_SLICE / Math.max(1, perSeries)));
    for (let i = 0; i < selected.length; i += step) {
      const slice = new Set(selected.slice(i, i + step));
      for (const r of store.history.range((s) => slice.has(s), from, to, maxPoints)) yield toFrame(r);
    }
  }
  return { points: selected.length * perSeries, series: selected.length, frames };
}

/**
 * What identifies a request's answer within one publication, or null when the answer also depends on
 * the clock (a timeseries query without both ends of its range). `extra` is only read when it is not.
 */
export function answerKey(body: unknown, extra: () => string): string | null {
  const queries = (body as { queries?: unknown } | null)?.queries;
  if (!Array.isArray(queries)) return null;
  for (const q of queries as unknown[]) {
    const x = q as { kind?: unknown; from?: unknown; to?: unknown } | null;
    if (x === null || typeof x !== 'object') return null;
    if (x.kind === 'timeseries' && (x.from === undefined || x.to === undefined)) return null;
  }
  return `${JSON.stringify(body)}\n${extra()}`;
}

export interface Notice {
  severity: 'info' | 'warning' | 'error';
  text: string;
}

/** Which sources a query kind's answer depends on: their failures are shown with its frames. */
export const KIND_SOURCES: Record<(typeof QUERY_KINDS)[number], SourceName[]> = {
  gpus: ['gpu', 'vgpu'],
  gpu: ['gpu', 'vgpu'],
  processes: ['gpu'],
  timeseries: ['gpu', 'vgpu', 'engines'],
  topology: ['gpu', 'vgpu', 'engines', 'docker'],
  engines: ['engines', 'docker'],
};

export interface PlannedQuery {
  refId: string;
  /** Upper bound of the values its answer holds (timeseries: series × points per series). */
  points: number;
  /** Its frames, produced as they are written (timeseries read the history then). */
  frames: () => Iterable<DataFrameJSON>;
}

/**
 * Validates a request and plans its answer: every error (a bad field, an unknown GPU, a request over
 * POINT_BUDGET) is thrown here, before anything is written; timeseries values are read later, while the
 * answer is written.
 */
export function planQueries(
  store: Store,
  body: unknown,
  now = Date.now(),
  notices?: (sources: SourceName[]) => Notice[],
  /** The tick's capacity answer: topology frames carry each GPU's capacity state. */
  capacity?: CapacityAnswer | null,
): PlannedQuery[] {
  const parsed = validate(QueryBodySchema, body);
  const snap = requireSnapshot(store);
  const planned: PlannedQuery[] = [];
  let largest = { i: -1, series: 0, perSeries: 0 };
  parsed.queries.forEach((q, i) => {
    try {
      // Grafana shows frame notices above the panel: a failed source is visible where its data is.
      const n = notices?.(KIND_SOURCES[q.kind]) ?? [];
      const withNotices = (f: DataFrameJSON) => (n.length ? { ...f, schema: { ...f.schema, meta: { ...(f.schema.meta ?? {}), notices: n } } } : f);
      if (q.kind === 'timeseries') {
        const p = timeseriesPlan(store, snap, q, now);
        if (p.points > largest.series * largest.perSeries) largest = { i, series: p.series, perSeries: p.series ? p.points / p.series : 0 };
        planned.push({ refId: q.refId, points: p.points, frames: function* () { for (const f of p.frames()) yield withNotices(f); } });
      } else {
        const frames = framesFor(snap, q, capacity ?? null).map(withNotices);
        planned.push({ refId: q.refId, points: 0, frames: () => frames });
      }
    } catch (err) {
      // Name the query the field belongs to, as zod does for schema errors.
      if (err instanceof ApiError && err.field) {
        throw new ApiError(err.status, err.code, `queries[${i}].${err.message}`, `queries[${i}].${err.field}`);
      }
      throw err;
    }
  });
  const points = planned.reduce((a, p) => a + p.points, 0);
  if (points > POINT_BUDGET) {
    const n = (x: number) => x.toLocaleString('en-US');
    throw new ApiError(
      422,
      'too-many-points',
      `the request asks for up to ${n(points)} points (series × points per series, summed over its timeseries queries); ` +
        `the budget is ${n(POINT_BUDGET)} per request. Narrow it: filter by gpu, engine or vm, lower maxDataPoints, or split the queries ` +
        `(the largest is queries[${largest.i}]: ${n(largest.series)} series × ${n(largest.perSeries)} points)`,
      `queries[${largest.i}]`,
    );
  }
  return planned;
}

function framesFor(snap: Snapshot, q: Query, capacity: CapacityAnswer | null): DataFrameJSON[] {
  switch (q.kind) {
    case 'gpus':
      return [gpusFrame(snap, q)];
    case 'gpu':
      return gpuFrames(snap, q);
    case 'processes':
      return [processesFrame(snap, q)];
    case 'engines':
      return [enginesFrame(snap, q)];
    case 'topology':
      return topologyFrames(buildTopology(topologySnapshot(snap, q.filters), capacity), q.refId);
    case 'timeseries':
      throw new Error('timeseries queries are planned, not framed at once');
  }
}
