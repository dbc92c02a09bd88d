// An up vLLM engine with given workers and load, for tests that join engines to GPUs.
import type { Engine, EngineLoad } from '../model.js';

export function engineFixture(id: string, workers: Engine['workers'], over: Partial<Omit<Engine, 'load'>> & { load?: Partial<EngineLoad> } = {}): Engine {
  const { load, ...rest } = over;
  return {
    host: 'h1', id, type: 'vllm', endpoint: `http://127.0.0.1:${id.split(':')[1] ?? '8000'}`, deployment: 'native', model: 'm', servedModels: ['m'],
    maxModelLen: null, version: '0.11.0', health: 'up', parallel: { tensor: workers.length, pipeline: 1, data: 1 }, workers,
    gpuMapping: { status: 'resolved', reason: null },
    load: {
      running: 1, waiting: 0, kvCacheUsage: 0.5, promptTokensPerSec: 1, generationTokensPerSec: 1, preemptions: 0,
      ttftSeconds: { p50: null, p95: null }, itlSeconds: { p50: null, p95: null }, e2eSeconds: { p50: null, p95: null },
      ...load,
    },
    busy: false, discoveredBy: 'proc', lastError: null, lastSeenUpAt: null, answeredAsVllm: true, stale: false,
    ...rest,
  };
}
