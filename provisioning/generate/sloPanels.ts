// The fleet overview's SLO and efficiency rows and their variables, from the SLO recording rules
// (sloRules.ts): attainment per model and engine at thresholds that are bucket bounds, goodput, tokens per
// joule, joules per token and cost per million tokens by model and GPU type.
import type { VariableModel } from '@grafana/schema';
import { promTable, row, stat, timeseries, type Unplaced } from './panels.js';
import { OBJECTIVES, RECORD, brokenHistogramExpr, type Objective } from './sloRules.js';

/** A threshold variable: the objective's bucket bounds only, so the attainment is exact, never interpolated. */
function boundVariable(o: Objective): VariableModel {
  return {
    type: 'custom',
    name: `slo_${o.key}`,
    label: `${o.title} SLO (s, a bucket bound)`,
    description: `${o.title} threshold in seconds. Only vLLM's bucket bounds are offered: a share of requests is exact there.`,
    query: o.bounds.join(','),
    multi: false,
    includeAll: false,
    options: o.bounds.map((v) => ({ text: v, value: v, selected: v === o.default })),
    current: { text: o.default, value: o.default },
    hide: 0 as never,
  } as VariableModel;
}

/** A price the operator types in (Grafana's textbox variable). */
function priceVariable(name: string, label: string, value: string, description: string): VariableModel {
  return {
    type: 'textbox',
    name,
    label,
    description,
    query: value,
    options: [{ text: value, value, selected: true }],
    current: { text: value, value },
    hide: 0 as never,
  } as VariableModel;
}

export const PRICE_KWH = 'price_kwh';
export const PRICE_GPU_HOUR = 'price_gpu_hour';

export function sloVariables(): VariableModel[] {
  return [
    ...OBJECTIVES.map(boundVariable),
    priceVariable(PRICE_KWH, '$/kWh', '0.15', 'Electricity price per kWh, for the cost per million tokens.'),
    priceVariable(PRICE_GPU_HOUR, '$/GPU-hour', '0', 'Rental price of a GPU per hour (0 for GPUs you own); an engine pays for the share of GPU it holds.'),
  ];
}

const SNAP =
  'Thresholds are vLLM histogram bucket bounds (the variables offer only bounds every vLLM version has), so the share is ' +
  'exact at the threshold: no interpolation between buckets.';
const ITL_NOTE =
  'Inter-token latency is per request (its mean time per output token) on vLLM 0.11+, and per token gap on older ' +
  'versions (the share of token gaps within the threshold).';
const GOODPUT_NOTE =
  'Goodput = generated tokens/s × the lowest of the three attainments. Approximated twice: the histograms do not say which ' +
  'requests missed which objective, so the lowest attainment is an upper bound of the share meeting all three; and requests ' +
  'within and outside the SLO are taken to have the same number of tokens (long outputs miss e2e more often, so this leans high).';

/** Selectors of the fleet dashboard: hosts, models and engines chosen. */
function sel(o: { engines?: boolean } = {}): string {
  return `host=~"$host", model=~"$model"${o.engines ? ', engine_id=~"$engine"' : ''}`;
}

/** Share within the variable's threshold, summed by `by` (model, or host + engine); engines with broken buckets left out. */
function attainment(o: Objective, by: string, s: string): string {
  const valid = (le: string) => `${o.record}{le="${le}", ${s}} unless on (host, engine_id) ${brokenHistogramExpr(o, s)}`;
  return `sum by (${by}) (${valid(`$slo_${o.key}`)}) / (sum by (${by}) (${valid('+Inf')}) > 0)`;
}

/** The lowest attainment of the three objectives, by `by`. */
function lowestAttainment(by: string, s: string): string {
  return `min by (${by}) (\n${OBJECTIVES.map((o) => `  label_replace(${attainment(o, by, s)}, "slo", "${o.key}", "", "")`).join('\n  or\n')}\n)`;
}

/** Over the dashboard's time range: the sum of the 5-minute rates, each weighted by its own traffic. */
function attainmentOverRange(o: Objective): string {
  const s = sel({ engines: true });
  return `sum(sum_over_time(${o.record}{le="$slo_${o.key}", ${s}}[$__range])) / (sum(sum_over_time(${o.record}{le="+Inf", ${s}}[$__range])) > 0)`;
}

export function sloRow(): Unplaced[] {
  const m = sel();
  const e = sel({ engines: true });
  return [
    row('SLO attainment and goodput'),
    ...OBJECTIVES.map((o) =>
      stat(`${o.key.toUpperCase()} ≤ $slo_${o.key} s (time range)`, `Share of the selected engines' requests over the dashboard's time range whose ${o.title.toLowerCase()} was within $slo_${o.key} s. ${SNAP}${o.key === 'itl' ? ` ${ITL_NOTE}` : ''}`, {
        expr: attainmentOverRange(o),
      }, { unit: 'percentunit', size: { w: 4, h: 4 }, thresholds: [[null, 'red'], [0.9, 'orange'], [0.99, 'green']] }),
    ),
    stat('Goodput', `Generated tokens/s of the selected engines' requests within all three SLOs, last 5 minutes. ${GOODPUT_NOTE}`, {
      expr: `sum(sum by (model) (${RECORD.generation}{${e}}) * ${lowestAttainment('model', e)})`,
    }, { unit: 'short', size: { w: 6, h: 4 } }),
    stat('Generated tokens/s', 'All generated tokens/s of the selected engines, last 5 minutes: goodput\'s upper limit.', {
      expr: `sum(${RECORD.generation}{${e}})`,
    }, { unit: 'short', size: { w: 6, h: 4 } }),
    promTable('SLO attainment by model', `Per model, the last 5 minutes: share of requests within each threshold, requests/s, generated tokens/s and goodput. ${SNAP} ${ITL_NOTE} ${GOODPUT_NOTE}`, [
      ...OBJECTIVES.map((o) => ({ expr: attainment(o, 'model', m) })),
      { expr: `sum by (model) (${OBJECTIVES[2]?.record}{le="+Inf", ${m}})` },
      { expr: `sum by (model) (${RECORD.generation}{${m}})` },
      { expr: `sum by (model) (${RECORD.generation}{${m}}) * ${lowestAttainment('model', m)}` },
    ], {
      size: { w: 24, h: 7 },
      rename: {
        'Value #A': 'TTFT ≤ $slo_ttft s',
        'Value #B': 'ITL ≤ $slo_itl s',
        'Value #C': 'E2E ≤ $slo_e2e s',
        'Value #D': 'Requests/s',
        'Value #E': 'Tokens/s',
        'Value #F': 'Goodput (tokens/s)',
      },
      unit: { 'TTFT ≤ $slo_ttft s': 'percentunit', 'ITL ≤ $slo_itl s': 'percentunit', 'E2E ≤ $slo_e2e s': 'percentunit' },
    }),
    timeseries('Attainment by model', `Share of requests within each threshold, per model, over 5-minute windows. ${SNAP}`, OBJECTIVES.map((o) => ({
      expr: attainment(o, 'model', m),
      legend: `{{model}} ${o.key} ≤ $slo_${o.key} s`,
    })), { unit: 'percentunit', min: 0, max: 1, size: { w: 12, h: 8 } }),
    timeseries('Goodput by model', `Generated tokens/s within all three SLOs, and all generated tokens/s. ${GOODPUT_NOTE}`, [
      { expr: `sum by (model) (${RECORD.generation}{${m}}) * ${lowestAttainment('model', m)}`, legend: '{{model}} goodput' },
      { expr: `sum by (model) (${RECORD.generation}{${m}})`, legend: '{{model}} all' },
    ], { unit: 'short', min: 0, size: { w: 12, h: 8 } }),
    promTable('SLO attainment by engine', `Per engine, the last 5 minutes. ${SNAP} ${ITL_NOTE}`, [
      ...OBJECTIVES.map((o) => ({ expr: attainment(o, 'host, engine_id, model', e) })),
      { expr: `sum by (host, engine_id, model) (${OBJECTIVES[2]?.record}{le="+Inf", ${e}})` },
    ], {
      size: { w: 24, h: 8 },
      rename: { 'Value #A': 'TTFT ≤ $slo_ttft s', 'Value #B': 'ITL ≤ $slo_itl s', 'Value #C': 'E2E ≤ $slo_e2e s', 'Value #D': 'Requests/s' },
      unit: { 'TTFT ≤ $slo_ttft s': 'percentunit', 'ITL ≤ $slo_itl s': 'percentunit', 'E2E ≤ $slo_e2e s': 'percentunit' },
    }),
  ];
}

// Efficiency: every figure only over engines with an energy figure (a sidecar without the energy counters
// would otherwise add tokens for free).
const typed = (expr: string) => `${expr} * on (host, engine_id) group_left (gpu_type) ${RECORD.gpuType}{host=~"$host"}`;
const withEnergy = (expr: string) => `(${expr} and on (host, engine_id) ${RECORD.watts})`;

function byTypeAndModel(record: string, s: string): string {
  return `sum by (model, gpu_type) (${typed(withEnergy(`${record}{${s}}`))})`;
}

/** Dollars per second of the engines by model and GPU type: energy at $/kWh plus held GPUs at $/GPU-hour. */
function dollarsPerSecond(s: string): string {
  return (
    `(${byTypeAndModel(RECORD.watts, s)} * $${PRICE_KWH} / 3.6e6\n` +
    ` + ${byTypeAndModel(RECORD.gpuShare, s)} * $${PRICE_GPU_HOUR} / 3600)`
  );
}

export function efficiencyRow(): Unplaced[] {
  const m = sel();
  const e = sel({ engines: true });
  const gen = byTypeAndModel(RECORD.generation, m);
  const total = `(${byTypeAndModel(RECORD.generation, m)} + ${byTypeAndModel(RECORD.prompt, m)})`;
  const watts = byTypeAndModel(RECORD.watts, m);
  const cost = 'Cost = energy × $/kWh + GPUs held × $/GPU-hour (a MIG slice or a shared GPU counts for its share, the same share its energy is attributed by).';
  return [
    row('Efficiency'),
    promTable('Efficiency by model and GPU type', `Last 5 minutes, engines with an energy figure (gpufleet_engine_energy_joules_total: the engine's share of its GPUs' energy). ${cost}`, [
      { expr: gen },
      { expr: watts },
      { expr: `${gen} / ${watts}` },
      { expr: `${total} / ${watts}` },
      { expr: `${watts} / ${gen}` },
      { expr: `1e6 * ${dollarsPerSecond(m)} / ${gen}` },
      { expr: `1e6 * ${dollarsPerSecond(m)} / ${total}` },
    ], {
      size: { w: 24, h: 7 },
      rename: {
        'Value #A': 'Generated tokens/s',
        'Value #B': 'Power',
        'Value #C': 'Generated tokens/J',
        'Value #D': 'Tokens/J (prompt + generated)',
        'Value #E': 'J per generated token',
        'Value #F': '$ per 1M generated tokens',
        'Value #G': '$ per 1M tokens',
      },
      unit: { Power: 'watt', '$ per 1M generated tokens': 'currencyUSD', '$ per 1M tokens': 'currencyUSD' },
    }),
    timeseries('Generated tokens per joule by model', 'Generated tokens per joule of the energy attributed to the model\'s engines.', [
      { expr: `sum by (model) (${withEnergy(`${RECORD.generation}{${m}}`)}) / sum by (model) (${RECORD.watts}{${m}})`, legend: '{{model}}' },
    ], { unit: 'short', min: 0, size: { w: 12, h: 8 } }),
    timeseries('$ per 1M generated tokens by model and GPU type', `${cost} Prices from the dashboard's $/kWh and $/GPU-hour.`, [
      { expr: `1e6 * ${dollarsPerSecond(m)} / ${gen}`, legend: '{{model}} on {{gpu_type}}' },
    ], { unit: 'currencyUSD', min: 0, size: { w: 12, h: 8 } }),
    promTable('Efficiency by engine', 'Per engine, last 5 minutes: power attributed to it, generated tokens per joule and tokens (prompt + generated) per joule.', [
      { expr: `sum by (host, engine_id, model) (${RECORD.watts}{${e}})` },
      { expr: `sum by (host, engine_id, model) (${RECORD.generationPerJoule}{${e}})` },
      { expr: `sum by (host, engine_id, model) (${RECORD.tokensPerJoule}{${e}})` },
    ], {
      size: { w: 24, h: 8 },
      rename: { 'Value #A': 'Power', 'Value #B': 'Generated tokens/J', 'Value #C': 'Tokens/J' },
      unit: { Power: 'watt' },
    }),
  ];
}
