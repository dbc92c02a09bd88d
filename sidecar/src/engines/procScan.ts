// Reads the process table from procfs: pid, parent, command line and container of every process.
// Processes come and go during a scan: one that vanished (ENOENT/ESRCH) or is not ours to read
// (EACCES) is skipped, never an error. Command lines are cached per (pid, start time), since a
// scan every tick on a busy host would otherwise re-read thousands of files.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { splitProcCmdline } from './vllmCmdline.js';

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** Clock ticks since boot: with pid, identifies a process across pid reuse. */
  startTime: number;
  argv: string[];
  /** Docker/Podman container id from /proc/PID/cgroup, or null for a host process. */
  containerId: string | null;
}

/** ppid and start time from /proc/PID/stat; the command name may hold spaces and parentheses. */
export function parseStat(stat: string): { ppid: number; startTime: number } | null {
  const close = stat.lastIndexOf(')');
  if (close < 0) return null;
  const f = stat.slice(close + 2).split(' ');
  // After "pid (comm) ": state(0) ppid(1) ... starttime is field 22 of stat, index 19 here.
  const ppid = Number(f[1]);
  const startTime = Number(f[19]);
  if (!Number.isInteger(ppid) || !Number.isFinite(startTime)) return null;
  return { ppid, startTime };
}

const CONTAINER_PATTERNS = [
  /libpod-(?:conmon-)?([0-9a-f]{64})/, // Podman (cgroup v1 and v2)
  /docker-([0-9a-f]{64})\.scope/, // Docker with the systemd cgroup driver
  /\/docker\/([0-9a-f]{64})/, // Docker with cgroupfs
  /\/containerd\/([0-9a-f]{64})/,
  /cri-containerd-([0-9a-f]{64})\.scope/,
];

/** The container a process belongs to, from the text of /proc/PID/cgroup. */
export function parseCgroupContainer(text: string): string | null {
  for (const re of CONTAINER_PATTERNS) {
    const m = re.exec(text);
    if (m) return m[1] as string;
  }
  return null;
}

/** The value of one variable in the text of /proc/PID/environ (NUL-separated). */
export function envVar(environ: string, name: string): string | null {
  const prefix = `${name}=`;
  for (const kv of environ.split('\0')) if (kv.startsWith(prefix)) return kv.slice(prefix.length);
  return null;
}

/**
 * A process that rewrote its title (setproctitle, Node's process.title) has one argv string with
 * spaces, "vllm serve org/model --port 8000": read it as words, as ps shows it.
 */
export function titleWords(argv: string[]): string[] {
  return argv.length === 1 && /\s/.test(argv[0] as string) ? (argv[0] as string).trim().split(/\s+/) : argv;
}

/** USER_HZ: 100 on every Linux architecture procfs reports to user space. */
const CLOCK_TICKS = 100;

// procfs files are generated in memory by the kernel: a synchronous read takes microseconds, where
// the promise API's open/fstat/read/close round trips through the thread pool cost far more CPU.
function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null; // gone, or not readable: both mean "skip"
  }
}

export class ProcScanner {
  private cache = new Map<number, { startTime: number; argv: string[]; containerId: string | null }>();

  constructor(readonly procPath: string) {}

  scan(): ProcInfo[] {
    let names: string[];
    try {
      names = readdirSync(this.procPath);
    } catch (err) {
      throw new Error(`cannot list ${this.procPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const pids = names.filter((n) => /^\d+$/.test(n)).map(Number);
    const uptime = Number(readOrNull(join(this.procPath, 'uptime'))?.split(' ')[0]);
    const uptimeTicks = Number.isFinite(uptime) ? uptime * CLOCK_TICKS : null;
    const next = new Map<number, { startTime: number; argv: string[]; containerId: string | null }>();
    const out: ProcInfo[] = [];
    for (const pid of pids) {
      const p = this.read(pid, uptimeTicks);
      if (!p) continue;
      out.push(p);
      next.set(p.pid, { startTime: p.startTime, argv: p.argv, containerId: p.containerId });
    }
    this.cache = next;
    return out;
  }

  private read(pid: number, uptimeTicks: number | null): ProcInfo | null {
    const dir = join(this.procPath, String(pid));
    const statText = readOrNull(join(dir, 'stat'));
    const stat = statText ? parseStat(statText) : null;
    if (!stat) return null;
    const cached = this.cache.get(pid);
    const same = cached !== undefined && cached.startTime === stat.startTime;
    // vLLM sets its process titles in the first seconds of a process's life: a command line is
    // only reused from the cache once the process is older than a minute.
    const settled = uptimeTicks !== null && uptimeTicks - stat.startTime > 60 * CLOCK_TICKS;
    if (same && settled) {
      return { pid, ppid: stat.ppid, startTime: stat.startTime, argv: cached.argv, containerId: cached.containerId };
    }
    const cmdline = readOrNull(join(dir, 'cmdline'));
    if (cmdline === null) return null;
    const containerId = same ? cached.containerId : parseCgroupContainer(readOrNull(join(dir, 'cgroup')) ?? '');
    return { pid, ppid: stat.ppid, startTime: stat.startTime, argv: titleWords(splitProcCmdline(cmdline)), containerId };
  }

  /** One environment variable of a process; null when unset or unreadable (another user's process). */
  env(pid: number, name: string): string | null {
    const text = readOrNull(join(this.procPath, String(pid), 'environ'));
    return text === null ? null : envVar(text, name);
  }
}
