// The bounded in-memory history: one ring of tick timestamps and, per series, a ring of float32 values
// in the same slots. Columnar storage keeps an hour at 1 s for a large host in a few MB, where a ring of
// whole snapshot objects would take hundreds. NaN marks "no value at that tick" (null in the model).
//
// Ticks are held on the monotonic clock, so their order is the order they were taken whatever the wall
// clock does; they become wall times only when read, through the wall clock as it reads then. A step of
// the wall clock (either way) therefore moves the whole window with it: no tick lands out of order, a
// range query never sees a sawtooth, and collection never waits for the wall clock to catch up.
import { systemClock, type Clock } from '../util/clock.js';

export type Labels = Record<string, string>;

export interface SeriesMeta {
  metric: string;
  labels: Labels;
}

export interface SeriesRange extends SeriesMeta {
  times: number[];
  values: (number | null)[];
}

interface Series extends SeriesMeta {
  values: Float32Array;
  /** Slot of the newest non-NaN value; a series with none left in the window is dropped. */
  lastSeq: number;
}

export interface Sample {
  key: string;
  metric: string;
  labels: Labels;
  value: number | null;
}

/** What a series costs beside its values: its labels, key and Map entry (measured at a few hundred bytes). */
const SERIES_OVERHEAD_BYTES = 512;

/**
 * Memory the history takes when full, at most: a timestamp per tick plus a float32 per tick for each of
 * up to maxSeries series. The start-up check of --history against --history-budget uses it.
 */
export function historyBytes(ticks: number, maxSeries: number): number {
  return ticks * (8 + 4 * maxSeries) + maxSeries * SERIES_OVERHEAD_BYTES;
}

/** Ticks of history that fit in `budgetBytes`. */
export function ticksWithin(budgetBytes: number, maxSeries: number): number {
  return Math.max(0, Math.floor((budgetBytes - maxSeries * SERIES_OVERHEAD_BYTES) / (8 + 4 * maxSeries)));
}

export class History {
  /** Monotonic ms of each tick, non-decreasing in seq order. */
  private readonly times: Float64Array;
  private readonly series = new Map<string, Series>();
  /** Count of ticks ever appended; the slot of tick n is n % capacity. */
  private seq = 0;
  droppedSeries = 0;

  constructor(
    readonly capacity: number,
    readonly maxSeries: number,
    private readonly clock: Clock = systemClock,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error('history capacity must be a positive integer');
    this.times = new Float64Array(capacity);
  }

  get length(): number {
    return Math.min(this.seq, this.capacity);
  }

  get seriesCount(): number {
    return this.series.size;
  }

  /** Wall ms minus monotonic ms, now: what turns a held tick into a wall time. */
  private offset(): number {
    return this.clock.wallMs() - this.clock.monoMs();
  }

  /** Appends one tick taken now. */
  append(samples: Iterable<Sample>): void {
    const slot = this.seq % this.capacity;
    const prev = this.seq > 0 ? (this.times[(this.seq - 1) % this.capacity] as number) : -Infinity;
    this.times[slot] = Math.max(prev, this.clock.monoMs());
    // Clear the slot for every series first: a series absent from this tick has no value at it.
    for (const s of this.series.values()) s.values[slot] = NaN;
    for (const sample of samples) {
      if (sample.value === null || !Number.isFinite(sample.value)) continue;
      let s = this.series.get(sample.key);
      if (!s) {
        if (this.series.size >= this.maxSeries) {
          this.droppedSeries++;
          continue;
        }
        s = { metric: sample.metric, labels: sample.labels, values: new Float32Array(this.capacity).fill(NaN), lastSeq: 0 };
        this.series.set(sample.key, s);
      }
      s.values[slot] = sample.value;
      s.lastSeq = this.seq;
    }
    this.seq++;
    // Forget series whose every value has left the window (a GPU removed an hour ago).
    for (const [key, s] of this.series) {
      if (this.seq - s.lastSeq > this.capacity) this.series.delete(key);
    }
  }

  /** Oldest and newest timestamps held (wall ms), or null when empty. */
  span(): { from: number; to: number } | null {
    if (this.seq === 0) return null;
    const off = this.offset();
    const newest = this.times[(this.seq - 1) % this.capacity] as number;
    const oldest = this.times[this.seq > this.capacity ? this.seq % this.capacity : 0] as number;
    return { from: Math.round(oldest + off), to: Math.round(newest + off) };
  }

  /**
   * Values of the series matching `filter` in [fromMs, toMs] (wall ms), oldest first. With maxPoints,
   * ticks are averaged into at most that many equal-width buckets (Grafana's maxDataPoints).
   */
  range(filter: (meta: SeriesMeta) => boolean, fromMs: number, toMs: number, maxPoints?: number): SeriesRange[] {
    const off = this.offset();
    const slots = this.slotsIn(fromMs - off, toMs - off);
    const out: SeriesRange[] = [];
    // The tick times and their buckets are the same for every series: worked out once per call, and
    // the answer's series share one times array (it is read, never changed).
    let times: number[] | null = null;
    let buckets: Buckets | null = null;
    for (const s of this.series.values()) {
      if (!filter(s)) continue;
      if (!times) {
        times = slots.map((slot) => Math.round((this.times[slot] as number) + off));
        if (maxPoints !== undefined && times.length > maxPoints) buckets = bucketsOf(times, maxPoints);
      }
      const values = buckets ? downsample(s.values, slots, buckets) : readValues(s.values, slots);
      if (values) out.push({ metric: s.metric, labels: s.labels, times: buckets ? buckets.times : times, values });
    }
    return out;
  }

  metrics(): Set<string> {
    return new Set([...this.series.values()].map((s) => s.metric));
  }

  private slotsIn(fromMs: number, toMs: number): number[] {
    const n = this.length;
    const first = this.seq - n;
    const slots: number[] = [];
    // Monotonic times never decrease with seq, so binary search for the first tick at or after fromMs.
    let lo = first;
    let hi = this.seq;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.times[mid % this.capacity] as number) < fromMs) lo = mid + 1;
      else hi = mid;
    }
    for (let q = lo; q < this.seq; q++) {
      const slot = q % this.capacity;
      if ((this.times[slot] as number) > toMs) break;
      slots.push(slot);
    }
    return slots;
  }
}

/** Ticks averaged into at most maxPoints equal-width buckets (Grafana's maxDataPoints). */
interface Buckets {
  /** Bucket of each tick in the range. */
  of: Uint32Array;
  /** Start of each bucket that holds a tick: the answer's times. */
  times: number[];
  /** Index into `times` of each bucket, or -1 when it holds no tick. */
  index: Int32Array;
}

function bucketsOf(times: number[], maxPoints: number): Buckets {
  const from = times[0] as number;
  const to = times[times.length - 1] as number;
  const width = (to - from) / maxPoints || 1;
  const of = new Uint32Array(times.length);
  const index = new Int32Array(maxPoints).fill(-1);
  for (let i = 0; i < times.length; i++) {
    const b = Math.min(maxPoints - 1, Math.floor(((times[i] as number) - from) / width));
    of[i] = b;
    index[b] = 0;
  }
  const out: number[] = [];
  for (let b = 0; b < maxPoints; b++) {
    if (index[b] === -1) continue;
    index[b] = out.length;
    out.push(Math.round(from + b * width));
  }
  return { of, times: out, index };
}

/** A series' values at the slots (null where it has none), or null when it has none at all. */
function readValues(values: Float32Array, slots: number[]): (number | null)[] | null {
  const out: (number | null)[] = new Array(slots.length);
  let any = false;
  for (let i = 0; i < slots.length; i++) {
    const v = values[slots[i] as number] as number;
    if (Number.isNaN(v)) out[i] = null;
    else {
      out[i] = v;
      any = true;
    }
  }
  return any ? out : null;
}

/** A series' bucket averages (null for a bucket without a value), or null when it has no value at all. */
function downsample(values: Float32Array, slots: number[], buckets: Buckets): (number | null)[] | null {
  const n = buckets.times.length;
  const sums = new Float64Array(n);
  const counts = new Uint32Array(n);
  let any = false;
  for (let i = 0; i < slots.length; i++) {
    const v = values[slots[i] as number] as number;
    if (Number.isNaN(v)) continue;
    const k = buckets.index[buckets.of[i] as number] as number;
    sums[k] = (sums[k] as number) + v;
    counts[k] = (counts[k] as number) + 1;
    any = true;
  }
  if (!any) return null;
  const out: (number | null)[] = new Array(n);
  for (let k = 0; k < n; k++) out[k] = counts[k] ? (sums[k] as number) / (counts[k] as number) : null;
  return out;
}
