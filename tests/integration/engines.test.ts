// vLLM engines on the simulated demo host, found the way they would be on a real one: the simulator
// starts fake vLLM servers as real processes titled like vLLM's, the sidecar scans /proc, asks each
// engine over HTTP and joins its ranks with the fake nvidia-smi's GPU processes.
import { execFileSync } from 'node:child_process';
import { json, startSidecar, waitFor, type Running } from './harness.js';

describe('engines on the demo host', () => {
  let s: Running;
  let engines: any[];
  let gpus: any[];

  beforeAll(async () => {
    // No --docker-socket: the simulator's own Docker Engine API, where the demo's container engine runs.
    s = await startSidecar(['--simulate', 'demo', '--interval', '1s']);
    // Every engine up, with load from at least two scrapes and its GPUs found.
    engines = await waitFor('the demo engines up and mapped', async () => {
      const r = await json(`${s.base}/api/v1/engines`);
      const list = r.body.engines ?? [];
      const ready = list.length >= 9 && list.every((e: any) => e.health === 'up' && e.gpuMapping.status === 'resolved' && e.load.running !== null);
      return ready ? list : undefined;
    }, 60_000);
    gpus = (await json(`${s.base}/api/v1/gpus`)).body.gpus;
  }, 90_000);

  afterAll(async () => {
    await s?.stop();
  });

  const gpuIndex = (uuid: string) => gpus.find((g) => g.uuid === uuid)?.index;
  const migOf = (migUuid: string) => gpus.flatMap((g) => g.mig.instances.map((m: any) => ({ g, m }))).find((x) => x.m.uuid === migUuid);

  it('finds a TP=2 engine over two whole GPUs, one rank on each', () => {
    const tp2 = engines.find((e) => e.parallel.tensor === 2);
    expect(tp2).toBeDefined();
    expect(tp2.workers.map((w: any) => w.rank)).toEqual([0, 1]);
    const onGpus = tp2.workers.map((w: any) => gpuIndex(w.gpuUuids[0]));
    expect(new Set(onGpus).size).toBe(2);
    for (const w of tp2.workers) expect(w.migUuids).toEqual([]);
  });

  it('finds one engine per MIG instance of GPU 1, each on an instance that exists', () => {
    const onMig = engines.filter((e) => e.workers.some((w: any) => w.migUuids.length));
    const gpu1 = onMig.filter((e) => e.workers.every((w: any) => gpuIndex(w.gpuUuids[0]) === 1));
    expect(gpu1.length).toBe(gpus.find((g) => g.index === 1).mig.instances.length);
    for (const e of onMig) for (const w of e.workers) for (const m of w.migUuids) expect(migOf(m)).toBeDefined();
  });

  it('finds a data-parallel engine with a rank per engine core', () => {
    const dp = engines.find((e) => e.parallel.data === 2);
    expect(dp).toBeDefined();
    expect(dp.workers).toHaveLength(2);
  });

  it('finds the Docker-deployed engine through the Docker API: container name, image, published port, its MIG instance', async () => {
    const docker = engines.filter((e) => e.deployment === 'docker');
    expect(docker).toHaveLength(1);
    const e = docker[0];
    expect(e).toMatchObject({
      // Port 18023, or the one the simulator chose when another simulated host on this machine holds it.
      container: 'vllm-granite', image: 'vllm/vllm-openai:v0.11.0', discoveredBy: 'docker', endpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      model: 'ibm-granite/granite-3.3-2b-instruct', gpuMapping: { status: 'resolved' },
    });
    // Found once: the process scan sees the same API server, and Docker's answer wins.
    expect(engines.filter((x) => x.endpoint === e.endpoint)).toHaveLength(1);
    expect(e.workers).toHaveLength(1);
    const m = migOf(e.workers[0].migUuids[0]);
    expect(m.g.index).toBe(2);
    const health = (await json(`${s.base}/api/v1/health`)).body;
    expect(health.sources.docker.status).toBe('ok');
    const sd = (await json(`${s.base}/api/v1/sd/engines`)).body;
    expect(sd.find((g: any) => g.labels.engine_id === e.id)?.labels.deployment).toBe('docker');
  });

  it('reads each engine\'s model, version and served models from the engine itself', () => {
    for (const e of engines) {
      expect(e.model).toMatch(/\//);
      expect(e.version).toMatch(/^\d+\.\d+/);
      expect(e.servedModels.length).toBeGreaterThan(0);
      expect(e.load.kvCacheUsage).toBeGreaterThanOrEqual(0);
      expect(e.load.kvCacheUsage).toBeLessThanOrEqual(1);
    }
  });

  it('links engines → ranks → GPUs / MIG instances in the topology', async () => {
    const topo = (await json(`${s.base}/api/v1/topology`)).body;
    const edges = new Set(topo.edges.map((x: any) => `${x.source}>${x.target}`));
    for (const e of engines) {
      for (const w of e.workers) {
        const worker = `worker:${e.id}/${w.rank}`;
        expect(edges.has(`engine:${e.id}>${worker}`)).toBe(true);
        const target = w.migUuids.length ? `mig:${w.migUuids[0]}` : `gpu:${w.gpuUuids[0]}`;
        expect(edges.has(`${worker}>${target}`)).toBe(true);
      }
    }
  });

  it('narrows a topology query to one GPU or one engine (a dashboard drill-down)', async () => {
    const topo = async (filters: Record<string, string>) => {
      const r = await json(`${s.base}/api/v1/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ queries: [{ refId: 'T', kind: 'topology', filters }] }) });
      const nodes = r.body.results.T.frames[0];
      const col = (n: string) => nodes.data.values[nodes.schema.fields.findIndex((f: any) => f.name === n)] as string[];
      return col('id');
    };
    const gpu1 = gpus.find((g) => g.index === 1);
    const onGpu1 = engines.filter((e) => e.workers.some((w: any) => w.gpuUuids.includes(gpu1.uuid))).map((e) => `engine:${e.id}`);
    const ids = await topo({ gpu: gpu1.uuid });
    expect(ids.filter((i) => i.startsWith('gpu:'))).toEqual([`gpu:${gpu1.uuid}`]);
    expect(ids.filter((i) => i.startsWith('mig:'))).toHaveLength(gpu1.mig.instances.length);
    expect(ids.filter((i) => i.startsWith('engine:')).sort()).toEqual(onGpu1.sort());

    const tp2 = engines.find((e) => e.parallel.tensor === 2);
    const byEngine = await topo({ engine: tp2.id });
    expect(byEngine.filter((i) => i.startsWith('engine:'))).toEqual([`engine:${tp2.id}`]);
    expect(byEngine.filter((i) => i.startsWith('gpu:')).sort()).toEqual(tp2.workers.map((w: any) => `gpu:${w.gpuUuids[0]}`).sort());
    expect(await topo({ host: 'another-host' })).toEqual([]);
  });

  it('offers every engine as a Prometheus SD target and the rank edges as gpufleet_engine_gpu / gpufleet_engine_mig', async () => {
    const sd = (await json(`${s.base}/api/v1/sd/engines`)).body;
    expect(sd.map((g: any) => g.labels.engine_id).sort()).toEqual(engines.map((e) => e.id).sort());
    const text = await (await fetch(`${s.base}/metrics`)).text();
    const rows = (name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`));
    // One rank → physical GPU row per rank and GPU, MIG ranks included (to the instance's parent), no mig_uuid.
    const gpuRows = rows('gpufleet_engine_gpu');
    expect(gpuRows).toHaveLength(engines.reduce((n, e) => n + e.workers.reduce((k: number, w: any) => k + w.gpuUuids.length, 0), 0));
    for (const r of gpuRows) expect(r).not.toContain('mig_uuid');
    // One rank → MIG instance row per MIG rank, with the instance's parent GPU.
    const migRows = rows('gpufleet_engine_mig');
    const migRanks = engines.flatMap((e) => e.workers.flatMap((w: any) => w.migUuids.map((m: string) => ({ id: e.id, rank: w.rank, gpu: w.gpuUuids[0], mig: m }))));
    expect(migRanks.length).toBeGreaterThan(0);
    expect(migRows.sort()).toEqual(
      migRanks.map((x) => `gpufleet_engine_mig{host="sim-demo",engine_id="${x.id}",rank="${x.rank}",gpu_uuid="${x.gpu}",mig_uuid="${x.mig}"} 1`).sort(),
    );
  });

  it('reports an engine killed on the host as down within two intervals', async () => {
    const victim = engines.find((e) => e.parallel.tensor === 1 && e.parallel.data === 1) as any;
    const port = new URL(victim.endpoint).port;
    const killedAt = Date.now();
    execFileSync('pkill', ['-KILL', '-f', '--', `--port[= ]${port}( |$)`]);
    const ev = await waitFor('engine-down event', async () => {
      const r = await json(`${s.base}/api/v1/events?kind=engine-down`);
      return r.body.events.find((x: any) => x.subject === victim.id);
    }, 10_000);
    expect(Date.parse(ev.time) - killedAt).toBeLessThan(3000);
    const e = (await json(`${s.base}/api/v1/engines/${encodeURIComponent(victim.id)}`)).body;
    expect(e.health).toBe('down');
  });
});
