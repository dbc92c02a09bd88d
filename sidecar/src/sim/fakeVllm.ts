// One process of a fake vLLM engine (started by simHost, or by another fakeVllm process). Its config arrives as
// one JSON line on stdin; then it takes the command line of its plan (fakeProc.ts), starts its children, and:
//   role "api":  serves GET /health, /v1/models, /version, /metrics on 127.0.0.1:<port> (vLLM's shapes,
//                engineMetrics.ts), then reports {"type":"ready","procs":[…]} on stdout;
//   role "proc": an engine core with workers, or a forked untitled child; reports {"type":"tree",…}.
//   role "frontend": vLLM's Rust frontend (`frontend: rust`): serves those paths on the socket its "api" parent
//                bound and handed down as fd 3, /metrics as OpenMetrics only (rustFrontend.ts); the "api"
//                process then serves nothing itself, as `vllm serve` does under VLLM_USE_RUST_FRONTEND=1.
// It exits when stdin closes or its parent changes (the parent died), on SIGTERM, or — like vLLM's API server
// and engine core — when one of its children dies.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import type { ProcPlan } from './engineLayout.js';
import { engineFaultsAt, type EngineSpec } from './engineScenario.js';
import { EngineMetricsModel, HTML_PAGE, HttpStats, modelsBody, versionBody } from './engineMetrics.js';
import { restrictToSamples } from './promFormat.js';
import { RUST_FRONTEND_CONTENT_TYPE, RUST_FRONTEND_LISTEN_FD, toRustOpenMetrics } from './rustFrontend.js';
import {
  engineEnv,
  isLeaf,
  onLines,
  processStartMs,
  readConfigLine,
  setOwnCommandLine,
  spawnFakeNode,
  spawnLeaf,
  watchParent,
} from './fakeProc.js';

export interface FakeVllmConfig {
  role: 'api' | 'proc' | 'frontend';
  plan: ProcPlan;
  /** Absolute path of fakeVllm.js (for node children). */
  script: string;
  binDir: string;
  cat: string;
  /** api only */
  engine?: EngineSpec;
  epochMs?: number;
  /** GPU memory per rank, MiB (sizes the KV cache in cache_config_info). */
  rankMemoryMiB?: number;
}

export interface ReportedProc {
  key: string;
  pid: number;
  ppid: number;
}

const children: ChildProcess[] = [];
const nodeChildren = new Set<ChildProcess>();
let exiting = false;

function log(msg: string): void {
  process.stderr.write(`fake vLLM pid ${process.pid}: ${msg}\n`);
}

let server: Server | null = null;

/**
 * Exits after killing and reaping the children: a child that died after its parent would be left as a zombie
 * under whatever adopts it (init reaps them on a normal host, but not every container's pid 1 does).
 */
function exitNow(code: number): void {
  if (exiting) return;
  exiting = true;
  server?.close();
  const alive = children.filter((c) => c.exitCode === null && c.signalCode === null && c.pid !== undefined);
  if (alive.length === 0) process.exit(code);
  let left = alive.length;
  for (const c of alive) {
    c.once('exit', () => {
      if (--left === 0) process.exit(code);
    });
    try {
      // A node child (engine core with workers) reaps its own children first; `cat` leaves just go.
      c.kill(nodeChildren.has(c) ? 'SIGTERM' : 'SIGKILL');
    } catch {
      // gone
    }
  }
  setTimeout(() => {
    for (const c of alive) c.kill('SIGKILL');
  }, 1500).unref();
  setTimeout(() => process.exit(code), 2500);
}

/** Starts the plan's children (`listenFd`: our listening socket, for the Rust frontend child); resolves with every descendant once all reported. */
function startChildren(cfg: FakeVllmConfig, listenFd?: number): Promise<ReportedProc[]> {
  const out: ReportedProc[] = [];
  const waits: Promise<void>[] = [];
  for (const plan of cfg.plan.children) {
    const env = engineEnv(process.env, plan.env);
    let child: ChildProcess;
    if (isLeaf(plan)) {
      child = spawnLeaf(cfg.binDir, cfg.cat, plan, env);
      if (child.pid !== undefined) out.push({ key: plan.key, pid: child.pid, ppid: process.pid });
    } else {
      const frontend = plan.key === 'frontend' && listenFd !== undefined;
      const sub: FakeVllmConfig = frontend
        ? { ...cfg, role: 'frontend', plan }
        : { role: 'proc', plan, script: cfg.script, binDir: cfg.binDir, cat: cfg.cat };
      child = spawnFakeNode(cfg.script, plan, env, sub, frontend ? listenFd : undefined);
      nodeChildren.add(child);
      child.stderr?.on('data', (d: Buffer) => process.stderr.write(d));
      waits.push(
        new Promise<void>((resolve) => {
          onLines(child.stdout, (line) => {
            try {
              const msg = JSON.parse(line) as { type: string; procs?: ReportedProc[] };
              if (msg.type === 'tree' && msg.procs) out.push(...msg.procs);
            } catch {
              // not a report
            }
            resolve();
          });
          child.on('exit', () => resolve());
        })
      );
    }
    children.push(child);
    child.on('error', (err) => log(`cannot start ${plan.key}: ${err.message}`));
    child.on('exit', (code, signal) => {
      if (exiting) return;
      log(`${plan.key} (pid ${child.pid ?? '?'}) exited (${signal ?? `code ${code}`}); shutting down like vLLM does`);
      exitNow(1);
    });
  }
  return Promise.all(waits).then(() => out);
}

function send(res: ServerResponse, status: number, type: string | null, body: string): number {
  const bytes = Buffer.byteLength(body);
  const headers: Record<string, string | number> = { 'content-length': bytes, date: new Date().toUTCString(), server: 'uvicorn' };
  if (type) headers['content-type'] = type;
  res.writeHead(status, headers);
  res.end(body);
  return bytes;
}

/** Serves vLLM's HTTP paths: on the engine's port (role "api"), or on the inherited fd 3 (role "frontend", OpenMetrics). */
function serve(cfg: FakeVllmConfig, procs: ReportedProc[]): void {
  const rust = cfg.role === 'frontend';
  const engine = cfg.engine as EngineSpec;
  const epochMs = cfg.epochMs ?? 0;
  const startMs = processStartMs() ?? Date.now();
  const model = new EngineMetricsModel(engine, epochMs, startMs);
  const http = engine.profile.metrics === 'v1' ? new HttpStats() : null;
  const srv = createServer((req: IncomingMessage, res: ServerResponse) => {
    const began = process.hrtime.bigint();
    const now = Date.now();
    const faults = engineFaultsAt(engine, model.tAt(now));
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    req.resume();
    if (faults.has('hang') || (faults.has('hang-metrics') && path === '/metrics')) return; // accepted, never answered
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'application/json', '{"detail":"Method Not Allowed"}');
      return;
    }
    let bytes = 0;
    switch (path) {
      case '/health':
        bytes = send(res, 200, null, '');
        break;
      case '/version':
        bytes = send(res, 200, 'application/json', versionBody(engine));
        break;
      case '/v1/models':
        bytes = send(res, 200, 'application/json', modelsBody(engine, now, () => randomUUID().replace(/-/g, '')));
        http?.record('/v1/models', 'GET', 200, 0, bytes, Number(process.hrtime.bigint() - began) / 1e9, now / 1000);
        break;
      case '/metrics':
        if (faults.has('html-metrics')) {
          bytes = send(res, 200, 'text/html; charset=utf-8', HTML_PAGE);
        } else {
          const cpu = process.cpuUsage();
          const text = model.render({
            nowMs: now,
            rankMemoryMiB: cfg.rankMemoryMiB ?? 70000,
            http,
            brokenHistograms: faults.has('bad-histograms'),
            cpuSeconds: (cpu.user + cpu.system) / 1e6,
          });
          // vLLM's Python API server answers prometheus_client's name[] filter; the Rust frontend's
          // answer to it is not known here, so it answers whole, as a server ignoring the query would.
          const names = new URLSearchParams((req.url ?? '').slice(path.length + 1)).getAll('name[]');
          bytes = rust
            ? send(res, 200, RUST_FRONTEND_CONTENT_TYPE, toRustOpenMetrics(text))
            : send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', names.length ? restrictToSamples(text, new Set(names)) : text);
        }
        break;
      default:
        bytes = send(res, 404, 'application/json', '{"detail":"Not Found"}');
    }
    void bytes;
  });
  server = srv;
  srv.keepAliveTimeout = 5000;
  srv.on('error', (err: NodeJS.ErrnoException) => {
    process.stdout.write(`${JSON.stringify({ type: 'error', message: `cannot listen on 127.0.0.1:${engine.port}: ${err.code ?? err.message}` })}\n`);
    exitNow(1);
  });
  if (rust) {
    srv.listen({ fd: RUST_FRONTEND_LISTEN_FD }, () => {
      process.stdout.write(`${JSON.stringify({ type: 'tree', procs: [{ key: cfg.plan.key, pid: process.pid, ppid: process.ppid }] })}\n`);
    });
  } else {
    srv.listen(engine.port, '127.0.0.1', () => {
      process.stdout.write(`${JSON.stringify({ type: 'ready', startedAt: startMs, procs: [{ key: 'api', pid: process.pid, ppid: process.ppid }, ...procs] })}\n`);
    });
  }
  // Keep the counters' backlog short even when nobody scrapes.
  setInterval(() => model.advanceTo(Date.now()), 30_000).unref();
}

/**
 * `vllm serve` under VLLM_USE_RUST_FRONTEND=1: binds the engine's port, hands the socket to its `vllm-rs
 * frontend` child (fd 3) and serves nothing itself (its own copy is closed once the child has it).
 */
function startBehindRustFrontend(cfg: FakeVllmConfig): void {
  const engine = cfg.engine as EngineSpec;
  const startMs = processStartMs() ?? Date.now();
  const sock: NetServer = createNetServer();
  sock.on('error', (err: NodeJS.ErrnoException) => {
    process.stdout.write(`${JSON.stringify({ type: 'error', message: `cannot listen on 127.0.0.1:${engine.port}: ${err.code ?? err.message}` })}\n`);
    exitNow(1);
  });
  sock.listen(engine.port, '127.0.0.1', () => {
    const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (typeof fd !== 'number' || fd < 0) {
      process.stdout.write(`${JSON.stringify({ type: 'error', message: 'no descriptor for the listening socket' })}\n`);
      exitNow(1);
      return;
    }
    const started = startChildren(cfg, fd);
    // spawn() has duplicated the socket into the frontend: ours would take connections nobody answers.
    sock.close();
    started.then(
      (procs) => {
        process.stdout.write(`${JSON.stringify({ type: 'ready', startedAt: startMs, procs: [{ key: 'api', pid: process.pid, ppid: process.ppid }, ...procs] })}\n`);
      },
      (err: unknown) => {
        log(`cannot start children: ${(err as Error).message}`);
        exitNow(1);
      }
    );
  });
}

function main(): void {
  process.on('SIGTERM', () => exitNow(0));
  process.on('SIGINT', () => exitNow(0));
  process.stdout.on('error', () => undefined);
  readConfigLine(
    (line) => {
      let cfg: FakeVllmConfig;
      try {
        cfg = JSON.parse(line) as FakeVllmConfig;
      } catch (err) {
        log(`bad config: ${(err as Error).message}`);
        exitNow(2);
        return;
      }
      const how = setOwnCommandLine(cfg.plan.argv, cfg.plan.comm);
      if (how !== 'exact') log(`/proc/self/mem not writable: command line set as one string (${how})`);
      watchParent(() => exitNow(0));
      if (cfg.role === 'api' && cfg.engine?.frontend === 'rust') {
        startBehindRustFrontend(cfg);
        return;
      }
      if (cfg.role === 'frontend') {
        serve(cfg, []);
        return;
      }
      startChildren(cfg).then(
        (procs) => {
          if (cfg.role === 'api') serve(cfg, procs);
          else {
            process.stdout.write(`${JSON.stringify({ type: 'tree', procs: [{ key: cfg.plan.key, pid: process.pid, ppid: process.ppid }, ...procs] })}\n`);
            setInterval(() => undefined, 1 << 30);
          }
        },
        (err: unknown) => {
          log(`cannot start children: ${(err as Error).message}`);
          exitNow(1);
        }
      );
    },
    () => exitNow(0)
  );
}

main();
