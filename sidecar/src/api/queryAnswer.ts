// Writes a planned /api/v1/query answer ({ results: { refId: { frames } } }) frame by frame, giving the
// event loop back every few milliseconds and waiting when the client reads slowly: the largest answer
// the point budget allows never holds the loop (or the whole JSON text) at once.
import type { Response } from 'express';
import { setImmediate as yieldLoop } from 'node:timers/promises';
import type { PlannedQuery } from './query.js';

/** Longest stretch of work between two turns of the event loop. */
export const SLICE_MS = 8;
const FLUSH_CHARS = 64 * 1024;

export interface AnswerStats {
  /** Longest synchronous stretch while writing, ms: wall time, and CPU time of the process (the figure on a busy machine). */
  longestSliceMs: number;
  longestSliceCpuMs: number;
  chars: number;
}

export interface AnswerOptions {
  /** Also measure the CPU time of each slice (a system call per slice: for the benchmark). */
  measureCpu?: boolean;
  /** An answer of at most this many characters is handed whole to onKept once written. */
  keepUpTo?: number;
  onKept?: (text: string) => void;
}

export async function writeQueryAnswer(res: Response, planned: PlannedQuery[], opts: AnswerOptions = {}): Promise<AnswerStats> {
  const stats: AnswerStats = { longestSliceMs: 0, longestSliceCpuMs: 0, chars: 0 };
  const keepUpTo = opts.onKept ? (opts.keepUpTo ?? 0) : 0;
  let kept: string[] | null = keepUpTo > 0 ? [] : null;
  const measureCpu = opts.measureCpu === true;
  let gone = false;
  res.once('close', () => (gone = true));
  res.status(200).type('application/json');
  // A refId given twice answers with the last of its queries, as an object built key by key would.
  const last = new Map(planned.map((p, i) => [p.refId, i]));
  let buf = '{"results":{';
  let sliceStart = performance.now();
  let sliceCpu = measureCpu ? process.cpuUsage() : null;
  const endSlice = () => {
    stats.longestSliceMs = Math.max(stats.longestSliceMs, performance.now() - sliceStart);
    if (!sliceCpu) return;
    const cpu = process.cpuUsage(sliceCpu);
    stats.longestSliceCpuMs = Math.max(stats.longestSliceCpuMs, (cpu.user + cpu.system) / 1000);
  };
  const keep = (text: string) => {
    if (!kept) return;
    if (stats.chars > keepUpTo) kept = null;
    else kept.push(text);
  };
  const pause = async () => {
    endSlice();
    if (buf.length >= FLUSH_CHARS) {
      stats.chars += buf.length;
      keep(buf);
      const ok = res.write(buf);
      buf = '';
      if (!ok && !gone) {
        await new Promise<void>((r) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            r();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
    }
    await yieldLoop();
    sliceStart = performance.now();
    if (sliceCpu) sliceCpu = process.cpuUsage();
  };
  let firstQuery = true;
  for (const [i, p] of planned.entries()) {
    if (last.get(p.refId) !== i) continue;
    buf += `${firstQuery ? '' : ','}${JSON.stringify(p.refId)}:{"frames":[`;
    firstQuery = false;
    let firstFrame = true;
    for (const frame of p.frames()) {
      buf += (firstFrame ? '' : ',') + JSON.stringify(frame);
      firstFrame = false;
      if (buf.length >= FLUSH_CHARS || performance.now() - sliceStart >= SLICE_MS) {
        await pause();
        if (gone) return stats;
      }
    }
    buf += ']}';
  }
  buf += '}}';
  stats.chars += buf.length;
  keep(buf);
  endSlice();
  res.end(buf);
  if (kept && !gone) opts.onKept?.(kept.join(''));
  return stats;
}
