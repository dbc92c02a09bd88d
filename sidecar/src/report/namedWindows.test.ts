import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EXIT, ReportError } from './errors.js';
import { annotateStart, annotateStop } from './grafanaAnnotation.js';
import { defaultStateFile, deleteWindow, formatList, parseState, startWindow, stopWindow } from './namedWindows.js';

const empty = { version: 1 as const, windows: [] };

describe('named windows', () => {
  it('start, stop, list, delete', () => {
    const a = startWindow(empty, 'bench-1', 1_000).state;
    expect(() => startWindow(a, 'bench-1', 2_000)).toThrow(/already open/);
    const b = stopWindow(a, 'bench-1', 61_000).state;
    expect(b.windows[0]).toMatchObject({ name: 'bench-1', startMs: 1_000, endMs: 61_000 });
    expect(() => stopWindow(b, 'bench-1', 70_000)).toThrow(/stopped already/);
    expect(formatList(b)).toBe('bench-1\t1970-01-01T00:00:01.000Z\t1970-01-01T00:01:01.000Z  60s\n');
    expect(deleteWindow(b, 'bench-1').windows).toEqual([]);
  });

  it('refuses names that are not plain and unknown windows (exit 2)', () => {
    for (const bad of ['', '../x', 'a b', '-x']) {
      try {
        startWindow(empty, bad, 0);
        throw new Error(`accepted ${bad}`);
      } catch (err) {
        expect((err as ReportError).code).toBe(EXIT.usage);
      }
    }
    expect(() => stopWindow(empty, 'nope', 0)).toThrow(ReportError);
  });

  it('reads its state file defensively and lives under XDG_STATE_HOME', () => {
    expect(() => parseState('{', 'f')).toThrow(/not JSON/);
    expect(() => parseState('{"x":1}', 'f')).toThrow(/not a gpufleet-report state file/);
    expect(parseState('{"windows":[{"name":"a","startMs":1,"endMs":null},{"name":3}]}', 'f').windows).toHaveLength(1);
    expect(defaultStateFile({ XDG_STATE_HOME: '/s' })).toBe('/s/gpufleet/report-windows.json');
  });
});

describe('Grafana annotation (a local server recording the requests; no real Grafana)', () => {
  it('POSTs the start and PATCHes the end with the token', async () => {
    const seen: Array<{ method: string; url: string; auth: string; body: any }> = [];
    const server = createServer((req: IncomingMessage, res) => {
      let text = '';
      req.on('data', (d) => (text += d));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization ?? '', body: JSON.parse(text) });
        res.setHeader('content-type', 'application/json');
        if (req.url?.startsWith('/refuse')) {
          res.statusCode = 401;
          res.end('{"message":"invalid API key"}');
          return;
        }
        res.end(req.method === 'POST' ? '{"message":"Annotation added","id":42}' : '{"message":"Annotation patched"}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const t = { url, token: 'glsa_test', timeoutMs: 5000 };
      const id = await annotateStart(t, 'bench-1', 1000);
      expect(id).toBe(42);
      await annotateStop(t, id, 1000, 61_000);
      expect(seen).toEqual([
        { method: 'POST', url: '/api/annotations', auth: 'Bearer glsa_test', body: { time: 1000, tags: ['gpufleet', 'benchmark-window', 'window:bench-1'], text: 'gpufleet-report window bench-1' } },
        { method: 'PATCH', url: '/api/annotations/42', auth: 'Bearer glsa_test', body: { time: 1000, timeEnd: 61_000 } },
      ]);
      // A Grafana that refuses says so.
      await expect(annotateStart({ ...t, url: `${url}/refuse` }, 'x', 1)).rejects.toThrow(/HTTP 401/);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  }, 30_000);
});
