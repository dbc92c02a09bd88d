#!/usr/bin/env node
// gpufleet-sidecar: parse the configuration, start collecting, serve the API; stop cleanly on SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { createApp } from './api/app.js';
import { SidecarMetrics } from './api/metrics.js';
import { parseConfig, type Config } from './config.js';
import { pidListReader } from './engines/pidList.js';
import { Sidecar } from './sidecar.js';
import { VERSION } from './version.js';

function readToken(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`--token-file: cannot read ${path}: ${(err as Error).message}`);
  }
  const token = text.trim();
  if (!token) throw new Error(`--token-file: ${path} is empty`);
  if (/\s/.test(token)) throw new Error(`--token-file: ${path} must hold one token without spaces`);
  return token;
}

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
  let config: Config;
  let env: NodeJS.ProcessEnv;
  let simDockerSocket: string | null;
  let procPids: ProcPids | undefined;
  let token: string | null = null;
  try {
    ({ config, env, simDockerSocket, procPids } = simulation(parsed));
    if (config.tokenFile) token = readToken(config.tokenFile);
  } catch (err) {
    process.stderr.write(`gpufleet-sidecar: ${(err as Error).message}\n`);
    process.exit(2);
  }

  const simHost = config.simulate ? startSimHost(env, logger) : null;
  // The sidecar turns container discovery off when its socket is absent at start: wait for simHost's.
  if (simDockerSocket && !(await waitForPath(simDockerSocket, 10_000))) {
    logger.warn(`simHost did not open its Docker API at ${simDockerSocket} within 10 s`);
  }
  const metrics = new SidecarMetrics({ maxSeries: config.maxSeries, host: config.hostname, version: VERSION });
  const sidecar = new Sidecar({ config, logger, metrics, nvidiaSmiEnv: env, procPids });
  const app = createApp({
    store: sidecar.store,
    sources: sidecar.sources,
    metrics,
    version: VERSION,
    startedAt: Date.now(),
    token,
    onError: (err, req) => logger.error({ err, path: req.path }, 'request failed'),
  });

  const server = app.listen(config.listenPort, config.listenHost);
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
        auth: token ? 'bearer' : 'none',
      },
      `gpufleet-sidecar ${VERSION} listening on http://${config.listenHost}:${port}`,
    );
  });
  sidecar.start();

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(0), 5000);
    force.unref();
    server.close();
    server.closeAllConnections();
    void Promise.all([sidecar.stop(), stopChild(simHost)]).then(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

// `fleet-sim` is its own program (sidecar/src/fleet/); everything else is the sidecar.
const run = process.argv[2] === 'fleet-sim' ? import('./fleet/fleetCli.js').then((m) => m.runFleetSim(process.argv.slice(3))) : main();
run.catch((err) => {
  process.stderr.write(`gpufleet-sidecar: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
