// The programs the bench starts (sidecars, peers, engine stand-ins): stopped by pid when done, and
// on the bench's own exit or interruption whatever is still running, so no run leaves one behind.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

const running = new Set<ChildProcess>();

function killAll(): void {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
process.once('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    killAll();
    process.exit(130);
  });
}

export function start(command: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], ...opts });
  running.add(child);
  child.once('exit', () => running.delete(child));
  // Kept to say why, should it die early.
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-2000);
  });
  (child as ChildProcess & { lastStderr: () => string }).lastStderr = () => err;
  child.once('error', () => running.delete(child));
  return child;
}

export function lastStderr(child: ChildProcess): string {
  return (child as ChildProcess & { lastStderr?: () => string }).lastStderr?.() ?? '';
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone (and reaped). */
export async function stop(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
