// An engine's own text (its model name from /v1/models or its command line) with quotes, commas,
// newlines and ANSI escapes, followed from the engine through the collector to what the sidecar
// serves: /metrics must stay one valid sample per series, the SD endpoint valid target labels, and
// neither may let one engine's text land in another engine's labels.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SourceTracker } from '../collectors/sourceTracker.js';
import { EngineCollector } from '../engines/engineCollector.js';
import { parsePromText } from '../engines/promText.js';
import type { Engine, Snapshot } from '../model.js';
import { Store } from '../store/store.js';
import { createApp } from './app.js';
import { SidecarMetrics, sanitizeLabel } from './metrics.js';
import { listenLoopback } from '../testing/listenLoopback.js';
import { writeProc } from '../testing/fakeProcfs.js';

const NASTY_ROOT = 'org/evil",engine_id="h:1"} 1\ngpufleet_engine_up{engine_id="x"} 1,\u001b[31mred\u001b[0m\u0007';
const NASTY_ARGV = 'org/other\\"} 1\n# HELP x\r\u001b]0;title\u0007';
/** Any C0 control character or DEL. */
const hasControl = (v: string) => [...v].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);

async function engineServer(models: string | null): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.url === '/health') return res.end();
    if (req.url === '/metrics') return res.end('vllm:num_requests_running{engine="0",model_name="m"} 1\n');
    if (req.url === '/version') return res.end('{"version":"0.11.0"}');
    if (req.url === '/v1/models' && models !== null) return res.end(models);
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('hostile engine text through /metrics and the SD endpoint', () => {
  const servers: Server[] = [];
  let proc: string;
  let api: Server;
  let base: string;
  let engines: Engine[];
  let ports: { fromModels: number; fromArgv: number; plain: number };

  beforeAll(async () => {
    const a = await engineServer(JSON.stringify({ object: 'list', data: [{ id: 'evil', root: NASTY_ROOT, max_model_len: 4096 }] }));
    const b = await engineServer(null); // no /v1/models: the model comes from the command line
    const c = await engineServer(JSON.stringify({ object: 'list', data: [{ id: 'plain', root: 'org/plain' }] }));
    servers.push(a.server, b.server, c.server);
    ports = { fromModels: a.port, fromArgv: b.port, plain: c.port };
    proc = mkdtempSync(join(tmpdir(), 'procfs-labels-'));
    writeFileSync(join(proc, 'uptime'), '5000.00 1.00\n');
    writeProc(proc, 100, 1, ['vllm', 'serve', 'org/ignored', '--port', String(a.port)]);
    writeProc(proc, 200, 1, ['vllm', 'serve', NASTY_ARGV, '--port', String(b.port)]);
    writeProc(proc, 300, 1, ['vllm', 'serve', 'org/plain', '--port', String(c.port)]);
    const collector = new EngineCollector({
      procPath: proc, dockerSocket: null, engineUrls: [], hostname: 'h', intervalMs: 1000, busyThreshold: 0.9, timeoutMs: 1000, graceMs: 60_000, windowMs: 60_000,
    });
    const now = Date.now();
    engines = (await collector.collect([], now)).engines;
    const snap: Snapshot = {
      host: { hostname: 'h', driverVersion: null, cudaVersion: null, collectedAt: new Date(now).toISOString(), sources: {} as Snapshot['host']['sources'] },
      gpus: [],
      engines,
    };
    const store = new Store({ capacity: 10, maxSeries: 1000 });
    store.record(snap, true);
    const metrics = new SidecarMetrics({ maxSeries: 1000, defaultMetrics: false });
    metrics.update(snap, []);
    const app = createApp({ store, sources: new SourceTracker(60_000), metrics, version: 't', startedAt: performance.now(), token: null });
    ({ server: api, base } = await listenLoopback(app));
  });

  afterAll(() => {
    api?.close();
    for (const s of servers) s.close();
    rmSync(proc, { recursive: true, force: true });
  });

  it('the collector keeps each engine\'s own text as it came', () => {
    const model = (port: number) => engines.find((e) => e.id === `h:${port}`)?.model;
    expect(model(ports.fromModels)).toBe(NASTY_ROOT);
    expect(model(ports.fromArgv)).toBe(NASTY_ARGV);
    expect(model(ports.plain)).toBe('org/plain');
  });

  it('/metrics: one engine_info sample per engine, valid text, control characters gone, quotes kept', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    const expo = parsePromText(text);
    expect(expo.skipped).toBe(0);
    const info = expo.byName.get('gpufleet_engine_info') ?? [];
    expect(info.map((s) => [s.labels.engine_id, s.labels.model]).sort()).toEqual(
      [
        [`h:${ports.fromModels}`, sanitizeLabel(NASTY_ROOT)],
        [`h:${ports.fromArgv}`, sanitizeLabel(NASTY_ARGV)],
        [`h:${ports.plain}`, 'org/plain'],
      ].sort(),
    );
    for (const s of info) expect(hasControl(s.labels.model ?? '')).toBe(false);
    expect(sanitizeLabel(NASTY_ROOT)).toContain('"} 1');
    // The text that looks like a sample inside a label value did not become one.
    expect((expo.byName.get('gpufleet_engine_up') ?? []).map((s) => s.labels.engine_id).sort()).toEqual(
      [`h:${ports.fromModels}`, `h:${ports.fromArgv}`, `h:${ports.plain}`].sort(),
    );
  });

  it('the SD endpoint: valid JSON, one target group per engine, labels cleaned as on /metrics', async () => {
    const r = await fetch(`${base}/api/v1/sd/engines`);
    expect(r.status).toBe(200);
    const groups = (await r.json()) as { targets: string[]; labels: Record<string, string> }[];
    expect(groups.map((g) => [g.targets, g.labels.engine_id, g.labels.model]).sort()).toEqual(
      [
        [[`127.0.0.1:${ports.fromModels}`], `h:${ports.fromModels}`, sanitizeLabel(NASTY_ROOT)],
        [[`127.0.0.1:${ports.fromArgv}`], `h:${ports.fromArgv}`, sanitizeLabel(NASTY_ARGV)],
        [[`127.0.0.1:${ports.plain}`], `h:${ports.plain}`, 'org/plain'],
      ].sort(),
    );
    for (const g of groups) for (const v of Object.values(g.labels)) expect(hasControl(v)).toBe(false);
  });
});
