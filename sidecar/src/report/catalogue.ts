// The report's columns: each a name with its unit, the PromQL that computes it for a row level, and its kind.
// Every value is one instant query evaluated at the window's end over a range as long as the window, so the
// numbers are over exactly the window: quantiles from histogram bucket increases over the whole window (not
// an average of quantiles), totals and rates from counter increases (Prometheus handles counter resets), gauges
// as mean and max over a subquery at the report's step.
import { promString, series } from './selectors.js';

/** Row levels: an engine, a model (its engines together), everything selected, a GPU. */
export type Level = 'engine' | 'model' | 'total' | 'gpu';
export type ColumnKind = 'quantile' | 'increase' | 'rate' | 'mean' | 'max' | 'last' | 'energy';

export const ENGINE_KEY = ['host', 'engine_id', 'model'] as const;
export const GPU_KEY = ['host', 'gpu_uuid', 'gpu_index'] as const;

export const GROUP_BY: Record<Level, readonly string[]> = {
  engine: ENGINE_KEY,
  model: ['model'],
  total: [],
  // Not gpu_index: a GPU that falls off the bus loses its index (nvidia-smi answers N/A), and one GPU must stay one row.
  gpu: ['host', 'gpu_uuid'],
};

export interface QueryContext {
  /** The window's length as a PromQL range (`600s`, `10m`). */
  range: string;
  /** The window's length in seconds. */
  seconds: number;
  /** Subquery step (`15s`). */
  step: string;
  /** Matchers for vLLM series (`host="a", model="m"`), may be empty. */
  engineSel: string;
  /** Matchers for the sidecar's engine series (host, engine_id; they have no `model`), may be empty. */
  engineIdSel: string;
  /** Model matchers alone (for joining gpufleet_engine_info), may be empty. */
  modelSel: string;
  /** Matchers for per-GPU series, may be empty. */
  gpuSel: string;
  /** Host matchers alone. */
  hostSel: string;
  /** Whether GPU rows are the GPUs of the selected engines (--engine/--model without --gpu). */
  gpusFollowEngines: boolean;
}

export interface Column {
  /** CSV header: snake_case, the unit last (`ttft_p95_seconds`, `generation_tokens_per_second`). */
  name: string;
  kind: ColumnKind;
  /** Engine columns fill engine, model and total rows; GPU columns GPU and total rows. */
  scope: 'engine' | 'gpu';
  description: string;
  /** The PromQL for a row level; null where the column has no meaning at that level. */
  promql: (level: Level, ctx: QueryContext) => string | null;
}

const by = (level: Level) => `by (${GROUP_BY[level].join(', ')})`;
const sel = series;
const joinSel = (...ms: string[]) => ms.filter(Boolean).join(', ');

/** A histogram's bucket increases over the window, summed per row; `fallback` is an older family name. */
function bucketIncrease(level: Level, ctx: QueryContext, family: string, fallback?: string): string {
  const inc = (f: string) => `increase(${sel(`${f}_bucket`, ctx.engineSel)}[${ctx.range}])`;
  // `or` keeps the current family's series and adds the old one's only for engines without it.
  const inner = fallback ? `${inc(family)} or ${inc(fallback)}` : inc(family);
  return `sum by (${['le', ...GROUP_BY[level]].join(', ')}) (${inner})`;
}

function quantileColumns(prefix: string, what: string, family: string, fallback?: string): Column[] {
  return ([
    [0.5, 'p50'],
    [0.95, 'p95'],
    [0.99, 'p99'],
  ] as const).map(([q, label]) => ({
    name: `${prefix}_${label}_seconds`,
    kind: 'quantile' as const,
    scope: 'engine' as const,
    description: `${what}, ${label} over the window (histogram_quantile of the bucket increases of ${family}${fallback ? `, else ${fallback}` : ''})`,
    promql: (level, ctx) => (level === 'gpu' ? null : `histogram_quantile(${q}, ${bucketIncrease(level, ctx, family, fallback)})`),
  }));
}

function counterColumns(prefix: string, unit: string, what: string, family: string): Column[] {
  return [
    {
      name: `${prefix}_${unit}`,
      kind: 'increase',
      scope: 'engine',
      description: `${what} in the window (increase of ${family})`,
      promql: (level, ctx) => (level === 'gpu' ? null : `sum ${by(level)} (increase(${sel(family, ctx.engineSel)}[${ctx.range}]))`),
    },
    {
      name: `${prefix}_${unit}_per_second`,
      kind: 'rate',
      scope: 'engine',
      description: `${what} per second, averaged over the window (rate of ${family})`,
      promql: (level, ctx) => (level === 'gpu' ? null : `sum ${by(level)} (rate(${sel(family, ctx.engineSel)}[${ctx.range}]))`),
    },
  ];
}

/** A per-engine vLLM gauge (one series per data-parallel rank): mean and max of the ranks' mean over the window. */
function engineGaugeColumns(prefix: string, unit: string, what: string, family: string, fallback?: string): Column[] {
  const series = (ctx: QueryContext) => (fallback ? `(${sel(family, ctx.engineSel)} or ${sel(fallback, ctx.engineSel)})` : sel(family, ctx.engineSel));
  const names = fallback ? `${family}, else ${fallback}` : family;
  return [
    {
      name: `${prefix}_mean_${unit}`,
      kind: 'mean',
      scope: 'engine',
      description: `${what}, mean over the window and the engines' ranks (${names}; sampled at the step)`,
      promql: (level, ctx) => (level === 'gpu' ? null : `avg ${by(level)} (avg_over_time(${series(ctx)}[${ctx.range}:${ctx.step}]))`),
    },
    {
      name: `${prefix}_max_${unit}`,
      kind: 'max',
      scope: 'engine',
      description: `${what}, highest in the window on any rank (${names}; sampled at the step)`,
      promql: (level, ctx) => (level === 'gpu' ? null : `max ${by(level)} (max_over_time(${series(ctx)}[${ctx.range}:${ctx.step}]))`),
    },
  ];
}

/**
 * `expr and on (host, gpu_uuid) <the selected engines' GPUs>` when GPU rows follow --engine/--model: the GPUs
 * gpufleet_engine_gpu put those engines on. `instant`: inside a subquery, the placement at each step; else any
 * time in the window.
 */
export function gpuScope(expr: string, ctx: QueryContext, instant = false): string {
  if (!ctx.gpusFollowEngines) return expr;
  const over = (s: string) => (instant ? s : `max_over_time(${s}[${ctx.range}])`);
  const placed = over(sel('gpufleet_engine_gpu', ctx.engineIdSel));
  const ofModel = ctx.modelSel
    ? ` * on (host, engine_id) group_left () max by (host, engine_id) (${over(sel('gpufleet_engine_info', joinSel(ctx.hostSel, ctx.modelSel)))})`
    : '';
  return `(${expr} and on (host, gpu_uuid) max by (host, gpu_uuid) (${placed}${ofModel}))`;
}

/** A GPU gauge: mean and max per GPU; on the total row the mean of all GPUs (or their sum) and the peak. */
function gpuGaugeColumns(prefix: string, unit: string, what: string, family: string, totalMean: 'avg' | 'sum'): Column[] {
  const over = (fn: string, ctx: QueryContext) => gpuScope(`${fn}(${sel(family, ctx.gpuSel)}[${ctx.range}:${ctx.step}])`, ctx);
  return [
    {
      name: `${prefix}_mean_${unit}`,
      kind: 'mean',
      scope: 'gpu',
      description:
        `${what}, mean over the window (${family} sampled at the step)` +
        (totalMean === 'sum' ? "; total row: the GPUs' sum" : '; total row: the mean over the GPUs'),
      promql: (level, ctx) => {
        if (level === 'gpu') return `avg ${by(level)} (${over('avg_over_time', ctx)})`;
        if (level === 'total') return `${totalMean} (${over('avg_over_time', ctx)})`;
        return null;
      },
    },
    {
      name: `${prefix}_max_${unit}`,
      kind: 'max',
      scope: 'gpu',
      description:
        `${what}, highest in the window (${family} sampled at the step)` +
        (totalMean === 'sum' ? "; total row: the peak of the GPUs' sum" : '; total row: the highest of any GPU'),
      promql: (level, ctx) => {
        if (level === 'gpu') return `max ${by(level)} (${over('max_over_time', ctx)})`;
        if (level !== 'total') return null;
        if (totalMean === 'avg') return `max (${over('max_over_time', ctx)})`;
        return `max_over_time(sum (${gpuScope(sel(family, ctx.gpuSel), ctx, true)})[${ctx.range}:${ctx.step}])`;
      },
    },
  ];
}

/** Energy of a GPU: its energy counter's increase where it has one, else its mean power × the window. */
export function gpuEnergyExpr(level: Level, ctx: QueryContext): string | null {
  if (level !== 'gpu' && level !== 'total') return null;
  const counter = `increase(${sel('gpufleet_gpu_energy_joules_total', ctx.gpuSel)}[${ctx.range}])`;
  const power = `avg_over_time(${sel('gpufleet_gpu_power_watts', ctx.gpuSel)}[${ctx.range}:${ctx.step}]) * ${ctx.seconds}`;
  // Both sides carry the sidecar's labels (host, gpu_uuid, gpu_index, job, instance): `or` picks per GPU.
  return `sum ${by(level)} (${gpuScope(`(${counter} or ${power})`, ctx)})`;
}

/** Which GPUs have the energy counter (the others' energy comes from power): the source of gpu_energy_joules. */
export function gpuEnergyCounterPresence(ctx: QueryContext): string {
  return `count ${by('gpu')} (${gpuScope(`last_over_time(${sel('gpufleet_gpu_energy_joules_total', ctx.gpuSel)}[${ctx.range}])`, ctx)})`;
}

function engineEnergyExpr(level: Level, ctx: QueryContext): string | null {
  if (level === 'gpu') return null;
  // The sidecar's engine series carry host and engine_id; the model comes from gpufleet_engine_info.
  const info = `max by (host, engine_id, model) (last_over_time(${sel('gpufleet_engine_info', joinSel(ctx.hostSel, ctx.modelSel))}[${ctx.range}]))`;
  const inc = `increase(${sel('gpufleet_engine_energy_joules_total', ctx.engineIdSel)}[${ctx.range}])`;
  return `sum ${by(level)} (${inc} * on (host, engine_id) group_left (model) ${info})`;
}

export const COLUMNS: readonly Column[] = [
  ...counterColumns('requests', 'completed', 'Requests finished (any reason)', 'vllm:request_success_total'),
  ...counterColumns('prompt', 'tokens', 'Prompt (prefill) tokens processed', 'vllm:prompt_tokens_total'),
  ...counterColumns('generation', 'tokens', 'Generated tokens', 'vllm:generation_tokens_total'),
  ...quantileColumns('ttft', 'Time to first token', 'vllm:time_to_first_token_seconds'),
  ...quantileColumns('itl', 'Inter-token latency', 'vllm:inter_token_latency_seconds', 'vllm:time_per_output_token_seconds'),
  ...quantileColumns('e2e', 'End-to-end request latency', 'vllm:e2e_request_latency_seconds'),
  ...quantileColumns('queue_time', 'Time requests waited in the queue', 'vllm:request_queue_time_seconds'),
  ...engineGaugeColumns('kv_cache_usage', 'ratio', 'KV-cache usage', 'vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc'),
  ...engineGaugeColumns('requests_waiting', 'count', 'Requests waiting', 'vllm:num_requests_waiting'),
  {
    name: 'engine_energy_joules',
    kind: 'energy',
    scope: 'engine',
    description: "The engine's share of its GPUs' energy in the window (increase of gpufleet_engine_energy_joules_total); empty where the sidecar does not export it",
    promql: engineEnergyExpr,
  },
  ...gpuGaugeColumns('gpu_utilization', 'ratio', 'GPU utilisation', 'gpufleet_gpu_utilization_ratio', 'avg'),
  ...gpuGaugeColumns('gpu_memory_used', 'bytes', 'GPU memory used', 'gpufleet_gpu_memory_used_bytes', 'sum'),
  ...gpuGaugeColumns('gpu_power', 'watts', 'GPU power draw', 'gpufleet_gpu_power_watts', 'sum'),
  {
    name: 'gpu_energy_joules',
    kind: 'energy',
    scope: 'gpu',
    description:
      'Energy in the window: increase of gpufleet_gpu_energy_joules_total where the GPU has it, else mean gpufleet_gpu_power_watts × the window (energy_source says which); total row: the sum',
    promql: gpuEnergyExpr,
  },
];

/** The label columns that lead every row, then the KPI columns, then where the energy figure came from. */
export const KEY_COLUMNS = ['scope', 'host', 'engine_id', 'model', 'gpu_uuid', 'gpu_index'] as const;
export const TRAILING_COLUMNS = ['energy_source'] as const;

export function header(): string[] {
  return [...KEY_COLUMNS, ...COLUMNS.map((c) => c.name), ...TRAILING_COLUMNS];
}

/** The rows a report has: engines and GPUs present in the window under the selectors. */
export function engineRowsQuery(ctx: QueryContext): string {
  return `count ${by('engine')} (last_over_time({${joinSel(`__name__=~${promString('vllm:(generation_tokens_total|num_requests_running)')}`, ctx.engineSel)}}[${ctx.range}]))`;
}

export function gpuRowsQuery(ctx: QueryContext): string {
  // With gpu_index: the rows show it (a GPU seen with and without one is one row, see rows.ts).
  return `count by (${GPU_KEY.join(', ')}) (${gpuScope(`last_over_time(${sel('gpufleet_gpu_info', ctx.gpuSel)}[${ctx.range}])`, ctx)})`;
}
