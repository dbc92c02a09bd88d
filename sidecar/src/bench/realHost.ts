// Section `real-host` of the bench (`--only real-host`), for a machine with NVIDIA GPUs: what sections 5
// and 15 measure against the fake nvidia-smi, measured against the host's own, and the floor under both.
// - a spawn per tick (exporter-style) against our spawn mode and our `-q -x -lms` loop;
// - the sidecar as an operator starts it: first GPU reading, then its CPU and nvidia-smi's at 1 s;
// - the sidecar with 16 engines (section 8's stand-ins and procfs) on this host's nvidia-smi, in loop and
//   query mode side by side: its CPU early and once V8 has settled, and /metrics p99 at 200 req/s;
// - NVML's own calls, timed through python3's pynvml (nvidia-ml-py) where installed: what a reader that
//   called NVML directly (FFI) would pay per tick, the physical floor.
// Elsewhere it prints that it was skipped: nothing here is simulated.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, readFileSync, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stop } from './children.js';
import { fakeProc, startEngineStandIns } from './engines.js';
import { runLoadApart } from './loadClient.js';
import { childPids, cpuSeconds, rssMB } from './proc.js';
import { spawnFloorRow, tickRows } from './peers/nvidiaSmi.js';
import { heading, line } from './print.js';
import { startupFigures } from './startup.js';
import { formatMs, median, statChildrenCpuSeconds } from './stats.js';

const TICKS = 10;
const STEADY_WARMUP_MS = 10_000;
const STEADY_MS = 45_000;

/** `GPUFLEET_NVIDIA_SMI`, else `nvidia-smi` on PATH; null when neither is an executable file. */
export function findNvidiaSmi(env: NodeJS.ProcessEnv = process.env): string | null {
  const candidates = env.GPUFLEET_NVIDIA_SMI
    ? [env.GPUFLEET_NVIDIA_SMI]
    : (env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'nvidia-smi'));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here
    }
  }
  return null;
}

// Timed inside one python3 process: NVML's initialisation once, then each call a tick would make per GPU,
// many times. Wall and CPU both: a call that waits on the driver shows wall above CPU. Python's own
// per-call overhead (about a microsecond) is included, so the figures are an upper bound.
const NVML_PY = `
import json, sys, time
try:
    import pynvml as n
except Exception as e:
    print(json.dumps({"error": "pynvml not importable: %s" % e})); sys.exit(0)
w, c = time.perf_counter(), time.process_time()
n.nvmlInit()
init = {"wall": time.perf_counter() - w, "cpu": time.process_time() - c}
hs = [n.nvmlDeviceGetHandleByIndex(i) for i in range(n.nvmlDeviceGetCount())]
calls = {
    "utilization": n.nvmlDeviceGetUtilizationRates,
    "memory": n.nvmlDeviceGetMemoryInfo,
    "power": n.nvmlDeviceGetPowerUsage,
    "temperature": lambda h: n.nvmlDeviceGetTemperature(h, n.NVML_TEMPERATURE_GPU),
    "sm clock": lambda h: n.nvmlDeviceGetClockInfo(h, n.NVML_CLOCK_SM),
    "compute processes": n.nvmlDeviceGetComputeRunningProcesses,
}
out = {"init": init, "gpus": len(hs), "driver": n.nvmlSystemGetDriverVersion(), "calls": {}}
reps = int(sys.argv[1])
for name, f in calls.items():
    try:
        f(hs[0])
    except Exception as e:
        out["calls"][name] = {"error": str(e)}
        continue
    w, c = time.perf_counter(), time.process_time()
    for _ in range(reps):
        for h in hs:
            f(h)
    k = reps * len(hs)
    out["calls"][name] = {"wall": (time.perf_counter() - w) / k, "cpu": (time.process_time() - c) / k}
n.nvmlShutdown()
print(json.dumps(out))
`;

interface NvmlFigures {
  error?: string;
  init: { wall: number; cpu: number };
  gpus: number;
  driver: string;
  calls: Record<string, { wall: number; cpu: number } | { error: string }>;
}

const us = (s: number) => `${(s * 1e6).toFixed(1)} µs`;
const ms = (s: number) => `${(s * 1e3).toFixed(1)} ms`;

function nvmlFloor(python: string): void {
  let f: NvmlFigures;
  try {
    f = JSON.parse(execFileSync(python, ['-c', NVML_PY, '200'], { encoding: 'utf8', timeout: 60_000 })) as NvmlFigures;
  } catch (err) {
    line('NVML through pynvml', `n/a (${(err as Error).message.split('\n')[0]})`);
    return;
  }
  if (f.error) {
    line('NVML through pynvml', `n/a (${f.error})`);
    return;
  }
  console.log(`    NVML through ${python}'s pynvml, driver ${f.driver}, ${f.gpus} GPU(s): wall / CPU`);
  line('nvmlInit (what every nvidia-smi spawn pays)', `${ms(f.init.wall)} / ${ms(f.init.cpu)}`);
  let tickWall = 0;
  let tickCpu = 0;
  for (const [name, c] of Object.entries(f.calls)) {
    if ('error' in c) {
      line(`  ${name}, per call per GPU`, `n/a (${c.error})`);
      continue;
    }
    tickWall += c.wall;
    tickCpu += c.cpu;
    line(`  ${name}, per call per GPU`, `${us(c.wall)} / ${us(c.cpu)}`);
  }
  line('a tick of those calls, per GPU', `${us(tickWall)} / ${us(tickCpu)}`);
}

interface SteadyFigures {
  sidecarCpuMs: number;
  nvidiaSmiCpuMs: number;
  rssMB: number;
}

/** CPU seconds of `pid`'s children, live and reaped (the nvidia-smi loops and spawns). */
function childrenCpuSeconds(pid: number): number {
  const live = childPids(pid).reduce((s, p) => {
    try {
      return s + cpuSeconds(p);
    } catch {
      return s;
    }
  }, 0);
  return live + statChildrenCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/** CPU per second (= per tick at 1 s) of the sidecar and of its children (the nvidia-smi loop and spawns). */
async function steadyWindow(pid: number): Promise<SteadyFigures> {
  const children = () => childrenCpuSeconds(pid);
  await new Promise((r) => setTimeout(r, STEADY_WARMUP_MS));
  const s0 = cpuSeconds(pid);
  const c0 = children();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, STEADY_MS));
  const seconds = (performance.now() - t0) / 1000;
  return {
    sidecarCpuMs: ((cpuSeconds(pid) - s0) * 1000) / seconds,
    nvidiaSmiCpuMs: ((children() - c0) * 1000) / seconds,
    rssMB: rssMB(pid),
  };
}

/** The sidecar as an operator starts it on this host, once per nvidia-smi mode: its CPU and nvidia-smi's. */
export async function steadyRows(smi: string): Promise<void> {
  console.log(`    steady state at 1 s, ${STEADY_MS / 1000} s after ${STEADY_WARMUP_MS / 1000} s of start-up (no engines): sidecar / nvidia-smi CPU per tick (% of a core); RSS`);
  for (const mode of ['loop', 'query'] as const) {
    let steady: SteadyFigures | null = null;
    try {
      await startupFigures({
        mode: 'real',
        nvidiaSmi: smi,
        extraArgs: ['--nvidia-smi-mode', mode],
        timeoutMs: 60_000,
        whileRunning: async (pid) => {
          steady = await steadyWindow(pid);
        },
      });
    } catch (err) {
      line(`--nvidia-smi-mode ${mode}`, `failed: ${(err as Error).message}`);
    }
    if (steady) {
      const s: SteadyFigures = steady;
      const pct = (ms: number) => `${ms.toFixed(2)} ms (${(ms / 10).toFixed(2)} %)`;
      line(`--nvidia-smi-mode ${mode}`, `${pct(s.sidecarCpuMs)} / ${pct(s.nvidiaSmiCpuMs)}; ${s.rssMB.toFixed(1)} MB`);
    }
  }
}

const ENGINE_COUNT = 16;
/** CPU windows of the 16-engine rows: early (V8 still optimising) and once settled (section 8's window). */
const ENGINE_WINDOWS: readonly [number, number][] = [
  [30, 90],
  [150, 210],
];
/** /metrics and /healthz at 200 req/s on the loop-mode sidecar, between the two windows: rounds of this many seconds. */
const LATENCY_ROUNDS = 3;
const LATENCY_SECONDS = 8;

interface EngineHostFigures {
  /** Sidecar / nvidia-smi CPU per second in each of ENGINE_WINDOWS, ms. */
  windows: { sidecarMs: number; nvidiaSmiMs: number }[];
  engines: number;
  rssMB: number;
  /** p99 of each round, ms; only on the sidecar that served the load. */
  metricsP99: number[];
  healthzP99: number[];
}

/**
 * Section 8 on this host: 16 vLLM stand-ins answering the real capture (busy: every scrape read in full)
 * and a procfs listing them, the sidecar at 1 s on this host's nvidia-smi, loop and query mode at once
 * (each its own process; a GPU host has the cores). The loop-mode one also serves /metrics at 200 req/s
 * between the two windows, with its /healthz (no work of its own) as the floor.
 */
export async function engineRows(smi: string): Promise<void> {
  console.log(`    ${ENGINE_COUNT} engines (section 8's stand-ins, busy) at 1 s, loop and query mode side by side: sidecar / nvidia-smi CPU a second`);
  const { servers, ports } = await startEngineStandIns(ENGINE_COUNT, 'busy');
  const proc = fakeProc(ports);
  try {
    const run = (mode: 'loop' | 'query', load: boolean) => {
      let figures: EngineHostFigures | null = null;
      return startupFigures({
        mode: 'real',
        nvidiaSmi: smi,
        extraArgs: ['--nvidia-smi-mode', mode, '--proc', proc],
        timeoutMs: 60_000,
        whileRunning: async (pid, base) => {
          figures = await engineWindows(pid, base, load);
        },
      }).then(
        () => ({ mode, figures: figures as EngineHostFigures | null, error: null as string | null }),
        (err: unknown) => ({ mode, figures: null, error: (err as Error).message }),
      );
    };
    const results = await Promise.all([run('loop', true), run('query', false)]);
    for (const r of results) {
      if (!r.figures) {
        line(`--nvidia-smi-mode ${r.mode}`, `failed: ${r.error ?? 'no figures'}`);
        continue;
      }
      const f = r.figures;
      f.windows.forEach((w, i) => {
        const [from, to] = ENGINE_WINDOWS[i] as [number, number];
        line(
          `--nvidia-smi-mode ${r.mode}, ${from}-${to} s (${f.engines} of ${ENGINE_COUNT} up)`,
          `${(w.sidecarMs / 10).toFixed(2)} % / ${(w.nvidiaSmiMs / 10).toFixed(2)} %`,
          i === ENGINE_WINDOWS.length - 1 ? 'sidecar < 2 %' : undefined,
        );
      });
      line(`--nvidia-smi-mode ${r.mode}, resident memory at the end`, `${f.rssMB.toFixed(1)} MB`);
      if (f.metricsP99.length > 0) {
        line(`  GET /metrics at 200 req/s: p99, median of ${f.metricsP99.length} rounds`, formatMs(median(f.metricsP99)), '< 5 ms');
        line('  each round: /metrics; /healthz (the floor)', `${f.metricsP99.map(formatMs).join(', ')}; ${f.healthzP99.map(formatMs).join(', ')}`);
      }
    }
  } finally {
    await stop(servers);
    rmSync(proc, { recursive: true, force: true });
  }
}

async function engineWindows(pid: number, base: string, load: boolean): Promise<EngineHostFigures> {
  const started = performance.now();
  const until = (s: number) => new Promise((r) => setTimeout(r, Math.max(0, started + s * 1000 - performance.now())));
  const windows: EngineHostFigures['windows'] = [];
  const metricsP99: number[] = [];
  const healthzP99: number[] = [];
  for (const [i, [from, to]] of ENGINE_WINDOWS.entries()) {
    if (i > 0 && load) {
      for (let k = 0; k < LATENCY_ROUNDS; k++) {
        for (const [path, into] of [['/metrics', metricsP99], ['/healthz', healthzP99]] as const) {
          const f = (await runLoadApart({ targets: [{ label: 'x', url: `${base}${path}` }], rate: 200, seconds: LATENCY_SECONDS, connections: 4 }))['x'];
          if (f) into.push(f.p99);
        }
      }
    }
    await until(from);
    const s0 = cpuSeconds(pid);
    const c0 = childrenCpuSeconds(pid);
    const t0 = performance.now();
    await until(to);
    const seconds = (performance.now() - t0) / 1000;
    windows.push({ sidecarMs: ((cpuSeconds(pid) - s0) * 1000) / seconds, nvidiaSmiMs: ((childrenCpuSeconds(pid) - c0) * 1000) / seconds });
  }
  const engines = ((await (await fetch(`${base}/api/v1/engines`)).json()) as { engines: { health: string }[] }).engines.filter((e) => e.health === 'up').length;
  return { windows, engines, rssMB: rssMB(pid), metricsP99, healthzP99 };
}

export async function realHostBench(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const smi = findNvidiaSmi(env);
  if (!smi) {
    heading('16. Real host: skipped (no nvidia-smi: set GPUFLEET_NVIDIA_SMI or put it on PATH, on a GPU host)');
    return;
  }
  let version = '';
  try {
    version = /DRIVER version\s*:\s*(\S+)/i.exec(execFileSync(smi, ['--version'], { encoding: 'utf8', timeout: 30_000 }))?.[1] ?? '';
  } catch (err) {
    heading(`16. Real host: skipped (${smi} --version failed: ${(err as Error).message.split('\n')[0]})`);
    return;
  }
  heading(`16. Real host: ${smi}, driver ${version || 'unknown'}; ${TICKS} ticks at 1 s`);
  await spawnFloorRow(TICKS);
  await tickRows('this host:', smi, env, TICKS);

  console.log('    the sidecar as started by its #! line, on this host\'s nvidia-smi');
  for (let i = 0; i < 3; i++) {
    try {
      const f = await startupFigures({ mode: 'real', nvidiaSmi: smi, settleMs: 2000 });
      line(`run ${i + 1}: first GPU reading after start`, `${Math.round(f.firstGpuMs)} ms`, '< 1500 ms');
      line(`run ${i + 1}: API up / GPU source until the first reading`, `${Math.round(f.apiUpMs)} ms / ${f.gpuStates.join(' → ')}`, 'never failed');
    } catch (err) {
      line(`run ${i + 1}`, `failed: ${(err as Error).message}`);
    }
  }
  await steadyRows(smi);
  await engineRows(smi);
  nvmlFloor(env.GPUFLEET_BENCH_PYTHON ?? 'python3');
}

// Run on its own (it needs none of the bench's dev dependencies, so a host with only the sidecar's
// production packages can run it): node sidecar/dist/bench/realHost.js
if (process.argv[1] === fileURLToPath(import.meta.url)) await realHostBench();
