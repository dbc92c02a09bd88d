// A hostile local user against the real sidecar (built CLI, simulated GPUs, a real /proc): processes
// started as `nobody` whose command lines read like vLLM launches pointing the sidecar at an
// internal-only HTTP server, at a root-owned unix socket, at an invalid address, next to an engine
// that answers secrets on /metrics. The internal path is never requested, the root socket never
// connected, nothing of any secret reaches any route, and the SD endpoint answers 200 with the good
// engine only. The sidecar and those processes run in a PID namespace of their own (unshare), so
// that the process table is this test's, not that of whatever else runs on the machine.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAKE, freePort, json, startSidecar, waitFor, type Running } from './harness.js';

const SECRET = `TOPSECRET-${process.pid}-${Date.now().toString(36)}`;
const VLLM_METRICS = 'vllm:num_requests_running{engine="0",model_name="org/good"} 1\nvllm:num_requests_waiting{engine="0",model_name="org/good"} 0\n';

/** The pids behind `ss -p` users:(("name",pid=N,fd=M)) columns. */
const pidsIn = (text: string) => [...text.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));

const ss = async (args: string[]) => (await promisify(execFile)('ss', args)).stdout;

/** Who is connected from a loopback TCP port (the peer of a request), as ss sees it. */
async function tcpPeerPids(remotePort: number): Promise<number[]> {
  return pidsIn(await ss(['-Htnp', 'state', 'established', `( sport = :${remotePort} )`]));
}

/** Who is connected to a unix socket path now: the peers of its accepted connections. */
async function unixPeerPids(path: string): Promise<number[]> {
  const lines = (await ss(['-Hxp'])).split('\n').map((l) => l.trim().split(/\s+/));
  // Columns: type state recv send local-path local-inode peer-path peer-inode users
  const peers = new Set(lines.filter((f) => f[4] === path).map((f) => f[7]));
  return lines.filter((f) => peers.has(f[5])).flatMap((f) => pidsIn(f.slice(8).join(' ')));
}

/** setpriv as in util-linux: a process of user and group nobody, without root's groups. */
const AS_NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
/** A PID namespace with its own /proc; everything in it dies with the sidecar (its pid 1). */
const OWN_PIDS = ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child=SIGTERM'];

/** A process and all its descendants (host pids). */
function descendants(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const file = `/proc/${out[i]}/task/${out[i]}/children`;
    if (existsSync(file)) out.push(...readFileSync(file, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  }
  return out;
}

const shellQuote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, fixedPort?: number): Promise<{ server: Server; port: number }> {
  const port = fixedPort ?? (await freePort());
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { server, port };
}

describe('a hostile local user cannot turn engine discovery against the host', () => {
  let s: Running;
  let dir: string;
  let sockDir: string;
  /** Launch lines of the hostile processes, started in the sidecar's PID namespace. */
  const launches: string[][] = [];
  let sidecarPids: number[] = [];
  const servers: Server[] = [];
  let udsServer: NetServer;
  /**
   * Every path asked of the internal server and every connection to the root socket, with the pids
   * of the asking processes: other sidecars on a shared test machine see the same /proc, and only
   * this test's sidecar is under test.
   */
  const internalAsked: Promise<{ path: string; pids: number[] }>[] = [];
  const udsConnections: Promise<number[]>[] = [];
  const mine = (pids: number[]) => pids.some((p) => sidecarPids.includes(p));
  let ports: { internal: number; good: number; leaky: number; smuggled: number; invalid: number };

  /** A process of user nobody whose /proc/PID/cmdline is `python3 <dir>/vllm <args…>`; it only sleeps. */
  function hostile(args: string[]): void {
    launches.push([...AS_NOBODY, join(dir, 'vllm'), ...args]);
  }

  beforeAll(async () => {
    // Fails here, not later, when the tools for an unprivileged user are missing.
    execFileSync(AS_NOBODY[0] as string, [...AS_NOBODY.slice(1), 'true']);
    dir = mkdtempSync(join(tmpdir(), 'gpufleet-hostile-'));
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'vllm'), '#!/usr/bin/python3\nimport time\ntime.sleep(600)\n', { mode: 0o755 });
    writeFileSync(join(dir, 'scenario.yaml'), 'hostname: hostile-01\ngpus:\n  - model: L40S\nengines: []\n');

    // The internal-only service, on loopback port 80 (where "http://127.0.0.1/internal/secret#:80/health",
    // the URL a --host of "127.0.0.1/internal/secret#" made, lands): answers every path with the secret.
    // Who asks is looked up while the connection is open (the answer waits for it): other sidecars on
    // a shared machine read the same command lines.
    const internal = await listen((req, res) => {
      const who = tcpPeerPids(req.socket.remotePort as number);
      internalAsked.push(who.then((pids) => ({ path: req.url ?? '', pids })));
      void who.finally(() => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`${SECRET}\n`);
      });
    }, 80);
    // A real engine of that user: answers like vLLM.
    const good = await listen((req, res) => {
      if (req.url === '/health') return res.end();
      if (req.url === '/metrics') return res.end(VLLM_METRICS);
      res.writeHead(404);
      res.end();
    });
    // An engine whose /metrics is an HTML page with a secret in it, then garbage.
    let leakyCalls = 0;
    const leaky = await listen((req, res) => {
      if (req.url === '/health') return res.end();
      leakyCalls++;
      res.writeHead(200, { 'content-type': leakyCalls % 2 ? 'text/html' : `text/plain; note=${SECRET}` });
      res.end(leakyCalls % 2 ? `<html><title>${SECRET}</title></html>` : `${SECRET} is not a metric\n`);
    });
    servers.push(internal.server, good.server, leaky.server);
    // A root-owned unix socket: the Docker API's, say.
    sockDir = mkdtempSync(join(tmpdir(), 'gpufleet-rootsock-'));
    chmodSync(sockDir, 0o755);
    udsServer = createNetServer((sock) => {
      sock.on('error', () => undefined); // a peer that hangs up early
      const who = unixPeerPids(join(sockDir, 'root.sock'));
      udsConnections.push(who);
      void who.finally(() => sock.end(`HTTP/1.1 200 OK\r\ncontent-length: ${SECRET.length}\r\n\r\n${SECRET}`));
    });
    await new Promise<void>((r) => udsServer.listen(join(sockDir, 'root.sock'), r));

    ports = { internal: internal.port, good: good.port, leaky: leaky.port, smuggled: await freePort(), invalid: await freePort() };
    hostile(['serve', 'x', '--host', '127.0.0.1/internal/secret#', '--port', String(ports.internal)]);
    hostile(['serve', 'x', '--host', `127.0.0.1:${ports.internal}/internal/secret#`, '--port', String(ports.smuggled)]);
    hostile(['serve', 'x', '--uds', join(sockDir, 'root.sock')]);
    hostile(['serve', 'x', '--host', 'not:ipv6', '--port', String(ports.invalid)]);
    hostile(['serve', 'org/good', '--port', String(ports.good)]);
    hostile(['serve', 'org/leaky', '--host', '127.0.0.1', '--port', String(ports.leaky)]);

    // The namespace's first process starts the hostile ones, then becomes the sidecar.
    const start = join(dir, 'start.sh');
    writeFileSync(start, `#!/bin/sh\n${launches.map((l) => `${l.map(shellQuote).join(' ')} &`).join('\n')}\nexec "$@"\n`, { mode: 0o755 });
    // The simulator's nvidia-smi, not --simulate: a simulated host sees only its own engines, and these
    // launches are the real host's.
    s = await startSidecar(
      ['--nvidia-smi', FAKE, '--hostname', 'hostile-01', '--interval', '1s', '--docker-socket', 'none', '--kmsg', 'none'],
      { GPUFLEET_SIM_SCENARIO: join(dir, 'scenario.yaml') },
      [
        ...OWN_PIDS, start,
      ],
    );
    sidecarPids = descendants(s.proc.pid as number);
    await waitFor('the good engine read and the leaky one tried twice', async () => {
      const list: any[] = (await json(`${s.base}/api/v1/engines`)).body.engines ?? [];
      const good = list.find((e) => e.id === `hostile-01:${ports.good}`);
      return good?.health === 'up' && good.load.running !== null && leakyCalls >= 2 && list.length >= 6;
    }, 60_000);
    // A few more ticks for anything that would be asked late.
    const first = (await json(`${s.base}/api/v1/snapshot`)).body.host.collectedAt;
    await waitFor('two more ticks', async () => (await json(`${s.base}/api/v1/snapshot`)).body.host.collectedAt !== first);
  }, 120_000);

  afterAll(async () => {
    // unshare ignores SIGTERM while it waits: the sidecar (the namespace's pid 1) is stopped, and the
    // namespace, the hostile processes with it, goes with it.
    const exited = s ? new Promise((r) => (s.proc.exitCode !== null ? r(null) : s.proc.once('exit', r))) : null;
    if (sidecarPids[1] !== undefined) process.kill(sidecarPids[1], 'SIGTERM');
    await exited;
    await s?.stop(); // exited already: this removes the harness's folder
    for (const sv of servers) sv.close();
    udsServer?.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(sockDir, { recursive: true, force: true });
  });

  it('never requests the internal path, nor any path of the internal server, nor connects to the root socket', async () => {
    expect((await Promise.all(internalAsked)).filter((a) => mine(a.pids))).toEqual([]);
    expect((await Promise.all(udsConnections)).filter(mine)).toEqual([]);
  });

  it('lists the refused engines with why, without repeating what their command line said', async () => {
    const list: any[] = (await json(`${s.base}/api/v1/engines`)).body.engines;
    const byId = (port: number | string) => list.find((e) => e.id === `hostile-01:${port}`);
    const notLiteral = /^--host is neither an IP address nor a host name \(it contains "[/:]"\)$/;
    for (const port of [ports.internal, ports.smuggled, ports.invalid]) {
      expect(byId(port)).toMatchObject({ endpoint: '', health: 'unknown', lastError: expect.stringMatching(notLiteral) });
    }
    expect(byId(`unix:${join(sockDir, 'root.sock')}`)).toMatchObject({
      endpoint: '', health: 'unknown', lastError: '--uds: the socket belongs to another user than the engine process',
    });
    expect(byId(ports.leaky)).toMatchObject({ health: 'up', lastError: expect.stringMatching(/\/metrics: (answered an HTML page|not Prometheus text).*\(content type text\/(html|plain), \d+ bytes\)$/) });
  });

  it('nothing of any secret, nor the smuggled path, reaches any route', async () => {
    const get = async (path: string) => (await fetch(`${s.base}${path}`)).text();
    const post = async (kind: string) =>
      (await fetch(`${s.base}/api/v1/query`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ queries: [{ refId: 'A', kind, ...(kind === 'timeseries' ? { metric: 'engine_running' } : {}) }] }),
      })).text();
    const answers: Record<string, string> = {};
    for (const path of ['/api/v1/engines', '/api/v1/snapshot', '/api/v1/topology', '/api/v1/sd/engines', '/api/v1/sd/engines?loopback=gpu-node', '/metrics', '/api/v1/events', '/api/v1/health', '/api/v1/gpus']) {
      answers[path] = await get(path);
    }
    for (const kind of ['engines', 'topology', 'processes', 'gpus', 'timeseries']) answers[`query ${kind}`] = await post(kind);
    const leaks = Object.entries(answers).filter(([, body]) => body.includes(SECRET) || body.includes('TOPSECRET') || body.includes('internal/secret'));
    expect(leaks.map(([where]) => where)).toEqual([]);
    // The answers are real ones (the good engine is in them), not errors.
    expect(answers['/api/v1/engines']).toContain(`hostile-01:${ports.good}`);
    expect(answers['/metrics']).toContain(`engine_id="hostile-01:${ports.good}"`);
  });

  it('SD answers 200 with the engine that answered like vLLM, and none of the refused or non-vLLM ones', async () => {
    const r = await json(`${s.base}/api/v1/sd/engines`);
    expect(r.status).toBe(200);
    const targets = new Map(r.body.map((g: any) => [g.labels.engine_id, g.targets]));
    expect(targets.get(`hostile-01:${ports.good}`)).toEqual([`127.0.0.1:${ports.good}`]);
    for (const port of [ports.internal, ports.smuggled, ports.invalid, ports.leaky, `unix:${join(sockDir, 'root.sock')}`]) {
      expect(targets.has(`hostile-01:${port}`)).toBe(false);
    }
  });
});
