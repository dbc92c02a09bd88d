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
