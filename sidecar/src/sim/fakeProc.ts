// Real processes that look like vLLM's: how the simulator gives a process the exact command line, name and
// environment of a vLLM API server, engine core or worker, and makes every one of them die with its parent.
//
// - Processes with children or a multi-element command line are node processes running fakeVllm.js. They
//   rewrite their own argv area through /proc/self/mem, so /proc/PID/cmdline holds exactly the wanted
//   NUL-separated elements (the spawn arguments are padded to the same total size, so nothing trails), and set
//   /proc/self/comm. Where /proc/self/mem cannot be written, process.title (libuv: the same area, one string)
//   is the fallback: the command line then reads as one space-separated element.
// - Leaf processes with a one-element title (VLLM::EngineCore, VLLM::Worker_TP0, …) are `cat` exec'd through a
//   symlink named like the title (so comm is the title's first 15 characters, as setproctitle leaves it) with
//   argv[0] = the title. They cost about 1 MB each and block reading a pipe from their parent: when the parent
//   goes, by any means, the pipe closes and they exit.
// - Node processes exit when their stdin (a pipe from their parent) closes, or when their parent pid changes.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, symlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { ProcPlan } from './engineLayout.js';

/** Total bytes of an argv area: every element and its NUL. */
export function argvBytes(argv: readonly string[]): number {
  return argv.reduce((s, a) => s + Buffer.byteLength(a) + 1, 0);
}

/** Node flags of the fake processes: a small heap (they hold little) and no V8 helper threads. */
export const NODE_FLAGS = ['--max-old-space-size=64', '--max-semi-space-size=1', '--v8-pool-size=0'];
const ARGV0 = 'node';

/**
 * Starts `node fakeVllm.js` for a plan (with `inheritFd`, that descriptor of ours as the child's fd 3): stdio pipes (stdin: the config line, then the liveness pipe; stdout:
 * JSON report lines; stderr: problems). The arguments are padded so the argv area has exactly the size of the
 * command line the process will write over it.
 */
export function spawnFakeNode(script: string, plan: ProcPlan, env: NodeJS.ProcessEnv, config: unknown, inheritFd?: number): ChildProcess {
  const file = basename(script);
  const fixed = [ARGV0, ...NODE_FLAGS, file];
  const pad = Math.max(1, argvBytes(plan.argv) - argvBytes(fixed) - 1);
  const child = spawn(process.execPath, [...NODE_FLAGS, file, 'x'.repeat(pad)], {
    argv0: ARGV0,
    cwd: dirname(script),
    env,
    // A descriptor handed down (the Rust frontend's listening socket) becomes the child's fd 3.
    stdio: inheritFd === undefined ? ['pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe', inheritFd],
  });
  child.stdin?.on('error', () => undefined);
  child.stdin?.write(`${JSON.stringify(config)}\n`);
  return child;
}

/** The symlink a leaf process is exec'd through: its name becomes the process's comm. */
export function leafLinkName(plan: ProcPlan): string {
  const title = plan.argv[0] ?? plan.comm;
  return title.includes('/') || title.length > 200 ? plan.comm : title;
}

/** `cat`, found once. */
export function findCat(): string {
  for (const p of ['/usr/bin/cat', '/bin/cat']) if (existsSync(p)) return p;
  throw new Error('no cat binary in /usr/bin or /bin (needed for the fake vLLM engine processes)');
}

/** Creates binDir/<name> → cat when missing. */
export function ensureLeafLink(binDir: string, name: string, cat: string): string {
  const link = join(binDir, name);
  try {
    symlinkSync(cat, link);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return link;
}

/** Starts a leaf process: `cat` with argv = [title], reading a pipe from us. */
export function spawnLeaf(binDir: string, cat: string, plan: ProcPlan, env: NodeJS.ProcessEnv): ChildProcess {
  const link = ensureLeafLink(binDir, leafLinkName(plan), cat);
  const child = spawn(link, [], { argv0: plan.argv[0], env, stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin?.on('error', () => undefined);
  return child;
}

/** Whether a plan runs as a `cat` leaf (one-element title, no children) rather than a node process. */
export function isLeaf(plan: ProcPlan): boolean {
  return plan.children.length === 0 && plan.argv.length === 1;
}

/**
 * Makes this process's /proc/PID/cmdline read `argv` (and /proc/PID/comm `comm`). Returns how: 'exact' (argv
 * area rewritten through /proc/self/mem), 'title' (process.title fallback, one element), or 'none'.
 */
export function setOwnCommandLine(argv: readonly string[], comm: string): 'exact' | 'title' | 'none' {
  let how: 'exact' | 'title' | 'none' = 'none';
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 48 and 49 of /proc/PID/stat (arg_start, arg_end); f[0] is field 3.
    const start = Number(f[45]);
    const end = Number(f[46]);
    const want = Buffer.from(`${argv.join('\0')}\0`);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end <= start) throw new Error('no argv area');
    const area = Buffer.alloc(end - start);
    // Longer than the area: cut (the last byte stays NUL so the kernel reads the area as plain argv).
    want.copy(area, 0, 0, Math.min(want.length, area.length - 1));
    const fd = openSync('/proc/self/mem', 'r+');
    try {
      writeSync(fd, area, 0, area.length, start);
    } finally {
      closeSync(fd);
    }
    how = 'exact';
  } catch {
    try {
      process.title = argv.join(' ');
      how = 'title';
    } catch {
      how = 'none';
    }
  }
  try {
    // A thread may rename its own group leader through /proc/self/comm.
    const fd = openSync('/proc/self/comm', 'w');
    try {
      writeSync(fd, comm.slice(0, 15));
    } finally {
      closeSync(fd);
    }
  } catch {
    // comm is cosmetic (discovery reads cmdline)
  }
  return how;
}

/** When this process started (ms since the Unix epoch), from /proc as psutil reads it; null if unreadable. */
export function processStartMs(pid: number | 'self' = 'self'): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    if (!Number.isFinite(ticks) || !Number.isFinite(btime)) return null;
    return btime * 1000 + ticks * 10; // USER_HZ is 100
  } catch {
    return null;
  }
}

/** Reads the first line of stdin (the config), then calls onEnd when stdin closes. */
export function readConfigLine(onLine: (line: string) => void, onEnd: () => void): void {
  let buf = '';
  let got = false;
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    if (got) return;
    buf += chunk;
    const nl = buf.indexOf('\n');
    if (nl >= 0) {
      got = true;
      onLine(buf.slice(0, nl));
      buf = '';
    }
  });
  process.stdin.on('end', onEnd);
  process.stdin.on('close', onEnd);
  process.stdin.on('error', onEnd);
}

/** Calls onOrphan once this process's parent is gone (its parent pid changed). */
export function watchParent(onOrphan: () => void, intervalMs = 1000): NodeJS.Timeout {
  const ppid = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== ppid) onOrphan();
  }, intervalMs);
  timer.unref();
  return timer;
}

/** Splits a stream into lines. */
export function onLines(stream: NodeJS.ReadableStream | null, cb: (line: string) => void): void {
  if (!stream) return;
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.length > 0) cb(line);
    }
    if (buf.length > 1 << 20) buf = '';
  });
}

/** The environment of the engine's processes: the host's, without the simulator's own variables. */
export function engineEnv(base: NodeJS.ProcessEnv, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) {
    if (k.startsWith('GPUFLEET_') || k === 'CUDA_VISIBLE_DEVICES' || k.startsWith('JEST_') || k === 'NODE_OPTIONS') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}
