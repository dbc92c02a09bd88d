// An idle engine's /metrics lines are not read again (lastParse.ts), and that changes nothing of what
// the collector reports: each tick is still a fresh scrape, a changed line is read, engines stay apart.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineCollector } from './engineCollector.js';
import { writeProc } from '../testing/fakeProcfs.js';

const FIX = new URL('../../../tests/fixtures/vllm/', import.meta.url);
const capture = readFileSync(new URL('metrics_0.10.1_ngc-25.09_qwen3-4b-fp8_tp1_6-requests.txt', FIX), 'utf8');
const RUNNING = 'vllm:num_requests_running{engine="0",model_name="Qwen/Qwen3-4B-Instruct-2507-FP8"} 0.0';
const TOKENS = 'vllm:generation_tokens_total{engine="0",model_name="Qwen/Qwen3-4B-Instruct-2507-FP8"} 1739.0';
// What a real engine changes every scrape even when idle: lines the collector does not keep.
const SCRAPES = 'http_requests_total{handler="/metrics",method="GET",status="2xx"}';

interface Fake {
  server: Server;
  port: number;
  running: number;
  tokens: number;
  served: number;
}

function body(e: Fake): string {
  if (!capture.includes(RUNNING) || !capture.includes(TOKENS)) throw new Error('fixture changed');
  return `${capture.replace(RUNNING, RUNNING.replace('} 0.0', `} ${e.running}.0`)).replace(TOKENS, TOKENS.replace('1739.0', `${e.tokens}.0`))}${SCRAPES} ${++e.served}.0\n`;
}

async function fake(running: number): Promise<Fake> {
  const e: Fake = { server: createServer(), port: 0, running, tokens: 1739, served: 0 };
  e.server.on('request', (req, res) => {
    // Ignores the query, as a server other than prometheus_client may: /metrics?name[]=… is answered whole.
    if (req.url?.split('?')[0] === '/metrics') res.end(body(e));
    else if (req.url === '/version') res.end('{"version":"0.10.1"}');
    else if (req.url === '/v1/models') res.end('{"object":"list","data":[]}');
    else res.end();
  });
  await new Promise<void>((r) => e.server.listen(0, '127.0.0.1', r));
  e.port = (e.server.address() as AddressInfo).port;
  return e;
}

describe('EngineCollector: an idle engine is not read again', () => {
  let proc: string;
  let a: Fake;
  let b: Fake;
  let collector: EngineCollector;
  let t = 5_000_000;
  // A clock of its own: lastSeenUpAt is the wall time of the scrape.
  const clock = { wallMs: () => 1_700_000_000_000 + t, monoMs: () => t };

  beforeAll(async () => {
    a = await fake(0);
    b = await fake(3);
    proc = mkdtempSync(join(tmpdir(), 'procfs-'));
    writeFileSync(join(proc, 'uptime'), '5000.00 9000.00\n');
    [a, b].forEach((e, i) => writeProc(proc, 100 + i * 10, 1, ['/usr/bin/python3', '/usr/local/bin/vllm', 'serve', 'Qwen/Qwen3-4B-FP8', '--port', String(e.port)], { cgroup: '0::/system.slice/vllm.service\n' }));
    collector = new EngineCollector({
      procPath: proc, dockerSocket: null, engineUrls: [], hostname: 'h', intervalMs: 1000, busyThreshold: 0.9, timeoutMs: 2000, graceMs: 60_000, windowMs: 60_000,
      clock,
    });
  });

  afterAll(() => {
    a.server.close();
    b.server.close();
    rmSync(proc, { recursive: true, force: true });
  });

  const tick = async () => {
    t += 1000;
    const r = await collector.collect([], t);
    const of = (e: Fake) => r.engines.find((x) => x.id === `h:${e.port}`) as (typeof r.engines)[number];
    return { a: of(a), b: of(b) };
  };

  it('reads each engine once, then takes its last result while its kept lines stay the same', async () => {
    const first = await tick();
    expect(collector.parseCounts).toEqual({ parsed: 2, reused: 0 });
    expect(first.a.load.running).toBe(0);
    expect(first.b.load.running).toBe(3);
    for (let i = 0; i < 3; i++) {
      const r = await tick();
      // Still a fresh scrape each tick: up, not stale, seen now.
      for (const e of [r.a, r.b]) {
        expect(e).toMatchObject({ health: 'up', stale: false, lastError: null });
        expect(e.lastSeenUpAt).toBe(new Date(clock.wallMs()).toISOString());
      }
      expect(r.a.load.running).toBe(0);
      expect(r.b.load.running).toBe(3);
      expect(r.a.load.generationTokensPerSec).toBe(0);
    }
    // Their whole answers differed every time (the http_requests_total line), their kept lines did not.
    expect(a.served).toBe(4);
    expect(collector.parseCounts).toEqual({ parsed: 2, reused: 6 });
  });

  it('reads an engine again as soon as a kept line changes, and only that engine', async () => {
    b.running = 5;
    b.tokens += 2000;
    const r = await tick();
    expect(collector.parseCounts).toEqual({ parsed: 3, reused: 7 });
    expect(r.b.load.running).toBe(5);
    expect(r.b.load.generationTokensPerSec).toBeGreaterThan(0);
    expect(r.a.load.running).toBe(0);
    expect(r.a.load.generationTokensPerSec).toBe(0);
    // Unchanged again: taken again, the new figures kept.
    const next = await tick();
    expect(collector.parseCounts).toEqual({ parsed: 3, reused: 9 });
    expect(next.b.load.running).toBe(5);
  });

  it('reads an engine again after it was down', async () => {
    const close = new Promise<void>((r) => a.server.close(() => r()));
    a.server.closeAllConnections();
    await close;
    const down = await tick();
    expect(down.a.health).toBe('down');
    await new Promise<void>((r) => a.server.listen(a.port, '127.0.0.1', r));
    const before = collector.parseCounts.parsed;
    const up = await tick();
    expect(up.a.health).toBe('up');
    expect(up.a.load.running).toBe(0);
    expect(collector.parseCounts.parsed).toBe(before + 1);
  });
});
