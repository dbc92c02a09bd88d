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

export async function writeQueryAnswer(res: Response, planned: PlannedQuery[]): Promise<AnswerStats> {
  const stats: AnswerStats = { longestSliceMs: 0, longestSliceCpuMs: 0, chars: 0 };
  let gone = false;
  res.once('close', () => (gone = true));
  res.status(200).type('application/json');
  // A refId given twice answers with the last of its queries, as an object built key by key would.
  const last = new Map(planned.map((p, i) => [p.refId, i]));
  let buf = '{"results":{';
  let sliceStart = performance.now();
  let sliceCpu = process.cpuUsage();
  const endSlice = () => {
    stats.longestSliceMs = Math.max(stats.longestSliceMs, performance.now() - sliceStart);
    const cpu = process.cpuUsage(sliceCpu);
    stats.longestSliceCpuMs = Math.max(stats.longestSliceCpuMs, (cpu.user + cpu.system) / 1000);
  };
  const pause = async () => {
    endSlice();
    if (buf.length >= FLUSH_CHARS) {
      stats.chars += buf.length;
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
    sliceCpu = process.cpuUsage();
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
  endSlice();
  res.end(buf);
  return stats;
}
