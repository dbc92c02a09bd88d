#!/usr/bin/env node
// The simulated host's vLLM engines: starts every engine of the scenario as real processes (fakeVllm.ts),
// keeps them in step with the scenario (downtime windows, GPUs lost, MIG instances reconfigured away, crashes)
// and publishes which pids run where in $GPUFLEET_SIM_STATE/engines.json for the fake nvidia-smi.
//
//   GPUFLEET_SIM_SCENARIO   scenario file or shipped name (as for the fake nvidia-smi); default demo
//   GPUFLEET_SIM_HOSTNAME   optional: the simulated host's name instead of the scenario's (GPU UUIDs derive from it)
//   GPUFLEET_SIM_EPOCH      scenario start, ms since the Unix epoch; default the start of the current hour
//   GPUFLEET_SIM_STATE      directory for engines.json and engine-pids (required); bin/ in it holds the title symlinks
//   GPUFLEET_SIM_CONTROL    optional control file (lostGpus, mig overrides stop the engines on them)
//   GPUFLEET_SIM_RESTART_S  seconds before an engine that died outside its downtime is started again (30)
//   GPUFLEET_SIM_ENGINES    "off": start no engine (engines.json stays empty), e.g. for benchmarks
//   GPUFLEET_SIM_DOCKER_SOCKET  optional unix socket path: answer the Docker Engine API there (fakeDocker.ts),
//                           listing the running `deployment: docker` engines as containers
//
// Each engine listens on its scenario port when that is free on 127.0.0.1, else on one the OS picks (chosen once,
// kept across restarts; engines.json says which), so several simulated hosts run side by side on one machine.
//
// Stops every engine and exits on SIGTERM/SIGINT, or when its parent goes away. Problems go to stderr.
import type { ChildProcess } from 'node:child_process';
import type { Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { existsSync, fstatSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { engineDevicesAt, engineProcessPlan, flattenPlan, gpuProcessName, launchArgv, type EngineDevice, type ProcPlan } from './engineLayout.js';
import { inDowntime, type EngineSpec } from './engineScenario.js';
import { startFakeDockerApi, type FakeContainer } from './fakeDocker.js';
import { loadSimScenario } from './fakeCli.js';
import { engineEnv, findCat, onLines, spawnFakeNode, watchParent } from './fakeProc.js';
import type { FakeVllmConfig, ReportedProc } from './fakeVllm.js';
import type { Scenario } from './scenario.js';
import { EMPTY_CONTROL, hostStateAt, parseControl, type SimControl } from './state.js';

/** One line of engines.json per running engine. */
export interface EngineStateEntry {
  engine: string;
  port: number;
  version: string;
  model: string;
  apiPid: number;
  /** When the API server process started (ms since the Unix epoch; its process_start_time_seconds). */
  startedAt: number;
  /** The processes holding a CUDA context, one per rank. */
  workers: Array<{
    rank: number;
    dpRank: number | null;
    pid: number;
    /** The first element of its command line (what nvidia-smi shows as the process name). */
    title: string;
    gpu: number;
    gpuUuid: string;
    mig?: number;
    migUuid?: string;
    memoryMiB: number;
  }>;
  /** Every process of the engine. */
  processes: Array<{ key: string; role: string; pid: number; ppid: number; argv: string[] }>;
}

export const ENGINES_FILE = 'engines.json';
/** Every process of the running engines, one pid per line: the only processes the simulated host's sidecar scans. */
export const PIDS_FILE = 'engine-pids';

function here(): string {
  return dirname(fileURLToPath(import.meta.url));
}

function epochFromEnv(): number {
  const raw = process.env.GPUFLEET_SIM_EPOCH;
  if (raw && raw.trim() !== '') {
    const n = Number(raw);
    if (!Number.isFinite(n)) throw new Error(`GPUFLEET_SIM_EPOCH must be milliseconds since the Unix epoch, got "${raw}"`);
    return n;
  }
  const now = new Date();
  now.setMinutes(0, 0, 0);
  return now.getTime();
}

/** Whether a pid is a live process (a zombie counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function log(msg: string): void {
  process.stderr.write(`gpufleet simHost: ${msg}\n`);
}

/** Listens on 127.0.0.1:port, or on a port the OS picks when that one is taken (or 0). */
function holdPort(port: number): Promise<NetServer> {
  const listen = (p: number) =>
    new Promise<NetServer>((resolve, reject) => {
      const s = createNetServer();
      s.once('error', reject);
      s.listen(p, '127.0.0.1', () => resolve(s));
    });
  return listen(port).catch(() => listen(0));
}

/**
 * A port for each wanted port: itself when free, else a free one. All are held until every one is chosen, so
 * no two engines get the same; another program can still take one before the engine binds it (simHost then
 * chooses again).
 */
export async function choosePorts(wanted: readonly number[]): Promise<number[]> {
  const held: NetServer[] = [];
  try {
    for (const p of wanted) held.push(await holdPort(p));
    return held.map((s) => {
      const a = s.address();
      return typeof a === 'object' && a ? a.port : 0;
    });
  } finally {
    await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
  }
}

interface Running {
  spec: EngineSpec;
  plan: ProcPlan;
  devices: EngineDevice[];
  deviceKey: string;
  child: ChildProcess;
  procs: ReportedProc[];
  ready: boolean;
  startedAt: number;
  stopping: boolean;
  readyTimer: NodeJS.Timeout | null;
  /** Its port was taken when it tried to listen: choose another and start again at once. */
  portTaken: boolean;
}

export class SimHost {
  private readonly running = new Map<number, Running>();
  /** Engines that died on their own: not restarted before this time (ms). */
  private readonly crashedUntil = new Map<number, number>();
  private readonly binDir: string;
  private readonly cat: string;
  private readonly script: string;
  private timer: NodeJS.Timeout | null = null;
  private lastWritten = '';
  private docker: Server | null = null;
  /** The port each engine (by index) listens on, once chosen. */
  private readonly ports = new Map<number, number>();
  private choosing: Promise<void> | null = null;

  constructor(
    readonly scenario: Scenario,
    readonly epochMs: number,
    readonly stateDir: string,
    readonly opts: { controlPath?: string; restartMs?: number; script?: string; dockerSocket?: string } = {}
  ) {
    this.binDir = join(stateDir, 'bin');
    mkdirSync(this.binDir, { recursive: true });
    this.cat = findCat();
    this.script = opts.script ?? join(here(), 'fakeVllm.js');
  }

  start(): void {
    this.write();
    this.tick();
    this.timer = setInterval(() => this.tick(), 1000);
    const socket = this.opts.dockerSocket;
    if (socket) {
      startFakeDockerApi(socket, () => this.containers()).then(
        (server) => (this.docker = server),
        (err: Error) => log(`cannot answer the Docker API on ${socket}: ${err.message}`)
      );
    }
  }

  /** The running docker-deployed engines as containers: State.Pid is the API server, as a container's init. */
  containers(): FakeContainer[] {
    const out: FakeContainer[] = [];
    for (const entry of this.entries()) {
      const run = [...this.running.values()].find((r) => r.spec.name === entry.engine);
      const spec = run?.spec;
      if (!spec?.container) continue;
      // vLLM's image runs `vllm serve` (`python3 -m …api_server` for the module launch) as its entrypoint;
      // what follows on the launch line is `docker run`'s command. Both launch lines have 3 elements before it.
      const entrypoint = spec.launch === 'vllm-serve' ? ['vllm', 'serve'] : ['python3', '-m', 'vllm.entrypoints.openai.api_server'];
      out.push({
        name: spec.container.name,
        image: spec.container.image,
        entrypoint,
        cmd: launchArgv(spec).slice(3),
        pid: entry.apiPid,
        startedAt: entry.startedAt,
        port: spec.port,
        env: [...Object.entries(run?.plan.env ?? {}).map(([k, v]) => `${k}=${v}`), 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        processes: entry.processes.map((p) => ({ pid: p.pid, ppid: p.ppid, argv: p.argv })),
      });
    }
    return out;
  }

  private control(): SimControl {
    const path = this.opts.controlPath;
    if (!path || !existsSync(path)) return EMPTY_CONTROL;
    try {
      const text = readFileSync(path, 'utf8');
      return text.trim() === '' ? EMPTY_CONTROL : parseControl(JSON.parse(text), this.scenario);
    } catch {
      return EMPTY_CONTROL; // the fake nvidia-smi reports a bad control file
    }
  }

  tick(): void {
    const now = Date.now();
    const control = this.control();
    const t = control.t ?? (now - this.epochMs) / 1000;
    const state = hostStateAt(this.scenario, t, control, this.epochMs);
    for (const spec of this.scenario.engines) {
      const run = this.running.get(spec.index);
      const devices = engineDevicesAt(spec, this.scenario, state);
      const want = !inDowntime(spec, t) && devices.ok && now >= (this.crashedUntil.get(spec.index) ?? 0);
      const key = devices.ok ? devices.devices.map((d) => d.visible).join(',') : '';
      if (run && !run.stopping && (!want || run.deviceKey !== key)) this.stop(spec.index);
      if (this.running.has(spec.index) || !want || !devices.ok) continue;
      const port = this.ports.get(spec.index);
      if (port === undefined) this.choosePorts();
      else this.launch({ ...spec, port }, devices.devices, key);
    }
  }

  /** Chooses ports for the engines that have none yet, then ticks again. */
  private choosePorts(): void {
    if (this.choosing) return;
    const specs = this.scenario.engines.filter((e) => !this.ports.has(e.index));
    this.choosing = choosePorts(specs.map((e) => e.port)).then(
      (ports) => {
        const moved: string[] = [];
        specs.forEach((e, i) => {
          const p = ports[i] as number;
          this.ports.set(e.index, p);
          if (p !== e.port) moved.push(`${e.name} ${e.port} → ${p}`);
        });
        if (moved.length) log(`ports taken on this machine, engines moved: ${moved.join(', ')}`);
        this.choosing = null;
        if (this.timer) this.tick();
      },
      (err: Error) => {
        log(`cannot choose engine ports: ${err.message}`);
        this.choosing = null;
      },
    );
  }

  private launch(spec: EngineSpec, devices: EngineDevice[], deviceKey: string): void {
    const plan = engineProcessPlan(spec, devices);
    const config: FakeVllmConfig = {
      role: 'api',
      plan,
      script: this.script,
      binDir: this.binDir,
      cat: this.cat,
      engine: spec,
      epochMs: this.epochMs,
      rankMemoryMiB: devices[0]?.memoryMiB ?? 0,
    };
    const child = spawnFakeNode(this.script, plan, engineEnv(process.env, plan.env), config);
    const run: Running = { spec, plan, devices, deviceKey, child, procs: [], ready: false, startedAt: Date.now(), stopping: false, readyTimer: null, portTaken: false };
    this.running.set(spec.index, run);
    onLines(child.stdout, (line) => {
      let msg: { type?: string; procs?: ReportedProc[]; message?: string; startedAt?: number };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        return;
      }
      if (msg.type === 'ready' && msg.procs) {
        run.procs = msg.procs;
        if (typeof msg.startedAt === 'number') run.startedAt = msg.startedAt;
        run.ready = true;
        if (run.readyTimer) clearTimeout(run.readyTimer);
        this.write();
      } else if (msg.type === 'error') {
        if (/EADDRINUSE/.test(msg.message ?? '')) {
          run.portTaken = true;
          this.ports.delete(spec.index);
        }
        log(`engine ${spec.name}: ${msg.message ?? 'failed'}${run.portTaken ? '; choosing another port' : ''}`);
      }
    });
    onLines(child.stderr, (line) => log(`engine ${spec.name}: ${line}`));
    child.on('error', (err) => log(`engine ${spec.name}: cannot start: ${err.message}`));
    child.on('exit', (code, signal) => {
      if (run.readyTimer) clearTimeout(run.readyTimer);
      // Its descendants die with it (their pipes close); a straggler still gets SIGKILL.
      for (const p of run.procs) {
        if (p.pid === child.pid || !isAlive(p.pid)) continue;
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // gone between the check and the kill
        }
      }
      if (this.running.get(spec.index) === run) this.running.delete(spec.index);
      if (run.portTaken) {
        this.crashedUntil.delete(spec.index);
      } else if (!run.stopping) {
        const restartMs = this.opts.restartMs ?? 30_000;
        log(`engine ${spec.name} (pid ${child.pid ?? '?'}) exited (${signal ?? `code ${code}`}); starting it again in ${restartMs / 1000} s`);
        this.crashedUntil.set(spec.index, Date.now() + restartMs);
      }
      this.write();
    });
    run.readyTimer = setTimeout(() => {
      if (!run.ready) {
        log(`engine ${spec.name} did not come up in 20 s; killing it`);
        child.kill('SIGKILL');
      }
    }, 20_000);
  }

  private killTree(run: Running, signal: NodeJS.Signals): void {
    const pids = new Set<number>(run.procs.map((p) => p.pid));
    if (run.child.pid !== undefined) pids.add(run.child.pid);
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
  }

  /**
   * Kills an engine: SIGTERM to its API server, which kills and reaps its children; whatever is left gets
   * SIGKILL after graceMs. The engine leaves engines.json at once; it is started again only after its API
   * server has exited (its port is free).
   */
  stop(index: number, graceMs = 1500): void {
    const run = this.running.get(index);
    if (!run || run.stopping) return;
    run.stopping = true;
    try {
      run.child.kill('SIGTERM');
    } catch {
      // gone
    }
    const force = setTimeout(() => this.killTree(run, 'SIGKILL'), graceMs);
    run.child.once('exit', () => clearTimeout(force));
    this.write();
  }

  entries(): EngineStateEntry[] {
    const out: EngineStateEntry[] = [];
    for (const run of [...this.running.values()].sort((a, b) => a.spec.index - b.spec.index)) {
      if (!run.ready || run.stopping) continue;
      const pidOf = new Map(run.procs.map((p) => [p.key, p]));
      const api = pidOf.get('api');
      if (!api) continue;
      const plans = flattenPlan(run.plan);
      const workers: EngineStateEntry['workers'] = [];
      for (const p of plans) {
        const rp = pidOf.get(p.key);
        if (!rp || !p.device) continue;
        workers.push({
          rank: p.device.rank,
          dpRank: p.dpRank,
          pid: rp.pid,
          title: gpuProcessName(p),
          gpu: p.device.gpu,
          gpuUuid: p.device.gpuUuid,
          ...(p.device.instance !== null ? { mig: p.device.instance } : {}),
          ...(p.device.migUuid !== null ? { migUuid: p.device.migUuid } : {}),
          memoryMiB: p.device.memoryMiB,
        });
      }
      workers.sort((a, b) => a.rank - b.rank);
      out.push({
        engine: run.spec.name,
        port: run.spec.port,
        version: run.spec.version,
        model: run.spec.model,
        apiPid: api.pid,
        startedAt: run.startedAt,
        workers,
        processes: plans
          .filter((p) => pidOf.has(p.key))
          .map((p) => {
            const rp = pidOf.get(p.key) as ReportedProc;
            return { key: p.key, role: p.role, pid: rp.pid, ppid: rp.ppid, argv: p.argv };
          }),
      });
    }
    return out;
  }

  /** engines.json and engine-pids, each atomically (temporary file, then rename). */
  write(): void {
    const entries = this.entries();
    const text = `${JSON.stringify(entries, null, 1)}\n`;
    if (text === this.lastWritten) return;
    const pids = entries.flatMap((e) => e.processes.map((p) => `${p.pid}\n`)).join('');
    try {
      // The pid list first: the sidecar should know an engine's processes by the time nvidia-smi shows them.
      for (const [name, body] of [[PIDS_FILE, pids], [ENGINES_FILE, text]] as const) {
        const file = join(this.stateDir, name);
        const tmp = `${file}.${process.pid}.tmp`;
        writeFileSync(tmp, body);
        renameSync(tmp, file);
      }
      this.lastWritten = text;
    } catch (err) {
      log(`cannot write ${this.stateDir}: ${(err as Error).message}`);
    }
  }

  /** Stops every engine: SIGTERM, SIGKILL after graceMs. */
  async shutdown(graceMs = 1000): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const runs = [...this.running.values()];
    for (const run of runs) {
      run.stopping = true;
      try {
        run.child.kill('SIGTERM');
      } catch {
        // gone
      }
    }
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && runs.some((r) => r.child.exitCode === null && r.child.signalCode === null)) {
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const run of runs) this.killTree(run, 'SIGKILL');
    this.running.clear();
    this.write();
    if (this.docker) {
      this.docker.close();
      this.docker.closeAllConnections();
      if (this.opts.dockerSocket) rmSync(this.opts.dockerSocket, { force: true });
      this.docker = null;
    }
  }
}

async function main(): Promise<void> {
  const stateDir = process.env.GPUFLEET_SIM_STATE;
  if (!stateDir) {
    log('GPUFLEET_SIM_STATE (a directory for engines.json) is required');
    process.exit(2);
  }
  let scenario: Scenario;
  let epoch: number;
  try {
    scenario = loadSimScenario();
    if (process.env.GPUFLEET_SIM_ENGINES === 'off') scenario = { ...scenario, engines: [] };
    epoch = epochFromEnv();
    mkdirSync(stateDir, { recursive: true });
  } catch (err) {
    log((err as Error).message);
    process.exit(2);
  }
  const restart = Number(process.env.GPUFLEET_SIM_RESTART_S ?? '30');
  const host = new SimHost(scenario, epoch, stateDir, {
    controlPath: process.env.GPUFLEET_SIM_CONTROL,
    restartMs: Number.isFinite(restart) && restart >= 0 ? restart * 1000 : 30_000,
    dockerSocket: process.env.GPUFLEET_SIM_DOCKER_SOCKET || undefined,
  });
  let done = false;
  const stop = () => {
    if (done) return;
    done = true;
    void host.shutdown().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', stop);
  watchParent(stop);
  // A parent that gave us a stdin pipe: its end closing means the parent is gone.
  let stdinIsPipe = false;
  try {
    stdinIsPipe = fstatSync(0).isFIFO();
  } catch {
    // no stdin
  }
  if (stdinIsPipe) {
    process.stdin.on('end', stop);
    process.stdin.on('error', () => undefined);
    process.stdin.resume();
  }
  host.start();
}

// Run as a program, not when imported (tests import SimHost).
function isMain(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}
if (isMain()) void main();
