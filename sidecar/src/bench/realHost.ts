// Section `real-host` of the bench (`--only real-host`), for a machine with NVIDIA GPUs: what sections 5
// and 15 measure against the fake nvidia-smi, measured against the host's own, and the floor under both.
// - a spawn per tick (exporter-style) against our spawn mode and our `-q -x -lms` loop;
// - the sidecar as an operator starts it: first GPU reading, then its CPU and nvidia-smi's at 1 s;
// - NVML's own calls, timed through python3's pynvml (nvidia-ml-py) where installed: what a reader that
//   called NVML directly (FFI) would pay per tick, the physical floor.
// Elsewhere it prints that it was skipped: nothing here is simulated.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { heading, line } from './print.js';
import { childPids, cpuSeconds, rssMB } from './proc.js';
import { spawnFloorRow, tickRows } from './peers/nvidiaSmi.js';
import { startupFigures } from './startup.js';
import { statChildrenCpuSeconds } from './stats.js';

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

/** CPU per second (= per tick at 1 s) of the sidecar and of its children (the nvidia-smi loop and spawns). */
async function steadyWindow(pid: number): Promise<SteadyFigures> {
  const children = () => {
    const live = childPids(pid).reduce((s, p) => {
      try {
        return s + cpuSeconds(p);
      } catch {
        return s;
      }
    }, 0);
    return live + statChildrenCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  };
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
  nvmlFloor(env.GPUFLEET_BENCH_PYTHON ?? 'python3');
}

// Run on its own (it needs none of the bench's dev dependencies, so a host with only the sidecar's
// production packages can run it): node sidecar/dist/bench/realHost.js
if (process.argv[1] === fileURLToPath(import.meta.url)) await realHostBench();
