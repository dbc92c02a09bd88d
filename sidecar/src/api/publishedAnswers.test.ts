// Answers serialised once per publication: a client asking again after a GPU tick or an engine run gets
// that publication, never the one before, while source ages stay those of the moment it asks.
import type { Server } from 'node:http';
import { SourceTracker } from '../collectors/sourceTracker.js';
import type { Engine, Snapshot } from '../model.js';
import { Store } from '../store/store.js';
import { FakeClock } from '../testing/fakeClock.js';
import { listenLoopback } from '../testing/listenLoopback.js';
import { wholeGpu } from '../testing/wholeGpu.js';
import { createApp } from './app.js';
import { SidecarMetrics } from './metrics.js';
import { PublishedAnswers } from './publishedAnswers.js';

const GPU = 'GPU-aaaaaaaa-0000-0000-0000-000000000000';

function snapshotWith(utilization: number, at: number, engines: Engine[] = []): Snapshot {
  const g = wholeGpu(GPU, 0, [4242]);
  g.utilization.gpu = utilization;
  return {
    host: { hostname: 'node-a', driverVersion: '570.124.06', cudaVersion: '12.8', collectedAt: new Date(at).toISOString(), sources: {} as Snapshot['host']['sources'] },
    gpus: [g],
    engines,
  };
}

describe('answers kept per publication (over HTTP)', () => {
  let server: Server;
  let base: string;
  let store: Store;
  let sources: SourceTracker;
  let clock: FakeClock;
  const t0 = Date.now() - 60_000;

  beforeAll(async () => {
    clock = new FakeClock(t0, 0);
    store = new Store({ capacity: 100, maxSeries: 100, clock });
    sources = new SourceTracker(60_000, clock);
    for (let i = 0; i < 3; i++) {
      store.record(snapshotWith(10 + i, clock.wallMs()), true);
      clock.advance(1000);
    }
    sources.success('gpu');
    const app = createApp({ store, sources, metrics: new SidecarMetrics({ maxSeries: 100, defaultMetrics: false }), version: 't', startedAt: 0, token: null });
    ({ server, base } = await listenLoopback(app));
  });
  afterAll(() => server.close());

  const get = async (path: string) => (await fetch(`${base}${path}`)).json() as Promise<Record<string, any>>;
  const query = async (body: unknown) => {
    const res = await fetch(`${base}/api/v1/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as Record<string, any> };
  };
  const lastValue = (body: Record<string, any>) => {
    const values = body.results.A.frames[0].data.values[1] as number[];
    return values[values.length - 1];
  };

  it('snapshot and gpus: each GPU tick is served at once, a repeat within a tick gets the same tick', async () => {
    expect((await get('/api/v1/snapshot')).gpus[0].utilization.gpu).toBe(12);
    expect((await get('/api/v1/gpus')).gpus[0].utilization.gpu).toBe(12);
    store.record(snapshotWith(55, clock.wallMs()), true);
    clock.advance(1000);
    const snap = await get('/api/v1/snapshot');
    expect(snap.gpus[0].utilization.gpu).toBe(55);
    expect(snap.host.collectedAt).toBe(store.latest?.host.collectedAt);
    expect((await get('/api/v1/gpus')).gpus[0].utilization.gpu).toBe(55);
    expect((await get('/api/v1/snapshot')).gpus[0].utilization.gpu).toBe(55);
  });

  it('an engine run (a new latest snapshot without a GPU tick) is served at once too', async () => {
    const engine = { id: 'node-a:8000', model: 'llama' } as unknown as Engine;
    store.latest = { ...(store.latest as Snapshot), engines: [engine] };
    expect((await get('/api/v1/snapshot')).engines.map((e: Engine) => e.id)).toEqual(['node-a:8000']);
  });

  it('source ages are those of the request, not of the publication', async () => {
    const before = (await get('/api/v1/snapshot')).host.sources.gpu.ageSeconds as number;
    clock.advance(5000);
    const after = await get('/api/v1/snapshot');
    expect(after.host.sources.gpu.ageSeconds).toBe(before + 5);
    expect((await get('/api/v1/gpus')).sources.gpu.ageSeconds).toBe(before + 5);
  });

  it('the same timeseries query within a tick is answered alike; after the next tick it has that tick', async () => {
    const body = { queries: [{ refId: 'A', kind: 'timeseries', metric: 'gpu.utilization', from: t0 - 1000, to: Date.now() + 3_600_000 }] };
    const first = await query(body);
    expect(first.status).toBe(200);
    expect(first.type).toMatch(/^application\/json/);
    expect(lastValue(first.body)).toBe(55);
    expect((await query(body)).body).toEqual(first.body);
    store.record(snapshotWith(77, clock.wallMs()), true);
    clock.advance(1000);
    expect(lastValue((await query(body)).body)).toBe(77);
  });

  it('a failing source shows in the next answer to the same query (its notice is part of what is kept)', async () => {
    const body = { queries: [{ refId: 'A', kind: 'gpus' }] };
    expect((await query(body)).body.results.A.frames[0].schema.meta?.notices).toBeUndefined();
    sources.failure('gpu', 'nvidia-smi: exit code 9');
    const notices = (await query(body)).body.results.A.frames[0].schema.meta?.notices as { text: string }[];
    expect(notices.map((n) => n.text).join()).toMatch(/gpu source failed: nvidia-smi: exit code 9/);
    sources.success('gpu');
  });

  it('requests alike that arrive while an answer is built get that answer', async () => {
    store.record(snapshotWith(88, clock.wallMs()), true);
    clock.advance(1000);
    const body = { queries: [{ refId: 'A', kind: 'timeseries', metric: 'gpu.utilization', from: t0 - 1000, to: Date.now() + 3_600_000 }] };
    const answers = await Promise.all(Array.from({ length: 6 }, () => query(body)));
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.body).toEqual(answers[0]?.body);
    }
    expect(lastValue(answers[0]?.body as Record<string, any>)).toBe(88);
  });

  it('a bad request is still refused after a good one was kept', async () => {
    expect((await query({ queries: [{ refId: 'A', kind: 'gpus' }] })).status).toBe(200);
    const bad = await query({ queries: [{ refId: 'A', kind: 'gpus' }], extra: 1 });
    expect(bad.status).toBe(400);
  });
});

describe('PublishedAnswers', () => {
  it('builds once per publication and drops everything at the next one', () => {
    const a = new PublishedAnswers();
    let builds = 0;
    const build = () => `answer ${++builds}`;
    const p1 = {};
    expect(a.get(p1, 'k', build).toString()).toBe('answer 1');
    expect(a.get(p1, 'k', build).toString()).toBe('answer 1');
    const p2 = {};
    expect(a.get(p2, 'k', build).toString()).toBe('answer 2');
    // Back to an older publication: nothing of it is left.
    expect(a.peek(p1, 'k')).toBeUndefined();
  });

  it('lets requests wait for an answer being built, within its publication', async () => {
    const a = new PublishedAnswers();
    const p1 = {};
    expect(a.pending(p1, 'k')).toBeUndefined();
    const done = a.building(p1, 'k');
    const waiting = a.pending(p1, 'k');
    expect(waiting).toBeDefined();
    done(a.keep(p1, 'k', 'built'));
    expect((await waiting)?.toString()).toBe('built');
    expect(a.pending(p1, 'k')).toBeUndefined();
    // A build that ends unkept says so; one of an older publication is not waited for.
    const notKept = a.building(p1, 'big');
    const w2 = a.pending(p1, 'big');
    notKept(null);
    expect(await w2).toBeNull();
    a.building(p1, 'slow');
    expect(a.pending({}, 'slow')).toBeUndefined();
  });

  it('keeps no more entries or bytes than its limits, and still answers past them', () => {
    const a = new PublishedAnswers({ maxEntries: 2, maxBytes: 10 });
    const p = {};
    a.keep(p, 'a', '12345');
    a.keep(p, 'b', '123456');
    expect(a.peek(p, 'b')).toBeUndefined();
    expect(a.keep(p, 'c', 'xyz').toString()).toBe('xyz');
    expect(a.peek(p, 'c')).toBeDefined();
    expect(a.keep(p, 'd', 'x').toString()).toBe('x');
    expect(a.peek(p, 'd')).toBeUndefined();
  });
});
