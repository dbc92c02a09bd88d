// Reads new kernel-log records each tick and keeps the Xid ones. /dev/kmsg is opened non-blocking and
// read until EAGAIN (each read returns one record); a regular file (the simulator's stand-in, or a
// saved log) is read from where the last tick stopped. On open, /dev/kmsg replays the ring buffer:
// those records carry their real time, so old Xids are events in the past, not new ones.
import { closeSync, constants, openSync, readFileSync, readSync } from 'node:fs';
import { parseKmsgRecord, parseXid, type XidRecord } from '../parsers/kmsgXid.js';

export interface TimedXid extends XidRecord {
  /** ms since epoch, from the record's time since boot. */
  time: number;
  seq: number;
}

function bootTimeMs(): number {
  try {
    const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    return Date.now() - uptime * 1000;
  } catch {
    return Date.now();
  }
}

export class XidWatcher {
  private fd: number | null = null;
  private partial = '';
  private readonly buf = Buffer.alloc(16 * 1024);
  private readonly boot: number;
  private lastSeq = -1;

  constructor(
    private readonly path: string,
    bootMs?: number,
  ) {
    this.boot = bootMs ?? bootTimeMs();
  }

  /** Opens the log; throws with the reason (EACCES without CAP_SYSLOG, ENOENT…). */
  open(): void {
    this.fd = openSync(this.path, constants.O_RDONLY | constants.O_NONBLOCK);
  }

  /** Xid records written since the last call. */
  drain(maxRecords = 10_000): TimedXid[] {
    if (this.fd === null) return [];
    const out: TimedXid[] = [];
    for (let i = 0; i < maxRecords; i++) {
      let n: number;
      try {
        n = readSync(this.fd, this.buf, 0, this.buf.length, null);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') break; // no more records now
        if (code === 'EPIPE') continue; // records overwritten before we read them: go on with the next
        throw err;
      }
      if (n === 0) break; // end of a regular file
      const text = this.partial + this.buf.toString('utf8', 0, n);
      const lines = text.split('\n');
      this.partial = (lines.pop() ?? '').slice(-64 * 1024);
      for (const line of lines) {
        const rec = parseKmsgRecord(line);
        if (!rec || rec.seq <= this.lastSeq) continue;
        this.lastSeq = rec.seq;
        const xid = parseXid(rec.message);
        if (xid) out.push({ ...xid, seq: rec.seq, time: Math.round(this.boot + rec.usec / 1000) });
      }
    }
    return out;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
