// The SLO and efficiency recording rules (prometheus/rules/gpufleet-slo.rules.yml) with Debian's promtool:
// per-engine attainment from vLLM's buckets summed over data-parallel ranks, the inter-token latency taken per
// request where vLLM has it and per token gap otherwise (the `basis` label), tokens per joule, GPU share and
// GPU type per engine. Inputs are synthetic series with round rates, so every expected value is exact.
import { join } from 'node:path';
import { OBJECTIVES, RECORD, SLO_RULES } from '../../provisioning/generate/sloRules.js';
import { ROOT } from './harness.js';
import { promtool, promtoolTestRuleFile } from './promtool.js';

const SLO_FILE = join(ROOT, 'prometheus/rules/gpufleet-slo.rules.yml');
const V = (engineId: string, rank = '0') => `job="vllm-engines",host="h1",engine_id="${engineId}",model="m-${engineId}",engine="${rank}",model_name="m"`;
/** Cumulative buckets growing by `perMinute[i]` a minute for each bound of `les` (ending in +Inf). */
const hist = (metric: string, labels: string, les: string[], perMinute: number[]): Array<[string, string]> =>
  les.map((le, i) => [`${metric}_bucket{${labels},le="${le}"}`, `0+${perMinute[i]}x20`]);
const out = (engineId: string) => `host="h1", engine_id="${engineId}", job="vllm-engines", model="m-${engineId}"`;

const SERIES: Array<[string, string]> = [
  // e1, vLLM 0.11 with two data-parallel ranks: TTFT within 0.5 s for 6 of 10 requests a minute on rank 0 and
  // 2 of 10 on rank 1 (40 % together); per-request TPOT (used) beside the per-token ITL (not used).
  ...hist('vllm:time_to_first_token_seconds', V('e1', '0'), ['0.5', '2.5', '+Inf'], [6, 10, 10]),
  ...hist('vllm:time_to_first_token_seconds', V('e1', '1'), ['0.5', '2.5', '+Inf'], [2, 9, 10]),
  ...hist('vllm:request_time_per_output_token_seconds', V('e1'), ['0.1', '+Inf'], [15, 20]),
  ...hist('vllm:inter_token_latency_seconds', V('e1'), ['0.1', '+Inf'], [100, 4000]),
  ...hist('vllm:time_per_output_token_seconds', V('e1'), ['0.1', '+Inf'], [100, 4000]),
  ...hist('vllm:e2e_request_latency_seconds', V('e1'), ['30.0', '+Inf'], [19, 20]),
  [`vllm:e2e_request_latency_seconds_count{${V('e1')}}`, '0+20x20'],
  // e4: broken buckets (they fall as le grows, +Inf below the others): no attainment at all.
  ...hist('vllm:time_to_first_token_seconds', V('e4'), ['0.5', '2.5', '+Inf'], [30, 25, 10]),
  // e2, vLLM 0.10.1: only the old per-token histogram.
  ...hist('vllm:time_per_output_token_seconds', V('e2'), ['0.1', '+Inf'], [3000, 4000]),
  // e3, vLLM 0.12: the new per-token name and the deprecated one, the same data.
  ...hist('vllm:inter_token_latency_seconds', V('e3'), ['0.1', '+Inf'], [1000, 4000]),
  ...hist('vllm:time_per_output_token_seconds', V('e3'), ['0.1', '+Inf'], [1000, 4000]),
  // e1's tokens (both ranks), energy and GPUs: 20 generated and 20 prompt tokens/s on 200 W.
  [`vllm:generation_tokens_total{${V('e1', '0')}}`, '0+600x20'],
  [`vllm:generation_tokens_total{${V('e1', '1')}}`, '0+600x20'],
  [`vllm:prompt_tokens_total{${V('e1', '0')}}`, '0+1200x20'],
  ['gpufleet_engine_energy_joules_total{job="gpufleet-sidecar",instance="h1:9740",host="h1",engine_id="e1"}', '0+12000x20'],
  ['gpufleet_engine_info{job="gpufleet-sidecar",instance="h1:9740",host="h1",engine_id="e1",type="vllm",model="m-e1",endpoint="http://127.0.0.1:8001",deployment="native",version="0.11.0"}', '1x20'],
  ['gpufleet_engine_power_share_ratio{job="gpufleet-sidecar",instance="h1:9740",host="h1",engine_id="e1",gpu_uuid="GPU-a"}', '1x20'],
  ['gpufleet_engine_power_share_ratio{job="gpufleet-sidecar",instance="h1:9740",host="h1",engine_id="e1",gpu_uuid="GPU-b"}', '0.5x20'],
  ['gpufleet_engine_gpu{job="gpufleet-sidecar",instance="h1:9740",host="h1",engine_id="e1",rank="0",gpu_uuid="GPU-a"}', '1x20'],
  ['gpufleet_engine_gpu{job="gpufleet-sidecar",instance="h1:9740",host="h1",engine_id="e1",rank="1",gpu_uuid="GPU-b"}', '1x20'],
  ...['GPU-a', 'GPU-b'].map((u, i): [string, string] => [
    `gpufleet_gpu_info{job="gpufleet-sidecar",instance="h1:9740",host="h1",gpu_uuid="${u}",gpu_index="${i}",name="NVIDIA H100 80GB HBM3",pci_bus_id="${i}",mig_mode="disabled",vgpu_mode="none"}`,
    '1x20',
  ]),
];

interface Expect {
  expr: string;
  samples: Array<[string, number]>;
}

const EXPECTS: Expect[] = [
  {
    expr: RECORD.attainment,
    samples: [
      [`${RECORD.attainment}{${out('e1')}, le="2.5", slo="ttft"}`, 0.95],
      [`${RECORD.attainment}{${out('e1')}, le="0.1", slo="itl", basis="request"}`, 0.75],
      [`${RECORD.attainment}{${out('e2')}, le="0.1", slo="itl", basis="token"}`, 0.75],
      [`${RECORD.attainment}{${out('e3')}, le="0.1", slo="itl", basis="token"}`, 0.25],
      [`${RECORD.attainment}{${out('e1')}, le="30.0", slo="e2e"}`, 0.95],
    ],
  },
  {
    // A threshold the dashboard picks: the bound's bucket over +Inf, summed over the ranks first.
    expr: `sum by (engine_id) (${OBJECTIVES[0]?.record}{le="0.5", engine_id="e1"}) / sum by (engine_id) (${OBJECTIVES[0]?.record}{le="+Inf", engine_id="e1"})`,
    samples: [['{engine_id="e1"}', 0.4]],
  },
  {
    // One ITL series per engine and bound, whichever names the engine exports.
    expr: `count by (engine_id, basis) (${OBJECTIVES[1]?.record})`,
    samples: [['{engine_id="e1", basis="request"}', 2], ['{engine_id="e2", basis="token"}', 2], ['{engine_id="e3", basis="token"}', 2]],
  },
  // Requests finished in the five minutes before 10m, as counted.
  { expr: RECORD.requests, samples: [[`${RECORD.requests}{${out('e1')}}`, 100]] },
  { expr: RECORD.generationPerJoule, samples: [[`${RECORD.generationPerJoule}{${out('e1')}}`, 0.1]] },
  { expr: RECORD.tokensPerJoule, samples: [[`${RECORD.tokensPerJoule}{${out('e1')}}`, 0.2]] },
  { expr: RECORD.watts, samples: [[`${RECORD.watts}{host="h1", engine_id="e1", job="gpufleet-sidecar", instance="h1:9740", model="m-e1"}`, 200]] },
  { expr: RECORD.gpuShare, samples: [[`${RECORD.gpuShare}{host="h1", engine_id="e1", job="gpufleet-sidecar", instance="h1:9740", model="m-e1"}`, 1.5]] },
  { expr: RECORD.gpuType, samples: [[`${RECORD.gpuType}{host="h1", engine_id="e1", gpu_type="NVIDIA H100 80GB HBM3"}`, 1]] },
];

describe('SLO and efficiency recording rules (promtool)', () => {
  it('the rule file is valid and holds every rule of the generator', () => {
    expect(promtool(['check', 'rules', SLO_FILE])).toMatch(new RegExp(`SUCCESS: ${SLO_RULES.length} rules found`));
  });

  it('record attainment, ITL basis, tokens per joule, GPU share and type as computed by hand', () => {
    expect(
      promtoolTestRuleFile(
        SLO_FILE,
        SERIES.map(([series, values]) => ({ series, values })),
        // Rounded: rates are sums of float divisions (0.75 comes out as 0.7499999999999999). round() drops
        // the metric name, so the expected series go without it.
        EXPECTS.map((e) => ({
          expr: `round(${e.expr}, 0.0001)`,
          eval_time: '10m',
          exp_samples: e.samples.map(([labels, value]) => ({ labels: labels.replace(/^[^{]+/, ''), value })),
        })),
      ),
    ).toMatch(/SUCCESS/);
  });
});
