import { COLUMNS, gpuEnergyExpr, gpuRowsQuery, header, type QueryContext } from './catalogue.js';
import { queryContext } from './report.js';

const W = { startMs: 0, endMs: 600_000, stepMs: 15_000, source: '--last 10m' };
const ctx = (s: Partial<Parameters<typeof queryContext>[1]> = {}): QueryContext =>
  queryContext(W, { hosts: [], engines: [], models: [], gpus: [], ...s });
const col = (name: string) => COLUMNS.find((c) => c.name === name)!;

describe('report columns', () => {
  it('every column name ends in its unit and is unique', () => {
    const names = header();
    expect(new Set(names).size).toBe(names.length);
    for (const c of COLUMNS) expect(c.name).toMatch(/_(seconds|ratio|bytes|watts|joules|count|tokens|completed|per_second)$/);
  });

  it('quantiles: histogram_quantile of bucket increases over the whole window, grouped per row level with le', () => {
    const c = col('ttft_p99_seconds');
    expect(c.promql('engine', ctx())).toBe(
      'histogram_quantile(0.99, sum by (le, host, engine_id, model) (increase(vllm:time_to_first_token_seconds_bucket[10m])))',
    );
    expect(c.promql('model', ctx())).toContain('sum by (le, model) (');
    expect(c.promql('total', ctx())).toContain('sum by (le) (');
    expect(c.promql('gpu', ctx())).toBeNull();
  });

  it('inter-token latency falls back to the old family per engine', () => {
    expect(col('itl_p50_seconds').promql('engine', ctx())).toContain(
      'increase(vllm:inter_token_latency_seconds_bucket[10m]) or increase(vllm:time_per_output_token_seconds_bucket[10m])',
    );
  });

  it('the selectors reach every engine query, escaped', () => {
    const c = ctx({ models: ['evil"} or up{'], hosts: ['h1', 'h2'] });
    for (const column of COLUMNS.filter((x) => x.scope === 'engine' && x.kind !== 'energy')) {
      expect(column.promql('engine', c)).toContain('host=~"h1|h2", model="evil\\"} or up{"');
    }
  });

  it('GPU gauges: mean and max over a subquery at the step; GPU rows follow --model through gpufleet_engine_gpu', () => {
    expect(col('gpu_utilization_mean_ratio').promql('gpu', ctx())).toBe(
      'avg by (host, gpu_uuid) (avg_over_time(gpufleet_gpu_utilization_ratio[10m:15s]))',
    );
    const q = col('gpu_power_max_watts').promql('gpu', ctx({ models: ['m'] }));
    expect(q).toContain('and on (host, gpu_uuid) max by (host, gpu_uuid) (max_over_time(gpufleet_engine_gpu[10m])');
    expect(q).toContain('gpufleet_engine_info{model="m"}');
    // --gpu given: the GPU rows are those GPUs, whatever runs on them.
    expect(col('gpu_power_max_watts').promql('gpu', ctx({ models: ['m'], gpus: ['1'] }))).not.toContain('gpufleet_engine_gpu');
  });

  it('GPU rows are found with their index', () => {
    expect(gpuRowsQuery(ctx())).toBe('count by (host, gpu_uuid, gpu_index) (last_over_time(gpufleet_gpu_info[10m]))');
  });

  it('energy: the counter where present, else mean power times the window', () => {
    expect(gpuEnergyExpr('gpu', ctx())).toBe(
      'sum by (host, gpu_uuid) ((increase(gpufleet_gpu_energy_joules_total[10m]) or avg_over_time(gpufleet_gpu_power_watts[10m:15s]) * 600))',
    );
  });
});
