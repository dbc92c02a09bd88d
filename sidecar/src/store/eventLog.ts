// The fleet event log (Grafana annotations): a ring bounded in count and in bytes, whatever the events
// say. Event text comes from engines, processes and the kernel log, so it is cleaned and capped here;
// a subject that goes up and down over and over is folded into one "flapping" event per window, and
// the same Xid on the same GPU within a window into one event with a count. Every map kept for this
// is capped too: a host full of distinct failing endpoints costs a bounded amount of memory.
import type { EventKind, FleetEvent } from '../model.js';

export interface EventLogLimits {
  /** Most events held. */
  maxEvents: number;
  /** Most bytes held (estimated as the in-memory size of the strings plus a per-event overhead). */
  maxBytes: number;
  /** State changes of one subject within this window, past `flapAfter`, fold into one flapping event. */
  flapWindowMs: number;
  /** State changes per window shown one by one before a subject counts as flapping. */
  flapAfter: number;
  /** The same Xid on the same GPU within this window is one event with a count. */
  xidWindowMs: number;
  /** Most subjects whose flaps or Xids are being counted at once. */
  maxTracked: number;
}

export const DEFAULT_EVENT_LIMITS: EventLogLimits = {
  maxEvents: 10_000,
  maxBytes: 4 * 1024 * 1024,
  flapWindowMs: 10 * 60_000,
  flapAfter: 4,
  xidWindowMs: 60_000,
  maxTracked: 4096,
};

export const MAX_EVENT_TEXT = 1024;
export const MAX_EVENT_SUBJECT = 256;
/** Object header, the time string and the ring slot: what an event costs beyond its strings. */
const EVENT_OVERHEAD_BYTES = 160;

/** Up/down pairs that can flap, and the kind their folded event gets. */
const FLAPS: Partial<Record<EventKind, { family: string; flapKind: EventKind; what: string }>> = {
  'engine-up': { family: 'engine', flapKind: 'engine-flapping', what: 'up/down changes' },
  'engine-down': { family: 'engine', flapKind: 'engine-flapping', what: 'up/down changes' },
  'gpu-lost': { family: 'gpu', flapKind: 'gpu-flapping', what: 'lost/back changes' },
  'gpu-back': { family: 'gpu', flapKind: 'gpu-flapping', what: 'lost/back changes' },
};

/** No control characters (the text ends up in HTML tooltips and logs), at most `max` characters. */
export function clipText(s: string, max: number): string {
  const cut = s.length > max ? `${s.slice(0, max - 1)}…` : s;
  // eslint-disable-next-line no-control-regex
  return cut.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/[\x00-\x1f\x7f]/g, ' ');
}

interface Entry {
  seq: number;
  event: FleetEvent;
  bytes: number;
  fromMs: number;
  toMs: number;
}

interface Flap {
  windowStart: number;
  lastMs: number;
  changes: number;
  /** Seq of this window's flapping event, -1 before there is one. */
  flapSeq: number;
}

interface Burst {
  seq: number;
  startMs: number;
  text: string;
}

function eventBytes(e: FleetEvent): number {
  return EVENT_OVERHEAD_BYTES + 2 * (e.text.length + e.subject.length + e.host.length + e.kind.length);
}

/** A Map that forgets its least recently touched key past `max` entries. */
function touch<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value as string);
}

export interface EventQuery {
  fromMs: number;
  toMs: number;
  kinds?: Set<string> | null;
  subject?: string;
  /** The newest this many matches are returned. */
  limit: number;
}

export class EventLog {
  readonly limits: EventLogLimits;
  private readonly slots: (Entry | undefined)[];
  private head = 0;
  private count = 0;
  private nextSeq = 0;
  private heldBytes = 0;
  private readonly flaps = new Map<string, Flap>();
  private readonly bursts = new Map<string, Burst>();
  /** Events folded into another one (a flap or a repeated Xid) since start. */
  folded = 0;

  constructor(limits: Partial<EventLogLimits> = {}) {
    this.limits = { ...DEFAULT_EVENT_LIMITS, ...limits };
    if (!(this.limits.maxEvents >= 1)) throw new Error('event log: maxEvents must be at least 1');
    this.slots = new Array<Entry | undefined>(this.limits.maxEvents);
  }

  get size(): number {
    return this.count;
  }

  get bytes(): number {
    return this.heldBytes;
  }

  /** Subjects whose flaps or Xids are being counted (bounded by maxTracked each). */
  get tracked(): number {
    return this.flaps.size + this.bursts.size;
  }

  /**
   * Records one event. Returns the event as kept (cleaned and capped) when it is a new entry, null
   * when it was folded into an earlier one (the caller logs only new entries).
   */
  add(raw: FleetEvent): FleetEvent | null {
    const event: FleetEvent = {
      time: raw.time,
      host: clipText(raw.host, MAX_EVENT_SUBJECT),
      kind: raw.kind,
      subject: clipText(raw.subject, MAX_EVENT_SUBJECT),
      text: clipText(raw.text, MAX_EVENT_TEXT),
    };
    const parsed = Date.parse(event.time);
    const t = Number.isFinite(parsed) ? parsed : Date.now();
    const flap = FLAPS[event.kind];
    if (flap) return this.addChange(event, t, flap);
    if (event.kind === 'xid') return this.addXid(event, t);
    this.push(event, t);
    return event;
  }

  private addChange(event: FleetEvent, t: number, flap: { family: string; flapKind: EventKind; what: string }): FleetEvent | null {
    const key = `${flap.family}|${event.subject}`;
    let f = this.flaps.get(key);
    // Quiet for a whole window: the subject starts over with its changes shown one by one.
    if (!f || t - f.lastMs > this.limits.flapWindowMs) f = { windowStart: t, lastMs: t, changes: 0, flapSeq: -1 };
    // Still flapping after a window: a new flapping event for the next window.
    if (t - f.windowStart > this.limits.flapWindowMs) {
      f.windowStart = t;
      f.flapSeq = -1;
    }
    f.lastMs = t;
    f.changes++;
    touch(this.flaps, key, f, this.limits.maxTracked);
    if (f.flapSeq < 0 && f.changes <= this.limits.flapAfter) {
      this.push(event, t);
      return event;
    }
    const since = new Date(f.windowStart).toISOString();
    const describe = (n: number) =>
      clipText(`${event.subject} is flapping: ${n} ${flap.what} since ${since}; last: ${event.text}`, MAX_EVENT_TEXT);
    const live = this.entry(f.flapSeq);
    if (live) {
      const n = (live.event.count ?? 1) + 1;
      this.update(live, { ...live.event, count: n, timeEnd: event.time, text: describe(n) }, t);
      this.folded++;
      return null;
    }
    const flapping: FleetEvent = { time: event.time, host: event.host, kind: flap.flapKind, subject: event.subject, text: describe(1), count: 1, timeEnd: event.time };
    f.flapSeq = this.push(flapping, t);
    return flapping;
  }

  private addXid(event: FleetEvent, t: number): FleetEvent | null {
    const code = /^Xid (\d+)\b/.exec(event.text)?.[1] ?? event.text;
    const key = `${event.subject}|${code}`;
    const b = this.bursts.get(key);
    const live = b && t - b.startMs <= this.limits.xidWindowMs ? this.entry(b.seq) : undefined;
    if (b && live) {
      const n = (live.event.count ?? 1) + 1;
      const window = Math.round(this.limits.xidWindowMs / 1000);
      const text = clipText(`${b.text} (${n} times within ${window} s)`, MAX_EVENT_TEXT);
      const end = live.toMs >= t ? live.event.timeEnd ?? live.event.time : event.time;
      this.update(live, { ...live.event, count: n, timeEnd: end, text }, Math.max(live.toMs, t));
      touch(this.bursts, key, b, this.limits.maxTracked);
      this.folded++;
      return null;
    }
    const seq = this.push(event, t);
    touch(this.bursts, key, { seq, startMs: t, text: event.text }, this.limits.maxTracked);
    return event;
  }

  /** The live entry of `seq`, or undefined when it has left the ring (or never was). */
  private entry(seq: number): Entry | undefined {
    const oldest = this.nextSeq - this.count;
    if (seq < oldest || seq >= this.nextSeq) return undefined;
    return this.slots[(this.head + (seq - oldest)) % this.slots.length];
  }

  private push(event: FleetEvent, t: number): number {
    if (this.count === this.slots.length) this.evict();
    const seq = this.nextSeq++;
    const e: Entry = { seq, event, bytes: eventBytes(event), fromMs: t, toMs: t };
    this.slots[(this.head + this.count) % this.slots.length] = e;
    this.count++;
    this.heldBytes += e.bytes;
    this.trim();
    return seq;
  }

  private update(e: Entry, event: FleetEvent, toMs: number): void {
    const bytes = eventBytes(event);
    this.heldBytes += bytes - e.bytes;
    e.bytes = bytes;
    e.event = event;
    e.toMs = toMs;
    this.trim();
  }

  private trim(): void {
    while (this.heldBytes > this.limits.maxBytes && this.count > 1) this.evict();
  }

  private evict(): void {
    const e = this.slots[this.head];
    this.slots[this.head] = undefined;
    this.head = (this.head + 1) % this.slots.length;
    this.count--;
    if (e) this.heldBytes -= e.bytes;
  }

  /**
   * Events that overlap [fromMs, toMs] (a folded event spans its first to its last occurrence), oldest
   * first; at most `limit`, the newest ones, with `truncated` saying whether more matched.
   */
  query(q: EventQuery): { events: FleetEvent[]; truncated: boolean } {
    const out: FleetEvent[] = [];
    let truncated = false;
    const oldest = this.nextSeq - this.count;
    for (let seq = this.nextSeq - 1; seq >= oldest; seq--) {
      const e = this.entry(seq) as Entry;
      if (e.fromMs > q.toMs || e.toMs < q.fromMs) continue;
      if (q.kinds && !q.kinds.has(e.event.kind)) continue;
      if (q.subject !== undefined && e.event.subject !== q.subject) continue;
      if (out.length === q.limit) {
        truncated = true;
        break;
      }
      out.push(e.event);
    }
    return { events: out.reverse(), truncated };
  }

  /** Events with time in [fromMs, toMs], oldest first (all of them: for tests and the store). */
  between(fromMs: number, toMs: number): FleetEvent[] {
    return this.query({ fromMs, toMs, limit: this.limits.maxEvents }).events;
  }
}
