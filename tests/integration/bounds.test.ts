// Bounded by construction, as an operator sees it: engines whose /health flaps under huge model names
// leave a small event log and a small answer; a history that does not fit the memory budget is refused
// at start; /metrics is the text of the last tick; a simulated run leaves no temporary directory.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, FAKE, freePort, json, startSidecar, waitFor, type Running } from './harness.js';

describe('engines whose /health flaps, with 60 KB model names', () => {
  const ENGINES = 12;
  let dir = '';
  const servers: Server[] = [];
  const procs: ChildProcess[] = [];
  const ports: number[] = [];
  let s: Running;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gpufleet-flap-'));
    // Started first: the engines appear to it as they would on a running host.
    s = await startSidecar(
      ['--nvidia-smi', FAKE, '--interval', '500ms', '--kmsg', 'none', '--docker-socket', 'none'],
      { GPUFLEET_SIM_SCENARIO: 'small', GPUFLEET_SIM_EPOCH: String(Date.now() - 60_000) },
    );
    // The engines' processes: `python3 …/vllm serve <model> --port P`, as vLLM's console script runs
    // (the interpreter itself, not a version manager's shim, which costs several processes per start).
    const script = join(dir, 'vllm');
    writeFileSync(script, 'import time\ntime.sleep(900)\n');
    const python = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
    for (let i = 0; i < ENGINES; i++) {
      const port = await freePort();
      ports.push(port);
      // Their API: /health up and down on every request; nothing else.
      let n = 0;
      const srv = createServer((req, res) => {
        if (req.url === '/health') res.writeHead(n++ % 2 === 0 ? 200 : 503).end();
        else res.writeHead(404).end();
      });
      await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
      servers.push(srv);
      const model = `org/${String(i).padStart(3, '0')}-${'m'.repeat(60_000)}`;
      procs.push(spawn(python, [script, 'serve', model, '--port', String(port)], { stdio: 'ignore' }));
    }
  }, 60_000);

  afterAll(async () => {
    await s?.stop();
    for (const p of procs) p.kill('SIGKILL');
    for (const srv of servers) {
      srv.closeAllConnections();
      srv.close();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows a few changes per engine, then one flapping event with the count; the answer and memory stay small', async () => {
    const ours = (e: { subject: string }) => ports.some((p) => e.subject.endsWith(`:${p}`));
    const events = await waitFor('every engine counted as flapping at least 10 times', async () => {
      const list: any[] = (await json(`${s.base}/api/v1/events`)).body.events ?? [];
      const flapping = list.filter((e) => ours(e) && e.kind === 'engine-flapping' && e.count >= 10);
      return flapping.length === ENGINES ? list : undefined;
    }, 90_000);
    for (const port of ports) {
      const mine = events.filter((e: any) => e.subject.endsWith(`:${port}`));
      expect(mine.filter((e: any) => e.kind === 'engine-flapping')).toHaveLength(1);
      expect(mine.filter((e: any) => e.kind === 'engine-up' || e.kind === 'engine-down').length).toBeLessThanOrEqual(4);
      for (const e of mine) expect(e.text.length).toBeLessThanOrEqual(1024);
    }
    const r = await fetch(`${s.base}/api/v1/events?limit=10000`);
    expect(r.status).toBe(200);
    expect((await r.text()).length).toBeLessThan(1024 * 1024);
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${s.proc.pid}/status`, 'utf8'))?.[1]);
    expect(rssKiB).toBeLessThan(400 * 1024);
  }, 120_000);
});

describe('memory budget of the history', () => {
  it('refuses --history 365d with exit 2, naming the need, the budget and the largest history that fits', () => {
    const r = spawnSync(process.execPath, [CLI, '--history', '365d', '--listen', '127.0.0.1:0'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--history 365d at 5s needs ~\d+ GiB .*the budget is 512 MiB \(--history-budget\): at most --history \d+h fits at 5s/);
  });
});

describe('a simulated run', () => {
  let tmp = '';
  let s: Running;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'gpufleet-simtmp-'));
    s = await startSidecar(['--simulate', 'small', '--interval', '1s', '--docker-socket', 'none'], { TMPDIR: tmp });
  }, 60_000);

  afterAll(async () => {
    await s?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('serves /metrics as rendered at the last tick: the same text until the next tick, a new one after it', async () => {
    // The GPU and engine loops each publish: a tick is the pair of their last-success stamps.
    const tick = (text: string) => text.match(/^gpufleet_collector_last_success_timestamp_seconds\{.*$/gm)?.join('\n');
    const scrape = async () => (await fetch(`${s.base}/metrics`)).text();
    // Two scrapes of the same tick (a pair that straddles a tick is taken again).
    const [a, b] = await waitFor('two scrapes within one tick', async () => {
      const x = await scrape();
      const y = await scrape();
      return tick(x) && tick(x) === tick(y) ? [x, y] : undefined;
    }, 30_000);
    expect(b).toBe(a);
    const c = await waitFor('a scrape after the next tick', async () => {
      const z = await scrape();
      return tick(z) !== tick(a) ? z : undefined;
    }, 30_000);
    expect(c).not.toBe(a);
  });

  it('leaves no temporary directory behind after SIGTERM', async () => {
    expect(readdirSync(tmp).some((n) => n.startsWith('gpufleet-sim-'))).toBe(true);
    expect(await s.stop()).toBe(0);
    expect(readdirSync(tmp)).toEqual([]);
  });
});
