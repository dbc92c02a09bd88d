// What the bench reads of other processes: their CPU time and resident memory, from /proc.
import { readdirSync, readFileSync } from 'node:fs';
import { statChildrenCpuSeconds, statCpuSeconds, statParentPid, statusMB } from './stats.js';

export function cpuSeconds(pid: number): number {
  return statCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

export function rssMB(pid: number): number {
  return statusMB(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmRSS');
}

/** CPU seconds of this process's children that have exited and been waited for. */
export function reapedChildrenCpuSeconds(): number {
  return statChildrenCpuSeconds(readFileSync('/proc/self/stat', 'utf8'));
}

/** Pids of the live children of `pid`. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (statParentPid(readFileSync(`/proc/${name}/stat`, 'utf8')) === pid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
