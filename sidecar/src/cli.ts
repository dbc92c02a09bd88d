#!/usr/bin/env -S node --max-semi-space-size=1 --single-threaded-gc --no-allocation-site-pretenuring --optimize-for-size --v8-pool-size=1
// (The V8 flags keep the young generation at 1 MB — left to grow under request load it reaches 32 MB, a
// third of the sidecar's resident memory —, collect the small heap on one thread, which costs less CPU
// than V8's helper threads, and keep V8 from allocating objects that live a tick straight into old space
// (pretenuring), which doubled its old-space collections; --optimize-for-size keeps less heap and malloc
// memory beyond what is live (a quarter of the resident memory with 16 engines); --v8-pool-size=1 keeps one
// V8 helper thread instead of four, and with it fewer malloc arenas (~4 MB). The image's entrypoint,
// the compose file, the DaemonSet and scripts/demo.sh pass them too.)
// gpufleet-sidecar: parse the configuration, start collecting, serve the API; stop cleanly on SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { createApp } from './api/app.js';
import { Authenticator } from './api/auth.js';
import { createApiServer, isLoopbackHost } from './api/httpServer.js';
import { SidecarMetrics } from './api/metrics.js';
import { TokenFile } from './api/tokenFile.js';
import type { WebConfig } from './api/webConfigFile.js';
import { parseConfig, type Config } from './config.js';
import { pidListReader } from './engines/pidList.js';
import { Sidecar } from './sidecar.js';
import { VERSION } from './version.js';

/**
 * In simulate mode nvidia-smi is the simulator's fake, fed the scenario through its environment, and the
 * Docker API is simHost's fake on a socket in the simulator's state dir (unless --docker-socket was given):
 * the scenario's docker-deployed engines are its containers, and a real Docker on the machine running the
 * simulation is not the simulated host's.
 */
type ProcPids = () => ReadonlySet<number>;

/**
 * The host is named by --hostname, default sim-<scenario>; the simulated GPUs take that name too (their UUIDs
 * derive from it), and the process scan sees only the pids simHost lists as its engines', so several simulated
 * hosts run side by side on one machine without seeing each other's (or the machine's own) vLLM processes, unless
 * --docker-socket names a real Docker: its containers' processes are the machine's.
 */
function simulation(config: Config): { config: Config; env: NodeJS.ProcessEnv; simDockerSocket: string | null; procPids?: ProcPids } {
  if (!config.simulate) return { config, env: process.env, simDockerSocket: null };
  const fake = fileURLToPath(new URL('./sim/fakeNvidiaSmi.js', import.meta.url));
  if (!existsSync(fake)) throw new Error(`--simulate: the simulator is not built (${fake} missing); run npm run build -w sidecar`);
  const scenario = /[/.]/.test(config.simulate) ? resolve(config.simulate) : config.simulate;
  const name = basename(config.simulate).replace(/\.(ya?ml|json)$/, '');
  const hostnameGiven = process.argv.includes('--hostname') || process.env.GPUFLEET_HOSTNAME !== undefined;
  // The simulated host's kernel log: the fake nvidia-smi appends Xid records there during xid faults.
  const simDir = mkdtempSync(join(tmpdir(), 'gpufleet-sim-'));
  // Removed however the process ends short of SIGKILL: 'exit' follows SIGTERM/SIGINT (shutdown calls
  // process.exit), a fatal error and a normal end alike.
  process.once('exit', () => rmSync(simDir, { recursive: true, force: true }));
  const kmsg = join(simDir, 'kmsg');
  writeFileSync(kmsg, '');
  const simDockerSocket = join(simDir, 'docker.sock');
  const socketGiven = process.argv.some((a) => a === '--docker-socket' || a.startsWith('--docker-socket=')) || process.env.GPUFLEET_DOCKER_SOCKET !== undefined;
  const hostname = hostnameGiven ? config.hostname : `sim-${name}`;
  return {
    // A real Docker given with --docker-socket brings the machine's containers in, and with them its processes.
    procPids: socketGiven && config.dockerSocket ? undefined : pidListReader(join(simDir, 'engine-pids')),
    config: {
      ...config,
      nvidiaSmi: fake,
      hostname,
      kmsg,
      dockerSocket: socketGiven ? config.dockerSocket : simDockerSocket,
    },
    simDockerSocket: socketGiven ? null : simDockerSocket,
    env: {
      ...process.env,
      GPUFLEET_SIM_DOCKER_SOCKET: simDockerSocket,
      GPUFLEET_SIM_KMSG: kmsg,
      // simHost publishes the fake vLLM engines' pids there; the fake nvidia-smi lists them as GPU processes.
      GPUFLEET_SIM_STATE: simDir,
      GPUFLEET_SIM_SCENARIO: scenario,
      GPUFLEET_SIM_HOSTNAME: hostname,
      GPUFLEET_SIM_EPOCH: process.env.GPUFLEET_SIM_EPOCH ?? String(Date.now()),
    },
  };
}

/** In simulate mode: the simulator's vLLM engines (sim/simHost.js), as real processes; stderr lines → warn. */
function startSimHost(env: NodeJS.ProcessEnv, logger: { warn: (msg: string) => void }): ChildProcess {
  const script = fileURLToPath(new URL('./sim/simHost.js', import.meta.url));
  const child = spawn(process.execPath, [script], { env, stdio: ['pipe', 'ignore', 'pipe'] });
  let buf = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    buf += chunk;
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) logger.warn(line);
  });
  child.on('error', (err) => logger.warn(`simHost: ${err.message}`));
  // Its stdin is only the liveness pipe: once simHost is gone, the pipe's EPIPE is no news.
  child.stdin?.on('error', () => undefined);
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM') logger.warn(`simHost exited (${signal ?? `code ${code}`}): the simulated vLLM engines are gone`);
  });
  return child;
}

/** Whether `path` exists within `timeoutMs` (checked every 50 ms). */
async function waitForPath(path: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** SIGTERM, then SIGKILL after 2 s; resolves once it has exited. */
function stopChild(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 2000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function main(): Promise<void> {
  const parsed = parseConfig(process.argv);
  const logger = pino({ level: parsed.logLevel, base: { app: 'gpufleet-sidecar' } });
  // The last net. Every emitter we know of handles its own errors (child processes, sockets, the
  // kernel log); one we missed must cost a log line, not the GPU metrics of the whole host.
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection (a bug: please report it); still running'));
  process.on('uncaughtException', (err) => logger.error({ err }, 'uncaught exception (a bug: please report it); still running'));
  let config: Config;
  let env: NodeJS.ProcessEnv;
  let simDockerSocket: string | null;
  let procPids: ProcPids | undefined;
  let tokenFile: TokenFile | null = null;
  let web: WebConfig = { tls: null, basicAuthUsers: new Map(), headers: {} };
  // The config file's parser (yaml, its schema) and bcryptjs load only with a file: about 2.5 MB of heap.
  let readWebConfig: ((path: string) => WebConfig) | null = null;
  try {
    ({ config, env, simDockerSocket, procPids } = simulation(parsed));
    if (config.tokenFile) tokenFile = new TokenFile(config.tokenFile, logger);
    if (config.webConfigFile) {
      ({ readWebConfig } = await import('./api/webConfigFile.js'));
      web = readWebConfig(config.webConfigFile);
    }
  } catch (err) {
    process.stderr.write(`gpufleet-sidecar: ${(err as Error).message}\n`);
    process.exit(2);
  }

  const simHost = config.simulate ? startSimHost(env, logger) : null;
  // Until the full shutdown below is in place, a stop signal still takes the simulated engines with it
  // (the default action would end this process alone and leave them holding their ports).
  const early = () => void stopChild(simHost).then(() => process.exit(0));
  if (simHost) {
    process.once('SIGTERM', early);
    process.once('SIGINT', early);
  }
  // The sidecar turns container discovery off when its socket is absent at start: wait for simHost's.
  if (simDockerSocket && !(await waitForPath(simDockerSocket, 10_000))) {
    logger.warn(`simHost did not open its Docker API at ${simDockerSocket} within 10 s`);
  }
  const metrics = new SidecarMetrics({ maxSeries: config.maxSeries, host: config.hostname, version: VERSION });
  const sidecar = new Sidecar({ config, logger, metrics, nvidiaSmiEnv: env, procPids });
  // Bearer token and basic-auth users are read per request: a reload (file watch, SIGHUP) applies at once.
  const auth = new Authenticator(() => ({ token: tokenFile?.token ?? null, basicUsers: web.basicAuthUsers }));
  const app = createApp({
    store: sidecar.store,
    sources: sidecar.sources,
    capacity: () => sidecar.capacity,
    metrics,
    version: VERSION,
    startedAt: performance.now(),
    auth,
    headers: () => web.headers,
    maxHeavyRequests: config.maxHeavyRequests,
    onError: (err, req) => logger.error({ err, path: req.path }, 'request failed'),
  });

  const api = createApiServer(
    app,
    {
      maxConnections: config.maxConnections,
      headersTimeoutMs: config.headerTimeoutMs,
      requestTimeoutMs: config.requestTimeoutMs,
      keepAliveTimeoutMs: config.keepAliveTimeoutMs,
    },
    web.tls,
    logger,
  );
  const { server } = api;
  const scheme = web.tls ? 'https' : 'http';
  server.listen(config.listenPort, config.listenHost);
  tokenFile?.watch();
  server.on('error', (err: NodeJS.ErrnoException) => {
    logger.fatal({ err }, `cannot listen on ${config.listenHost}:${config.listenPort}: ${err.code ?? err.message}`);
    process.exit(1);
  });
  server.on('listening', () => {
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.listenPort;
    logger.info(
      {
        listen: `${config.listenHost}:${port}`,
        interval: config.intervalMs,
        historyTicks: sidecar.store.history.capacity,
        nvidiaSmi: config.nvidiaSmi,
        mode: config.nvidiaSmiMode,
        simulate: config.simulate,
        auth: [...(tokenFile ? ['bearer'] : []), ...(web.basicAuthUsers.size > 0 ? ['basic'] : [])].join('+') || 'none',
        tls: web.tls !== null,
      },
      `gpufleet-sidecar ${VERSION} listening on ${scheme}://${config.listenHost}:${port}`,
    );
    if (!auth.enabled && !isLoopbackHost(config.listenHost)) {
      logger.warn(
        { listen: `${config.listenHost}:${port}` },
        'SECURITY: the API and /metrics listen beyond loopback WITHOUT AUTHENTICATION: anyone who can reach this port reads ' +
          "this host's GPUs, processes, engines and models. Set --token-file or basic_auth_users in --web.config.file, " +
          'or listen on 127.0.0.1 (see the README, Security)',
      );
    }
  });

  // SIGHUP re-reads the token file and the web config; a bad new file keeps what is in force.
  process.on('SIGHUP', () => {
    tokenFile?.reload('SIGHUP');
    if (!config.webConfigFile || !readWebConfig) return;
    try {
      const next = readWebConfig(config.webConfigFile);
      const problem = api.reloadTls(next.tls);
      if (problem) {
        logger.error({ webConfigFile: config.webConfigFile }, `--web.config.file: ${problem}; kept the previous web config`);
        return;
      }
      web = next;
      logger.info({ webConfigFile: config.webConfigFile, basicAuthUsers: web.basicAuthUsers.size, tls: web.tls !== null }, 'web config reloaded');
    } catch (err) {
      logger.error({ webConfigFile: config.webConfigFile }, `${(err as Error).message}; kept the previous web config`);
    }
  });
  sidecar.start();

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(0), 5000);
    force.unref();
    tokenFile?.close();
    server.close();
    server.closeAllConnections();
    void Promise.all([sidecar.stop(), stopChild(simHost)]).then(() => process.exit(0));
  };
  process.off('SIGTERM', early);
  process.off('SIGINT', early);
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

// `fleet-sim` is its own program (sidecar/src/fleet/); everything else is the sidecar.
const run = process.argv[2] === 'fleet-sim' ? import('./fleet/fleetCli.js').then((m) => m.runFleetSim(process.argv.slice(3))) : main();
run.catch((err) => {
  process.stderr.write(`gpufleet-sidecar: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
