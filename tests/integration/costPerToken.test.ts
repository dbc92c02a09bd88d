// "What does a million tokens cost on H100 vs A100 here": the provisioned fleet dashboard's own queries (panel
// "Efficiency by model and GPU type", columns "$ per 1M generated tokens" and "$ per 1M tokens"), with its price
// variables set, evaluated by Debian's promtool over the SLO rule file on synthetic series with round rates: one
// model served on an H100 host and on an A100 host. The expected dollars are worked out here from the inputs.
import { join } from 'node:path';
import { allSelected, interpolate, loadDashboards } from './dashboardQueries.js';
import { ROOT } from './harness.js';
import { promtool, promtoolTestRuleFile } from './promtool.js';

const SLO_FILE = join(ROOT, 'prometheus/rules/gpufleet-slo.rules.yml');
const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';
const PRICE_KWH = 0.15;
const PRICE_GPU_HOUR = 2.5;

interface Engine {
  host: string;
  id: string;
  gpu: string;
  gpuName: string;
  /** Generated and prompt tokens/s, watts attributed, GPUs held (its power share). */
  gen: number;
  prompt: number;
  watts: number;
  share: number;
}

// The H100 engine is faster per watt; the A100 one holds half of its GPU (a MIG slice or a shared GPU).
const ENGINES: Engine[] = [
  { host: 'h100-host', id: 'h100-host:8000', gpu: 'GPU-h', gpuName: 'NVIDIA H100 80GB HBM3', gen: 100, prompt: 300, watts: 500, share: 1 },
  { host: 'a100-host', id: 'a100-host:8000', gpu: 'GPU-a', gpuName: 'NVIDIA A100-SXM4-80GB', gen: 40, prompt: 60, watts: 150, share: 0.5 },
];

/** A counter growing by `perSecond` over 20 one-minute steps. */
const counter = (perSecond: number) => `0+${perSecond * 60}x20`;

function series(e: Engine): Array<{ series: string; values: string }> {
  const v = `job="vllm-engines",host="${e.host}",engine_id="${e.id}",model="${MODEL}",engine="0",model_name="${MODEL}"`;
  const s = `job="gpufleet-sidecar",instance="${e.host}:9740",host="${e.host}"`;
  return [
    { series: `vllm:generation_tokens_total{${v}}`, values: counter(e.gen) },
    { series: `vllm:prompt_tokens_total{${v}}`, values: counter(e.prompt) },
    { series: `gpufleet_engine_energy_joules_total{${s},engine_id="${e.id}"}`, values: counter(e.watts) },
    { series: `gpufleet_engine_info{${s},engine_id="${e.id}",type="vllm",model="${MODEL}",endpoint="http://127.0.0.1:8000",deployment="native",version="0.11.0"}`, values: '1x20' },
    { series: `gpufleet_engine_power_share_ratio{${s},engine_id="${e.id}",gpu_uuid="${e.gpu}"}`, values: `${e.share}x20` },
    { series: `gpufleet_engine_gpu{${s},engine_id="${e.id}",rank="0",gpu_uuid="${e.gpu}"}`, values: '1x20' },
    { series: `gpufleet_gpu_info{${s},gpu_uuid="${e.gpu}",gpu_index="0",name="${e.gpuName}",pci_bus_id="0",mig_mode="disabled",vgpu_mode="none"}`, values: '1x20' },
  ];
}

/** Dollars per second of the engine: its energy at $/kWh, its GPU share at $/GPU-hour. */
const dollarsPerSecond = (e: Engine) => (e.watts * PRICE_KWH) / 3.6e6 + (e.share * PRICE_GPU_HOUR) / 3600;
const round = (x: number) => Math.round(x * 1e4) / 1e4;

describe('cost per million tokens by GPU type, from the fleet dashboard\'s queries (promtool)', () => {
  it('"$ per 1M generated tokens" and "$ per 1M tokens" give each GPU type\'s price of the same model', () => {
    const fleet = loadDashboards(ROOT).find((d) => d.uid === 'gpufleet-fleet');
    const panel = fleet.panels.find((p: any) => p.title === 'Efficiency by model and GPU type');
    const column = (name: string) => {
      const ref = Object.entries(panel.transformations.find((t: any) => t.id === 'organize').options.renameByName).find(([, v]) => v === name)?.[0];
      const target = panel.targets.find((t: any) => `Value #${t.refId}` === ref);
      if (!target) throw new Error(`no column "${name}" in the panel`);
      return interpolate(target.expr, { ...allSelected(fleet), price_kwh: String(PRICE_KWH), price_gpu_hour: String(PRICE_GPU_HOUR) });
    };
    const perGenerated = column('$ per 1M generated tokens');
    const perToken = column('$ per 1M tokens');
    expect(perGenerated).not.toMatch(/\$/);

    const expected = (tokens: (e: Engine) => number) =>
      ENGINES.map((e) => ({ labels: `{gpu_type="${e.gpuName}", model="${MODEL}"}`, value: round((1e6 * dollarsPerSecond(e)) / tokens(e)) }));
    // Written out: H100 (2.0833e-5 + 6.9444e-4) $/s over 100 tokens/s; A100 (6.25e-6 + 3.4722e-4) $/s over 40.
    expect(expected((e) => e.gen).map((x) => x.value)).toEqual([7.1528, 8.8368]);

    expect(
      promtoolTestRuleFile(SLO_FILE, ENGINES.flatMap(series), [
        { expr: `round(${perGenerated}, 0.0001)`, eval_time: '10m', exp_samples: expected((e) => e.gen) },
        { expr: `round(${perToken}, 0.0001)`, eval_time: '10m', exp_samples: expected((e) => e.gen + e.prompt) },
      ]),
    ).toMatch(/SUCCESS/);
  });
});
