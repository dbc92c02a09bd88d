// The Prometheus SD endpoint as a Prometheus sees it, engines found by the real collector in a procfs
// laid out in a temp dir: only engines that answered like vLLM are targets, a bad endpoint beside good
// ones costs only itself (never a 500 for the whole answer), and no target points elsewhere than its
// engine id says.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SourceTracker } from '../collectors/sourceTracker.js';
import { EngineCollector } from '../engines/engineCollector.js';
import type { Engine, Snapshot } from '../model.js';
import { Store } from '../store/store.js';
import { createApp } from './app.js';
import { SidecarMetrics } from './metrics.js';
import { listenLoopback } from '../testing/listenLoopback.js';
import { writeProc } from '../testing/fakeProcfs.js';

async function server(metrics: string): Promise<{ server: Server; port: number }> {
  const s = createServer((req, res) => {
    if (req.url === '/health') return res.end();
    if (req.url === '/metrics') return res.end(metrics);
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { server: s, port: (s.address() as AddressInfo).port };
}

describe('GET /api/v1/sd/engines', () => {
  const servers: Server[] = [];
  let proc: string;
  let api: Server;
  let base: string;
  let ports: { good: number; other: number; notVllm: number };

  beforeAll(async () => {
    const good = await server('vllm:num_requests_running{engine="0",model_name="m"} 1\n');
    const other = await server('vllm:num_requests_running{engine="0",model_name="n"} 2\n');
    const notVllm = await server('node_cpu_seconds_total{cpu="0"} 1\n'); // answers, but not like vLLM
    servers.push(good.server, other.server, notVllm.server);
    ports = { good: good.port, other: other.port, notVllm: notVllm.port };
    proc = mkdtempSync(join(tmpdir(), 'procfs-sd-'));
    writeFileSync(join(proc, 'uptime'), '5000.00 1.00\n');
    writeProc(proc, 100, 1, ['vllm', 'serve', 'org/good', '--port', String(good.port)]);
    writeProc(proc, 200, 1, ['vllm', 'serve', 'org/other', '--port', String(other.port)]);
    writeProc(proc, 300, 1, ['vllm', 'serve', 'org/bad', '--host', 'not:ipv6', '--port', '8001']);
    writeProc(proc, 400, 1, ['vllm', 'serve', 'org/not-vllm', '--port', String(notVllm.port)]);
    const collector = new EngineCollector({
      procPath: proc, dockerSocket: null, engineUrls: [], hostname: 'h', intervalMs: 1000, busyThreshold: 0.9, timeoutMs: 1000, graceMs: 60_000, windowMs: 60_000,
    });
    const now = Date.now();
    const engines: Engine[] = (await collector.collect([], now)).engines;
    // Endpoints the API must survive whatever produced them: one that does not parse, one whose
    // port is not its id's.
    const like = engines.find((e) => e.id === `h:${good.port}`) as Engine;
    engines.push({ ...like, id: 'h:8002', endpoint: 'http://[not:ipv6]:8002' }, { ...like, id: 'h:8003', endpoint: 'http://127.0.0.1:9999' });
    const snap: Snapshot = {
      host: { hostname: 'h', driverVersion: null, cudaVersion: null, collectedAt: new Date(now).toISOString(), sources: {} as Snapshot['host']['sources'] },
      gpus: [],
      engines,
    };
    const store = new Store({ capacity: 10, maxSeries: 1000 });
    store.record(snap, true);
    const app = createApp({ store, sources: new SourceTracker(60_000), metrics: new SidecarMetrics({ maxSeries: 1000, defaultMetrics: false }), version: 't', startedAt: now, token: null });
    ({ server: api, base } = await listenLoopback(app));
  });

  afterAll(() => {
    api?.close();
    for (const s of servers) s.close();
    rmSync(proc, { recursive: true, force: true });
  });

  it('answers 200 with the good engines, leaving out bad endpoints and engines that never answered like vLLM', async () => {
    const r = await fetch(`${base}/api/v1/sd/engines`);
    expect(r.status).toBe(200);
    const groups = (await r.json()) as { targets: string[]; labels: Record<string, string> }[];
    expect(groups.map((g) => [g.targets, g.labels.engine_id]).sort()).toEqual(
      [
        [[`127.0.0.1:${ports.good}`], `h:${ports.good}`],
        [[`127.0.0.1:${ports.other}`], `h:${ports.other}`],
      ].sort(),
    );
  });

  it('rewrites loopback targets to the name asked, on the port of the engine id', async () => {
    const groups = (await (await fetch(`${base}/api/v1/sd/engines?loopback=gpu-node-07`)).json()) as { targets: string[]; labels: Record<string, string> }[];
    for (const g of groups) expect(g.targets).toEqual([`gpu-node-07:${(g.labels.engine_id as string).split(':')[1]}`]);
  });
});
