import { escapeLabelValue, PromLimitError } from './promText.js';
import { keepReadFamilies, parseVllmMetrics } from './vllmMetrics.js';

// A data-parallel API server exports its engines' series side by side, told apart by `engine`.
const DP2 = `
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 3.0
vllm:num_requests_running{engine="1",model_name="m"} 5.0
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="m"} 0.0
vllm:num_requests_waiting{engine="1",model_name="m"} 2.0
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.25
vllm:kv_cache_usage_perc{engine="1",model_name="m"} 0.9
# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc{engine="0",model_name="m"} 0.5
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{engine="0",model_name="m"} 100.0
vllm:prompt_tokens_total{engine="1",model_name="m"} 200.0
# TYPE vllm:request_success_total counter
vllm:request_success_total{engine="1",finished_reason="stop",model_name="m"} 7.0
vllm:request_success_total{engine="1",finished_reason="length",model_name="m"} 2.0
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="1",le="0.1",model_name="m"} 1.0
vllm:time_to_first_token_seconds_bucket{engine="1",le="+Inf",model_name="m"} 4.0
vllm:time_to_first_token_seconds_count{engine="1",model_name="m"} 4.0
vllm:time_to_first_token_seconds_sum{engine="1",model_name="m"} 1.5
# TYPE vllm:cache_config_info gauge
vllm:cache_config_info{block_size="16",engine="0",num_gpu_blocks="1000"} 1.0
vllm:cache_config_info{block_size="16",engine="1",num_gpu_blocks="3000"} 1.0
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1.7e9
`;

describe('parseVllmMetrics', () => {
  it('splits one scrape into its data-parallel engines by the engine label', () => {
    const m = parseVllmMetrics(DP2);
    expect(m.engines.map((e) => [e.engine, e.running, e.waiting, e.kvCacheUsage])).toEqual([
      ['0', 3, 0, 0.25],
      ['1', 5, 2, 0.9],
    ]);
    expect(m.engines.map((e) => e.counters.promptTokens)).toEqual([100, 200]);
    // counters add up over their other labels (finished_reason)
    expect(m.engines.map((e) => e.counters.requestSuccess)).toEqual([null, 9]);
    expect(m.engines[0]?.histograms.ttft).toBeNull();
    expect(m.engines[1]?.histograms.ttft).toEqual({
      les: [0.1, Infinity],
      counts: [1, 4],
      count: 4,
      sum: 1.5,
    });
    expect(m.engines.map((e) => e.cacheConfig?.numGpuBlocks)).toEqual([1000, 3000]);
    expect(m.processStartTimeSeconds).toBe(1.7e9);
  });

  it('prefers kv_cache_usage_perc over the deprecated gpu_cache_usage_perc', () => {
    expect(parseVllmMetrics(DP2).engines[0]?.kvCacheUsageMetric).toBe('vllm:kv_cache_usage_perc');
    const old = parseVllmMetrics('vllm:gpu_cache_usage_perc{model_name="m"} 0.5\n');
    expect(old.engines[0]).toMatchObject({ kvCacheUsage: 0.5, kvCacheUsageMetric: 'vllm:gpu_cache_usage_perc' });
  });

  it('sorts engines numerically, then by name', () => {
    const text = ['10', '2', 'b', '0', 'a'].map((e) => `vllm:num_requests_running{engine="${e}"} 1`).join('\n');
    expect(parseVllmMetrics(text).engines.map((e) => e.engine)).toEqual(['0', '2', '10', 'a', 'b']);
  });

  it('uses inter_token_latency_seconds, else time_per_output_token_seconds', () => {
    const both = parseVllmMetrics(
      [
        'vllm:time_per_output_token_seconds_bucket{le="+Inf"} 9',
        'vllm:inter_token_latency_seconds_bucket{le="1"} 1',
        'vllm:inter_token_latency_seconds_bucket{le="+Inf"} 2',
      ].join('\n')
    ).engines[0];
    expect([both?.itlMetric, both?.histograms.itl?.les.length]).toEqual(['vllm:inter_token_latency_seconds', 2]);
    const tpot = parseVllmMetrics('vllm:time_per_output_token_seconds_bucket{le="+Inf"} 9\n').engines[0];
    expect([tpot?.itlMetric, tpot?.histograms.itl?.les, tpot?.histograms.itl?.counts]).toEqual([
      'vllm:time_per_output_token_seconds',
      [Infinity],
      [9],
    ]);
  });

  it('reads the newer prefix-cache counters, else the deprecated gpu_ ones', () => {
    const e = parseVllmMetrics(
      'vllm:gpu_prefix_cache_queries_total 10\nvllm:gpu_prefix_cache_hits_total 4\nvllm:prefix_cache_queries_total 20\nvllm:prefix_cache_hits_total 5\n'
    ).engines[0];
    expect([e?.counters.prefixCacheQueries, e?.counters.prefixCacheHits]).toEqual([20, 5]);
    const old = parseVllmMetrics('vllm:gpu_prefix_cache_queries_total 10\nvllm:gpu_prefix_cache_hits_total 4\n').engines[0];
    expect([old?.counters.prefixCacheQueries, old?.counters.prefixCacheHits]).toEqual([10, 4]);
  });

  it('null, never garbage, for values out of range, and says why', () => {
    const e = parseVllmMetrics(
      [
        'vllm:num_requests_running -1',
        'vllm:num_requests_waiting NaN',
        'vllm:kv_cache_usage_perc 42',
        'vllm:gpu_cache_usage_perc 0.3',
        'vllm:prompt_tokens_total +Inf',
      ].join('\n')
    ).engines[0];
    expect([e?.running, e?.waiting, e?.counters.promptTokens]).toEqual([null, null, null]);
    // an impossible kv_cache_usage_perc falls back to the other series rather than guessing "percent"
    expect([e?.kvCacheUsage, e?.kvCacheUsageMetric]).toEqual([0.3, 'vllm:gpu_cache_usage_perc']);
    expect([...(e?.problems ?? [])].sort()).toEqual([
      'vllm:kv_cache_usage_perc: outside 0..1',
      'vllm:num_requests_running: not a finite non-negative number',
      'vllm:num_requests_waiting: not a finite non-negative number',
      'vllm:prompt_tokens_total: not a finite non-negative number',
    ]);
  });

  it.each([
    ['not cumulative', 'x_bucket{le="1"} 5\nx_bucket{le="2"} 3\nx_bucket{le="+Inf"} 6', 'bucket counts not cumulative'],
    ['no +Inf bucket', 'x_bucket{le="1"} 5\nx_bucket{le="2"} 6', 'no +Inf bucket'],
    ['bad le', 'x_bucket{le="soon"} 5\nx_bucket{le="+Inf"} 6', 'bucket without a numeric le'],
    ['NaN count', 'x_bucket{le="1"} NaN\nx_bucket{le="+Inf"} 6', 'bucket count not a finite non-negative number'],
  ])('a broken histogram (%s) is null with a problem', (_what, body, problem) => {
    const text = body.replace(/x_/g, 'vllm:e2e_request_latency_seconds_');
    const e = parseVllmMetrics(text).engines[0];
    expect(e?.histograms.e2e).toBeNull();
    expect(e?.problems).toEqual([`vllm:e2e_request_latency_seconds: ${problem}`]);
  });

  it.each([
    ['in rising order', 'x_bucket{le="-0"} 1\nx_bucket{le="1"} 2\nx_bucket{le="+Inf"} 3', [[0, 1], [1, 2], [Infinity, 3]]],
    ['in any order', 'x_bucket{le="+Inf"} 3\nx_bucket{le="1"} 2\nx_bucket{le="0"} 1', [[0, 1], [1, 2], [Infinity, 3]]],
    ['in two series of one engine (added up)', 'x_bucket{a="1",le="1"} 2\nx_bucket{a="1",le="+Inf"} 3\nx_bucket{a="2",le="1"} 1\nx_bucket{a="2",le="+Inf"} 1', [[1, 3], [Infinity, 4]]],
    ['one le written twice, -0 and 0', 'x_bucket{le="-0"} 1\nx_bucket{le="0"} 1\nx_bucket{le="+Inf"} 3', [[0, 2], [Infinity, 3]]],
  ])('histogram buckets %s read as one sorted cumulative list', (_what, body, buckets) => {
    const e = parseVllmMetrics(body.replace(/x_/g, 'vllm:e2e_request_latency_seconds_')).engines[0];
    const h = e?.histograms.e2e;
    const got = h?.les.map((le, i) => [le, h.counts[i]]);
    expect(got).toEqual(buckets);
    // 0, never -0: what a Map key or a sum gives
    expect(got?.every(([le]) => !Object.is(le, -0))).toBe(true);
  });

  it('readings with the same bucket bounds share one bounds array, and other bounds get their own', () => {
    const body = (le: string, n: number) =>
      `vllm:e2e_request_latency_seconds_bucket{le="${le}"} ${n}\nvllm:e2e_request_latency_seconds_bucket{le="+Inf"} ${n + 1}\n`;
    const a = parseVllmMetrics(body('1', 2)).engines[0]?.histograms.e2e;
    const b = parseVllmMetrics(body('1', 5)).engines[0]?.histograms.e2e;
    const c = parseVllmMetrics(body('2', 5)).engines[0]?.histograms.e2e;
    expect(b?.les).toBe(a?.les);
    expect([a?.counts, b?.counts, c?.les, c?.counts]).toEqual([[2, 3], [5, 6], [2, Infinity], [5, 6]]);
  });

  it('label values with quotes, commas, newlines and ANSI escapes stay in their engine', () => {
    const nasty = 'evil",engine="1"} 999\nvllm:num_requests_running{engine="1\u001b[2J';
    const text = [
      `vllm:num_requests_running{engine="0",model_name="${escapeLabelValue(nasty)}"} 2`,
      'vllm:num_requests_running{engine="1",model_name="ok"} 1',
    ].join('\n');
    const m = parseVllmMetrics(text);
    expect(m.skippedLines).toBe(0);
    expect(m.engines.map((e) => [e.engine, e.running, e.modelNames])).toEqual([
      ['0', 2, [nasty]],
      ['1', 1, ['ok']],
    ]);
  });

  it('lists LoRA adapters from lora_requests_info, taking the latest series', () => {
    const e = parseVllmMetrics(
      [
        'vllm:lora_requests_info{max_lora="4",running_lora_adapters="old",waiting_lora_adapters=""} 100',
        'vllm:lora_requests_info{max_lora="4",running_lora_adapters="a,b",waiting_lora_adapters="c"} 200',
      ].join('\n')
    ).engines[0];
    expect(e?.lora).toEqual({ maxLora: 4, running: ['a', 'b'], waiting: ['c'] });
  });

  it('takes families by exact name: newer families that extend an old name never count as it', () => {
    // 0.2x families whose names start with ones we read (OpenMetrics, as the Rust frontend writes them).
    const text = [
      '# TYPE vllm:num_requests_waiting gauge',
      'vllm:num_requests_waiting{model_name="m",engine="0"} 4',
      '# TYPE vllm:num_requests_waiting_by_reason gauge',
      'vllm:num_requests_waiting_by_reason{model_name="m",engine="0",reason="capacity"} 3',
      'vllm:num_requests_waiting_by_reason{model_name="m",engine="0",reason="deferred"} 1',
      '# TYPE vllm:prompt_tokens counter',
      'vllm:prompt_tokens_total{model_name="m",engine="0"} 100',
      '# TYPE vllm:prompt_tokens_cached counter',
      'vllm:prompt_tokens_cached_total{model_name="m",engine="0"} 60',
      '# TYPE vllm:prompt_tokens_by_source counter',
      'vllm:prompt_tokens_by_source_total{model_name="m",engine="0",source="local_compute"} 40',
      '# TYPE vllm:kv_offload_total_bytes counter',
      'vllm:kv_offload_total_bytes_total{model_name="m",engine="0"} 9',
      '# TYPE vllm:kv_offload_store_bytes counter',
      'vllm:kv_offload_store_bytes_total{model_name="m",engine="0"} 9',
      '# TYPE vllm:kv_cache_usage_perc gauge',
      'vllm:kv_cache_usage_perc{model_name="m",engine="0"} 0.5',
      '# TYPE vllm:kv_cache_usage_perc_by_tier gauge',
      'vllm:kv_cache_usage_perc_by_tier{model_name="m",engine="0",tier="cpu"} 0.99',
      '# EOF',
    ].join('\n');
    for (const t of [text, keepReadFamilies(text)]) {
      const [e] = parseVllmMetrics(t).engines;
      expect([e?.waiting, e?.counters.promptTokens, e?.kvCacheUsage]).toEqual([4, 100, 0.5]);
    }
    // Only the families read survive the pre-filter.
    expect(keepReadFamilies(text)).not.toMatch(/by_reason|cached|by_source|offload|by_tier/);
  });

  it('is empty for metrics that are not vLLM', () => {
    const m = parseVllmMetrics('# TYPE up gauge\nup 1\n');
    expect(m.engines).toEqual([]);
  });

  it('passes limits through to the text parser', () => {
    expect(() => parseVllmMetrics(DP2, { limits: { maxSamples: 3 } })).toThrow(PromLimitError);
  });
});
