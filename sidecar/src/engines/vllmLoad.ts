// Derived engine load over a window of scrapes. Pure math on EngineScrape values.
//
// - Counter rates: increase over the window / window length. A counter that went down was reset
//   (engine restart): the current value is the increase since the reset, as Prometheus's rate() does.
// - Latency quantiles: Prometheus histogram_quantile() over the bucket increases in the window —
//   linear interpolation inside the bucket that holds the rank, the first bucket starting at 0, a
//   rank in the +Inf bucket answering the highest finite bound. No observations in the window,
//   fewer than two buckets, or buckets that are broken or not cumulative → null, never NaN.
// - busy: KV-cache usage above the threshold, NVIDIA Dynamo's worker-monitor rule
//   (`active_decode_blocks / kv_total_blocks > threshold`, docs/fault_tolerance/request_rejection.md
//   in ai-dynamo/dynamo); a worker with several data-parallel ranks is busy only when all are
//   (`engineBusy`).
// - First scrape (no previous one): gauges only; rates, ratios and quantiles are null, except that
//   a V0 engine's own average-throughput gauges stand in for the token rates.

import type { EngineLoad, Quantiles } from '../model.js';
import type { EngineScrape, Histogram, HistogramBucket } from './vllmMetrics.js';

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

function sameBounds(a: HistogramBucket[], b: HistogramBucket[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]?.le !== b[i]?.le) return false;
  return true;
}

function cumulativeOk(buckets: HistogramBucket[]): boolean {
  let last = 0;
  for (const b of buckets) {
    if (!Number.isFinite(b.count) || b.count < last || Number.isNaN(b.le)) return false;
    last = b.count;
  }
  return buckets.length > 0 && buckets[buckets.length - 1]?.le === Infinity;
}

/**
 * Bucket increases between two readings of a histogram. A reset (total or any bucket went down)
 * makes `cur` itself the increase; a change of bucket bounds without a reset, or a result that is
 * not cumulative, gives null.
 */
export function histogramDelta(prev: Histogram | null, cur: Histogram | null): HistogramBucket[] | null {
  if (!cur || !cumulativeOk(cur.buckets)) return null;
  if (!prev || !cumulativeOk(prev.buckets)) return null;
  const reset =
    !sameBounds(prev.buckets, cur.buckets) || cur.buckets.some((b, i) => b.count < (prev.buckets[i]?.count ?? 0));
  if (reset) {
    // A restart may change the bounds; anything else with other bounds cannot be compared.
    const prevTotal = prev.buckets[prev.buckets.length - 1]?.count ?? 0;
    const curTotal = cur.buckets[cur.buckets.length - 1]?.count ?? 0;
    if (!sameBounds(prev.buckets, cur.buckets) && curTotal >= prevTotal) return null;
    return cur.buckets.map((b) => ({ le: b.le, count: b.count }));
  }
  const out = cur.buckets.map((b, i) => ({ le: b.le, count: b.count - (prev.buckets[i]?.count ?? 0) }));
  return cumulativeOk(out) ? out : null;
}

/** Adds bucket increases of consecutive windows; null when the bounds differ. */
function addBuckets(a: HistogramBucket[] | null, b: HistogramBucket[]): HistogramBucket[] | null {
  if (a === null) return b;
  if (!sameBounds(a, b)) return null;
  return a.map((x, i) => ({ le: x.le, count: x.count + (b[i]?.count ?? 0) }));
}

/**
 * Prometheus histogram_quantile() on cumulative buckets sorted by `le` and ending with +Inf.
 * Returns null where Prometheus would return NaN (no observations, < 2 buckets, no +Inf bucket,
 * broken counts) and for q outside 0..1.
 */
export function histogramQuantile(q: number, buckets: HistogramBucket[]): number | null {
  if (!(q >= 0 && q <= 1) || buckets.length < 2 || !cumulativeOk(buckets)) return null;
  const observations = (buckets[buckets.length - 1] as HistogramBucket).count;
  if (!(observations > 0)) return null;
  const rank = q * observations;
  let b = 0;
  while (b < buckets.length - 1 && (buckets[b] as HistogramBucket).count < rank) b++;
  if (b === buckets.length - 1) return (buckets[buckets.length - 2] as HistogramBucket).le;
  const bucket = buckets[b] as HistogramBucket;
  if (b === 0 && bucket.le <= 0) return bucket.le;
  let start = 0;
  let below = 0;
  if (b > 0) {
    const prevBucket = buckets[b - 1] as HistogramBucket;
    start = prevBucket.le;
    below = prevBucket.count;
  }
  const inBucket = bucket.count - below;
  if (!(inBucket > 0)) return bucket.le; // rank == 0 at q == 0 with empty leading buckets
  const v = start + (bucket.le - start) * ((rank - below) / inBucket);
  return Number.isFinite(v) ? v : null;
}

function quantiles(buckets: HistogramBucket[] | null): Quantiles {
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

/**
 * Load over a window of scrapes of one engine, oldest first. Increases are summed pair by pair,
 * so a reset inside the window loses only the part before it. Gauges come from the last scrape.
 */
export function deriveLoadOverWindow(points: readonly ScrapePoint[], busyThreshold: number): DerivedLoad {
  const last = points[points.length - 1];
  if (!last) throw new RangeError('deriveLoadOverWindow needs at least one scrape');
  const cur = last.scrape;
  const first = points[0] as ScrapePoint;
  const dt = (last.atMs - first.atMs) / 1000;
  const windowOk = points.length >= 2 && Number.isFinite(dt) && dt > 0;

  type CounterKey = keyof EngineScrape['counters'];
  const increase = (key: CounterKey): number | null => {
    if (!windowOk) return null;
    let total = 0;
    for (let i = 1; i < points.length; i++) {
      const d = counterIncrease(
        (points[i - 1] as ScrapePoint).scrape.counters[key],
        (points[i] as ScrapePoint).scrape.counters[key]
      );
      if (d === null) return null;
      total += d;
    }
    return total;
  };
  const histIncrease = (key: keyof EngineScrape['histograms']): HistogramBucket[] | null => {
    if (!windowOk) return null;
    let total: HistogramBucket[] | null = null;
    for (let i = 1; i < points.length; i++) {
      const d = histogramDelta(
        (points[i - 1] as ScrapePoint).scrape.histograms[key],
        (points[i] as ScrapePoint).scrape.histograms[key]
      );
      if (d === null) return null;
      total = addBuckets(total, d);
      if (total === null) return null;
    }
    return total;
  };
  const rate = (key: CounterKey): number | null => {
    const inc = increase(key);
    return inc === null ? null : finiteOrNull(inc / dt);
  };

  // The ITL histogram may change name across an upgrade; quantiles need the same metric throughout.
  const itlSame = points.every((p) => p.scrape.itlMetric === cur.itlMetric);

  const hits = increase('prefixCacheHits');
  const queries = increase('prefixCacheQueries');
  let prefixCacheHitRatio: number | null = null;
  if (hits !== null && queries !== null && queries > 0) prefixCacheHitRatio = Math.min(1, Math.max(0, hits / queries));
  else if (queries === null) prefixCacheHitRatio = cur.v0PrefixCacheHitRate;

  const kv = cur.kvCacheUsage !== null && Number.isFinite(cur.kvCacheUsage) ? cur.kvCacheUsage : null;
  const load: EngineLoad = {
    running: finiteOrNull(cur.running),
    waiting: finiteOrNull(cur.waiting),
    kvCacheUsage: kv,
    promptTokensPerSec: rate('promptTokens') ?? finiteOrNull(cur.v0Throughput.prompt),
    generationTokensPerSec: rate('generationTokens') ?? finiteOrNull(cur.v0Throughput.generation),
    ttftSeconds: quantiles(histIncrease('ttft')),
    itlSeconds: itlSame ? quantiles(histIncrease('itl')) : { p50: null, p95: null },
    e2eSeconds: quantiles(histIncrease('e2e')),
    preemptions: increase('preemptions'),
  };
  return {
    load,
    busy: isBusy(kv, busyThreshold),
    prefixCacheHitRatio,
    swapped: finiteOrNull(cur.swapped),
    requestsPerSec: rate('requestSuccess'),
  };
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
      out = { buckets: h.buckets.map((b) => ({ ...b })), count: h.count, sum: h.sum };
      continue;
    }
    if (!sameBounds(out.buckets, h.buckets)) return null;
    out = {
      buckets: out.buckets.map((b, i) => ({ le: b.le, count: b.count + (h.buckets[i]?.count ?? 0) })),
      count: out.count !== null && h.count !== null ? out.count + h.count : null,
      sum: out.sum !== null && h.sum !== null ? out.sum + h.sum : null,
    };
  }
  return out;
}

/**
 * One EngineScrape for a whole data-parallel engine from its ranks' scrapes: request counts,
 * counters and histogram buckets add up; KV-cache usage is the mean weighted by each rank's
 * `num_gpu_blocks` when all are known (plain mean otherwise), i.e. used blocks / total blocks.
 */
export function mergeEngineScrapes(ranks: readonly EngineScrape[], engine = 'all'): EngineScrape {
  const first = ranks[0];
  if (!first) throw new RangeError('mergeEngineScrapes needs at least one rank');
  if (ranks.length === 1) return { ...first, engine };
  const modelNames: string[] = [];
  for (const r of ranks) for (const m of r.modelNames) if (!modelNames.includes(m)) modelNames.push(m);
  let kvCacheUsage: number | null = null;
  if (ranks.every((r) => r.kvCacheUsage !== null)) {
    const weights = ranks.map((r) => r.cacheConfig?.numGpuBlocks ?? null);
    const weighted = weights.every((w) => w !== null && w > 0);
    let num = 0;
    let den = 0;
    ranks.forEach((r, i) => {
      const w = weighted ? (weights[i] as number) : 1;
      num += (r.kvCacheUsage as number) * w;
      den += w;
    });
    kvCacheUsage = den > 0 ? num / den : null;
  }
  const counters = {} as EngineScrape['counters'];
  for (const k of Object.keys(first.counters) as (keyof EngineScrape['counters'])[]) {
    counters[k] = sumNullable(ranks.map((r) => r.counters[k]));
  }
  const sameItl = ranks.every((r) => r.itlMetric === first.itlMetric);
  return {
    engine,
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
