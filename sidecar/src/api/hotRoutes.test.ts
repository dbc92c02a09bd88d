// The hot routes answer as their Express twins do. A trailing slash takes a request past the hot routes
// (they match exact paths; Express's router is not strict), so each twin is asked side by side.
import { hashSync } from 'bcryptjs';
import type { IncomingMessage, Server } from 'node:http';
import { connect } from 'node:net';
import { SourceTracker } from '../collectors/sourceTracker.js';
import type { Snapshot } from '../model.js';
import { Store } from '../store/store.js';
import { listenLoopback } from '../testing/listenLoopback.js';
import { createApp } from './app.js';
import { Authenticator } from './auth.js';
import { HOT_BODY_LIMIT, parseJsonBody, pathOf, plainJsonBody } from './hotRoutes.js';
import { SidecarMetrics } from './metrics.js';

const snap = (): Snapshot => ({
  host: { hostname: 'node-h', driverVersion: '570.1', cudaVersion: '12.8', collectedAt: new Date().toISOString(), sources: {} as Snapshot['host']['sources'] },
  gpus: [],
  engines: [],
});

interface Opts {
  fill?: boolean;
  auth?: Authenticator;
  maxHeavyRequests?: number;
}

async function start(opts: Opts = {}): Promise<{ server: Server; base: string }> {
  const store = new Store({ capacity: 10, maxSeries: 100 });
  // No source has succeeded: no ages in the answers, so two requests give the same bytes.
  const sources = new SourceTracker(60_000);
  const metrics = new SidecarMetrics({ maxSeries: 100, defaultMetrics: false, host: 'node-h' });
  if (opts.fill !== false) {
    const s = snap();
    store.record(s, true);
    metrics.update(s, []);
    await metrics.render();
  }
  const app = createApp({
    store, sources, metrics, version: 't', startedAt: 0, auth: opts.auth ?? null, maxHeavyRequests: opts.maxHeavyRequests,
    headers: () => ({ 'X-Frame-Options': 'DENY', 'Strict-Transport-Security': 'max-age=1' }),
  });
  return listenLoopback(app);
}

async function answer(url: string, headers: Record<string, string> = {}) {
  const r = await fetch(url, { headers });
  const h = Object.fromEntries([...r.headers].filter(([k]) => k !== 'date'));
  return { status: r.status, headers: h, body: await r.text() };
}

const ROUTES = ['/healthz', '/metrics', '/api/v1/snapshot'];

describe('hot routes', () => {
  const servers: Server[] = [];
  afterAll(() => servers.forEach((s) => s.close()));
  const serve = async (opts: Opts = {}) => {
    const s = await start(opts);
    servers.push(s.server);
    return s.base;
  };

  it.each(ROUTES)('%s: the same status, headers and bytes as the Express route', async (route) => {
    const base = await serve();
    const hot = await answer(`${base}${route}?x=1`);
    const twin = await answer(`${base}${route}/`);
    expect(hot.status).toBe(200);
    expect(hot).toEqual(twin);
    expect(hot.headers['x-frame-options']).toBe('DENY');
    expect(Number(hot.headers['content-length'])).toBe(Buffer.byteLength(hot.body));
  });

  it('not ready yet: Express answers 503 not-ready, as before', async () => {
    const base = await serve({ fill: false });
    const r = await answer(`${base}/api/v1/snapshot`);
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body).error.code).toBe('not-ready');
  });

  it('the heavy-request cap still applies to the snapshot', async () => {
    const base = await serve({ maxHeavyRequests: 0 });
    const r = await answer(`${base}/api/v1/snapshot`);
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('1');
    expect(JSON.parse(r.body).error.code).toBe('overloaded');
    expect((await answer(`${base}/healthz`)).status).toBe(200);
  });

  it('credentials: refusals come from the auth middleware; /healthz stays open', async () => {
    const auth = new Authenticator(() => ({ token: 'tok', basicUsers: new Map([['alice', hashSync('pw', 4)]]) }));
    const base = await serve({ auth });
    for (const route of ['/metrics', '/api/v1/snapshot']) {
      const none = await answer(`${base}${route}`);
      expect(none.status).toBe(401);
      expect(none.headers['www-authenticate']).toContain('Bearer realm="gpufleet"');
      expect(JSON.parse(none.body).error.code).toBe('unauthorized');
      expect((await answer(`${base}${route}`, { authorization: 'Bearer nope' })).status).toBe(401);
      const ok = await answer(`${base}${route}`, { authorization: 'Bearer tok' });
      expect(ok).toEqual(await answer(`${base}${route}/`, { authorization: 'Bearer tok' }));
      expect(ok.status).toBe(200);
      const alice = { authorization: `Basic ${Buffer.from('alice:pw').toString('base64')}` };
      expect((await answer(`${base}${route}`, alice)).status).toBe(200);
      expect((await answer(`${base}${route}`, { authorization: `Basic ${Buffer.from('alice:no').toString('base64')}` })).status).toBe(401);
    }
    expect((await answer(`${base}/healthz`)).status).toBe(200);
  });

  describe('POST /api/v1/query', () => {
    const now = Date.now();
    const query = JSON.stringify({ queries: [{ refId: 'A', kind: 'timeseries', metric: 'gpu.utilization', from: now - 60_000, to: now }] });
    const ask = async (base: string, path: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) => {
      const r = await fetch(`${base}${path}`, { method: 'POST', headers, body });
      const h = Object.fromEntries([...r.headers].filter(([k]) => k !== 'date'));
      return { status: r.status, headers: h, body: await r.text() };
    };

    it.each([
      ['a query answered, then kept', query, {}],
      ['with a UTF-8 charset and a BOM', `\ufeff${query}`, { 'content-type': 'application/json; charset=utf-8' }],
      ['JSON that is not valid', '{"queries": [', {}],
      ['a JSON string (body-parser is strict)', '"x"', {}],
      ['an empty body', '', {}],
      ['another content type', query, { 'content-type': 'text/plain' }],
      ['another charset', query, { 'content-type': 'application/json; charset=latin1' }],
      ['no queries', '{}', {}],
    ])('%s: the same status, headers and bytes as the Express route', async (_name, body, headers) => {
      const base = await serve();
      const h = { 'content-type': 'application/json', ...headers };
      const first = await ask(base, '/api/v1/query', body, h);
      const again = await ask(base, '/api/v1/query', body, h);
      const twin = await ask(base, '/api/v1/query/', body, h);
      expect(first).toEqual(twin);
      expect(again).toEqual(twin);
    });

    it('answers a kept query, and one that is not, and refuses a bad body with the usual error', async () => {
      const base = await serve();
      const ok = await ask(base, '/api/v1/query', query);
      expect(ok.status).toBe(200);
      expect(ok.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(ok.headers['x-frame-options']).toBe('DENY');
      expect(Object.keys(JSON.parse(ok.body).results)).toEqual(['A']);
      expect(await ask(base, '/api/v1/query', query)).toEqual(ok);
      const bad = await ask(base, '/api/v1/query', '{');
      expect(bad.status).toBe(400);
      expect(JSON.parse(bad.body)).toEqual({ error: { code: 'bad-request', message: 'body is not valid JSON', field: 'body' } });
    });

    it('a body still being sent holds its heavy slot, and the answer after it holds one slot only', async () => {
      const base = await serve({ maxHeavyRequests: 1 });
      const sock = connect(Number(new URL(base).port), '127.0.0.1');
      await new Promise((r) => sock.once('connect', r));
      sock.write('POST /api/v1/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"q');
      try {
        let status = 0;
        for (let i = 0; i < 50 && status !== 503; i++) status = (await fetch(`${base}/api/v1/snapshot`)).status;
        expect(status).toBe(503);
      } finally {
        sock.destroy();
      }
      // Refused by the route (400: no queries), so handed on to Express: with one slot in all, a second
      // slot taken there would have been a 503, and a slot not given back would make the next ones 503.
      let after = 503;
      for (let i = 0; i < 50 && after === 503; i++) after = (await ask(base, '/api/v1/query', '{"queries":[]}')).status;
      expect(after).toBe(400);
      expect((await ask(base, '/api/v1/query', '{"queries":[]}')).status).toBe(400);
      expect((await fetch(`${base}/api/v1/snapshot`)).status).toBe(200);
    });

    it('the heavy-request cap and credentials still apply', async () => {
      const capped = await serve({ maxHeavyRequests: 0 });
      expect((await ask(capped, '/api/v1/query', query)).status).toBe(503);
      const auth = new Authenticator(() => ({ token: 'tok', basicUsers: new Map() }));
      const locked = await serve({ auth });
      expect((await ask(locked, '/api/v1/query', query)).status).toBe(401);
      const h = { 'content-type': 'application/json', authorization: 'Bearer tok' };
      expect((await ask(locked, '/api/v1/query', query, h)).status).toBe(200);
      expect((await ask(locked, '/api/v1/query', query, h)).status).toBe(200);
    });
  });

  it('HEAD and other methods go to Express', async () => {
    const base = await serve();
    const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const post = await fetch(`${base}/healthz`, { method: 'POST' });
    expect(post.status).toBe(404);
    expect((await fetch(`${base}/api/v1/query`)).status).toBe(404);
  });
});

describe('pathOf', () => {
  it('drops the query', () => {
    expect(pathOf('/metrics?a=1')).toBe('/metrics');
    expect(pathOf('/metrics')).toBe('/metrics');
    expect(pathOf(undefined)).toBe('');
  });
});

describe('plainJsonBody and parseJsonBody', () => {
  const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
  it('takes only what express.json would read as is, with a declared length under the limit', () => {
    const json = { 'content-type': 'application/json', 'content-length': '10' };
    expect(plainJsonBody(req(json))).toBe(true);
    expect(plainJsonBody(req({ ...json, 'content-type': 'Application/JSON; charset="UTF-8"' }))).toBe(true);
    expect(plainJsonBody(req({ ...json, 'content-encoding': 'gzip' }))).toBe(false);
    expect(plainJsonBody(req({ ...json, 'transfer-encoding': 'chunked' }))).toBe(false);
    expect(plainJsonBody(req({ ...json, 'content-length': String(HOT_BODY_LIMIT + 1) }))).toBe(false);
    expect(plainJsonBody(req({ ...json, 'content-length': '0' }))).toBe(false);
    expect(plainJsonBody(req({ 'content-type': 'application/json' }))).toBe(false);
    expect(plainJsonBody(req({ ...json, 'content-type': 'application/json-patch+json' }))).toBe(false);
  });
  it('parses strictly, as body-parser does', () => {
    expect(parseJsonBody(' {"a":1}')).toEqual({ ok: true, value: { a: 1 } });
    expect(parseJsonBody('\ufeff[1]')).toEqual({ ok: true, value: [1] });
    expect(parseJsonBody('1').ok).toBe(false);
    expect(parseJsonBody('{').ok).toBe(false);
  });
});
