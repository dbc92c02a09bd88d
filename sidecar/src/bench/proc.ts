// What the bench reads of other processes: their CPU time and resident memory, from /proc.
import { readFileSync } from 'node:fs';
import { statCpuSeconds, statusRssMB } from './stats.js';

export function cpuSeconds(pid: number): number {
  return statCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

export function rssMB(pid: number): number {
  return statusRssMB(readFileSync(`/proc/${pid}/status`, 'utf8'));
}
