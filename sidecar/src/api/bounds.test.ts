// The API's answers stay bounded whatever is asked or recorded: amplifying queries are refused before
// any work and allowed ones are written without holding the event loop; the event log answers a bounded
// page; /metrics is the text rendered at the last tick.
import { FakeClock } from '../testing/fakeClock.js';
import { jest } from '@jest/globals';
import { request } from 'node:http';
import type { Server } from 'node:http';
import { SourceTracker } from '../collectors/sourceTracker.js';
import type { FleetEvent, Snapshot } from '../model.js';
import type { Sample } from '../store/history.js';
import { Store } from '../store/store.js';
import { createApp } from './app.js';
import { SidecarMetrics } from './metrics.js';
import { DEFAULT_MAX_DATA_POINTS, POINT_BUDGET } from './query.js';
import { listenLoopback } from '../testing/listenLoopback.js';

const SERIES = 400;
const TICKS = 1500;
const T0 = Date.now() - TICKS * 1000;

function snapshot(util: number): Snapshot {
  const idle = { status: 'ok' as const };
  return {
    host: {
      hostname: 'node-a', driverVersion: '580.65.06', cudaVersion: '13.0', collectedAt: new Date().toISOString(),
      sources: { gpu: idle, vgpu: idle, xid: idle, engines: idle, docker: idle },
    },
    gpus: [{
      host: 'node-a', uuid: 'GPU-0', index: 0, name: 'NVIDIA H100', pciBusId: '00000000:18:00.0',
      memory: { totalBytes: 80e9, usedBytes: 1e9 }, utilization: { gpu: util, memory: 1, encoder: 0, decoder: 0 },
      temperatureC: 40, powerW: 100, powerLimitW: 700, clocks: { smMHz: 1980, memMHz: 2619 },
      mig: { mode: 'disabled', pendingMode: null, instances: [] }, vgpu: { hostMode: 'none', schedulerPolicy: null, arr: null, instances: [] },
      processes: [], eccUncorrectedVolatile: 0,
    }],
    engines: [],
  };
}

interface Ctx {
  base: string;
  server: Server;
  store: Store;
  metrics: SidecarMetrics;
}

// Generous: the machines that run the suite are shared; nothing here asserts a duration.
jest.setTimeout(60_000);

let ctx: Ctx;

beforeAll(async () => {
  // A host with SERIES GPUs' worth of utilization series over TICKS ticks of history.
  const clock = new FakeClock(T0, 0);
  const store = new Store({ capacity: TICKS, maxSeries: 5000, clock });
  const labels = Array.from({ length: SERIES }, (_, i) => ({ host: 'node-a', gpu: `GPU-${i}`, gpuIndex: String(i), gpuName: 'H100' }));
  for (let t = 0; t < TICKS; t++) {
    const samples: Sample[] = labels.map((l, i) => ({ key: `gpu.utilization|${l.gpu}`, metric: 'gpu.utilization', labels: l, value: (t + i) % 100 }));
    store.history.append(samples);
    clock.advance(1000);
  }
  store.latest = snapshot(10);
  const sources = new SourceTracker(60_000);
  for (const s of ['gpu', 'vgpu', 'engines'] as const) sources.success(s);
  const metrics = new SidecarMetrics({ maxSeries: 5000 });
  metrics.update(snapshot(10), []);
  const app = createApp({ store, sources, metrics, version: 'test', startedAt: performance.now(), token: null });
  const { server, base } = await listenLoopback(app);
  ctx = { base, server, store, metrics };
}, 60_000);

afterAll(() => {
  ctx.server.closeAllConnections();
  ctx.server.close();
});

const tsQuery = (refId: string, extra: Record<string, unknown> = {}) => ({
  refId, kind: 'timeseries', metric: 'gpu.utilization', from: T0, to: Date.now(), ...extra,
});

const post = async (body: unknown) => {
  const r = await fetch(`${ctx.base}/api/v1/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, text: await r.text() };
};

describe('amplifying queries', () => {
  it('refuses a few KB asking for millions of points before doing the work, naming the budget and what to narrow', async () => {
    const body = { queries: ['A', 'B', 'C', 'D', 'E', 'F'].map((r) => tsQuery(r, { maxDataPoints: 20_000 })) };
    expect(JSON.stringify(body).length).toBeLessThan(5000);
    const r = await post(body);
    expect(r.status).toBe(422);
    const err = JSON.parse(r.text).error;
    expect(err.code).toBe('too-many-points');
    expect(err.message).toContain(`the budget is ${POINT_BUDGET.toLocaleString('en-US')} per request`);
    expect(err.message).toMatch(/filter by gpu, engine or vm, lower maxDataPoints/);
    expect(err.field).toBe('queries[0]');
  });

  it('gives each series at most the default number of points when maxDataPoints is absent', async () => {
    const r = await post({ queries: [tsQuery('A', { filters: { gpu: ['GPU-1', 'GPU-2'] } })] });
    expect(r.status).toBe(200);
    const frames = JSON.parse(r.text).results.A.frames;
    expect(frames).toHaveLength(2);
    for (const f of frames) {
      expect(f.data.values[0].length).toBeGreaterThan(DEFAULT_MAX_DATA_POINTS / 2);
      expect(f.data.values[0].length).toBeLessThanOrEqual(DEFAULT_MAX_DATA_POINTS);
    }
  });

  it('writes the largest allowed answer while /healthz keeps answering', async () => {
    // Two queries of every series at 1,000 points: within the budget.
    const body = JSON.stringify({ queries: [tsQuery('A'), tsQuery('B')] });
    let healthzDone = false;
    let healthzBeforeEnd = false;
    const answer = await new Promise<string>((resolve, reject) => {
      const req = request(`${ctx.base}/api/v1/query`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.once('data', () => {
          // The answer has started: a liveness probe now must not wait for the rest of it.
          void fetch(`${ctx.base}/healthz`).then(async (h) => {
            healthzDone = (await h.text()) === 'ok\n';
          });
        });
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          healthzBeforeEnd = healthzDone;
          resolve(Buffer.concat(chunks).toString('utf8'));
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
    const parsed = JSON.parse(answer);
    expect(parsed.results.A.frames).toHaveLength(SERIES);
    expect(parsed.results.B.frames).toHaveLength(SERIES);
    expect(healthzBeforeEnd).toBe(true);
  });
});

describe('events', () => {
  it('answers a bounded page however much flapping was recorded', async () => {
    const model = 'm'.repeat(60_000);
    const now = Date.now();
    for (let i = 0; i < 60; i++) {
      const batch: FleetEvent[] = [];
      for (let e = 0; e < 100; e++) {
        const up = i % 2 === 0;
        batch.push({
          time: new Date(now - 60_000 + i * 1000).toISOString(), host: 'node-a', kind: up ? 'engine-up' : 'engine-down', subject: `node-a:${9000 + e}`,
          text: `engine node-a:${9000 + e} (${model}) ${up ? 'is up' : 'stopped answering'}`,
        });
      }
      ctx.store.addEvents(batch);
    }
    const r = await fetch(`${ctx.base}/api/v1/events?from=${now - 600_000}&to=${now}&limit=10000`);
    const text = await r.text();
    expect(r.status).toBe(200);
    expect(text.length).toBeLessThan(2 * 1024 * 1024);
    const { events } = JSON.parse(text);
    const flapping = events.filter((e: FleetEvent) => e.kind === 'engine-flapping');
    expect(flapping).toHaveLength(100);
    expect(flapping[0].count).toBe(60 - 4);
    const page = (await (await fetch(`${ctx.base}/api/v1/events?from=${now - 600_000}&to=${now}&limit=10`)).json()) as { events: unknown[]; truncated: boolean };
    expect(page.events).toHaveLength(10);
    expect(page.truncated).toBe(true);
    expect((await fetch(`${ctx.base}/api/v1/events?limit=1000000`)).status).toBe(400);
  });
});

describe('/metrics', () => {
  it('serves the text rendered at the last tick: identical until the next one, new after it', async () => {
    const scrape = async () => {
      const r = await fetch(`${ctx.base}/metrics`);
      expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      return r.text();
    };
    const a = await scrape();
    // Work between the scrapes moves the process_* / nodejs_* figures a live rendering would show.
    JSON.stringify(Array.from({ length: 200_000 }, (_, i) => ({ i })));
    const b = await scrape();
    expect(b).toBe(a);
    expect(a).toMatch(/^gpufleet_gpu_utilization_ratio\{host="node-a",gpu_uuid="GPU-0",gpu_index="0"\} 0\.1$/m);
    ctx.metrics.update(snapshot(55), []);
    await ctx.metrics.refresh();
    const c = await scrape();
    expect(c).not.toBe(a);
    expect(c).toMatch(/^gpufleet_gpu_utilization_ratio\{host="node-a",gpu_uuid="GPU-0",gpu_index="0"\} 0\.55$/m);
  });
});
