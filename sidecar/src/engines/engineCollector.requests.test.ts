// What is asked of an engine each tick. /metrics with prometheus_client's name[] filter (what vLLM
// serves its metrics with), whose answer reads the same as the whole text; /health every 5 s while
// /metrics reads, and in the tick /metrics fails. Against Debian's python3-prometheus-client, in both of the
// registries vLLM uses: the process one, which answers the filter, and the multiprocess one
// (--api-server-count over 1), which answers it empty, so the collector asks whole from then on.
// And servers that are not prometheus_client: one refusing the query, one failing.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { EngineCollector } from './engineCollector.js';

// A vLLM-shaped registry: real prometheus_client metrics, moved at every /metrics request (100 prompt
// and 50 generated tokens, one TTFT of 50 ms), served by its WSGI app as vLLM serves its ASGI one.
// Each request is reported on stdout: path, whether it named samples, and the body's size.
const ENGINE = String.raw`
import json, os, sys
mode = sys.argv[1]
if mode == 'multiprocess':
    os.environ['PROMETHEUS_MULTIPROC_DIR'] = sys.argv[2]
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app, multiprocess
from wsgiref.simple_server import make_server, WSGIRequestHandler
L = ['model_name', 'engine']
M = ('Qwen/Qwen3-4B-FP8', '0')
running = Gauge('vllm:num_requests_running', 'Running.', L, multiprocess_mode='max')
waiting = Gauge('vllm:num_requests_waiting', 'Waiting.', L, multiprocess_mode='max')
kv = Gauge('vllm:kv_cache_usage_perc', 'KV cache usage.', L, multiprocess_mode='max')
prompt = Counter('vllm:prompt_tokens', 'Prefill tokens.', L)
gen = Counter('vllm:generation_tokens', 'Generated tokens.', L)
ttft = Histogram('vllm:time_to_first_token_seconds', 'TTFT.', L, buckets=[0.01, 0.1, 1.0])
spare = [Gauge('vllm:unread_%d' % i, 'Not read by the sidecar.', L, multiprocess_mode='max') for i in range(40)]
running.labels(*M).set(3)
waiting.labels(*M).set(1)
kv.labels(*M).set(0.25)
for g in spare:
    g.labels(*M).set(1)
if mode == 'multiprocess':
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
else:
    registry = REGISTRY
metrics = make_wsgi_app(registry)
def app(environ, start_response):
    path = environ['PATH_INFO']
    if path == '/metrics':
        prompt.labels(*M).inc(100)
        gen.labels(*M).inc(50)
        ttft.labels(*M).observe(0.05)
        body = b''.join(metrics(environ, start_response))
    else:
        body = {'/health': b'', '/version': b'{"version":"0.10.1"}', '/v1/models': b'{"object":"list","data":[]}'}.get(path)
        start_response('200 OK' if body is not None else '404 Not Found', [('Content-Type', 'application/json')])
        body = body or b''
    print(json.dumps({'path': path, 'named': 'name[]' in environ.get('QUERY_STRING', '').replace('%5B%5D', '[]'), 'bytes': len(body)}), flush=True)
    return [body]
class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass
server = make_server('127.0.0.1', 0, app, handler_class=Quiet)
print(json.dumps({'port': server.server_port}), flush=True)
server.serve_forever()
`;

interface Request {
  path: string;
  named: boolean;
  bytes: number;
}

interface PyEngine {
  child: ChildProcess;
  port: number;
  requests: Request[];
}

let dir: string;

async function pyEngine(mode: 'process' | 'multiprocess'): Promise<PyEngine> {
  const prom = mkdtempSync(join(dir, `${mode}-`));
  const child = spawn('/usr/bin/python3', [join(dir, 'engine.py'), mode, prom], { stdio: ['ignore', 'pipe', 'inherit'] });
  const requests: Request[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`python3 engine (${mode}) exited ${code}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const m = JSON.parse(line) as { port?: number } & Request;
      if (m.port !== undefined) resolve(m.port);
      else requests.push(m);
    });
  });
  return { child, port, requests };
}

function collectorFor(port: number): { collector: EngineCollector; tick: () => ReturnType<EngineCollector['collect']> } {
  let t = 1_000_000;
  const clock = { wallMs: () => 1_700_000_000_000 + t, monoMs: () => t };
  const proc = mkdtempSync(join(dir, 'proc-'));
  writeFileSync(join(proc, 'uptime'), '5000.00 9000.00\n');
  const collector = new EngineCollector({
    procPath: proc, dockerSocket: null, engineUrls: [`http://127.0.0.1:${port}`], hostname: 'h', intervalMs: 1000, busyThreshold: 0.9,
    timeoutMs: 5000, graceMs: 60_000, windowMs: 60_000, clock,
  });
  return { collector, tick: () => collector.collect([], (t += 1000)) };
}

const engines: PyEngine[] = [];
const servers: Server[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gpufleet-filter-'));
  writeFileSync(join(dir, 'engine.py'), ENGINE);
});

afterAll(async () => {
  for (const e of engines) e.child.kill('SIGKILL');
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  rmSync(dir, { recursive: true, force: true });
});

describe('/metrics with the name[] filter, against python3-prometheus-client', () => {
  const readings: Record<string, unknown> = {};

  it.each(['process', 'multiprocess'] as const)('reads the same load from the %s registry', async (mode) => {
    const e = await pyEngine(mode);
    engines.push(e);
    const { tick } = collectorFor(e.port);
    let r = await tick();
    for (let i = 0; i < 3; i++) r = await tick();
    const engine = r.engines[0];
    expect(engine).toMatchObject({ health: 'up', lastError: null });
    expect(engine?.load).toMatchObject({ running: 3, waiting: 1, kvCacheUsage: 0.25, promptTokensPerSec: 100, generationTokensPerSec: 50 });
    expect(engine?.load.ttftSeconds.p50).toBeGreaterThan(0.01);
    expect(engine?.load.ttftSeconds.p50).toBeLessThanOrEqual(0.1);
    readings[mode] = engine?.load;
    const scrapes = e.requests.filter((q) => q.path === '/metrics');
    if (mode === 'process') {
      // Every scrape named its samples, and got a fraction of the whole text.
      expect(scrapes.length).toBe(4);
      expect(scrapes.every((q) => q.named)).toBe(true);
      const whole = Buffer.byteLength(await (await fetch(`http://127.0.0.1:${e.port}/metrics`)).text());
      expect(Math.max(...scrapes.map((q) => q.bytes))).toBeLessThan(whole / 2);
    } else {
      // The filter answered empty once; asked whole in that same tick and from then on.
      expect(scrapes.map((q) => [q.named, q.bytes > 0])).toEqual([[true, false], [false, true], [false, true], [false, true], [false, true]]);
    }
  });

  it('both registries read alike', () => {
    expect(readings.multiprocess).toEqual(readings.process);
  });
});

/** An HTTP server answering /metrics (whole, plain) and what `onFiltered` says to /metrics?…; logs each request's URL. */
async function plainServer(onFiltered: (res: ServerResponse) => void): Promise<{ server: Server; port: number; urls: string[] }> {
  const body = 'vllm:num_requests_running{engine="0",model_name="m"} 2.0\nvllm:num_requests_waiting{engine="0",model_name="m"} 0.0\n';
  const urls: string[] = [];
  const server = createServer((req, res) => {
    urls.push(req.url ?? '');
    if (req.url === '/metrics') res.end(body);
    else if (req.url?.startsWith('/metrics?')) onFiltered(res);
    else if (req.url === '/version') res.end('{"version":"0.10.1"}');
    else if (req.url === '/v1/models') res.end('{"object":"list","data":[]}');
    else res.end();
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, urls };
}

describe('/metrics with the name[] filter, against servers that are not prometheus_client', () => {
  it('asks whole, in the same tick and from then on, when the query is refused', async () => {
    const s = await plainServer((res) => {
      res.statusCode = 404;
      res.end('{"detail":"Not Found"}');
    });
    const { tick } = collectorFor(s.port);
    const first = await tick();
    expect(first.engines[0]).toMatchObject({ health: 'up', lastError: null, load: expect.objectContaining({ running: 2 }) });
    await tick();
    expect(s.urls.filter((u) => u.startsWith('/metrics'))).toEqual([expect.stringMatching(/^\/metrics\?name%5B%5D=/), '/metrics', '/metrics']);
  });

  it('keeps the filter, and says what failed, when the engine fails it with a server error', async () => {
    const s = await plainServer((res) => {
      res.statusCode = 500;
      res.end('Internal Server Error');
    });
    const { tick } = collectorFor(s.port);
    const r = await tick();
    expect(r.engines[0]?.lastError).toBe(`GET http://127.0.0.1:${s.port}/metrics: HTTP 500`);
    await tick();
    // No second request to hide a failing engine behind: one filtered scrape per tick.
    expect(s.urls.filter((u) => u.startsWith('/metrics'))).toEqual([expect.stringMatching(/^\/metrics\?/), expect.stringMatching(/^\/metrics\?/)]);
  });
});

describe('/health while /metrics reads', () => {
  const refuseFilter = (res: ServerResponse) => {
    res.statusCode = 404;
    res.end();
  };

  it('is asked every 5 s, /metrics every tick', async () => {
    const s = await plainServer(refuseFilter);
    const { tick } = collectorFor(s.port);
    for (let i = 0; i < 16; i++) expect((await tick()).engines[0]).toMatchObject({ health: 'up', lastError: null });
    expect(s.urls.filter((u) => u === '/health').length).toBe(4);
    expect(s.urls.filter((u) => u === '/metrics').length).toBe(16);
  });

  it('is asked in the tick /metrics fails: a server gone is down in that tick, with an event', async () => {
    const s = await plainServer(refuseFilter);
    const { tick } = collectorFor(s.port);
    await tick();
    await tick();
    expect(s.urls.filter((u) => u === '/health').length).toBe(1);
    await new Promise((r) => {
      s.server.close(r);
      s.server.closeAllConnections();
    });
    const r = await tick();
    expect(r.engines[0]).toMatchObject({ health: 'down', load: expect.objectContaining({ running: null }) });
    expect(r.engines[0]?.lastError).toMatch(/\/health: ECONNREFUSED/);
    expect(r.events).toContainEqual(expect.objectContaining({ kind: 'engine-down' }));
  });
});
