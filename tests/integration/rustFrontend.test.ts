// vLLM's Rust frontend from discovery to the topology, on a simulated host: the simulator starts `vllm serve`
// processes whose HTTP server is a real child titled `…/vllm/vllm-rs frontend --listen-fd 3 … --args-json {…}`,
// serving OpenMetrics only on the socket its parent bound and handed down. Neither command line names the port:
// the sidecar reads it from the inherited socket in /proc. A Python-frontend engine runs beside it.
import { json, startSidecar, waitFor, type Running } from './harness.js';

describe('the Rust frontend on a simulated host', () => {
  let s: Running;
  let engines: any[];

  beforeAll(async () => {
    s = await startSidecar(['--simulate', 'rust-frontend', '--interval', '1s']);
    engines = await waitFor('both engines up, with ranks and GPUs', async () => {
      const list = (await json(`${s.base}/api/v1/engines`)).body.engines ?? [];
      const ready = list.length === 2 && list.every((e: any) => e.health === 'up' && e.gpuMapping.status === 'resolved' && e.load.running !== null && e.ranks?.length);
      return ready ? list : undefined;
    }, 60_000);
  }, 120_000);

  afterAll(async () => {
    await s?.stop();
  });

  const rust = () => engines.find((e) => e.model === 'Qwen/Qwen3-8B');
  const python = () => engines.find((e) => e.model === 'Qwen/Qwen3-4B');

  it('finds the Rust-frontend engine once, at the port of its inherited socket, read as OpenMetrics', () => {
    const e = rust();
    expect(e).toMatchObject({ discoveredBy: 'proc', deployment: 'native', metricsFormat: 'openmetrics', answeredAsVllm: true, lastError: null });
    expect(e.id).toMatch(/^sim-rust-frontend:\d+$/);
    expect(e.endpoint).toBe(`http://127.0.0.1:${e.id.split(':')[1]}`);
    // not also a second engine at vLLM's default port (what the `vllm serve` line alone would say)
    expect(engines.filter((x) => x.endpoint.endsWith(':8000'))).toEqual([]);
  });

  it('reads its two data-parallel ranks: per rank and summed, its GPUs mapped rank by rank', () => {
    const e = rust();
    expect(e.parallel.data).toBe(2);
    expect(e.ranks.map((r: any) => r.rank)).toEqual([0, 1]);
    const sum = (k: string) => e.ranks.reduce((a: number, r: any) => a + r[k], 0);
    expect(e.load.running).toBe(sum('running'));
    expect(e.load.waiting).toBe(sum('waiting'));
    expect(e.load.kvCacheUsage).toBe(Math.max(...e.ranks.map((r: any) => r.kvCacheUsage)));
    expect(e.busy).toBe(e.ranks.every((r: any) => r.busy));
    expect(e.workers).toHaveLength(2);
    expect(new Set(e.workers.map((w: any) => w.gpuUuids[0])).size).toBe(2);
  });

  it('keeps the Python frontend beside it working (Prometheus text)', () => {
    expect(python()).toMatchObject({ metricsFormat: 'prometheus-text', lastError: null, gpuMapping: { status: 'resolved' } });
    expect(python().ranks.map((r: any) => r.rank)).toEqual([0]);
  });

  it('draws it in the topology: the engine, its ranks, their GPUs', async () => {
    const topo = (await json(`${s.base}/api/v1/topology`)).body;
    const e = rust();
    const engineNode = topo.nodes.find((n: any) => n.id === `engine:${e.id}`);
    expect(engineNode).toBeDefined();
    for (const w of e.workers) {
      const worker = `worker:${e.id}/${w.rank}`;
      expect(topo.edges).toContainEqual(expect.objectContaining({ source: `engine:${e.id}`, target: worker }));
      expect(topo.edges).toContainEqual(expect.objectContaining({ source: worker, target: `gpu:${w.gpuUuids[0]}` }));
    }
  });

  it('exports its ranks on /metrics by global rank, beside the engine', async () => {
    const text = await (await fetch(`${s.base}/metrics`)).text();
    const e = rust();
    for (const r of e.ranks) {
      expect(text).toContain(`gpufleet_engine_rank_kv_cache_usage_ratio{host="sim-rust-frontend",engine_id="${e.id}",rank="${r.rank}"}`);
      expect(text).toContain(`gpufleet_engine_rank_busy{host="sim-rust-frontend",engine_id="${e.id}",rank="${r.rank}"}`);
    }
    expect(text).toContain(`gpufleet_engine_busy{host="sim-rust-frontend",engine_id="${e.id}"}`);
  });
});
