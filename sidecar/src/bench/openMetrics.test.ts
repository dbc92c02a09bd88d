import { historyToOpenMetrics, promName } from './openMetrics.js';

describe('history as OpenMetrics for promtool', () => {
  it('writes one gauge family per metric, samples with second timestamps, gaps left out, # EOF last', () => {
    const text = historyToOpenMetrics([
      { metric: 'gpu.utilization', labels: { gpu: 'GPU-1', gpuIndex: '0' }, times: [1_700_000_000_000, 1_700_000_001_000], values: [40, null] },
      { metric: 'gpu.utilization', labels: { gpu: 'GPU-2', gpuIndex: '1' }, times: [1_700_000_000_000], values: [7.5] },
      { metric: 'gpu.power', labels: { gpu: 'GPU-1' }, times: [1_700_000_000_500], values: [300] },
    ]);
    expect(text.split('\n')).toEqual([
      '# TYPE gpufleet_history_gpu_utilization gauge',
      'gpufleet_history_gpu_utilization{gpu="GPU-1",gpuIndex="0"} 40 1700000000.000',
      'gpufleet_history_gpu_utilization{gpu="GPU-2",gpuIndex="1"} 7.5 1700000000.000',
      '# TYPE gpufleet_history_gpu_power gauge',
      'gpufleet_history_gpu_power{gpu="GPU-1"} 300 1700000000.500',
      '# EOF',
      '',
    ]);
  });
  it('escapes label values and drops label names Prometheus would refuse', () => {
    const text = historyToOpenMetrics([{ metric: 'x', labels: { name: 'a "b"\\\nc', 'bad-name': 'v' }, times: [0], values: [1] }]);
    expect(text).toContain('gpufleet_history_x{name="a \\"b\\"\\\\\\nc"} 1 0.000');
    expect(text).not.toContain('bad-name');
  });
  it('names metrics with Prometheus characters only', () => {
    expect(promName('engine.kv-cache.usage')).toBe('gpufleet_history_engine_kv_cache_usage');
  });
});
