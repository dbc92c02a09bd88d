// The engine collector against a procfs laid out in a temp dir (the files the scanner reads, with
// real vLLM command lines and titles) and real HTTP servers answering with the real vLLM captures.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Gpu } from '../model.js';
import { wholeGpu } from '../testing/wholeGpu.js';
import { EngineCollector } from './engineCollector.js';

const FIX = new URL('../../../tests/fixtures/vllm/', import.meta.url);
const metrics0101 = readFileSync(new URL('metrics_0.10.1_ngc-25.09_qwen3-4b-fp8_tp1_6-requests.txt', FIX), 'utf8');
const models07 = readFileSync(new URL('v1-models_0.7.x_base-plus-2-lora-adapters.json', FIX), 'utf8');

interface FakeEngine {
  server: Server;
  port: number;
  metrics: string;
  healthy: boolean;
}

async function fakeEngine(metrics: string): Promise<FakeEngine> {
  const e: FakeEngine = { server: createServer(), port: 0, metrics, healthy: true };
  e.server.on('request', (req, res) => {
    if (req.url === '/health') {
      res.writeHead(e.healthy ? 200 : 503);
      res.end();
    } else if (req.url === '/metrics') res.end(e.metrics);
    else if (req.url === '/version') res.end('{"version":"0.10.1"}');
    else if (req.url === '/v1/models') res.end(models07);
    else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => e.server.listen(0, '127.0.0.1', r));
  e.port = (e.server.address() as AddressInfo).port;
  return e;
}

function writeProc(root: string, pid: number, ppid: number, argv: string[], opts: { cgroup?: string; environ?: Record<string, string> } = {}) {
  const dir = join(root, String(pid));
  mkdirSync(dir, { recursive: true });
  const comm = (argv[0] ?? '').split('/').pop()?.slice(0, 15) ?? '';
  writeFileSync(join(dir, 'stat'), `${pid} (${comm}) S ${ppid} ${pid} ${pid} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 ${1000 + pid} 0 0`);
  writeFileSync(join(dir, 'cmdline'), `${argv.join('\0')}\0`);
  writeFileSync(join(dir, 'cgroup'), opts.cgroup ?? '0::/user.slice/user-0.slice/session-1.scope\n');
  writeFileSync(join(dir, 'environ'), Object.entries(opts.environ ?? {}).map(([k, v]) => `${k}=${v}\0`).join(''));
}

const gpu = (uuid: string, index: number, pids: number[]): Gpu => wholeGpu(uuid, index, pids);

describe('EngineCollector', () => {
  let proc: string;
  let tp2: FakeEngine;
  let html: FakeEngine;
  let collector: EngineCollector;
  const gpus = [gpu('GPU-aaaa', 0, [102]), gpu('GPU-bbbb', 1, [103]), gpu('GPU-cccc', 2, [])];

  beforeAll(async () => {
    tp2 = await fakeEngine(metrics0101);
    html = await fakeEngine('<html><body>502 Bad Gateway</body></html>');
    proc = mkdtempSync(join(tmpdir(), 'procfs-'));
    writeFileSync(join(proc, 'uptime'), '5000.00 9000.00\n');
    // A TP=2 engine launched with `vllm serve`, titled processes as vLLM ≥ 0.10.1 sets them.
    writeProc(proc, 100, 1, ['/usr/bin/python3', '/usr/local/bin/vllm', 'serve', 'Qwen/Qwen3-4B-FP8', '--port', String(tp2.port), '-tp', '2']);
    writeProc(proc, 101, 100, ['VLLM::EngineCore']);
    writeProc(proc, 102, 101, ['VLLM::Worker_TP0']);
    writeProc(proc, 103, 101, ['VLLM::Worker_TP1']);
    // A one-GPU engine whose /metrics is an HTML error page; nvidia-smi shows no process for it,
    // but its EngineCore's environment names its GPU.
    writeProc(proc, 200, 1, ['python3', '-m', 'vllm.entrypoints.openai.api_server', `--port=${html.port}`, '--model', 'facebook/opt-125m']);
    writeProc(proc, 201, 200, ['VLLM::EngineCore'], { environ: { CUDA_VISIBLE_DEVICES: '2', HOME: '/root' } });
    // A vLLM inside a container: left to the Docker layer, never probed at its in-container port.
    writeProc(proc, 300, 1, ['python3', '-m', 'vllm.entrypoints.openai.api_server', '--port', '8000'], {
      cgroup: `0::/machine.slice/libpod-${'a'.repeat(64)}.scope/container\n`,
    });
    // Unrelated processes, and one that exits mid-scan (a directory without files).
    writeProc(proc, 400, 1, ['/usr/sbin/sshd', '-D']);
    mkdirSync(join(proc, '401'));
    collector = new EngineCollector({
      procPath: proc, dockerSocket: null, engineUrls: [], hostname: 'node-a', intervalMs: 1000, busyThreshold: 0.9, timeoutMs: 1000, graceMs: 60_000, windowMs: 60_000,
    });
  });

  afterAll(() => {
    tp2.server.close();
    html.server.close();
    rmSync(proc, { recursive: true, force: true });
  });

  it('finds the engines on the host and maps each rank to its GPU', async () => {
    const r = await collector.collect(gpus, 1_000_000);
    expect(r.ok).toBe(true);
    expect(r.engines.map((e) => e.id)).toEqual([`node-a:${tp2.port}`, `node-a:${html.port}`].sort((a, b) => a.localeCompare(b, undefined, { numeric: true })));
    const e = r.engines.find((x) => x.id === `node-a:${tp2.port}`) as (typeof r.engines)[number];
    expect(e).toMatchObject({
      health: 'up', deployment: 'native', discoveredBy: 'proc', version: '0.10.1', endpoint: `http://127.0.0.1:${tp2.port}`,
      parallel: { tensor: 2, pipeline: 1, data: 1 }, gpuMapping: { status: 'resolved', reason: null },
    });
    expect(e.workers).toEqual([
      { rank: 0, pid: 102, gpuUuids: ['GPU-aaaa'], migUuids: [] },
      { rank: 1, pid: 103, gpuUuids: ['GPU-bbbb'], migUuids: [] },
    ]);
    // The fixture's /v1/models: a base model and two LoRA adapters.
    expect(e.servedModels).toHaveLength(3);
    expect(e.load.running).not.toBeNull();
    expect(r.events.filter((x) => x.kind === 'engine-up').map((x) => x.subject).sort()).toEqual([`node-a:${html.port}`, `node-a:${tp2.port}`].sort());
  });

  it('keeps a broken /metrics to its own engine: up, no load, the error said', async () => {
    const r = await collector.collect(gpus, 1_001_000);
    const bad = r.engines.find((x) => x.id === `node-a:${html.port}`) as (typeof r.engines)[number];
    expect(bad.health).toBe('up');
    expect(bad.load.running).toBeNull();
    expect(bad.lastError).toMatch(/metrics/);
    expect(bad.workers).toEqual([{ rank: 0, pid: 201, gpuUuids: ['GPU-cccc'], migUuids: [] }]);
    const good = r.engines.find((x) => x.id === `node-a:${tp2.port}`) as (typeof r.engines)[number];
    expect(good.lastError).toBeNull();
    expect(good.load.kvCacheUsage).not.toBeNull();
  });

  it('reports an engine whose /health fails as down within 5 s, while its /metrics still answers, with an event', async () => {
    tp2.healthy = false;
    // While /metrics reads, /health is asked every 5 s (it was last asked at the first tick, 1_000_000).
    let down: Awaited<ReturnType<EngineCollector['collect']>> | null = null;
    let t = 1_001_000;
    while (down === null && t < 1_010_000) {
      t += 1000;
      const r = await collector.collect(gpus, t);
      if (r.engines.find((x) => x.id === `node-a:${tp2.port}`)?.health === 'down') down = r;
    }
    expect(t).toBeLessThanOrEqual(1_005_000);
    const e = down?.engines.find((x) => x.id === `node-a:${tp2.port}`);
    expect(e?.load.running).toBeNull();
    expect(e?.lastError).toMatch(/\/health: HTTP 503/);
    expect(down?.events).toContainEqual(expect.objectContaining({ kind: 'engine-down', subject: `node-a:${tp2.port}` }));
    tp2.healthy = true;
    // A down engine's /health is asked every tick.
    const back = await collector.collect(gpus, t + 1000);
    expect(back.events).toContainEqual(expect.objectContaining({ kind: 'engine-up', subject: `node-a:${tp2.port}` }));
  });

  it('forgets a down engine that is gone from the host after the grace period', async () => {
    rmSync(join(proc, '200'), { recursive: true });
    rmSync(join(proc, '201'), { recursive: true });
    html.server.close();
    const r1 = await collector.collect(gpus, 1_014_000);
    expect(r1.engines.find((x) => x.id === `node-a:${html.port}`)?.health).toBe('down');
    const r2 = await collector.collect(gpus, 1_014_000 + 61_000);
    expect(r2.engines.find((x) => x.id === `node-a:${html.port}`)).toBeUndefined();
  });

  it('adds --engine URLs that discovery did not find, without GPUs and saying why', async () => {
    const c = new EngineCollector({
      procPath: proc, dockerSocket: null, engineUrls: [`http://localhost:${tp2.port}`, 'http://127.0.0.1:9'], hostname: 'node-a', intervalMs: 1000, busyThreshold: 0.9,
      timeoutMs: 500, graceMs: 60_000, windowMs: 60_000,
    });
    const r = await c.collect(gpus, 2_000_000);
    // localhost:<port> is the discovered engine, not a second one.
    expect(r.engines.filter((e) => e.endpoint.endsWith(`:${tp2.port}`))).toHaveLength(1);
    const flag = r.engines.find((e) => e.id === '127.0.0.1:9') as (typeof r.engines)[number];
    expect(flag).toMatchObject({ discoveredBy: 'flag', health: 'down', gpuMapping: { status: 'unresolved' } });
    expect(flag.gpuMapping.reason).toMatch(/--engine/);
  });
});
