// Reads the process table from procfs: pid, parent, command line and container of every process.
// Processes come and go during a scan: one that vanished (ENOENT/ESRCH) or is not ours to read
// (EACCES) is skipped, never an error. Running out of file descriptors or memory (EMFILE, ENFILE,
// ENOMEM) says nothing about the process: the scan reports an error and keeps what it knew of it.
// What was read of a process is kept per (pid, start time) and, once the process is past its first
// minute, not read again (see ProcScanner.scan), since a scan every tick on a busy host would
// otherwise re-read thousands of files.
import { closeSync, openSync, readSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { capText } from '../util/capText.js';
import { listenAddressOf, socketInode, type ListenAddress } from './listenSocket.js';
import { splitProcCmdline } from './vllmCmdline.js';

/**
 * One environment variable of a process: its value, not in the environment, or the environment
 * could not be read (another user's process without CAP_SYS_PTRACE, or a PID namespace apart).
 */
export type EnvState = { state: 'set'; value: string } | { state: 'unset' } | { state: 'unreadable' };

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** Clock ticks since boot: with pid, identifies a process across pid reuse. */
  startTime: number;
  argv: string[];
  /** Docker/Podman container id from /proc/PID/cgroup, or null for a host process. */
  containerId: string | null;
}

/** Processes by pid: a Map, or the scanner's own table. */
export interface ProcLookup {
  get(pid: number): ProcInfo | undefined;
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

/** Real and effective uid from the text of /proc/PID/status ("Uid:\t1000\t1000\t1000\t1000"). */
export function parseStatusUids(status: string): { real: number; effective: number } | null {
  const m = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status);
  return m ? { real: Number(m[1]), effective: Number(m[2]) } : null;
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
// open/read/close into one reused buffer is half the cost of readFileSync (no fstat, no new
// buffer per file), which matters at a few hundred files a tick.
const READ_BUFFER_BYTES = 16 * 1024;
/** A command line or environment is at most a few MB (ARG_MAX); nothing we read needs more. */
const MAX_PROC_FILE_BYTES = 4 * 1024 * 1024;
let readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);

/** Errors that say this process (the sidecar) is short of a resource, not that the file is gone. */
const RESOURCE_CODES = new Set(['EMFILE', 'ENFILE', 'ENOMEM', 'ENOBUFS', 'EAGAIN']);

/** A procfs read failed for want of file descriptors or memory: the scan is incomplete. */
export class ProcResourceError extends Error {
  constructor(
    readonly code: string,
    path: string,
  ) {
    super(`reading ${path}: ${code}`);
    this.name = 'ProcResourceError';
  }
}

function rethrowResource(err: unknown, path: string): void {
  const code = (err as NodeJS.ErrnoException).code;
  if (code && RESOURCE_CODES.has(code)) throw new ProcResourceError(code, path);
}

/** One procfs file; null when it is gone or not readable; throws ProcResourceError when short of fds or memory. */
export function readProcFile(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    rethrowResource(err, path);
    return null; // gone, or not readable: both mean "skip"
  }
  try {
    let n = 0;
    for (;;) {
      if (n === readBuffer.length) {
        if (n >= MAX_PROC_FILE_BYTES) break;
        const bigger = Buffer.allocUnsafe(n * 2);
        readBuffer.copy(bigger, 0, 0, n);
        readBuffer = bigger;
      }
      const got = readSync(fd, readBuffer, n, readBuffer.length - n, null);
      if (got === 0) break;
      n += got;
    }
    const text = readBuffer.toString('utf8', 0, n);
    if (readBuffer.length > READ_BUFFER_BYTES * 4) readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
    return text;
  } catch (err) {
    rethrowResource(err, path);
    return null; // vanished while read (ESRCH), or a directory (EISDIR)
  } finally {
    closeSync(fd);
  }
}

/** Reads one procfs file; null when it is gone or not readable; may throw ProcResourceError. Replaceable for tests. */
export type ProcReader = (path: string) => string | null;

interface Known {
  /** What the scan lists for the process: the same object from scan to scan while nothing changed. */
  info: ProcInfo;
  /** Environment variables read so far (a process's initial environment does not change). */
  env: Map<string, EnvState>;
}

/**
 * Every this many scans everything is read again: a command line rewritten after the first minute
 * (an exec), or a pid reused between two scans, is then seen at the latest.
 */
export const FULL_REREAD_SCANS = 30;

export class ProcScanner {
  // Both maps are updated in place: rebuilt each tick, their tables outlived young collections
  // and were a seventh of what the collector promoted (README, issue 12).
  private readonly known = new Map<number, Known>();
  /** The scan that last listed each pid: this one, the one before (gone since), never older. */
  private readonly listedIn = new Map<number, number>();
  private scans = 0;
  private lastOut: ProcInfo[] = [];
  /** Files read by the last scan (for tests and the benchmark). */
  lastReads = 0;
  /** Why the last scan is incomplete (out of file descriptors…), or null when it is whole. */
  lastError: string | null = null;

  /**
   * `only`: when it returns a set, the scan sees only those pids (a simulated host sees its own engines, not
   * every process of the machine it runs on); null or absent: every process.
   */
  constructor(
    readonly procPath: string,
    private readonly readText: ProcReader = readProcFile,
    private readonly only: (() => ReadonlySet<number> | null) | null = null,
  ) {}

  private read1(path: string): string | null {
    this.lastReads++;
    return this.readText(path);
  }

  /**
   * The process table. A process seen before, older than a minute, whose parent is still there, is
   * taken from the last scan without reading its files: on a host of a thousand processes a tick
   * reads the files of the new ones only. Parents change only when one dies (its children are
   * re-parented), which the listing shows.
   */
  scan(): ProcInfo[] {
    let names: string[];
    this.lastError = null;
    try {
      names = readdirSync(this.procPath);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const message = `cannot list ${this.procPath}: ${code ?? (err as Error).message}`;
      // Short of descriptors: the processes are still there; keep the last table.
      if (code && RESOURCE_CODES.has(code)) {
        this.lastError = message;
        return this.lastOut;
      }
      throw new Error(message);
    }
    this.lastReads = 0;
    const full = this.scans++ % FULL_REREAD_SCANS === 0;
    const scan = this.scans;
    const listedIn = this.listedIn;
    const allowed = this.only?.() ?? null;
    for (const n of names) {
      const c = n.charCodeAt(0);
      if (c >= 48 && c <= 57 && /^\d+$/.test(n) && (allowed === null || allowed.has(Number(n)))) listedIn.set(Number(n), scan);
    }
    let uptime = NaN;
    try {
      uptime = Number(this.read1(join(this.procPath, 'uptime'))?.split(' ')[0]);
    } catch (err) {
      if (!(err instanceof ProcResourceError)) throw err;
      this.lastError = err.message;
    }
    const uptimeTicks = Number.isFinite(uptime) ? uptime * CLOCK_TICKS : null;
    const known = this.known;
    const out: ProcInfo[] = [];
    // vLLM sets its process titles in the first seconds of a process's life: only a process older
    // than a minute keeps what was read of it.
    const settled = (startTime: number) => uptimeTicks !== null && uptimeTicks - startTime > 60 * CLOCK_TICKS;
    for (const [pid, at] of listedIn) {
      if (at !== scan) continue;
      const k = known.get(pid);
      // Listed by the last scan and not by this one: the parent is gone and its children re-parented.
      const orphaned = k !== undefined && listedIn.get(k.info.ppid) === scan - 1;
      let p: Known | null;
      try {
        p = k && !full && !orphaned && settled(k.info.startTime) ? k : this.read(pid, k, settled, full);
      } catch (err) {
        if (!(err instanceof ProcResourceError)) throw err;
        // Not read, not gone: the process stays as it was known (a new one waits for the next scan).
        this.lastError = `process scan incomplete: ${err.message}`;
        p = k ?? null;
      }
      if (!p) {
        known.delete(pid);
        continue;
      }
      if (p !== k) known.set(pid, p);
      out.push(p.info);
    }
    // Only now: a gone parent's entry told its children they were re-parented.
    for (const [pid, at] of listedIn) {
      if (at === scan) continue;
      listedIn.delete(pid);
      known.delete(pid);
    }
    this.lastOut = out;
    return out;
  }

  private read(pid: number, k: Known | undefined, settled: (startTime: number) => boolean, full: boolean): Known | null {
    const dir = join(this.procPath, String(pid));
    const statText = this.read1(join(dir, 'stat'));
    const stat = statText ? parseStat(statText) : null;
    if (!stat) return null;
    const same = k !== undefined && k.info.startTime === stat.startTime;
    if (same && settled(stat.startTime) && !full) return { info: { ...k.info, ppid: stat.ppid }, env: k.env };
    const cmdline = this.read1(join(dir, 'cmdline'));
    if (cmdline === null) return null;
    const containerId = same ? k.info.containerId : parseCgroupContainer(this.read1(join(dir, 'cgroup')) ?? '');
    return {
      info: { pid, ppid: stat.ppid, startTime: stat.startTime, argv: titleWords(splitProcCmdline(cmdline)), containerId },
      env: same && !full ? k.env : new Map(),
    };
  }

  /** The process as the last scan listed it. */
  proc(pid: number): ProcInfo | undefined {
    return this.known.get(pid)?.info;
  }

  /** Who a process runs as, from /proc/PID/status; null when it cannot be read (gone, or short of fds). */
  uids(pid: number): { real: number; effective: number } | null {
    try {
      const text = this.readText(join(this.procPath, String(pid), 'status'));
      return text === null ? null : parseStatusUids(text);
    } catch (err) {
      if (err instanceof ProcResourceError) return null;
      throw err;
    }
  }

  /** One environment variable of a process; null when unset or unreadable (another user's process). */
  env(pid: number, name: string): string | null {
    const e = this.envState(pid, name);
    return e.state === 'set' ? e.value : null;
  }

  /** One environment variable of a process, telling "not set" from "could not read the environment". */
  envState(pid: number, name: string): EnvState {
    const k = this.known.get(pid);
    const hit = k?.env.get(name);
    if (hit !== undefined) return hit;
    let text: string | null;
    try {
      text = this.readText(join(this.procPath, String(pid), 'environ'));
    } catch (err) {
      if (err instanceof ProcResourceError) return { state: 'unreadable' }; // not remembered: asked again next time
      throw err;
    }
    // A device list of 64 MIG UUIDs is ~3,000 characters: a wider bound than other strings.
    const found = text === null ? null : envVar(text, name);
    const value: EnvState = text === null ? { state: 'unreadable' } : found === null ? { state: 'unset' } : { state: 'set', value: capText(found, 4096) };
    // Unreadable is remembered too: it does not become readable while the process lives.
    k?.env.set(name, value);
    return value;
  }

  /**
   * Where the socket a process holds as descriptor `fd` listens (TCP, IPv4 or IPv6); null when the
   * descriptor is no listening TCP socket or cannot be read (gone, another user's without
   * CAP_SYS_PTRACE, short of descriptors).
   */
  listenAddress(pid: number, fd: number): ListenAddress | null {
    const dir = join(this.procPath, String(pid));
    let inode: number | null;
    try {
      inode = socketInode(readlinkSync(join(dir, 'fd', String(fd))));
    } catch {
      return null;
    }
    if (inode === null) return null;
    try {
      for (const table of ['tcp', 'tcp6']) {
        const text = this.readText(join(dir, 'net', table));
        const addr = text === null ? null : listenAddressOf(text, inode);
        if (addr) return addr;
      }
    } catch (err) {
      if (err instanceof ProcResourceError) return null;
      throw err;
    }
    return null;
  }
}
