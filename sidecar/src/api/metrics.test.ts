// The fleet families of /metrics: one host row always, rank → GPU edges without mig_uuid (a MIG rank points
// at its parent GPU), rank → MIG edges apart, per-GPU process counts, and `host` on the collector families.
import type { Engine, Gpu, Snapshot } from '../model.js';
import { parsePromText } from '../engines/promText.js';
import { wholeGpu } from '../testing/wholeGpu.js';
import { SidecarMetrics } from './metrics.js';

function migGpu(): Gpu {
  const g = wholeGpu('GPU-mig', 1, []);
  const inst = (i: number, pids: number[]) => ({
    uuid: `MIG-${i}`, index: i, gpuInstanceId: 7 + i, computeInstanceId: 0, profile: '1g.10gb', multiprocessorCount: 16,
    memory: { totalBytes: 10, usedBytes: 1 },
    processes: pids.map((pid) => ({ pid, name: 'python3', type: 'C', usedMemoryBytes: 1, gpuUuid: g.uuid, migUuid: `MIG-${i}` })),
  });
  return { ...g, utilization: { gpu: null, memory: null, encoder: null, decoder: null }, mig: { mode: 'enabled', pendingMode: null, instances: [inst(0, [21]), inst(1, [22])] } };
}

function engine(id: string, workers: Engine['workers']): Engine {
  return {
    host: 'h1', id, type: 'vllm', endpoint: `http://127.0.0.1:${id.split(':')[1]}`, deployment: 'native', model: 'm', servedModels: ['m'],
    maxModelLen: null, version: '0.11.0', health: 'up', parallel: { tensor: workers.length, pipeline: 1, data: 1 }, workers,
    gpuMapping: { status: 'resolved', reason: null },
    load: {
      running: 1, waiting: 0, kvCacheUsage: 0.5, promptTokensPerSec: 1, generationTokensPerSec: 1, preemptions: 0,
      ttftSeconds: { p50: null, p95: null }, itlSeconds: { p50: null, p95: null }, e2eSeconds: { p50: null, p95: null },
    },
    busy: false, discoveredBy: 'proc', lastError: null, lastSeenUpAt: null, answeredAsVllm: true, stale: false,
  };
}

function snapshot(gpus: Gpu[], engines: Engine[]): Snapshot {
  return {
    host: { hostname: 'h1', driverVersion: '570.124.06', cudaVersion: '12.8', collectedAt: new Date(0).toISOString(), sources: {} as Snapshot['host']['sources'] },
    gpus, engines,
  };
}

async function rows(m: SidecarMetrics, name: string): Promise<Array<Record<string, string | number>>> {
  const expo = parsePromText(await m.render());
  return (expo.byName.get(name) ?? []).map((s) => ({ ...s.labels, value: s.value }));
}

describe('SidecarMetrics fleet families', () => {
  const tp2 = engine('h1:8000', [
    { rank: 0, pid: 11, gpuUuids: ['GPU-a'], migUuids: [] },
    { rank: 1, pid: 12, gpuUuids: ['GPU-b'], migUuids: [] },
  ]);
  const onMig = engine('h1:8001', [{ rank: 0, pid: 21, gpuUuids: ['GPU-mig'], migUuids: ['MIG-0'] }]);
  const gpus = [wholeGpu('GPU-a', 0, [11]), wholeGpu('GPU-b', 2, [12, 13]), migGpu(), wholeGpu('GPU-free', 3, [])];

  it('gpufleet_host_info: one row from the constructor on, with the snapshot\'s driver and CUDA versions after it', async () => {
    const m = new SidecarMetrics({ maxSeries: 100, host: 'h1', version: '9.9.9', defaultMetrics: false });
    expect(await rows(m, 'gpufleet_host_info')).toEqual([{ host: 'h1', version: '9.9.9', driver_version: '', cuda_version: '', value: 1 }]);
    m.update(snapshot([], []), []);
    expect(await rows(m, 'gpufleet_host_info')).toEqual([
      { host: 'h1', version: '9.9.9', driver_version: '570.124.06', cuda_version: '12.8', value: 1 },
    ]);
  });

  it('gpufleet_engine_gpu: one row per rank and physical GPU, a MIG rank on its parent, never a mig_uuid label', async () => {
    const m = new SidecarMetrics({ maxSeries: 100, host: 'h1', defaultMetrics: false });
    m.update(snapshot(gpus, [tp2, onMig]), []);
    expect(await rows(m, 'gpufleet_engine_gpu')).toEqual([
      { host: 'h1', engine_id: 'h1:8000', rank: '0', gpu_uuid: 'GPU-a', value: 1 },
      { host: 'h1', engine_id: 'h1:8000', rank: '1', gpu_uuid: 'GPU-b', value: 1 },
      { host: 'h1', engine_id: 'h1:8001', rank: '0', gpu_uuid: 'GPU-mig', value: 1 },
    ]);
  });

  it('gpufleet_engine_mig: only ranks on MIG instances, with the parent GPU', async () => {
    const m = new SidecarMetrics({ maxSeries: 100, host: 'h1', defaultMetrics: false });
    m.update(snapshot(gpus, [tp2, onMig]), []);
    expect(await rows(m, 'gpufleet_engine_mig')).toEqual([
      { host: 'h1', engine_id: 'h1:8001', rank: '0', gpu_uuid: 'GPU-mig', mig_uuid: 'MIG-0', value: 1 },
    ]);
  });

  it('gpufleet_gpu_processes: compute processes per GPU, MIG instances\' included, 0 for a free GPU', async () => {
    const m = new SidecarMetrics({ maxSeries: 100, host: 'h1', defaultMetrics: false });
    const withXorg = wholeGpu('GPU-x', 4, [31]);
    withXorg.processes.push({ pid: 32, name: 'Xorg', type: 'G', usedMemoryBytes: 1, gpuUuid: 'GPU-x' });
    m.update(snapshot([...gpus, withXorg], []), []);
    const byGpu = Object.fromEntries((await rows(m, 'gpufleet_gpu_processes')).map((r) => [r.gpu_uuid, r.value]));
    expect(byGpu).toEqual({ 'GPU-a': 1, 'GPU-b': 2, 'GPU-mig': 2, 'GPU-free': 0, 'GPU-x': 1 });
  });

  it('gpufleet_engine_rank_*: one row per data-parallel rank by global rank, beside the engine\'s aggregate', async () => {
    const m = new SidecarMetrics({ maxSeries: 100, host: 'h1', defaultMetrics: false });
    const dp: Engine = {
      ...engine('h1:8002', []),
      load: { ...tp2.load, running: 10, waiting: 4, kvCacheUsage: 1 },
      busy: false,
      ranks: [
        { rank: 2, running: 7, waiting: 4, kvCacheUsage: 1, busy: true },
        { rank: 3, running: 3, waiting: 0, kvCacheUsage: 0.85, busy: false },
      ],
    };
    m.update(snapshot([], [dp]), []);
    const el = { host: 'h1', engine_id: 'h1:8002' };
    expect(await rows(m, 'gpufleet_engine_rank_kv_cache_usage_ratio')).toEqual([{ ...el, rank: '2', value: 1 }, { ...el, rank: '3', value: 0.85 }]);
    expect(await rows(m, 'gpufleet_engine_rank_requests_running')).toEqual([{ ...el, rank: '2', value: 7 }, { ...el, rank: '3', value: 3 }]);
    expect(await rows(m, 'gpufleet_engine_rank_requests_waiting')).toEqual([{ ...el, rank: '2', value: 4 }, { ...el, rank: '3', value: 0 }]);
    expect(await rows(m, 'gpufleet_engine_rank_busy')).toEqual([{ ...el, rank: '2', value: 1 }, { ...el, rank: '3', value: 0 }]);
    expect(await rows(m, 'gpufleet_engine_busy')).toEqual([{ ...el, value: 0 }]);
    expect(await rows(m, 'gpufleet_engine_kv_cache_usage_ratio')).toEqual([{ ...el, value: 1 }]);
  });

  it('two GPUs with one UUID: two rows apart by gpu_index, and the duplicate counted', async () => {
    const m = new SidecarMetrics({ maxSeries: 100, host: 'h1', defaultMetrics: false });
    expect(await rows(m, 'gpufleet_gpu_duplicate_uuid_total')).toEqual([{ host: 'h1', value: 0 }]);
    m.update(snapshot([wholeGpu('GPU-same', 0, []), wholeGpu('GPU-same', 1, [])], []), []);
    m.recordDuplicateUuids(1);
    expect((await rows(m, 'gpufleet_gpu_memory_total_bytes')).map((r) => [r.gpu_uuid, r.gpu_index])).toEqual([
      ['GPU-same', '0'],
      ['GPU-same', '1'],
    ]);
    expect(await rows(m, 'gpufleet_gpu_duplicate_uuid_total')).toEqual([{ host: 'h1', value: 1 }]);
  });

  it('collector families carry the host', async () => {
    const m = new SidecarMetrics({ maxSeries: 100, host: 'h1', defaultMetrics: false });
    m.recordCollector('gpu', false, 0.5, 'timeout', 1_700_000_000_000);
    m.recordCollector('engines', true, 0.1, undefined, 1_700_000_000_000);
    expect(await rows(m, 'gpufleet_collector_up')).toEqual([
      { host: 'h1', collector: 'gpu', value: 0 },
      { host: 'h1', collector: 'engines', value: 1 },
    ]);
    expect(await rows(m, 'gpufleet_collector_errors_total')).toEqual([{ host: 'h1', collector: 'gpu', reason: 'timeout', value: 1 }]);
    expect(await rows(m, 'gpufleet_collector_last_success_timestamp_seconds')).toEqual([{ host: 'h1', collector: 'engines', value: 1_700_000_000 }]);
  });

  it('a scrape gets the last publication, rendered once for it; a publication during a rendering waits for the next one', async () => {
    const m = new SidecarMetrics({ maxSeries: 100, host: 'h1', defaultMetrics: false });
    m.update(snapshot([wholeGpu('GPU-a', 0, [])], []), []);
    m.update(snapshot([wholeGpu('GPU-b', 1, [])], []), []);
    // Kept, not rendered: the hot route has no text at once and goes the slow way.
    expect(m.renderedNow()).toBeNull();
    const first = await m.render();
    expect(first).toContain('gpu_uuid="GPU-b"');
    expect(first).not.toContain('gpu_uuid="GPU-a"');
    expect(m.renderedNow()).toBe(first);
    expect(await m.render()).toBe(first);

    m.update(snapshot([wholeGpu('GPU-c', 2, [])], []), []);
    const rendering = m.render();
    m.update(snapshot([wholeGpu('GPU-d', 3, [])], []), []);
    // Whoever asked before the publication gets the text then rendering, whole; nobody after it does.
    const during = await rendering;
    expect(during).toContain('gpu_uuid="GPU-c"');
    expect(during).not.toContain('gpu_uuid="GPU-d"');
    expect(m.renderedNow()).toBeNull();
    const next = await m.render();
    expect(next).toContain('gpu_uuid="GPU-d"');
    expect(next).not.toContain('gpu_uuid="GPU-c"');
  });
});
