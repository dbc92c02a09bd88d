// Engines that answer badly, against the collector as the sidecar runs it: a procfs laid out in a
// temp dir with real vLLM launch lines, and real HTTP servers on loopback. What a user checks for each:
// the sidecar does not crash, a tick takes bounded time and memory, the bad engine says what is wrong
// in its lastError, and the good engine beside it reads exactly as it does alone.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine, Gpu } from '../model.js';
import { FakeClock } from '../testing/fakeClock.js';
import { wholeGpu } from '../testing/wholeGpu.js';
import { EngineCollector } from './engineCollector.js';
import { escapeLabelValue } from './promText.js';
import { MAX_ENGINES_PER_SCRAPE } from './vllmMetrics.js';

const FIX = new URL('../../../tests/fixtures/vllm/', import.meta.url);
const CAPTURE = readFileSync(new URL('metrics_0.10.1_ngc-25.09_qwen3-4b-fp8_tp1_6-requests.txt', FIX), 'utf8');
const MB = 1024 * 1024;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface Fake {
  server: Server;
  port: number;
  /** Per path; /health, /version and /v1/models answer like vLLM unless given. */
  routes: Record<string, Handler>;
}

const text = (body: string): Handler => (_q, r) => r.end(body);

async function fakeEngine(routes: Record<string, Handler>): Promise<Fake> {
  const f: Fake = { server: createServer(), port: 0, routes };
  f.server.on('request', (req, res) => {
    const h = f.routes[req.url ?? ''];
    if (h) return h(req, res);
    if (req.url === '/health') return res.end();
    if (req.url === '/version') return res.end('{"version":"0.10.1"}');
    if (req.url === '/v1/models') return res.end('{"object":"list","data":[{"id":"m","root":"org/m","max_model_len":4096}]}');
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => f.server.listen(0, '127.0.0.1', r));
  f.port = (f.server.address() as AddressInfo).port;
  return f;
}

function writeProc(root: string, pid: number, ppid: number, argv: string[], environ: string | 'directory' = '') {
  const dir = join(root, String(pid));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'stat'), `${pid} (x) S ${ppid} ${pid} ${pid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 ${1000 + pid} 0 0`);
  writeFileSync(join(dir, 'cmdline'), `${argv.join('\0')}\0`);
  writeFileSync(join(dir, 'cgroup'), '0::/system.slice/vllm.service\n');
  if (environ === 'directory') mkdirSync(join(dir, 'environ'));
  else writeFileSync(join(dir, 'environ'), environ);
}

const gpu = (uuid: string, index: number, pids: number[]): Gpu => wholeGpu(uuid, index, pids, 'VLLM::EngineCore');

/** A host with the good engine (pid 100, GPU 0) and one bad engine (pid 200) on `port`. */
function hostWith(goodPort: number, badPort: number, badEnviron: string | 'directory' = 'CUDA_VISIBLE_DEVICES=1\0'): string {
  const root = mkdtempSync(join(tmpdir(), 'procfs-bad-'));
  writeFileSync(join(root, 'uptime'), '5000.00 1.00\n');
  writeProc(root, 100, 1, ['/usr/bin/python3', '/usr/local/bin/vllm', 'serve', 'Qwen/Qwen3-4B-FP8', '--port', String(goodPort)]);
  writeProc(root, 101, 100, ['VLLM::EngineCore'], 'CUDA_VISIBLE_DEVICES=0\0');
  writeProc(root, 200, 1, ['python3', '-m', 'vllm.entrypoints.openai.api_server', '--model', 'org/bad', '--port', String(badPort)]);
  writeProc(root, 201, 200, ['VLLM::EngineCore'], badEnviron);
  return root;
}

const GPUS = [gpu('GPU-good', 0, [101]), gpu('GPU-bad', 1, [])];

function collectorOn(proc: string, timeoutMs = 1000): EngineCollector {
  return new EngineCollector({
    procPath: proc, dockerSocket: null, engineUrls: [], hostname: 'h', intervalMs: 1000, busyThreshold: 0.9, timeoutMs, graceMs: 60_000, windowMs: 60_000,
    // Stamps (lastSeenUpAt) from the ticks' own times, so two collectors on the same ticks read the same.
    clock: new FakeClock(),
  });
}

const byPort = (engines: Engine[], port: number) => engines.find((e) => e.id === `h:${port}`) as Engine;

describe('EngineCollector: bad input from one engine stays with that engine', () => {
  let good: Fake;
  let alone: Engine[];
  const dirs: string[] = [];
  const servers: Fake[] = [];

  /** Two ticks 10 s apart (rates need two scrapes) of the good engine beside a bad one. */
  async function twoTicks(bad: Fake, opts: { timeoutMs?: number; environ?: string | 'directory' } = {}) {
    servers.push(bad);
    const proc = hostWith(good.port, bad.port, opts.environ);
    dirs.push(proc);
    const c = collectorOn(proc, opts.timeoutMs);
    const t0 = performance.now();
    await c.collect(GPUS, 1_000_000);
    const r = await c.collect(GPUS, 1_010_000);
    const ms = performance.now() - t0;
    return { r, ms, good: byPort(r.engines, good.port), bad: byPort(r.engines, bad.port) };
  }

  /** The good engine reads exactly as it does with no bad engine on the host. */
  function untouched(e: Engine) {
    expect(e).toEqual(byPort(alone, good.port));
    expect(e.lastError).toBeNull();
    expect(e.load.running).not.toBeNull();
  }

  beforeAll(async () => {
    good = await fakeEngine({ '/metrics': text(CAPTURE) });
    // The reference: the good engine with a bad one that is simply not there (nothing listens).
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const closedPort = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const proc = hostWith(good.port, closedPort);
    dirs.push(proc);
    const c = collectorOn(proc);
    await c.collect(GPUS, 1_000_000);
    alone = (await c.collect(GPUS, 1_010_000)).engines;
  });

  afterAll(() => {
    for (const f of [good, ...servers]) {
      f.server.closeAllConnections();
      f.server.close();
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('an engine that accepts connections and never answers: down within its deadline', async () => {
    const hang = await fakeEngine({ '/health': () => undefined, '/metrics': () => undefined });
    const { r, ms, bad, good: g } = await twoTicks(hang, { timeoutMs: 500 });
    console.log(`two ticks beside a hung engine (500 ms deadline): ${ms.toFixed(0)} ms`);
    expect(bad).toMatchObject({ health: 'down', load: { running: null } });
    expect(bad.lastError).toMatch(/GET http:\/\/127\.0\.0\.1:\d+\/health: no answer within 500 ms/);
    // Bounded: about one deadline per tick, however many endpoints the engine has.
    expect(ms).toBeLessThan(10_000);
    expect(r.ok).toBe(true);
    untouched(g);
  });

  it('an engine whose /metrics alone hangs: up, no load, the timeout said, and not asked again that tick', async () => {
    let asked = 0;
    const hangMetrics = await fakeEngine({
      '/metrics': () => undefined,
      '/version': (_q, res) => {
        asked++;
        res.end('{"version":"0.11.0"}');
      },
    });
    const { bad, good: g } = await twoTicks(hangMetrics, { timeoutMs: 500 });
    expect(bad).toMatchObject({ health: 'up', load: { running: null, kvCacheUsage: null } });
    expect(bad.lastError).toMatch(/\/metrics: no answer within 500 ms/);
    expect(asked).toBe(0);
    untouched(g);
  });

  it('an engine that answers /metrics with an HTML page: up, no load, "answered an HTML page", nothing of the page quoted', async () => {
    const page = '<!DOCTYPE html>\n<html><head><title>502 Bad Gateway s3cr3t-T0KEN</title></head><body><h1>502 Bad Gateway</h1></body></html>\n';
    const html = await fakeEngine({
      '/metrics': (_q, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(page);
      },
    });
    const { bad, good: g } = await twoTicks(html);
    expect(bad).toMatchObject({ health: 'up', load: { running: null } });
    expect(bad.lastError).toMatch(`/metrics: answered an HTML page, not Prometheus text — a proxy or another server on the port? (content type text/html, ${Buffer.byteLength(page)} bytes)`);
    expect(bad.lastError).not.toMatch(/Bad Gateway|s3cr3t|T0KEN|DOCTYPE/);
    untouched(g);
  });

  it('an engine that answers /metrics with text that is not Prometheus: what it was, not what it said', async () => {
    const secret = 'AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\npassword: hunter2\n';
    const garbage = await fakeEngine({
      '/metrics': (_q, res) => {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8; x-note="hunter2"' });
        res.end(secret);
      },
    });
    const { bad, good: g } = await twoTicks(garbage);
    expect(bad).toMatchObject({ health: 'up', load: { running: null } });
    expect(bad.lastError).toMatch(`/metrics: not Prometheus text with vLLM metrics (content type text/plain, ${Buffer.byteLength(secret)} bytes)`);
    for (const piece of ['AWS', 'wJalr', 'EXAMPLE', 'password', 'hunter2']) expect(bad.lastError).not.toContain(piece);
    untouched(g);
  });

  it('a 100 MB /metrics body is cut at the size cap: the stream is dropped long before its end', async () => {
    // Prometheus-looking lines, streamed with back-pressure and no content-length, as a runaway
    // exporter would: only the byte count can stop it.
    const line = Buffer.from('vllm:some_counter_total{engine="0",model_name="m",padding="xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"} 1\n');
    const chunk = Buffer.concat(Array.from({ length: Math.floor(MB / line.length) }, () => line));
    const sent: number[] = [];
    const huge = await fakeEngine({
      '/metrics': (_q, res) => {
        const i = sent.push(0) - 1;
        const pump = () => {
          while ((sent[i] as number) < 100 * MB) {
            sent[i] = (sent[i] as number) + chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        pump();
      },
    });
    const rss0 = process.memoryUsage().rss;
    const { bad, good: g, ms } = await twoTicks(huge, { timeoutMs: 20_000 });
    const mbSent = sent.map((b) => (b / MB).toFixed(0)).join(' and ');
    console.log(`two ticks beside a 100 MB /metrics: ${ms.toFixed(0)} ms, ${mbSent} MB sent by the engine, RSS +${((process.memoryUsage().rss - rss0) / MB).toFixed(0)} MB`);
    expect(bad).toMatchObject({ health: 'up', load: { running: null } });
    expect(bad.lastError).toMatch(/\/metrics: body over the 33554432 byte limit/);
    // Each scrape dropped a little after 32 MB (plus what the socket buffers held).
    expect(sent).toHaveLength(2);
    for (const b of sent) expect(b).toBeLessThan(48 * MB);
    untouched(g);
  }, 60_000);

  it('10^6 series the sidecar does not read are dropped before parsing; the vLLM series still read', async () => {
    const junk: string[] = [];
    for (let i = 0; i < 1_000_000; i++) junk.push(`junk{i="${i}"} 1`);
    const body = `${CAPTURE}${junk.join('\n')}\n`;
    const many = await fakeEngine({ '/metrics': text(body) });
    const { bad, ms } = await twoTicks(many, { timeoutMs: 20_000 });
    console.log(`two ticks with 10^6 unread series (${(body.length / MB).toFixed(1)} MB) beside the good engine: ${ms.toFixed(0)} ms`);
    // The same numbers as the good engine serving the same capture without the junk.
    expect(bad.lastError).toBeNull();
    expect(bad.load).toEqual(byPort(alone, good.port).load);
  }, 60_000);

  it('10^6 series of a family it reads: over the size cap; 300 000: over the sample cap; either way an error, not a stall', async () => {
    const series = (n: number) => Array.from({ length: n }, (_, i) => `vllm:num_requests_running{engine="${i}"} 1`).join('\n');
    const million = await fakeEngine({ '/metrics': text(series(1_000_000)) });
    const a = await twoTicks(million, { timeoutMs: 20_000 });
    console.log(`10^6 vllm:num_requests_running series: ${a.ms.toFixed(0)} ms for two ticks`);
    expect(a.bad.lastError).toMatch(/body of \d+ bytes is over the 33554432 byte limit/);
    untouched(a.good);

    const many = await fakeEngine({ '/metrics': text(series(300_000)) });
    const b = await twoTicks(many, { timeoutMs: 20_000 });
    console.log(`3·10^5 vllm:num_requests_running series: ${b.ms.toFixed(0)} ms for two ticks`);
    expect(b.bad.lastError).toMatch(/GET http:\/\/127\.0\.0\.1:\d+\/metrics: exposition has more than 200000 samples/);
    expect(b.bad.load.running).toBeNull();
    untouched(b.good);
  }, 60_000);

  it('more data-parallel engine labels than it keeps: bounded at MAX_ENGINES_PER_SCRAPE ranks', async () => {
    const body = Array.from({ length: 20_000 }, (_, i) => `vllm:num_requests_running{engine="${i}"} 1\nvllm:kv_cache_usage_perc{engine="${i}"} 0.5`).join('\n');
    const wide = await fakeEngine({ '/metrics': text(body) });
    const { bad, good: g } = await twoTicks(wide);
    expect(bad.health).toBe('up');
    expect(bad.parallel.data).toBe(MAX_ENGINES_PER_SCRAPE);
    expect(bad.load.running).toBe(MAX_ENGINES_PER_SCRAPE);
    untouched(g);
  });

  it('label values with quotes, commas, newlines and ANSI escapes stay inside their own engine', async () => {
    const nasty = 'evil",engine="9"} 999\nvllm:num_requests_running{engine="0\u001b[2J\u001b]0;pwned\u0007, and more';
    const body = [
      `vllm:num_requests_running{engine="0",model_name="${escapeLabelValue(nasty)}"} 3`,
      `vllm:kv_cache_usage_perc{engine="0",model_name="${escapeLabelValue(nasty)}"} 0.25`,
    ].join('\n');
    const hostile = await fakeEngine({ '/metrics': text(body) });
    const { bad, good: g } = await twoTicks(hostile);
    expect(bad).toMatchObject({ health: 'up', lastError: null, parallel: { data: 1 }, load: { running: 3, kvCacheUsage: 0.25 } });
    // Its model comes from its own /v1/models, not from the label text.
    expect(bad.model).toBe('org/m');
    untouched(g);
  });

  it('histograms whose buckets fall with le, and a +Inf bucket below the others: no quantiles, the histogram named', async () => {
    const body = [
      'vllm:num_requests_running{engine="0",model_name="m"} 2',
      'vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.5',
      'vllm:time_to_first_token_seconds_bucket{engine="0",le="0.1",model_name="m"} 5',
      'vllm:time_to_first_token_seconds_bucket{engine="0",le="0.5",model_name="m"} 3',
      'vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="m"} 2',
      'vllm:time_to_first_token_seconds_count{engine="0",model_name="m"} 9',
      'vllm:e2e_request_latency_seconds_bucket{engine="0",le="1",model_name="m"} 1',
      'vllm:e2e_request_latency_seconds_count{engine="0",model_name="m"} 1',
    ].join('\n');
    const broken = await fakeEngine({ '/metrics': text(body) });
    const { bad, good: g } = await twoTicks(broken);
    expect(bad).toMatchObject({ health: 'up', load: { running: 2, kvCacheUsage: 0.5, ttftSeconds: { p50: null, p95: null }, e2eSeconds: { p50: null, p95: null } } });
    expect(bad.lastError).toBe(
      `GET http://127.0.0.1:${broken.port}/metrics: ` +
        'vllm:time_to_first_token_seconds: bucket counts not cumulative; vllm:e2e_request_latency_seconds: no +Inf bucket',
    );
    untouched(g);
  });

  it('a histogram that runs backwards between scrapes counts as a reset: numbers or null, never NaN', async () => {
    const hist = (counts: [number, number, number]) =>
      [
        'vllm:num_requests_running{engine="0",model_name="m"} 1',
        `vllm:time_to_first_token_seconds_bucket{engine="0",le="0.1",model_name="m"} ${counts[0]}`,
        `vllm:time_to_first_token_seconds_bucket{engine="0",le="1",model_name="m"} ${counts[1]}`,
        `vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="m"} ${counts[2]}`,
        `vllm:prompt_tokens_total{engine="0",model_name="m"} ${counts[2] * 100}`,
      ].join('\n');
    let n = 0;
    // The second scrape has fewer observations in the first bucket than the first had, more in the others.
    const backwards = await fakeEngine({ '/metrics': (_q, res) => res.end(hist(n++ === 0 ? [50, 60, 70] : [10, 80, 90])) });
    const { bad, good: g } = await twoTicks(backwards);
    expect(bad.health).toBe('up');
    expect(bad.lastError).toBeNull();
    const numbers = [bad.load.ttftSeconds.p50, bad.load.ttftSeconds.p95, bad.load.promptTokensPerSec];
    for (const v of numbers) expect(v === null || Number.isFinite(v)).toBe(true);
    // The counter beside it reads as usual.
    expect(bad.load.promptTokensPerSec).toBeCloseTo((9000 - 7000) / 10);
    untouched(g);
  });

  it('an unreadable /proc/PID/environ and no nvidia-smi process: unresolved, saying why; the other engine mapped', async () => {
    const fine = await fakeEngine({ '/metrics': text(CAPTURE) });
    const { bad, good: g } = await twoTicks(fine, { environ: 'directory' });
    expect(bad.health).toBe('up');
    expect(bad.workers).toEqual([{ rank: 0, pid: 201, gpuUuids: [], migUuids: [] }]);
    expect(bad.gpuMapping.status).toBe('unresolved');
    expect(bad.gpuMapping.reason).toMatch(/rank 0 \(pid 201\) and their environment is not readable .*pid: host/);
    expect(bad.gpuMapping.reason).not.toMatch(/not set/);
    expect(g.workers).toEqual([{ rank: 0, pid: 101, gpuUuids: ['GPU-good'], migUuids: [] }]);
    untouched(g);
  });

  it('a readable environment without CUDA_VISIBLE_DEVICES is told apart from an unreadable one', async () => {
    const fine = await fakeEngine({ '/metrics': text(CAPTURE) });
    const { bad } = await twoTicks(fine, { environ: 'HOME=/root\0PATH=/usr/bin\0' });
    expect(bad.gpuMapping.status).toBe('unresolved');
    expect(bad.gpuMapping.reason).toMatch(/rank 0 \(pid 201\) and CUDA_VISIBLE_DEVICES is not set in their environment/);
    expect(bad.gpuMapping.reason).not.toMatch(/not readable|pid: host/);
  });
});

describe('EngineCollector: discovery input is untrusted', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('never asks a path smuggled into --host, and shows why the engine is not read without repeating the value', async () => {
    const asked: string[] = [];
    const internal = await fakeEngine({});
    internal.server.prependListener('request', (req: IncomingMessage) => asked.push(req.url ?? ''));
    const root = mkdtempSync(join(tmpdir(), 'procfs-host-'));
    dirs.push(root);
    writeFileSync(join(root, 'uptime'), '5000.00 1.00\n');
    writeProc(root, 300, 1, ['vllm', 'serve', 'x', '--host', `127.0.0.1:${internal.port}/internal/secret#`, '--port', '8000']);
    writeProc(root, 301, 1, ['vllm', 'serve', 'y', '--host', 'not:ipv6', '--port', '8001']);
    const c = collectorOn(root);
    await c.collect(GPUS, 1_000_000);
    const { engines } = await c.collect(GPUS, 1_010_000);
    internal.server.close();
    expect(asked).toEqual([]);
    expect(engines.map((e) => [e.id, e.endpoint, e.health, e.lastError])).toEqual([
      ['h:8000', '', 'unknown', '--host is neither an IP address nor a host name (it contains ":")'],
      ['h:8001', '', 'unknown', '--host is neither an IP address nor a host name (it contains ":")'],
    ]);
    expect(JSON.stringify(engines)).not.toMatch(/internal|secret/);
  });

  it('watches at most --max-engines engines, says how many it left out, and keeps the ones it watches', async () => {
    const root = mkdtempSync(join(tmpdir(), 'procfs-many-'));
    dirs.push(root);
    writeFileSync(join(root, 'uptime'), '5000.00 1.00\n');
    for (let i = 0; i < 300; i++) writeProc(root, 1000 + i, 1, ['vllm', 'serve', `m${i}`, '--port', String(20000 + i)]);
    const logs: string[] = [];
    const c = new EngineCollector({
      procPath: root, dockerSocket: null, engineUrls: ['http://127.0.0.1:1'], hostname: 'h', intervalMs: 1000, busyThreshold: 0.9, timeoutMs: 200,
      graceMs: 60_000, windowMs: 60_000, maxEngines: 100, onLog: (_l, m) => logs.push(m),
    });
    const first = await c.collect([], 1_000_000);
    const second = await c.collect([], 1_010_000);
    for (const r of [first, second]) {
      expect(r.engines).toHaveLength(100);
      expect(r.ok).toBe(false);
      expect(r.error?.message).toBe('201 engine candidates over --max-engines 100 are not watched');
    }
    // The operator's --engine comes first; the same engines tick after tick.
    expect(first.engines.some((e) => e.discoveredBy === 'flag')).toBe(true);
    expect(second.engines.map((e) => e.id)).toEqual(first.engines.map((e) => e.id));
    expect(logs.filter((m) => /max-engines/.test(m))).toEqual(['201 engine candidates over --max-engines 100 are not watched']);
  }, 30_000);
});
