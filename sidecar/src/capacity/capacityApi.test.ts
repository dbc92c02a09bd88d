// GET /api/v1/capacity over HTTP: behind the API's auth, 503 before the first tick, ?model= for one model.
import type { Server } from 'node:http';
import { createApp } from '../api/app.js';
import { SidecarMetrics } from '../api/metrics.js';
import { SourceTracker } from '../collectors/sourceTracker.js';
import { Store } from '../store/store.js';
import { FakeClock } from '../testing/fakeClock.js';
import { engineFixture } from '../testing/engineFixture.js';
import { listenLoopback } from '../testing/listenLoopback.js';
import { wholeGpu } from '../testing/wholeGpu.js';
import { CapacityTracker } from './tracker.js';
import type { CapacityAnswer } from './types.js';

describe('GET /api/v1/capacity', () => {
  let server: Server;
  let base: string;
  let answer: CapacityAnswer | null = null;

  beforeAll(async () => {
    const app = createApp({
      store: new Store({ capacity: 10, maxSeries: 100 }), sources: new SourceTracker(10_000), metrics: new SidecarMetrics({ maxSeries: 10, defaultMetrics: false }),
      version: 't', startedAt: performance.now(), token: 's3cret', capacity: () => answer,
    });
    ({ server, base } = await listenLoopback(app));
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const get = (path: string, token: string | null = 's3cret') => fetch(`${base}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('needs the token like every other route, and says 503 not-ready before the first tick', async () => {
    expect((await get('/api/v1/capacity', null)).status).toBe(401);
    const r = await get('/api/v1/capacity');
    expect(r.status).toBe(503);
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('not-ready');
  });

  it('answers the tick\'s capacity, one model with ?model=, 400 on a bad parameter', async () => {
    const e = (id: string, model: string) => engineFixture(id, [{ rank: 0, pid: 1, gpuUuids: ['GPU-a'], migUuids: [] }], { model });
    answer = new CapacityTracker({ idleHeldAfterMs: 1, idleUtilization: 0.05, unavailableAfterXidMs: 1 }, new FakeClock()).update({
      snap: {
        host: { hostname: 'h1', driverVersion: null, cudaVersion: null, collectedAt: new Date(0).toISOString(), sources: {} as never },
        gpus: [wholeGpu('GPU-a', 0, [1])], engines: [e('h1:1', 'a'), e('h1:2', 'b')],
      },
      lost: [],
    });
    const all = (await (await get('/api/v1/capacity')).json()) as CapacityAnswer;
    expect(Object.keys(all)).toEqual(expect.arrayContaining(['host', 'gpus', 'mig', 'models']));
    expect(all.gpus).toEqual([expect.objectContaining({ uuid: 'GPU-a', index: 0, state: 'busy', since: '2023-11-14T22:13:20.000Z' })]);
    expect(all.models.map((m) => m.model)).toEqual(['a', 'b']);
    const one = (await (await get('/api/v1/capacity?model=b')).json()) as CapacityAnswer;
    expect(one.models.map((m) => m.model)).toEqual(['b']);
    expect(one.gpus).toHaveLength(1);
    expect((await get(`/api/v1/capacity?model=${'x'.repeat(600)}`)).status).toBe(400);
  });
});

// The topology answers (GET /api/v1/topology, a `topology` query) carry each GPU's capacity state, so the
// topology panel draws its chip from the sidecar alone (no Prometheus on a single host).
describe('capacity state in the topology answers', () => {
  let server: Server;
  let base: string;
  let answer: CapacityAnswer | null = null;
  const store = new Store({ capacity: 10, maxSeries: 100 });
  const clock = new FakeClock();
  const idle = { ...wholeGpu('GPU-i', 1, [7]), utilization: { gpu: 0, memory: 0, encoder: 0, decoder: 0 } };
  const snap = {
    host: { hostname: 'h1', driverVersion: null, cudaVersion: null, collectedAt: new Date(clock.wallMs()).toISOString(), sources: {} as never },
    gpus: [wholeGpu('GPU-f', 0, []), idle, wholeGpu('GPU-n', 2, [8])],
    engines: [],
  };

  beforeAll(async () => {
    store.record(snap, true);
    const app = createApp({
      store, sources: new SourceTracker(10_000), metrics: new SidecarMetrics({ maxSeries: 10, defaultMetrics: false }),
      version: 't', startedAt: performance.now(), capacity: () => answer,
    });
    ({ server, base } = await listenLoopback(app));
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const gpuDetails = async () => {
    const topo = (await (await fetch(`${base}/api/v1/topology`)).json()) as { nodes: Array<{ id: string; kind: string; detail: Record<string, unknown> }> };
    const r = await fetch(`${base}/api/v1/query`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ queries: [{ refId: 'T', kind: 'topology' }] }),
    });
    const nodes = ((await r.json()) as any).results.T.frames[0];
    const col = (name: string) => nodes.data.values[nodes.schema.fields.findIndex((f: { name: string }) => f.name === name)] as unknown[] | undefined;
    const frame = new Map<unknown, Record<string, unknown>>();
    col('id')!.forEach((id, i) => frame.set(id, { state: col('detail__capacityState')?.[i], since: col('detail__capacitySince')?.[i], reason: col('detail__capacityReason')?.[i] }));
    const json = new Map(topo.nodes.filter((n) => n.kind === 'gpu').map((n) => [n.id, n.detail]));
    return { frame, json, fields: nodes.schema.fields as Array<{ name: string; type: string }> };
  };

  it('no capacity answer yet: the GPU nodes have no capacity fields, never a guessed state', async () => {
    const { json, fields } = await gpuDetails();
    expect(fields.map((f) => f.name)).not.toContain('detail__capacityState');
    expect(json.get('gpu:GPU-f')).not.toHaveProperty('capacityState');
  });

  it('each GPU node carries the answer\'s state, since (ms epoch) and reason, in the JSON and in the frames', async () => {
    const tracker = new CapacityTracker({ idleHeldAfterMs: 60_000, idleUtilization: 0.05, unavailableAfterXidMs: 600_000 }, clock);
    tracker.update({ snap, lost: [] });
    clock.advance(61_000);
    // As the sidecar does: a publication and its capacity answer together (kept query answers are per publication).
    const next = { ...snap, host: { ...snap.host, collectedAt: new Date(clock.wallMs()).toISOString() } };
    store.record(next, true);
    answer = tracker.update({ snap: next, lost: [] });
    expect(answer.gpus.map((g) => g.state)).toEqual(['free', 'idle-held', 'busy']);
    const { frame, json, fields } = await gpuDetails();
    expect(fields.find((f) => f.name === 'detail__capacitySince')?.type).toBe('number');
    for (const g of answer.gpus) {
      const want = { state: g.state, since: Date.parse(g.since), reason: g.reason };
      // A frame column holds null where a node has no value.
      expect(frame.get(`gpu:${g.uuid}`)).toEqual({ ...want, reason: g.reason ?? null });
      const d = json.get(`gpu:${g.uuid}`)!;
      expect({ state: d.capacityState, since: d.capacitySince, reason: d.capacityReason }).toEqual(want);
    }
    // The idle-held GPU entered its state when the idle time ran out, not when the sidecar first saw it.
    expect(frame.get('gpu:GPU-i')?.since).toBe(clock.wallMs());
    expect(frame.get('gpu:GPU-f')?.since).toBe(clock.wallMs() - 61_000);
    expect(frame.get('gpu:GPU-i')?.reason).toMatch(/idle for 61s/);
  });
});
