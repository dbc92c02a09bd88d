// Derived engine load over a window of scrapes. Pure math on EngineScrape values.
//
// - Counter rates: increase over the window / window length. A counter that went down was reset
//   (engine restart): the current value is the increase since the reset, as Prometheus's rate() does.
// - Latency quantiles: Prometheus histogram_quantile() over the bucket increases in the window —
//   linear interpolation inside the bucket that holds the rank, the first bucket starting at 0, a
//   rank in the +Inf bucket answering the highest finite bound. No observations in the window,
//   fewer than two buckets, or buckets that are broken or not cumulative → null, never NaN.
// - busy: a rank is busy when its KV-cache usage is above the threshold, NVIDIA Dynamo's
//   worker-monitor rule (`active_decode_blocks / kv_total_blocks > threshold` per dp_rank,
//   lib/llm/src/discovery/worker_monitor.rs in ai-dynamo/dynamo); a rank without data is free. An
//   engine with several data-parallel ranks is busy only when every rank is (`engineBusy`, Dynamo's
//   WorkerLoadState::is_busy): vLLM's API server sends a new request to its least loaded rank, so
//   one free rank still takes work. Its KV usage is the highest rank's, so an engine can show KV
//   above the threshold and not be busy; the per-rank figures say which rank is full.
// - First scrape (no previous one): gauges only; rates, ratios and quantiles are null, except that
//   a V0 engine's own average-throughput gauges stand in for the token rates.

import type { EngineLoad, Quantiles } from '../model.js';
import { sameBounds, type BucketCounts, type EngineScrape, type Histogram } from './vllmMetrics.js';

export interface DerivedLoad {
  load: EngineLoad;
  busy: boolean;
  /** Prefix-cache hits / queries over the window (V0: its own hit-rate gauge); null when unknown. */
  prefixCacheHitRatio: number | null;
  /** V0 only: requests swapped to CPU. */
  swapped: number | null;
  /** Requests finished per second over the window. */
  requestsPerSec: number | null;
}

/** Increase of a counter between two readings; a decrease is a reset (cur is the increase). */
export function counterIncrease(prev: number | null, cur: number | null): number | null {
  if (prev === null || cur === null || !Number.isFinite(prev) || !Number.isFinite(cur) || cur < 0 || prev < 0) return null;
  return cur >= prev ? cur - prev : cur;
}

function cumulativeOk(h: BucketCounts): boolean {
  const { les, counts } = h;
  if (les.length === 0 || les.length !== counts.length || les[les.length - 1] !== Infinity) return false;
  let last = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i] as number;
    if (!Number.isFinite(c) || c < last || Number.isNaN(les[i])) return false;
    last = c;
  }
  return true;
}

function wentDown(prev: readonly number[], cur: readonly number[]): boolean {
  for (let i = 0; i < cur.length; i++) if ((cur[i] as number) < (prev[i] ?? 0)) return true;
  return false;
}

/**
 * Bucket increases between two readings of a histogram. A reset (total or any bucket went down)
 * makes `cur` itself the increase; a change of bucket bounds without a reset, or a result that is
 * not cumulative, gives null.
 */
export function histogramDelta(prev: Histogram | null, cur: Histogram | null): BucketCounts | null {
  if (!cur || !cumulativeOk(cur)) return null;
  if (!prev || !cumulativeOk(prev)) return null;
  const same = sameBounds(prev.les, cur.les);
  if (!same || wentDown(prev.counts, cur.counts)) {
    // A restart may change the bounds; anything else with other bounds cannot be compared.
    const prevTotal = prev.counts[prev.counts.length - 1] ?? 0;
    const curTotal = cur.counts[cur.counts.length - 1] ?? 0;
    if (!same && curTotal >= prevTotal) return null;
    return { les: cur.les, counts: cur.counts.slice() };
  }
  const counts = new Array<number>(cur.counts.length);
  for (let i = 0; i < counts.length; i++) counts[i] = (cur.counts[i] as number) - (prev.counts[i] as number);
  const out = { les: cur.les, counts };
  return cumulativeOk(out) ? out : null;
}

/**
 * Prometheus histogram_quantile() on cumulative buckets sorted by `le` and ending with +Inf.
 * Returns null where Prometheus would return NaN (no observations, < 2 buckets, no +Inf bucket,
 * broken counts) and for q outside 0..1.
 */
export function histogramQuantile(q: number, h: BucketCounts): number | null {
  const { les, counts } = h;
  if (!(q >= 0 && q <= 1) || les.length < 2 || !cumulativeOk(h)) return null;
  const n = les.length;
  const observations = counts[n - 1] as number;
  if (!(observations > 0)) return null;
  const rank = q * observations;
  let b = 0;
  while (b < n - 1 && (counts[b] as number) < rank) b++;
  if (b === n - 1) return les[n - 2] as number;
  const le = les[b] as number;
  if (b === 0 && le <= 0) return le;
  let start = 0;
  let below = 0;
  if (b > 0) {
    start = les[b - 1] as number;
    below = counts[b - 1] as number;
  }
  const inBucket = (counts[b] as number) - below;
  if (!(inBucket > 0)) return le; // rank == 0 at q == 0 with empty leading buckets
  const v = start + (le - start) * ((rank - below) / inBucket);
  return Number.isFinite(v) ? v : null;
}

function quantiles(buckets: BucketCounts | null): Quantiles {
  if (!buckets) return { p50: null, p95: null };
  return { p50: histogramQuantile(0.5, buckets), p95: histogramQuantile(0.95, buckets) };
}

function finiteOrNull(v: number | null): number | null {
  return v !== null && Number.isFinite(v) ? v : null;
}

export interface ScrapePoint {
  scrape: EngineScrape;
  /** When the scrape was taken, ms since the epoch (only differences matter). */
  atMs: number;
}

type CounterKey = keyof EngineScrape['counters'];
type HistKey = keyof EngineScrape['histograms'];
const COUNTER_KEYS: readonly CounterKey[] = ['promptTokens', 'generationTokens', 'preemptions', 'prefixCacheQueries', 'prefixCacheHits', 'requestSuccess'];
const HIST_KEYS: readonly HistKey[] = ['ttft', 'itl', 'e2e'];

/** One histogram's bucket increases between two scrapes: its bounds (one array shared by every pair with the same bounds) and counts. */
export interface BucketDelta {
  /** The bounds as text: pairs add up only with equal keys. */
  key: string;
  les: readonly number[];
  counts: number[];
}

/** What changed between two consecutive scrapes: counter increases and histogram bucket increases. */
export interface PairDelta {
  counters: Record<CounterKey, number | null>;
  histograms: Record<HistKey, BucketDelta | null>;
}

// A window keeps a minute of pairs per engine: bounds are the same from one scrape to the next, so
// each set is kept once rather than in every pair (fewer long-lived objects for the collector).
const MAX_SHARED_BOUNDS = 256;
const sharedBounds = new Map<string, readonly number[]>();

/** The bounds each histogram had last time: nearly always the same again, recognised without making their key. */
const lastBounds: Partial<Record<HistKey, { key: string; les: readonly number[] }>> = {};

function bucketDelta(d: BucketCounts | null, hist: HistKey): BucketDelta | null {
  if (d === null) return null;
  const { les, counts } = d;
  const last = lastBounds[hist];
  if (last && sameBounds(last.les, les)) return { key: last.key, les: last.les, counts };
  const key = les.join(',');
  let shared = sharedBounds.get(key);
  if (!shared) {
    shared = les;
    if (sharedBounds.size < MAX_SHARED_BOUNDS) sharedBounds.set(key, les);
  }
  lastBounds[hist] = { key, les: shared };
  return { key, les: shared, counts };
}

export function pairDelta(prev: EngineScrape, cur: EngineScrape): PairDelta {
  const counters = {} as PairDelta['counters'];
  for (const k of COUNTER_KEYS) counters[k] = counterIncrease(prev.counters[k], cur.counters[k]);
  const histograms = {} as PairDelta['histograms'];
  for (const k of HIST_KEYS) histograms[k] = bucketDelta(histogramDelta(prev.histograms[k], cur.histograms[k]), k);
  return { counters, histograms };
}

/** The bucket increases of consecutive pairs added up; null when one is null or the bounds differ. */
function sumBuckets(pairs: readonly PairDelta[], key: HistKey): BucketCounts | null {
  let first: BucketDelta | null = null;
  let counts: number[] = [];
  for (const p of pairs) {
    const d = p.histograms[key];
    if (d === null) return null;
    if (first === null) {
      first = d;
      counts = [...d.counts];
      continue;
    }
    if (d.key !== first.key) return null;
    for (let i = 0; i < counts.length; i++) counts[i] = (counts[i] as number) + (d.counts[i] as number);
  }
  return first === null ? null : { les: first.les, counts };
}

/** How the window's increases add up: from the pairs each time, or kept as running sums (LoadWindow). */
interface WindowSums {
  counter(key: CounterKey): number | null;
  buckets(key: HistKey): BucketCounts | null;
}

/** A counter's increases of consecutive pairs added up; null when one is null. */
function sumCounter(pairs: readonly PairDelta[], key: CounterKey): number | null {
  let total = 0;
  for (const p of pairs) {
    const d = p.counters[key];
    if (d === null) return null;
    total += d;
  }
  return total;
}

/** The sums taken afresh from the pairs. */
class FoldedSums implements WindowSums {
  constructor(private readonly pairs: readonly PairDelta[]) {}

  counter(key: CounterKey): number | null {
    return sumCounter(this.pairs, key);
  }

  buckets(key: HistKey): BucketCounts | null {
    return sumBuckets(this.pairs, key);
  }
}

/** A window without a span: no increase is known. */
const NO_SUMS: WindowSums = { counter: () => null, buckets: () => null };

/** What deriving needs of a window's points: the last scrape, the span, and whether the ITL metric kept its name. */
interface WindowShape {
  cur: EngineScrape;
  firstAtMs: number;
  lastAtMs: number;
  count: number;
  /** Every point's ITL histogram is the current one's (an upgrade may rename it). */
  itlSame: boolean;
}

function shapeOf(points: readonly ScrapePoint[]): WindowShape {
  const last = points[points.length - 1];
  if (!last) throw new RangeError('deriveLoadOverWindow needs at least one scrape');
  const cur = last.scrape;
  return {
    cur,
    firstAtMs: (points[0] as ScrapePoint).atMs,
    lastAtMs: last.atMs,
    count: points.length,
    itlSame: points.every((p) => p.scrape.itlMetric === cur.itlMetric),
  };
}

/** A counter's increase per second over the window. A module function, not a closure made at each
 * derive: V8 optimised those again after garbage collections (see TextParser in promText.ts). */
function windowRate(sums: WindowSums, dt: number, key: CounterKey): number | null {
  const inc = sums.counter(key);
  return inc === null ? null : finiteOrNull(inc / dt);
}

/** The load of a window whose consecutive pairs' increases add up to `windowSums`. */
function deriveFromSums(w: WindowShape, windowSums: WindowSums, busyThreshold: number): DerivedLoad {
  const cur = w.cur;
  const dt = (w.lastAtMs - w.firstAtMs) / 1000;
  const sums = w.count >= 2 && Number.isFinite(dt) && dt > 0 ? windowSums : NO_SUMS;

  // The ITL histogram may change name across an upgrade; quantiles need the same metric throughout.
  const itlSame = w.itlSame;

  const hits = sums.counter('prefixCacheHits');
  const queries = sums.counter('prefixCacheQueries');
  let prefixCacheHitRatio: number | null = null;
  if (hits !== null && queries !== null && queries > 0) prefixCacheHitRatio = Math.min(1, Math.max(0, hits / queries));
  else if (queries === null) prefixCacheHitRatio = cur.v0PrefixCacheHitRate;

  const kv = cur.kvCacheUsage !== null && Number.isFinite(cur.kvCacheUsage) ? cur.kvCacheUsage : null;
  const load: EngineLoad = {
    running: finiteOrNull(cur.running),
    waiting: finiteOrNull(cur.waiting),
    kvCacheUsage: kv,
    promptTokensPerSec: windowRate(sums, dt, 'promptTokens') ?? finiteOrNull(cur.v0Throughput.prompt),
    generationTokensPerSec: windowRate(sums, dt, 'generationTokens') ?? finiteOrNull(cur.v0Throughput.generation),
    ttftSeconds: quantiles(sums.buckets('ttft')),
    itlSeconds: itlSame ? quantiles(sums.buckets('itl')) : { p50: null, p95: null },
    e2eSeconds: quantiles(sums.buckets('e2e')),
    preemptions: sums.counter('preemptions'),
  };
  return {
    load,
    busy: isBusy(kv, busyThreshold),
    prefixCacheHitRatio,
    swapped: finiteOrNull(cur.swapped),
    requestsPerSec: windowRate(sums, dt, 'requestSuccess'),
  };
}

/**
 * Load over a window of scrapes of one engine, oldest first. Increases are summed pair by pair,
 * so a reset inside the window loses only the part before it. Gauges come from the last scrape.
 */
export function deriveLoadOverWindow(points: readonly ScrapePoint[], busyThreshold: number): DerivedLoad {
  const pairs: PairDelta[] = [];
  for (let i = 1; i < points.length; i++) pairs.push(pairDelta((points[i - 1] as ScrapePoint).scrape, (points[i] as ScrapePoint).scrape));
  return deriveFromSums(shapeOf(points), new FoldedSums(pairs), busyThreshold);
}

/** Integers add and subtract exactly (below 2^53): their running sum equals the sum taken afresh. */
function exact(v: number): boolean {
  return Number.isSafeInteger(v);
}

/** Running sums of one counter's increases over the pairs in a window. */
class CounterSum {
  total = 0;
  nulls = 0;
  /** Increases that are not integers: then the sum is taken afresh, in order, as deriveLoadOverWindow does. */
  inexact = 0;

  add(v: number | null, sign: 1 | -1): void {
    if (v === null) this.nulls += sign;
    else if (!exact(v)) this.inexact += sign;
    else this.total += sign * v;
  }
}

/** Running sums of one histogram's bucket increases, by bucket bounds (a restart may change them). */
class BucketSum {
  nulls = 0;
  inexact = 0;
  readonly byBounds = new Map<string, { les: readonly number[]; counts: number[]; pairs: number }>();

  add(d: BucketDelta | null, sign: 1 | -1): void {
    if (d === null) {
      this.nulls += sign;
      return;
    }
    if (!d.counts.every(exact)) {
      this.inexact += sign;
      return;
    }
    let g = this.byBounds.get(d.key);
    if (!g) {
      g = { les: d.les, counts: d.counts.map(() => 0), pairs: 0 };
      this.byBounds.set(d.key, g);
    }
    for (let i = 0; i < d.counts.length; i++) g.counts[i] = (g.counts[i] as number) + sign * (d.counts[i] as number);
    g.pairs += sign;
    if (g.pairs === 0) this.byBounds.delete(d.key);
  }
}

/**
 * A sliding window of scrapes that keeps each pair's deltas and their running sums: a new scrape
 * costs one pair's deltas, where deriving from the points alone takes every pair's deltas again
 * and adds them up at every tick. Of the scrapes it keeps only the last (and each one's time and
 * ITL metric name): a minute of whole scrapes per engine would be most of what the collector
 * holds. derive() answers exactly what deriveLoadOverWindow(points) answers for the same points:
 * the sums are of integers (counts, token counters), which add and subtract exactly, and a window
 * holding other numbers is added up afresh.
 */
export class LoadWindow implements WindowSums {
  private readonly times: number[] = [];
  private readonly itls: EngineScrape['itlMetric'][] = [];
  private lastPoint: ScrapePoint | undefined;
  private readonly pairs: PairDelta[] = [];
  private readonly counterSums = Object.fromEntries(COUNTER_KEYS.map((k) => [k, new CounterSum()])) as Record<CounterKey, CounterSum>;
  private readonly bucketSums = Object.fromEntries(HIST_KEYS.map((k) => [k, new BucketSum()])) as Record<HistKey, BucketSum>;

  /** Scrapes in the window. */
  get length(): number {
    return this.times.length;
  }

  get last(): ScrapePoint | undefined {
    return this.lastPoint;
  }

  private account(d: PairDelta, sign: 1 | -1): void {
    for (const k of COUNTER_KEYS) this.counterSums[k].add(d.counters[k], sign);
    for (const k of HIST_KEYS) this.bucketSums[k].add(d.histograms[k], sign);
  }

  push(p: ScrapePoint): void {
    if (this.lastPoint) {
      const d = pairDelta(this.lastPoint.scrape, p.scrape);
      this.pairs.push(d);
      this.account(d, 1);
    }
    this.lastPoint = p;
    this.times.push(p.atMs);
    this.itls.push(p.scrape.itlMetric);
  }

  /** Drops the oldest scrapes older than windowMs before nowMs, always keeping the last two. */
  trim(nowMs: number, windowMs: number): void {
    while (this.times.length > 2 && nowMs - (this.times[0] as number) > windowMs) {
      this.times.shift();
      this.itls.shift();
      this.account(this.pairs.shift() as PairDelta, -1);
    }
  }

  /** The window's counter increase: the running sum, or taken afresh when an increase was not an integer. */
  counter(key: CounterKey): number | null {
    const c = this.counterSums[key];
    return c.inexact > 0 ? sumCounter(this.pairs, key) : c.nulls > 0 ? null : c.total;
  }

  buckets(key: HistKey): BucketCounts | null {
    const b = this.bucketSums[key];
    if (b.inexact > 0) return sumBuckets(this.pairs, key);
    if (b.nulls > 0 || b.byBounds.size !== 1) return null;
    // The running sums themselves: quantiles only read them.
    return b.byBounds.values().next().value as BucketCounts;
  }

  derive(busyThreshold: number): DerivedLoad {
    const last = this.lastPoint;
    if (!last) throw new RangeError('LoadWindow.derive needs at least one scrape');
    const cur = last.scrape;
    let itlSame = true;
    for (const m of this.itls) if (m !== cur.itlMetric) itlSame = false;
    const shape: WindowShape = {
      cur,
      firstAtMs: this.times[0] as number,
      lastAtMs: last.atMs,
      count: this.times.length,
      itlSame,
    };
    return deriveFromSums(shape, this, busyThreshold);
  }
}

/** Load between two scrapes `dtSeconds` apart (prev null: first scrape). */
export function deriveLoad(
  prev: EngineScrape | null,
  cur: EngineScrape,
  dtSeconds: number,
  busyThreshold: number
): DerivedLoad {
  const points: ScrapePoint[] = prev ? [{ scrape: prev, atMs: 0 }, { scrape: cur, atMs: dtSeconds * 1000 }] : [];
  if (!prev) points.push({ scrape: cur, atMs: 0 });
  return deriveLoadOverWindow(points, busyThreshold);
}

/** Dynamo's rule for one rank: KV-cache usage strictly above the threshold. Unknown usage: not busy. */
export function isBusy(kvCacheUsage: number | null, busyThreshold: number): boolean {
  return kvCacheUsage !== null && Number.isFinite(busyThreshold) && kvCacheUsage > busyThreshold;
}

/** Dynamo's rule for an engine with data-parallel ranks: busy only when every rank is. */
export function engineBusy(rankBusy: readonly boolean[]): boolean {
  return rankBusy.length > 0 && rankBusy.every(Boolean);
}

function sumNullable(values: (number | null)[]): number | null {
  let s = 0;
  for (const v of values) {
    if (v === null) return null;
    s += v;
  }
  return s;
}

function mergeHistograms(hs: (Histogram | null)[]): Histogram | null {
  let out: Histogram | null = null;
  for (const h of hs) {
    if (!h) return null;
    if (!out) {
      out = { les: h.les, counts: h.counts.slice(), count: h.count, sum: h.sum };
      continue;
    }
    if (!sameBounds(out.les, h.les)) return null;
    for (let i = 0; i < out.counts.length; i++) out.counts[i] = (out.counts[i] as number) + (h.counts[i] as number);
    out.count = out.count !== null && h.count !== null ? out.count + h.count : null;
    out.sum = out.sum !== null && h.sum !== null ? out.sum + h.sum : null;
  }
  return out;
}

/**
 * One EngineScrape for a whole data-parallel engine from its ranks' scrapes, the way vLLM's own
 * Grafana dashboard adds them up (`sum by (model_name)` of running, waiting and the counters' rates;
 * histogram buckets summed before the quantile): request counts, counters and buckets add up.
 * KV-cache usage is the highest rank's: each rank has its own KV cache and a full one rejects or
 * preempts whatever the others hold free, which a mean would hide. The ranks' own usage is kept
 * per rank (Engine.ranks).
 */
export function mergeEngineScrapes(ranks: readonly EngineScrape[], engine = 'all'): EngineScrape {
  const first = ranks[0];
  if (!first) throw new RangeError('mergeEngineScrapes needs at least one rank');
  if (ranks.length === 1) return { ...first, engine };
  const modelNames: string[] = [];
  for (const r of ranks) for (const m of r.modelNames) if (!modelNames.includes(m)) modelNames.push(m);
  let kvCacheUsage: number | null = null;
  for (const r of ranks) if (r.kvCacheUsage !== null && (kvCacheUsage === null || r.kvCacheUsage > kvCacheUsage)) kvCacheUsage = r.kvCacheUsage;
  const counters = {} as EngineScrape['counters'];
  for (const k of Object.keys(first.counters) as (keyof EngineScrape['counters'])[]) {
    counters[k] = sumNullable(ranks.map((r) => r.counters[k]));
  }
  const sameItl = ranks.every((r) => r.itlMetric === first.itlMetric);
  return {
    engine,
    rank: null,
    modelNames,
    running: sumNullable(ranks.map((r) => r.running)),
    waiting: sumNullable(ranks.map((r) => r.waiting)),
    swapped: sumNullable(ranks.map((r) => r.swapped)),
    kvCacheUsage,
    kvCacheUsageMetric: ranks.every((r) => r.kvCacheUsageMetric === first.kvCacheUsageMetric) ? first.kvCacheUsageMetric : null,
    counters,
    histograms: {
      ttft: mergeHistograms(ranks.map((r) => r.histograms.ttft)),
      itl: sameItl ? mergeHistograms(ranks.map((r) => r.histograms.itl)) : null,
      e2e: mergeHistograms(ranks.map((r) => r.histograms.e2e)),
    },
    itlMetric: sameItl ? first.itlMetric : null,
    v0Throughput: {
      prompt: sumNullable(ranks.map((r) => r.v0Throughput.prompt)),
      generation: sumNullable(ranks.map((r) => r.v0Throughput.generation)),
    },
    v0PrefixCacheHitRate: null,
    cacheConfig: null,
    lora: null,
    problems: ranks.flatMap((r) => r.problems.map((p) => `engine ${r.engine}: ${p}`)),
  };
}
