// simHost and the fake vLLM engines as real processes: their /proc entries read like vLLM's, they answer vLLM's
// HTTP API on loopback, engines.json lists live pids, the fake nvidia-smi shows the ranks on their GPUs and MIG
// instances, downtime restarts an engine with new pids, and nothing is left behind after SIGTERM or SIGKILL.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSimForTests } from './__tests__/simBuild.js';
import { parseProcessRole, parseVllmCmdline, splitProcCmdline } from '../engines/vllmCmdline.js';
import { parseVllmMetrics } from '../engines/vllmMetrics.js';
import { DockerDiscovery } from '../engines/dockerDiscovery.js';
import { ProcScanner } from '../engines/procScan.js';
import type { EngineStateEntry } from './simHost.js';

const T = 30_000;

let out = '';
let tmp = '';
let host: ChildProcess | null = null;
const ports: number[] = [];
const seenPids = new Set<number>();

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, fn: () => T | null | undefined | false, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function entries(stateDir: string): EngineStateEntry[] {
  try {
    return JSON.parse(readFileSync(join(stateDir, 'engines.json'), 'utf8')) as EngineStateEntry[];
  } catch {
    return [];
  }
}

function procStat(pid: number): { state: string; ppid: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: f[0] as string, ppid: Number(f[1]) };
  } catch {
    return null;
  }
}

/** Alive = present and not a zombie (a zombie holds nothing but its pid until its new parent reaps it). */
function alive(pid: number): boolean {
  const s = procStat(pid);
  return s !== null && s.state !== 'Z';
}

function cmdline(pid: number): string[] {
  return splitProcCmdline(readFileSync(`/proc/${pid}/cmdline`));
}

function environ(pid: number, name: string): string | null {
  const kv = readFileSync(`/proc/${pid}/environ`, 'utf8')
    .split('\0')
    .find((x) => x.startsWith(`${name}=`));
  return kv === undefined ? null : kv.slice(name.length + 1);
}

function get(port: number, path: string, timeoutMs = 3000): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type'] ?? '') }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

function fakeSmi(args: string[], stateDir: string, scenario: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [join(out, 'sim', 'fakeNvidiaSmi.js'), ...args],
      { env: { PATH: process.env.PATH ?? '', GPUFLEET_SIM_SCENARIO: scenario, GPUFLEET_SIM_STATE: stateDir, GPUFLEET_SIM_EPOCH: String(epoch) } },
      (err, stdout) => (err ? reject(err) : resolve(stdout))
    );
  });
}

function startHost(scenario: string, stateDir: string, epochMs: number): ChildProcess {
  const child = spawn(process.execPath, [join(out, 'sim', 'simHost.js')], {
    env: {
      PATH: process.env.PATH ?? '',
      GPUFLEET_SIM_SCENARIO: scenario,
      GPUFLEET_SIM_STATE: stateDir,
      GPUFLEET_SIM_EPOCH: String(epochMs),
      GPUFLEET_SIM_RESTART_S: '60',
      GPUFLEET_SIM_DOCKER_SOCKET: join(stateDir, 'docker.sock'),
    },
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', (d: Buffer) => process.stderr.write(`[simHost] ${d.toString()}`));
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

let epoch = 0;
let firstFlaky: EngineStateEntry | undefined;
let scenarioFile = '';
let stateDir = '';

beforeAll(async () => {
  out = buildSimForTests();
  tmp = mkdtempSync(join(tmpdir(), 'gpufleet-simhost-'));
  for (let i = 0; i < 6; i++) ports.push(await freePort());
  scenarioFile = join(tmp, 'engines.yaml');
  writeFileSync(
    scenarioFile,
    JSON.stringify({
      hostname: 'sim-test',
      gpus: [
        { model: 'H100-SXM5-80GB' },
        { model: 'H100-SXM5-80GB', mig: { instances: ['3g.40gb', '2g.20gb', '1g.10gb', '1g.10gb'] } },
        { model: 'H100-SXM5-80GB' },
        { model: 'H100-SXM5-80GB' },
      ],
      engines: [
        { name: 'tp2', model: 'Qwen/Qwen3-4B', servedModelName: 'qwen-tp', port: ports[0], tensorParallel: 2, gpus: [2, 3], load: 0.6 },
        { name: 'old', model: 'Qwen/Qwen2.5-1.5B-Instruct', version: '0.7.3', launch: 'python-module', port: ports[1], mig: [{ gpu: 1, instance: 2 }], loraAdapters: ['sql'], load: 0.6 },
        { name: 'dp2', model: 'microsoft/Phi-3.5-mini-instruct', port: ports[2], dataParallel: 2, mig: [{ gpu: 1, instance: 0 }, { gpu: 1, instance: 1 }], load: 0.6 },
        { name: 'flaky', model: 'google/gemma-2-2b-it', port: ports[3], gpus: [0], gpuMemoryUtilization: 0.5, downtime: { at: 0, every: 6, for: 1.5 }, load: 0.6 },
        { name: 'hangs', model: 'Qwen/Qwen2.5-0.5B-Instruct', port: ports[4], gpus: [0], gpuMemoryUtilization: 0.3, faults: ['hang-metrics'] },
        { name: 'boxed', model: 'ibm-granite/granite-3.3-2b-instruct', port: ports[5], mig: [{ gpu: 1, instance: 3 }], deployment: 'docker', container: { name: 'vllm-boxed' } },
      ],
    })
  );
  stateDir = join(tmp, 'state');
  epoch = Date.now();
  host = startHost(scenarioFile, stateDir, epoch);
  await waitFor(
    'six engines in engines.json',
    () => {
      const list = entries(stateDir);
      firstFlaky ??= list.find((e) => e.engine === 'flaky');
      return list.length === 6;
    },
    30_000
  );
  for (const e of entries(stateDir)) for (const p of e.processes) seenPids.add(p.pid);
}, 40_000);

afterAll(async () => {
  if (host && host.exitCode === null) {
    host.kill('SIGKILL');
    await exited(host);
  }
  // Anything of ours still alive (a failed test) goes too.
  for (const pid of seenPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function engine(name: string): EngineStateEntry {
  const e = entries(stateDir).find((x) => x.engine === name);
  if (!e) throw new Error(`engine ${name} not in engines.json`);
  return e;
}

describe('processes look like vLLM', () => {
  it('0.11 TP=2: the API server keeps its launch line, VLLM::EngineCore → VLLM::Worker_TP0/1 hold the GPUs', () => {
    const e = engine('tp2');
    expect(cmdline(e.apiPid)).toEqual(['/usr/bin/python3', '/usr/local/bin/vllm', 'serve', 'Qwen/Qwen3-4B', '--port', String(ports[0]), '--served-model-name', 'qwen-tp', '-tp', '2']);
    expect(readFileSync(`/proc/${e.apiPid}/comm`, 'utf8').trim()).toBe('vllm');
    const core = e.processes.find((p) => p.key === 'core-dp0');
    expect(core && cmdline(core.pid)).toEqual(['VLLM::EngineCore']);
    expect(core && procStat(core.pid)?.ppid).toBe(e.apiPid);
    expect(e.workers.map((w) => [w.rank, w.title, cmdline(w.pid), procStat(w.pid)?.ppid, readFileSync(`/proc/${w.pid}/comm`, 'utf8').trim(), environ(w.pid, 'CUDA_VISIBLE_DEVICES'), w.gpu])).toEqual([
      [0, 'VLLM::Worker_TP0', ['VLLM::Worker_TP0'], core?.pid, 'VLLM::Worker_TP', '2,3', 2],
      [1, 'VLLM::Worker_TP1', ['VLLM::Worker_TP1'], core?.pid, 'VLLM::Worker_TP', '2,3', 3],
    ]);
    // The sidecar's own readers agree.
    const launch = parseVllmCmdline(cmdline(e.apiPid));
    expect(launch).toMatchObject({ entrypoint: 'cli-serve', model: 'Qwen/Qwen3-4B', port: ports[0], parallel: { tensor: 2 } });
    expect(parseProcessRole(cmdline(e.workers[1]?.pid as number))).toMatchObject({ role: 'worker', tp: 1 });
    expect(environ(e.apiPid, 'GPUFLEET_SIM_STATE')).toBeNull();
  }, T);

  it('0.7.3 launched with python -m: the API server itself holds its MIG instance', () => {
    const e = engine('old');
    expect(cmdline(e.apiPid)).toEqual([
      'python3', '-m', 'vllm.entrypoints.openai.api_server', '--model', 'Qwen/Qwen2.5-1.5B-Instruct', '--port', String(ports[1]),
      '--enable-lora', '--lora-modules', 'sql=/models/lora/sql',
    ]);
    expect(readFileSync(`/proc/${e.apiPid}/comm`, 'utf8').trim()).toBe('python3');
    expect(e.workers).toEqual([expect.objectContaining({ rank: 0, pid: e.apiPid, title: 'python3', gpu: 1, mig: 2 })]);
    expect(environ(e.apiPid, 'CUDA_VISIBLE_DEVICES')).toBe(e.workers[0]?.migUuid);
    expect(e.processes).toHaveLength(1);
  }, T);

  it('DP=2 on MIG: VLLM::DPCoordinator and VLLM::EngineCore_DP0/DP1, each with its instance', () => {
    const e = engine('dp2');
    expect(e.processes.map((p) => [p.key, cmdline(p.pid)[0]])).toEqual([
      ['api', '/usr/bin/python3'],
      ['coordinator', 'VLLM::DPCoordinator'],
      ['core-dp0', 'VLLM::EngineCore_DP0'],
      ['core-dp1', 'VLLM::EngineCore_DP1'],
    ]);
    expect(e.workers.map((w) => [w.rank, w.dpRank, w.mig, environ(w.pid, 'CUDA_VISIBLE_DEVICES') === w.migUuid])).toEqual([
      [0, 0, 0, true],
      [1, 1, 1, true],
    ]);
  }, T);

  it('engines.json lists live pids only', () => {
    // (flaky restarts every 6 s: it may be on its way down)
    for (const e of entries(stateDir).filter((x) => x.engine !== 'flaky'))
      for (const p of e.processes) expect([e.engine, p.key, alive(p.pid)]).toEqual([e.engine, p.key, true]);
  }, T);
});

describe('the HTTP API on loopback', () => {
  it('answers /health, /version, /v1/models and a /metrics that parses and moves', async () => {
    const port = ports[0] as number;
    expect(await get(port, '/health')).toMatchObject({ status: 200, body: '' });
    expect(JSON.parse((await get(port, '/version')).body)).toEqual({ version: '0.11.0' });
    const models = JSON.parse((await get(ports[1] as number, '/v1/models')).body);
    expect(models.data.map((m: any) => [m.id, m.parent])).toEqual([
      ['Qwen/Qwen2.5-1.5B-Instruct', null],
      ['sql', 'Qwen/Qwen2.5-1.5B-Instruct'],
    ]);
    const a = await get(port, '/metrics');
    expect(a.type).toContain('text/plain');
    await sleep(1300);
    const b = await get(port, '/metrics');
    expect(parseVllmMetrics(a.body).engines[0]?.problems).toEqual([]);
    const mb = parseVllmMetrics(b.body).engines[0];
    expect(mb?.modelNames).toEqual(['qwen-tp']);
    expect(mb?.problems).toEqual([]);
    expect(mb?.running).toBeGreaterThan(0);
    expect(mb?.histograms.ttft).not.toBeNull();
    const steps = (text: string) => Number(/^vllm:iteration_tokens_total_count\{[^}]*\} (\S+)$/m.exec(text)?.[1]);
    expect(steps(b.body)).toBeGreaterThan(steps(a.body));
    expect(parseVllmMetrics(b.body).processStartTimeSeconds).toBeCloseTo(engine('tp2').startedAt / 1000, 1);
    expect(parseVllmMetrics((await get(ports[2] as number, '/metrics')).body).engines.map((x) => x.engine)).toEqual(['0', '1']);
  }, T);

  it('the hang-metrics engine accepts /metrics and never answers, but is healthy', async () => {
    const port = ports[4] as number;
    expect((await get(port, '/health')).status).toBe(200);
    await expect(get(port, '/metrics', 800)).rejects.toThrow('timeout');
  }, T);

  it('listens on loopback only', async () => {
    const e = engine('tp2');
    const tcp = readFileSync(`/proc/${e.apiPid}/net/tcp`, 'utf8');
    const hex = (ports[0] as number).toString(16).toUpperCase().padStart(4, '0');
    const listening = tcp.split('\n').filter((l) => / 0A /.test(l) && l.includes(`:${hex} `));
    expect(listening.length).toBeGreaterThan(0);
    expect(listening.every((l) => l.trim().split(/\s+/)[1]?.startsWith('0100007F:'))).toBe(true);
  }, T);
});

describe('the Docker Engine API', () => {
  it('lists the docker-deployed engine as a running container whose State.Pid is its API server', async () => {
    const boxed = engine('boxed');
    const procs = new ProcScanner('/proc').scan();
    const [c, ...others] = await new DockerDiscovery(join(stateDir, 'docker.sock'), 3000).list(procs);
    expect(others).toEqual([]);
    expect(c).toMatchObject({
      name: 'vllm-boxed', image: 'vllm/vllm-openai:v0.11.0', hostPid: boxed.apiPid, endpoint: `http://127.0.0.1:${boxed.port}`,
      launch: expect.objectContaining({ model: 'ibm-granite/granite-3.3-2b-instruct', port: boxed.port }),
    });
    // The container's processes are the engine's whole tree, found from State.Pid in /proc.
    expect([...(c?.pids ?? [])].sort()).toEqual(boxed.processes.map((p) => p.pid).sort());
  }, T);
});

describe('the fake nvidia-smi', () => {
  it('lists each rank process on its GPU or MIG instance with most of its memory', async () => {
    const csv = await fakeSmi(['--query-compute-apps=gpu_uuid,pid,process_name,used_memory', '--format=csv,noheader,nounits'], stateDir, scenarioFile);
    const rows = csv.trim().split('\n').map((l) => l.split(', '));
    for (const e of entries(stateDir).filter((x) => x.engine !== 'flaky')) {
      for (const w of e.workers) {
        const row = rows.find((r) => Number(r[1]) === w.pid);
        expect([e.engine, w.rank, row?.[0], row?.[2], row?.[3]]).toEqual([e.engine, w.rank, w.gpuUuid, w.title, String(w.memoryMiB)]);
      }
    }
    const tp = engine('tp2');
    expect(tp.workers.map((w) => w.memoryMiB)).toEqual([Math.round(81559 * 0.9), Math.round(81559 * 0.9)]);
    // Processes that hold no context (API server, engine core of a TP engine) are not listed.
    expect(rows.some((r) => Number(r[1]) === tp.apiPid)).toBe(false);
  }, T);

  it('puts MIG ranks under their GPU instance (GI/CI) in -q -x', async () => {
    const xml = await fakeSmi(['-q', '-x'], stateDir, scenarioFile);
    const old = engine('old');
    const dp = engine('dp2');
    const gi = (pid: number) => new RegExp(`<gpu_instance_id>(\\d+)</gpu_instance_id>\\s*<compute_instance_id>0</compute_instance_id>\\s*<pid>${pid}</pid>`).exec(xml)?.[1];
    // 3g.40gb + 2g.20gb + 2×1g.10gb → GI 2, 3, 9, 10 (capture_h100-mig).
    expect(gi(old.apiPid)).toBe('9');
    expect(dp.workers.map((w) => gi(w.pid))).toEqual(['2', '3']);
  }, T);
});

describe('lifecycle', () => {
  it('kills an engine in its downtime window and starts it again with new pids', async () => {
    // Down at t = 0–1.5, 6–7.5, 12–13.5 … s after the start: killed, then started again.
    const before = firstFlaky as EngineStateEntry;
    expect(before).toBeDefined();
    const oldPids = before.processes.map((p) => p.pid);
    const after = await waitFor('flaky to come back', () => entries(stateDir).find((e) => e.engine === 'flaky' && e.apiPid !== before.apiPid), 20_000);
    expect(after.startedAt).toBeGreaterThan(before.startedAt);
    expect(oldPids.every((p) => !alive(p))).toBe(true);
    for (const p of after.processes) seenPids.add(p.pid);
    expect(after.apiPid).not.toBe(before.apiPid);
    expect(after.workers[0]?.pid).not.toBe(before.workers[0]?.pid);
    expect(alive(after.workers[0]?.pid as number)).toBe(true);
    expect((await get(after.port, '/health')).status).toBe(200);
  }, T);

  it('SIGTERM stops every engine and leaves no process behind', async () => {
    for (const e of entries(stateDir)) for (const p of e.processes) seenPids.add(p.pid);
    host?.kill('SIGTERM');
    await exited(host as ChildProcess);
    expect(host?.exitCode).toBe(0);
    await waitFor('all engine processes to be gone', () => [...seenPids].every((p) => !alive(p)), 5000);
    expect(entries(stateDir)).toEqual([]);
    expect(existsSync(join(stateDir, 'docker.sock'))).toBe(false);
  }, T);

  it('SIGKILL of simHost still leaves no engine process behind (they watch their parent)', async () => {
    const port = await freePort();
    const file = join(tmp, 'one.yaml');
    writeFileSync(file, JSON.stringify({ gpus: [{ model: 'L40S' }, { model: 'L40S' }], engines: [{ name: 'one', model: 'm/x', port, tensorParallel: 2, gpus: [0, 1] }] }));
    const dir = join(tmp, 'state2');
    const h = startHost(file, dir, Date.now());
    const e = await waitFor('the engine', () => entries(dir)[0], 20_000);
    const pids = e.processes.map((p) => p.pid);
    pids.forEach((p) => seenPids.add(p));
    expect(pids).toHaveLength(4);
    h.kill('SIGKILL');
    await exited(h);
    await waitFor('the orphaned engine to exit', () => pids.every((p) => !alive(p)), 6000);
    expect(existsSync(join(dir, 'engines.json'))).toBe(true); // stale, but the fake nvidia-smi skips dead pids
    const csv = await fakeSmi(['--query-compute-apps=pid', '--format=csv,noheader'], dir, file);
    expect(csv.trim()).toBe('');
  }, T);
});
