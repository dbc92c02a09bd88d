// Every /metrics capture in tests/fixtures/vllm read the way the sidecar reads a live engine: each
// served by its own HTTP server process, found through --engine, scraped twice by the collector.
// Beside the captures as published, the same captures turned into what newer vLLMs answer: the
// Rust frontend's OpenMetrics (counter families named without `_total`, `# EOF`), the same cut short,
// and a data-parallel scrape of a hybrid-load-balanced node (ranks 2 and 3). No capture of either
// was found (tests/fixtures/vllm/PROVENANCE.md says where we looked), so these are made from the
// real ones by the documented rules, and say so.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine } from '../model.js';
import { EngineCollector } from './engineCollector.js';
import { metricsFixtureNames, readVllmFixture } from './__tests__/fixtures.js';
// The simulator's rendition of the Rust frontend's format (from vLLM's rust/ sources; see that file).
import { toRustOpenMetrics } from '../sim/rustFrontend.js';

// A separate process, as an engine is: it serves one file at /metrics with the content type given.
const SERVER = `
const http = require('node:http');
const fs = require('node:fs');
const body = fs.readFileSync(process.env.BODY_FILE);
const server = http.createServer((req, res) => {
  if (req.url === '/health') { res.writeHead(200); res.end(); }
  else if (req.url === '/metrics') { res.writeHead(200, { 'content-type': process.env.CONTENT_TYPE }); res.end(body); }
  else { res.writeHead(404); res.end(); }
});
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';
const OPENMETRICS = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

interface Served {
  child: ChildProcess;
  url: string;
}

const dir = mkdtempSync(join(tmpdir(), 'vllm-captures-'));
const servers: Served[] = [];

async function serve(name: string, body: string, contentType: string): Promise<string> {
  const file = join(dir, name);
  writeFileSync(file, body);
  const child = spawn(process.execPath, ['-e', SERVER], { env: { BODY_FILE: file, CONTENT_TYPE: contentType }, stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.stdout?.once('data', (d: Buffer) => resolve(d.toString().trim()));
  });
  const url = `http://127.0.0.1:${port}`;
  servers.push({ child, url });
  return url;
}

/** The engine as the collector reports it after two scrapes a second apart. */
async function engineAt(url: string): Promise<Engine> {
  const c = new EngineCollector({
    procPath: dir, dockerSocket: null, engineUrls: [url], hostname: 'node-a', intervalMs: 1000, busyThreshold: 0.9,
    timeoutMs: 2000, graceMs: 60_000, windowMs: 60_000,
  });
  await c.collect([], 1_000_000);
  const r = await c.collect([], 1_001_000);
  const e = r.engines.find((x) => x.endpoint === url);
  if (!e) throw new Error(`no engine at ${url}`);
  return e;
}

/** One engine="0" scrape → two ranks behind one API server, labelled `first` and `first + 1`, with their own KV usage and queues. */
function twoRanks(text: string, first: number, kv: [number, number], running: [number, number], waiting: [number, number]): string {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes('engine="0"')) {
      out.push(line);
      continue;
    }
    for (const i of [0, 1]) {
      let l = line.replace('engine="0"', `engine="${first + i}"`);
      const set = (name: string, v: number) => {
        if (l.startsWith(`${name}{`)) l = l.replace(/ \S+$/, ` ${v}`);
      };
      set('vllm:kv_cache_usage_perc', kv[i] as number);
      set('vllm:num_requests_running', running[i] as number);
      set('vllm:num_requests_waiting', waiting[i] as number);
      out.push(l);
    }
  }
  return out.join('\n');
}

afterAll(() => {
  for (const s of servers) s.child.stdin?.end();
  rmSync(dir, { recursive: true, force: true });
});

// What a user reads off each capture (the values in the files; see PROVENANCE.md).
const EXPECTED: Record<string, { model: string; kv: number; ranks: number[] }> = {
  'metrics_0.4.3_opt-125m_tp1_1-request.txt': { model: 'facebook/opt-125m', kv: 0, ranks: [0] },
  'metrics_0.7.x_qwen2.5-coder-1.5b_lora-enabled_trimmed.txt': { model: 'Qwen/Qwen2.5-Coder-1.5B-Instruct', kv: 0, ranks: [0] },
  'metrics_0.10.1_ngc-25.09_qwen3-4b-fp8_tp1_6-requests.txt': { model: 'Qwen/Qwen3-4B-Instruct-2507-FP8', kv: 0.0011764705882353343, ranks: [0] },
  'metrics_0.11.0_qwen1.5-0.5b-chat_tp1_idle.txt': { model: 'Qwen/Qwen1.5-0.5B-Chat', kv: 0, ranks: [0] },
};

describe('every vLLM /metrics capture, served by an engine process', () => {
  it('has an expectation for each capture', () => {
    expect(metricsFixtureNames().sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(metricsFixtureNames())('%s: up, its model, KV usage, queues and its one rank', async (name) => {
    const want = EXPECTED[name] as (typeof EXPECTED)[string];
    const e = await engineAt(await serve(name, readVllmFixture(name), PROMETHEUS_TEXT));
    expect(e).toMatchObject({ health: 'up', answeredAsVllm: true, model: want.model, metricsFormat: 'prometheus-text', busy: false, lastError: null });
    expect(e.load).toMatchObject({ running: 0, waiting: 0, kvCacheUsage: want.kv });
    expect(e.ranks?.map((r) => r.rank)).toEqual(want.ranks);
  });

  it('reads the 0.10.1 capture as the Rust frontend would write it (OpenMetrics, # EOF, labelled so)', async () => {
    const name = 'metrics_0.10.1_ngc-25.09_qwen3-4b-fp8_tp1_6-requests.txt';
    const om = toRustOpenMetrics(readVllmFixture(name));
    expect(om).toMatch(/^# TYPE vllm:prompt_tokens counter$/m);
    const e = await engineAt(await serve('om.txt', om, OPENMETRICS));
    expect(e).toMatchObject({ health: 'up', metricsFormat: 'openmetrics', lastError: null, model: 'Qwen/Qwen3-4B-Instruct-2507-FP8' });
    expect(e.load.kvCacheUsage).toBe(0.0011764705882353343);
    // The counters were found under their `_total` samples: a rate, 0 for an idle engine.
    expect(e.load.promptTokensPerSec).toBe(0);
  });

  it('refuses the same OpenMetrics answer cut short, under either content type, and says why', async () => {
    const om = toRustOpenMetrics(readVllmFixture('metrics_0.10.1_ngc-25.09_qwen3-4b-fp8_tp1_6-requests.txt'));
    const cut = om.slice(0, om.indexOf('vllm:time_to_first_token_seconds_bucket') + 60);
    for (const ct of [OPENMETRICS, PROMETHEUS_TEXT]) {
      const e = await engineAt(await serve(`cut-${ct.length}.txt`, cut, ct));
      expect(e.health).toBe('up');
      expect(e.load.running).toBeNull();
      expect(e.lastError).toMatch(/without its closing "# EOF": cut short/);
    }
  });

  it('reads OpenMetrics by its content when it comes labelled text/plain (a relabelling proxy)', async () => {
    const om = toRustOpenMetrics(readVllmFixture('metrics_0.11.0_qwen1.5-0.5b-chat_tp1_idle.txt'));
    const e = await engineAt(await serve('om-as-text.txt', om, PROMETHEUS_TEXT));
    expect(e).toMatchObject({ metricsFormat: 'openmetrics', lastError: null });
  });

  it('a hybrid-LB node’s two DP ranks (start rank 2): sums, the fullest rank’s KV, per-rank busy by global rank', async () => {
    // The example: ranks at 1.00 and 0.85 with --busy-threshold 0.9.
    const dp = twoRanks(readVllmFixture('metrics_0.11.0_qwen1.5-0.5b-chat_tp1_idle.txt'), 2, [1, 0.85], [7, 3], [4, 0]);
    const e = await engineAt(await serve('dp.txt', dp, PROMETHEUS_TEXT));
    expect(e.load).toMatchObject({ running: 10, waiting: 4, kvCacheUsage: 1 });
    expect(e.busy).toBe(false); // rank 3 still has room: vLLM sends new requests there
    expect(e.parallel.data).toBe(2);
    expect(e.ranks).toEqual([
      { rank: 2, running: 7, waiting: 4, kvCacheUsage: 1, busy: true },
      { rank: 3, running: 3, waiting: 0, kvCacheUsage: 0.85, busy: false },
    ]);
    const full = await engineAt(await serve('dp-full.txt', twoRanks(readVllmFixture('metrics_0.11.0_qwen1.5-0.5b-chat_tp1_idle.txt'), 2, [1, 0.95], [7, 3], [4, 0]), OPENMETRICS));
    expect(full.busy).toBe(true);
  });
});
