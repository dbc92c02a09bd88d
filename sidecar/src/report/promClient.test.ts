import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAuth, parseFormats } from './cli.js';
import { EXIT, ReportError } from './errors.js';
import { isLimitError, PromClient, QueryError } from './promClient.js';

/** A stand-in answering like Prometheus' query API, recording what it was asked. */
function fakeProm(answer: (query: string) => { status: number; body: string }): Promise<{ url: string; seen: Array<{ auth: string; query: string }>; server: Server }> {
  const seen: Array<{ auth: string; query: string }> = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (d) => (text += d));
    req.on('end', () => {
      const query = new URLSearchParams(text).get('query') ?? '';
      seen.push({ auth: req.headers.authorization ?? '', query });
      const a = answer(query);
      res.statusCode = a.status;
      res.setHeader('content-type', 'application/json');
      res.end(a.body);
    });
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server })));
}

describe('Prometheus client', () => {
  it('sends the credentials, passes on warnings and infos, and tells limits from other errors', async () => {
    const p = await fakeProm((q) => {
      if (q === 'big') return { status: 422, body: '{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory in query execution"}' };
      if (q === 'bad') return { status: 400, body: '{"status":"error","errorType":"bad_data","error":"parse error"}' };
      return { status: 200, body: '{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[1,"2"]}]},"warnings":["w1"],"infos":["i1"]}' };
    });
    try {
      const c = new PromClient({ url: `${p.url}/`, auth: { kind: 'basic', user: 'u', password: 'p:w' }, timeoutMs: 5000 });
      const a = await c.query('up', 1000);
      expect(a.samples).toEqual([{ metric: { a: 'b' }, value: [1, '2'] }]);
      expect(a.notes).toEqual(['w1', 'i1']);
      expect(p.seen[0]).toEqual({ auth: `Basic ${Buffer.from('u:p:w').toString('base64')}`, query: 'up' });
      await expect(c.query('big', 1000)).rejects.toMatchObject({ limit: true });
      await expect(c.query('bad', 1000)).rejects.toMatchObject({ limit: false });
      await expect(c.query('bad', 1000)).rejects.toBeInstanceOf(QueryError);
    } finally {
      p.server.closeAllConnections();
      p.server.close();
    }
  }, 30_000);

  it('refused credentials and a server that is not Prometheus exit 3', async () => {
    const p = await fakeProm((q) => (q === 'html' ? { status: 200, body: '<html>' } : { status: 401, body: 'no' }));
    try {
      const c = new PromClient({ url: p.url, auth: { kind: 'none' }, timeoutMs: 5000 });
      await expect(c.query('x', 0)).rejects.toMatchObject({ code: EXIT.unreachable });
      await expect(c.query('html', 0)).rejects.toMatchObject({ code: EXIT.unreachable });
    } finally {
      p.server.closeAllConnections();
      p.server.close();
    }
  }, 30_000);

  it('knows the limit messages of Prometheus and VictoriaMetrics', () => {
    expect(isLimitError('exceeded maximum resolution of 11,000 points per timeseries')).toBe(true);
    expect(isLimitError('cannot select more than -search.maxUniqueTimeseries=300000 time series')).toBe(true);
    expect(isLimitError('query timed out in expression evaluation')).toBe(true);
    expect(isLimitError('parse error at char 5')).toBe(false);
  });
});

describe('report flags', () => {
  it('auth: a token file, user:password, or a file of it; never two', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpufleet-auth-'));
    try {
      writeFileSync(join(dir, 'token'), 'abc\n');
      writeFileSync(join(dir, 'basic'), 'me:se:cret\n');
      expect(parseAuth({ tokenFile: join(dir, 'token') })).toEqual({ kind: 'bearer', token: 'abc' });
      expect(parseAuth({ basicAuthFile: join(dir, 'basic') })).toEqual({ kind: 'basic', user: 'me', password: 'se:cret' });
      expect(parseAuth({ basicAuth: 'a:b' })).toEqual({ kind: 'basic', user: 'a', password: 'b' });
      expect(() => parseAuth({ basicAuth: 'nocolon' })).toThrow(ReportError);
      expect(() => parseAuth({ tokenFile: join(dir, 'token'), basicAuth: 'a:b' })).toThrow(/give one of/);
      expect(() => parseAuth({ tokenFile: join(dir, 'missing') })).toThrow(/cannot read/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('formats', () => {
    expect(parseFormats('json, CSV,json')).toEqual(['json', 'csv']);
    expect(() => parseFormats('xml')).toThrow(ReportError);
  });
});
