// SLO and efficiency recording rules (prometheus/rules/gpufleet-slo.rules.yml), per engine, from vLLM's own
// histograms and counters as Prometheus scrapes them through the sidecar's service discovery (job
// vllm-engines, target labels host, engine_id, model, deployment) and from the sidecar's energy counters.
//
// The bucket rates keep `le`: an SLO threshold is a bucket bound, chosen on the dashboard, and the share of
// requests within it is the bound's bucket over the +Inf bucket (exact at a bound, no interpolation). The
// dashboard sums them per model. Rules aggregate `without` vLLM's per-rank labels (`engine`, the DP rank,
// and `model_name`), never `by`, so operator labels (cluster, rack, …) stay, as in the fleet rules.
import { JOBS } from './ids.js';

export interface RecordingRule {
  record: `gpufleet:engine_${string}`;
  expr: string;
  /** One line for the README table. */
  what: string;
}

/** The SLO objectives: vLLM's histogram, and the bucket bounds a threshold can take. */
export interface Objective {
  key: 'ttft' | 'itl' | 'e2e';
  title: string;
  /** Recording rule holding the per-engine bucket rates. */
  record: `gpufleet:engine_${string}`;
  /**
   * Bounds present in every vLLM version's buckets (V0 and V1), as vLLM writes them (Python floats: "1.0"),
   * which is also how Prometheus 3 normalises `le`. A threshold between two bounds cannot be answered from
   * the buckets without interpolating, so the dashboard offers only these.
   */
  bounds: string[];
  /** The dashboard's default threshold and the one the alert uses. */
  default: string;
}

export const OBJECTIVES: readonly Objective[] = [
  {
    key: 'ttft',
    title: 'Time to first token',
    record: 'gpufleet:engine_ttft_seconds_bucket:rate5m',
    bounds: ['0.1', '0.25', '0.5', '0.75', '1.0', '2.5', '5.0', '7.5', '10.0'],
    default: '2.5',
  },
  {
    key: 'itl',
    title: 'Inter-token latency',
    record: 'gpufleet:engine_itl_seconds_bucket:rate5m',
    bounds: ['0.025', '0.05', '0.075', '0.1', '0.15', '0.2', '0.3', '0.4', '0.5', '0.75', '1.0'],
    default: '0.1',
  },
  {
    key: 'e2e',
    title: 'End-to-end latency',
    record: 'gpufleet:engine_e2e_seconds_bucket:rate5m',
    bounds: ['1.0', '2.5', '5.0', '10.0', '15.0', '20.0', '30.0', '40.0', '50.0', '60.0'],
    default: '30.0',
  },
];

/** The attainment the alert asks for (share of requests within each default threshold). */
export const SLO_TARGET = 0.9;
/** Requests an engine must have finished in the 5 minutes for the alert: one miss in a handful is no trend. */
export const SLO_MIN_REQUESTS = 100;

const E = `job="${JOBS.engines}"`;
const PER_ENGINE = 'without (engine, model_name)';
const rate = (metric: string) => `sum ${PER_ENGINE} (rate(${metric}{${E}}[5m]))`;
const basis = (expr: string, value: 'request' | 'token') => `label_replace(${expr}, "basis", "${value}", "", "")`;

export const RECORD = {
  generation: 'gpufleet:engine_generation_tokens:rate5m',
  prompt: 'gpufleet:engine_prompt_tokens:rate5m',
  watts: 'gpufleet:engine_energy_joules:rate5m',
  gpuShare: 'gpufleet:engine_gpu_share:sum',
  gpuType: 'gpufleet:engine_gpu_type:info',
  generationPerJoule: 'gpufleet:engine_generation_tokens_per_joule:ratio5m',
  tokensPerJoule: 'gpufleet:engine_tokens_per_joule:ratio5m',
  attainment: 'gpufleet:engine_slo_attainment:ratio5m',
  requests: 'gpufleet:engine_requests:increase5m',
} as const;

/**
 * Engines whose recorded buckets are no histogram: a bucket growing faster than +Inf (by more than rate()'s
 * extrapolation can make it) means counts that fall as `le` grows, and any share from them is garbage.
 */
export function brokenHistogramExpr(o: Objective, sel = ''): string {
  const s = sel ? `, ${sel}` : '';
  return `(${o.record}{le!="+Inf"${s}} > on (host, engine_id) group_left () 1.01 * ${o.record}{le="+Inf"${s}})`;
}

/** Bound `le` of an objective's recorded buckets over its +Inf bucket; engines without requests, or with broken buckets, are left out. */
export function attainmentExpr(o: Objective, le: string, sel = ''): string {
  const s = sel ? `, ${sel}` : '';
  return (
    `(${o.record}{le="${le}"${s}} / on (host, engine_id) group_left () (${o.record}{le="+Inf"${s}} > 0)` +
    ` unless on (host, engine_id) ${brokenHistogramExpr(o, sel)})`
  );
}

const [TTFT, ITL, E2E] = OBJECTIVES as [Objective, Objective, Objective];

export const SLO_RULES: readonly RecordingRule[] = [
  {
    record: TTFT.record,
    expr: rate('vllm:time_to_first_token_seconds_bucket'),
    what: 'per-engine rate of vLLM\'s TTFT buckets (`le` kept)',
  },
  {
    record: ITL.record,
    // Per request where vLLM has it (0.11+: each request's mean time per output token, one observation a
    // request); else per token gap (inter_token_latency, 0.10.2+; time_per_output_token before, removed in
    // 0.13), a share of token gaps rather than of requests. `basis` says which.
    expr:
      `${basis(rate('vllm:request_time_per_output_token_seconds_bucket'), 'request')}\nor on (host, engine_id)\n` +
      `${basis(rate('vllm:inter_token_latency_seconds_bucket'), 'token')}\nor on (host, engine_id)\n` +
      `${basis(rate('vllm:time_per_output_token_seconds_bucket'), 'token')}`,
    what: 'per-engine rate of the inter-token latency buckets; `basis="request"` (per-request mean, vLLM 0.11+) or `"token"` (per token gap)',
  },
  {
    record: E2E.record,
    expr: rate('vllm:e2e_request_latency_seconds_bucket'),
    what: 'per-engine rate of vLLM\'s end-to-end request latency buckets',
  },
  {
    record: RECORD.attainment,
    // The default objectives, for the alert and for anyone without the dashboard: the share of the last
    // five minutes' requests within each. `or` across objectives: each has its own `slo` label.
    expr: OBJECTIVES.map((o) => `label_replace(${attainmentExpr(o, o.default)}, "slo", "${o.key}", "", "")`).join('\nor\n'),
    what: `share of requests within the default thresholds (${OBJECTIVES.map((o) => `${o.key} ≤ ${o.default} s`).join(', ')}), label \`slo\``,
  },
  {
    record: RECORD.requests,
    // Requests finished in the window, as counted (increase() extrapolates to the window's edges by half a
    // scrape at most, unlike a rate × 300 on a few seconds of data).
    expr: `sum ${PER_ENGINE} (increase(vllm:e2e_request_latency_seconds_count{${E}}[5m]))`,
    what: 'requests finished in the last 5 minutes per engine (the alert\'s minimum volume)',
  },
  {
    record: RECORD.generation,
    expr: rate('vllm:generation_tokens_total'),
    what: 'generated tokens/s per engine',
  },
  {
    record: RECORD.prompt,
    expr: rate('vllm:prompt_tokens_total'),
    what: 'prompt (prefill) tokens/s per engine',
  },
  {
    record: RECORD.watts,
    // Energy attributed to the engine by the sidecar, as watts, with the engine's model for per-model sums.
    expr:
      'rate(gpufleet_engine_energy_joules_total[5m]) * on (host, engine_id) group_left (model) gpufleet_engine_info',
    what: 'watts attributed to the engine (rate of `gpufleet_engine_energy_joules_total`), with `model`',
  },
  {
    record: RECORD.gpuShare,
    // How much GPU the engine holds, in GPUs: the shares the energy attribution uses (1 per whole GPU, a MIG
    // slice's fraction, a shared GPU's memory share). What a rented GPU-hour is split by.
    expr: 'sum without (gpu_uuid) (gpufleet_engine_power_share_ratio) * on (host, engine_id) group_left (model) gpufleet_engine_info',
    what: 'GPUs the engine holds (sum of `gpufleet_engine_power_share_ratio`), for $/GPU-hour, with `model`',
  },
  {
    record: RECORD.gpuType,
    // One GPU model per engine (`gpu_type` = nvidia-smi's name); an engine spread over two models, which vLLM
    // does not do, gets one of them rather than failing every join.
    expr:
      'topk by (host, engine_id) (1,\n' +
      '  group by (host, engine_id, gpu_type) (\n' +
      '    label_replace(gpufleet_engine_gpu * on (host, gpu_uuid) group_left (name) gpufleet_gpu_info, "gpu_type", "$1", "name", "(.+)")\n' +
      '  )\n' +
      ')',
    what: 'value 1, label `gpu_type`: the GPU model an engine runs on',
  },
  {
    record: RECORD.generationPerJoule,
    expr: `${RECORD.generation} / on (host, engine_id) group_left () (${RECORD.watts} > 0)`,
    what: 'generated tokens per joule per engine',
  },
  {
    record: RECORD.tokensPerJoule,
    expr: `(${RECORD.generation} + ${RECORD.prompt}) / on (host, engine_id) group_left () (${RECORD.watts} > 0)`,
    what: 'prompt + generated tokens per joule per engine',
  },
];

export const SLO_GROUP = 'gpufleet slo and efficiency';

export function sloRules(rules: readonly RecordingRule[] = SLO_RULES) {
  return { groups: [{ name: SLO_GROUP, rules: rules.map((r) => ({ record: r.record, expr: r.expr })) }] };
}
