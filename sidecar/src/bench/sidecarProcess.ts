// The sidecar as an operator runs it, in its own process on a simulated host, for the figures that
// need the whole program (peers, soak, cost growth).
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { lastStderr, start, stop } from './children.js';
import { freePort, waitReady } from './load.js';

export interface RunningSidecar {
  child: ChildProcess;
  pid: number;
  base: string;
  stop: () => Promise<void>;
}

export async function startSidecar(scenario: string, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<RunningSidecar> {
  const port = await freePort();
  const cli = fileURLToPath(new URL('../cli.js', import.meta.url));
  const child = start(process.execPath, [cli, '--simulate', scenario, '--listen', `127.0.0.1:${port}`, '--log-level', 'warn', ...extraArgs], {
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
