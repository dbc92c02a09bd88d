// The sidecar as an operator starts it (with the V8 flags of its #! line) on the simulated demo host: how long until the API serves the first GPU reading, which states the GPU source
// went through before that (a `failed` one before the first document had its chance is a bug), and the
// resident memory once it runs.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { rssMB } from './proc.js';

export interface StartupFigures {
  /** ms from spawn until /api/v1/snapshot first lists GPUs. */
  firstGpuMs: number;
  /** ms from spawn until the API answered at all (its listening socket is up). */
  apiUpMs: number;
  /** The GPU source's states as polled until the first GPUs, in order, repeats folded. */
  gpuStates: string[];
  /** Resident memory (MB) `settleMs` after the first GPU reading. */
  rssMB: number;
}

const CLI = fileURLToPath(new URL('../cli.js', import.meta.url));

/** The node flags the sidecar is started with: those of its #! line (`#!/usr/bin/env -S node …`). */
export function sidecarNodeFlags(cli = CLI): string[] {
  const first = readFileSync(cli, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!.*\bnode((?:\s+--\S+)*)\s*$/.exec(first);
  return m?.[1]?.trim().split(/\s+/).filter(Boolean) ?? [];
}

/**
 * How the sidecar is started: `simulate` is `--simulate <scenario>`, which also starts the scenario's
 * engines as processes (nine on demo, competing for the same 2 cores at start); `host` is the sidecar as on
 * a real host whose engines already run: the fake nvidia-smi printing the scenario, no simulator; `real`
 * is a real host: its own nvidia-smi (`nvidiaSmi`) and GPUs.
 */
export type StartupMode = 'simulate' | 'host' | 'real';

const FAKE_NVIDIA_SMI = fileURLToPath(new URL('../sim/fakeNvidiaSmi.js', import.meta.url));

function startupArgs(mode: StartupMode, scenario: string, nvidiaSmi: string): { args: string[]; env: NodeJS.ProcessEnv } {
  if (mode === 'simulate') return { args: ['--simulate', scenario], env: {} };
  const host = ['--hostname', 'bench', '--kmsg', 'none', '--docker-socket', 'none'];
  if (mode === 'real') return { args: ['--nvidia-smi', nvidiaSmi, ...host], env: {} };
  return { args: ['--nvidia-smi', FAKE_NVIDIA_SMI, ...host], env: { GPUFLEET_SIM_SCENARIO: scenario, GPUFLEET_SIM_CONTROL: '' } };
}

/** Starts the sidecar (as `mode` says) on a free loopback port and measures its start. */
export async function startupFigures(
  opts: {
    scenario?: string;
    interval?: string;
    settleMs?: number;
    timeoutMs?: number;
    mode?: StartupMode;
    /** The nvidia-smi of mode `real`. */
    nvidiaSmi?: string;
    /** More sidecar arguments (e.g. `--nvidia-smi-mode query`). */
    extraArgs?: string[];
    /** Awaited once the first GPU reading is served, in place of waiting `settleMs`. */
    whileRunning?: (pid: number, base: string) => Promise<void>;
  } = {},
): Promise<StartupFigures> {
  const { scenario = 'demo', interval = '1s', settleMs = 10_000, timeoutMs = 30_000, mode = 'simulate' } = opts;
  const how = startupArgs(mode, scenario, opts.nvidiaSmi ?? 'nvidia-smi');
  const t0 = performance.now();
  const child = spawn(process.execPath, [...sidecarNodeFlags(), CLI, ...how.args, ...(opts.extraArgs ?? []), '--interval', interval, '--listen', '127.0.0.1:0', '--log-level', 'info'], {
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, GPUFLEET_SIM_EPOCH: String(Date.now() - 600_000), ...how.env },
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let buf = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (d: string) => {
        buf += d;
        const m = /"listen":"[^"]*:(\d+)"/.exec(buf);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`the sidecar exited with ${code} before listening`)));
    });
    const base = `http://127.0.0.1:${port}`;
    const states: string[] = [];
    let apiUpMs = NaN;
    for (;;) {
      if (performance.now() - t0 > timeoutMs) throw new Error(`no GPU reading within ${timeoutMs} ms (GPU source: ${states.join(' → ')})`);
      const health = (await (await fetch(`${base}/api/v1/health`)).json()) as { sources: { gpu: { status: string } } };
      if (Number.isNaN(apiUpMs)) apiUpMs = performance.now() - t0;
      const st = health.sources.gpu.status;
      if (states[states.length - 1] !== st) states.push(st);
      const res = await fetch(`${base}/api/v1/snapshot`);
      if (res.status === 200 && ((await res.json()) as { gpus: unknown[] }).gpus.length > 0) break;
      if (res.status !== 200) await res.arrayBuffer();
      await new Promise((r) => setTimeout(r, 10));
    }
    const firstGpuMs = performance.now() - t0;
    if (opts.whileRunning) await opts.whileRunning(child.pid as number, base);
    else await new Promise((r) => setTimeout(r, settleMs));
    return { firstGpuMs, apiUpMs, gpuStates: states, rssMB: rssMB(child.pid as number) };
  } finally {
    await new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }
}

/** The start-up section of `npm run bench`: `line` prints one figure beside its target. */
export async function startupBench(line: (label: string, value: string, target?: string) => void, runs = 3): Promise<void> {
  console.log(`\n15. Start-up on demo, sidecar as started by its #! line (node ${sidecarNodeFlags().join(' ')}); ${runs} runs each`);
  spawnSync(process.execPath, ['-e', '0']); // warms the file cache, as the sidecar's runs find it
  const t = performance.now();
  const bare = spawnSync(process.execPath, ['-e', '0']);
  line('floor: node starting and exiting with nothing to do', `${Math.round(performance.now() - t)} ms${bare.status === 0 ? '' : ' (failed)'}`);
  const modes: [StartupMode, string][] = [
    ['host', 'as on a real host (engines already running): the fake nvidia-smi printing demo'],
    ['simulate', '--simulate demo: the simulator also starts its 9 engine processes on the same cores'],
  ];
  for (const [mode, what] of modes) {
    console.log(`    ${what}`);
    for (let i = 0; i < runs; i++) {
      try {
        const f = await startupFigures({ mode });
        line(`run ${i + 1}: first GPU reading after start`, `${Math.round(f.firstGpuMs)} ms`, mode === 'host' ? '< 1500 ms' : undefined);
        line(`run ${i + 1}: API up / GPU source until the first reading`, `${Math.round(f.apiUpMs)} ms / ${f.gpuStates.join(' → ')}`, 'never failed');
        line(`run ${i + 1}: resident memory 10 s later`, `${f.rssMB.toFixed(1)} MB`);
      } catch (err) {
        line(`run ${i + 1}`, `failed: ${(err as Error).message}`);
      }
    }
  }
}

// Run on its own: node sidecar/dist/bench/startup.js [runs] [timeout ms]
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const runs = Number(process.argv[2] ?? 3);
  for (let i = 0; i < runs; i++) {
    const f = await startupFigures({ timeoutMs: Number(process.argv[3] ?? 30_000) });
    console.log(JSON.stringify({ ...f, firstGpuMs: Math.round(f.firstGpuMs), apiUpMs: Math.round(f.apiUpMs), rssMB: Number(f.rssMB.toFixed(1)) }));
  }
}
