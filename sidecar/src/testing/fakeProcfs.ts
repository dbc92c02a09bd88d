// A /proc of our own making for the engine discovery tests and the bench: one folder per process with
// the files ProcScanner reads (stat, cmdline, cgroup, environ).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface FakeProcess {
  /** /proc/<pid>/cgroup; a user session by default. */
  cgroup?: string;
  /** /proc/<pid>/environ (NUL-separated); null leaves the file out. */
  environ?: string | null;
}

/** Writes /proc/<pid> under `root` for a process with this parent and command line. */
export function writeProc(root: string, pid: number, ppid: number, argv: string[], p: FakeProcess = {}): void {
  const dir = join(root, String(pid));
  mkdirSync(dir, { recursive: true });
  // Field 22 is the start time (clock ticks after boot): distinct per pid, so a pid is never taken as reused.
  writeFileSync(join(dir, 'stat'), `${pid} (x) S ${ppid} ${pid} ${pid} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 ${1000 + pid} 0 0`);
  writeFileSync(join(dir, 'cmdline'), `${argv.join('\0')}\0`);
  writeFileSync(join(dir, 'cgroup'), p.cgroup ?? '0::/user.slice\n');
  if (p.environ !== null) writeFileSync(join(dir, 'environ'), p.environ ?? '');
}
