// Starting nvidia-smi without ever letting the environment crash the process. child_process.spawn
// reports EMFILE, ENFILE, EAGAIN, ENOENT and EACCES as an 'error' event on the next tick (with no
// stdio set up), and throws other errnos (ENOMEM…) at once; an 'error' event nobody listens to ends
// the process. execa was dropped for this: under EMFILE it threw before it had attached its own
// listener, and the orphaned 'error' event was uncaught.
import { spawn, type ChildProcess } from 'node:child_process';
import { SourceError, sanitizeForMessage } from './sourceError.js';

export interface Started {
  child: ChildProcess;
  /** Resolves once: the exit code and signal, or the spawn error (then code and signal are null). */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError: NodeJS.ErrnoException | null }>;
}

/** Spawns with stdin ignored and stdout/stderr piped; never throws, never leaves an 'error' unheard. */
export function startChild(path: string, args: string[], env: NodeJS.ProcessEnv | undefined): Started | SourceError {
  let child: ChildProcess;
  try {
    child = spawn(path, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    return spawnFailure(path, args, err as NodeJS.ErrnoException);
  }
  // Pipes can fail too (EPIPE, a reset at kill): the exit is what we report, not the stream error.
  child.stdout?.on('error', () => undefined);
  child.stderr?.on('error', () => undefined);
  const done = new Promise<Awaited<Started['done']>>((resolve) => {
    let spawnError: NodeJS.ErrnoException | null = null;
    child.on('error', (err: NodeJS.ErrnoException) => {
      // Without a pid it never started; with one, the error is about a signal we sent: 'close' follows.
      if (child.pid === undefined) {
        spawnError = err;
        resolve({ code: null, signal: null, spawnError });
      }
    });
    child.on('close', (code, signal) => {
      if (!spawnError) resolve({ code, signal, spawnError: null });
    });
  });
  return { child, done };
}

export function spawnFailure(path: string, args: string[], err: NodeJS.ErrnoException): SourceError {
  const code = err.code ?? 'unknown error';
  const hint =
    code === 'ENOENT' ? ' (not found: is the NVIDIA driver installed, or set --nvidia-smi)'
      : code === 'EMFILE' || code === 'ENFILE' ? ' (out of file descriptors: raise the limit, ulimit -n / LimitNOFILE)'
        : code === 'EAGAIN' || code === 'ENOMEM' ? ' (out of processes or memory on this host)'
          : '';
  return new SourceError('spawn', `${path} ${args.join(' ')}: could not start: ${code}${hint}: ${sanitizeForMessage(err.message)}`);
}
