// The sidecar as an operator runs it, in its own process on a simulated host, for the figures that
// need the whole program (peers, soak, cost growth).
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { lastStderr, start, stop } from './children.js';
import { freePort, waitReady } from './load.js';
import { sidecarNodeFlags } from './startup.js';

export interface RunningSidecar {
  child: ChildProcess;
  pid: number;
  base: string;
  stop: () => Promise<void>;
}

/** The sidecar on a simulated host (`--simulate`): the scenario's engines only, none of the machine's. */
export async function startSidecar(scenario: string, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<RunningSidecar> {
  return startSidecarWith(['--simulate', scenario, ...extraArgs], env);
}

/**
 * The sidecar as on a real host, with the fake nvidia-smi as its nvidia-smi (fed `scenario`) and
 * whatever --proc and --engine say: simulate mode would hide engines that are not the simulator's.
 */
export async function startHostSidecar(scenario: string, extraArgs: string[], env: NodeJS.ProcessEnv = {}): Promise<RunningSidecar> {
  const fake = fileURLToPath(new URL('../sim/fakeNvidiaSmi.js', import.meta.url));
  return startSidecarWith(['--nvidia-smi', fake, '--hostname', 'bench', ...extraArgs], { GPUFLEET_SIM_SCENARIO: scenario, GPUFLEET_SIM_CONTROL: '', ...env });
}

async function startSidecarWith(args: string[], env: NodeJS.ProcessEnv): Promise<RunningSidecar> {
  const port = await freePort();
  const cli = fileURLToPath(new URL('../cli.js', import.meta.url));
  const child = start(process.execPath, [...sidecarNodeFlags(cli), cli, '--listen', `127.0.0.1:${port}`, '--log-level', 'warn', ...args], {
    env: { ...process.env, ...env },
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitReady(`${base}/healthz`, 60_000);
    // Figures are of a sidecar with its GPUs read: wait for them in /metrics (the first reading takes a tick or two).
    const until = performance.now() + 90_000;
    while (!(await (await fetch(`${base}/metrics`)).text()).includes('gpu_uuid="')) {
      if (performance.now() > until) throw new Error('no GPU in /metrics after 90 s');
      await new Promise((r) => setTimeout(r, 250));
    }
  } catch (err) {
    const health = await fetch(`${base}/api/v1/health`).then((r) => r.text(), () => 'no answer');
    await stop(child);
    throw new Error(`sidecar did not start: ${(err as Error).message}; /api/v1/health: ${health.slice(0, 600)}; stderr: ${lastStderr(child)}`);
  }
  return { child, pid: child.pid as number, base, stop: () => stop(child) };
}
