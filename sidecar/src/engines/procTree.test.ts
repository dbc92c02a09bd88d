import type { ProcInfo } from './procScan.js';
import { descendants, procTree } from './procTree.js';

const proc = (pid: number, ppid: number): ProcInfo => ({ pid, ppid, startTime: pid, argv: [`p${pid}`], containerId: null });

describe('descendants', () => {
  const tree = procTree([proc(1, 0), proc(10, 1), proc(11, 10), proc(12, 10), proc(13, 11), proc(20, 1)]);

  it('a process and everything under it, breadth first', () => {
    expect(descendants([10], tree).map((p) => p.pid)).toEqual([10, 11, 12, 13]);
    expect(descendants([11, 20], tree).map((p) => p.pid)).toEqual([11, 20, 13]);
  });

  it('each process once when roots overlap, and nothing for a pid not in the table', () => {
    expect(descendants([10, 11], tree).map((p) => p.pid)).toEqual([10, 11, 12, 13]);
    expect(descendants([999], tree)).toEqual([]);
  });

  it('ends on a parent loop (a /proc read across a pid reuse can show one)', () => {
    const looped = procTree([proc(5, 6), proc(6, 5)]);
    expect(descendants([5], looped).map((p) => p.pid)).toEqual([5, 6]);
  });
});
