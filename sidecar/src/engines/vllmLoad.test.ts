import {
  counterIncrease,
  deriveLoad,
  deriveLoadOverWindow,
  engineBusy,
  histogramDelta,
  histogramQuantile,
  isBusy,
  LoadWindow,
  mergeEngineScrapes,
  type ScrapePoint,
} from './vllmLoad.js';
import type { BucketCounts, EngineScrape, Histogram } from './vllmMetrics.js';

const INF = Infinity;

/** Bounds and counts from [le, count] pairs. */
function buckets(pairs: [number, number][]): BucketCounts {
  return { les: pairs.map((p) => p[0]), counts: pairs.map((p) => p[1]) };
}

function hist(pairs: [number, number][]): Histogram {
  const b = buckets(pairs);
  return { ...b, count: b.counts[b.counts.length - 1] ?? null, sum: null };
}

function scrape(over: Partial<Omit<EngineScrape, 'counters' | 'histograms'>> & {
  counters?: Partial<EngineScrape['counters']>;
  histograms?: Partial<EngineScrape['histograms']>;
} = {}): EngineScrape {
  const { counters, histograms, ...rest } = over;
  return {
    engine: '0',
    rank: 0,
    modelNames: ['m'],
    running: 1,
    waiting: 0,
    swapped: null,
    kvCacheUsage: 0.5,
    kvCacheUsageMetric: 'vllm:kv_cache_usage_perc',
    counters: {
      promptTokens: 0,
      generationTokens: 0,
      preemptions: 0,
      prefixCacheQueries: 0,
      prefixCacheHits: 0,
      requestSuccess: 0,
      ...counters,
    },
    histograms: { ttft: null, itl: null, e2e: null, ...histograms },
    itlMetric: 'vllm:inter_token_latency_seconds',
    v0Throughput: { prompt: null, generation: null },
    v0PrefixCacheHitRate: null,
    cacheConfig: null,
    lora: null,
    problems: [],
    ...rest,
  };
}

describe('counterIncrease', () => {
  it('is the difference, or the current value after a reset', () => {
    expect(counterIncrease(1000, 1600)).toBe(600);
    expect(counterIncrease(1000, 300)).toBe(300); // restarted: 300 since the reset
    expect(counterIncrease(5, 5)).toBe(0);
    expect([counterIncrease(null, 5), counterIncrease(5, null), counterIncrease(NaN, 5), counterIncrease(1, -2)]).toEqual([
      null,
      null,
      null,
      null,
    ]);
  });
});

describe('histogramQuantile (Prometheus histogram_quantile semantics)', () => {
  const b = buckets;

  it('interpolates linearly inside the bucket holding the rank', () => {
    // 35 observations: (0.1, 0.5] holds 20. p50: rank 17.5 → 0.1 + 0.4·17.5/20 = 0.45
    const buckets = b([
      [0.1, 0],
      [0.5, 20],
      [1, 30],
      [INF, 35],
    ]);
    expect(histogramQuantile(0.5, buckets)).toBeCloseTo(0.45, 12);
    // p90: rank 31.5 is past le=1 (30): it lies in +Inf → the highest finite bound, 1
    expect(histogramQuantile(0.9, buckets)).toBe(1);
    // p80: rank 28 in (0.5, 1] holding 10, 8 above 20 → 0.5 + 0.5·8/10 = 0.9
    expect(histogramQuantile(0.8, buckets)).toBeCloseTo(0.9, 12);
  });

  it('starts the first bucket at 0 (or answers its bound when that is <= 0)', () => {
    // all 4 in (0, 2]: p50 rank 2 → 2·2/4 = 1
    expect(histogramQuantile(0.5, b([[2, 4], [INF, 4]]))).toBeCloseTo(1, 12);
    expect(histogramQuantile(0.5, b([[-1, 4], [INF, 4]]))).toBe(-1);
  });

  it('null where Prometheus says NaN', () => {
    expect(histogramQuantile(0.5, b([[1, 0], [INF, 0]]))).toBeNull(); // no observations
    expect(histogramQuantile(0.5, b([[INF, 3]]))).toBeNull(); // fewer than 2 buckets
    expect(histogramQuantile(0.5, b([[1, 2], [2, 3]]))).toBeNull(); // no +Inf bucket
    expect(histogramQuantile(0.5, b([[1, 5], [2, 3], [INF, 6]]))).toBeNull(); // not cumulative
    expect(histogramQuantile(0.5, b([[1, NaN], [INF, 6]]))).toBeNull();
    expect(histogramQuantile(1.5, b([[1, 1], [INF, 1]]))).toBeNull();
    expect(histogramQuantile(NaN, b([[1, 1], [INF, 1]]))).toBeNull();
  });
});

describe('histogramDelta', () => {
  it('subtracts bucket by bucket', () => {
    const prev = hist([[0.1, 10], [0.5, 20], [1, 25], [INF, 25]]);
    const cur = hist([[0.1, 10], [0.5, 40], [1, 55], [INF, 60]]);
    expect(histogramDelta(prev, cur)).toEqual(buckets([[0.1, 0], [0.5, 20], [1, 30], [INF, 35]]));
  });

  it('a reset (any bucket went down) makes the current histogram the increase', () => {
    expect(histogramDelta(hist([[1, 5], [INF, 10]]), hist([[1, 1], [INF, 2]]))).toEqual(buckets([[1, 1], [INF, 2]]));
    // a restart with new bounds and fewer observations: also a reset
    expect(histogramDelta(hist([[1, 5], [INF, 10]]), hist([[2, 1], [INF, 2]]))).toEqual(buckets([[2, 1], [INF, 2]]));
  });

  it('null for changed bounds without a reset, non-cumulative increases, broken input', () => {
    expect(histogramDelta(hist([[1, 5], [INF, 10]]), hist([[2, 6], [INF, 12]]))).toBeNull();
    // every bucket grew, but the increases are [3, 1]: not cumulative
    expect(histogramDelta(hist([[1, 5], [INF, 10]]), hist([[1, 8], [INF, 11]]))).toBeNull();
    expect(histogramDelta(hist([[1, 5], [INF, 10]]), hist([[1, NaN], [INF, 11]]))).toBeNull();
    expect(histogramDelta(null, hist([[1, 5], [INF, 10]]))).toBeNull();
  });
});

describe('deriveLoad', () => {
  const prev = scrape({
    counters: { promptTokens: 1000, generationTokens: 5000, preemptions: 2, prefixCacheQueries: 100, prefixCacheHits: 50, requestSuccess: 10 },
    histograms: { ttft: hist([[0.1, 10], [0.5, 20], [1, 25], [INF, 25]]), itl: hist([[0.01, 0], [0.05, 100], [INF, 100]]) },
  });
  const cur = scrape({
    running: 7,
    waiting: 3,
    kvCacheUsage: 0.9,
    counters: { promptTokens: 1600, generationTokens: 5900, preemptions: 5, prefixCacheQueries: 300, prefixCacheHits: 150, requestSuccess: 14 },
    histograms: { ttft: hist([[0.1, 10], [0.5, 40], [1, 55], [INF, 60]]), itl: hist([[0.01, 0], [0.05, 100], [INF, 100]]) },
  });

  it('rates, quantiles, preemptions and ratios over a 10 s window', () => {
    const d = deriveLoad(prev, cur, 10, 0.85);
    expect(d.load).toEqual({
      running: 7,
      waiting: 3,
      kvCacheUsage: 0.9,
      promptTokensPerSec: 60, // (1600 - 1000) / 10
      generationTokensPerSec: 90, // (5900 - 5000) / 10
      ttftSeconds: { p50: expect.closeTo(0.45, 12) as number, p95: 1 }, // see histogramQuantile
      itlSeconds: { p50: null, p95: null }, // no tokens in the window
      e2eSeconds: { p50: null, p95: null }, // not exported
      preemptions: 3,
    });
    expect(d.busy).toBe(true); // 0.9 > 0.85
    expect(d.prefixCacheHitRatio).toBeCloseTo(0.5, 12); // (150 - 50) / (300 - 100)
    expect(d.requestsPerSec).toBeCloseTo(0.4, 12);
  });

  it('first scrape: gauges only', () => {
    const d = deriveLoad(null, cur, 0, 0.85);
    expect(d.load).toEqual({
      running: 7,
      waiting: 3,
      kvCacheUsage: 0.9,
      promptTokensPerSec: null,
      generationTokensPerSec: null,
      ttftSeconds: { p50: null, p95: null },
      itlSeconds: { p50: null, p95: null },
      e2eSeconds: { p50: null, p95: null },
      preemptions: null,
    });
    expect([d.prefixCacheHitRatio, d.requestsPerSec, d.busy]).toEqual([null, null, true]);
  });

  it('a counter reset counts the new value as the increase', () => {
    const restarted = scrape({ counters: { promptTokens: 300, generationTokens: 0 } });
    const d = deriveLoad(prev, restarted, 10, 0.85);
    expect(d.load.promptTokensPerSec).toBe(30); // 300 since the restart, over 10 s
    expect(d.load.generationTokensPerSec).toBe(0);
    expect(d.load.preemptions).toBe(0); // 2 → 0: reset, 0 since
  });

  it('a window of zero or negative length gives no rates', () => {
    expect(deriveLoad(prev, cur, 0, 0.85).load.promptTokensPerSec).toBeNull();
    expect(deriveLoad(prev, cur, -5, 0.85).load.ttftSeconds).toEqual({ p50: null, p95: null });
  });

  it('a broken histogram in either scrape gives null quantiles for that histogram only', () => {
    const broken = scrape({ ...cur, histograms: { ...cur.histograms, ttft: hist([[0.1, 50], [0.5, 40], [INF, 60]]) } });
    const d = deriveLoad(prev, broken, 10, 0.85);
    expect(d.load.ttftSeconds).toEqual({ p50: null, p95: null });
    expect(d.load.promptTokensPerSec).toBe(60);
  });

  it('no ITL quantiles across a change of ITL metric (an upgrade between scrapes)', () => {
    const older = scrape({ ...prev, itlMetric: 'vllm:time_per_output_token_seconds' });
    const withTokens = scrape({ ...cur, histograms: { ...cur.histograms, itl: hist([[0.01, 0], [0.05, 200], [INF, 200]]) } });
    expect(deriveLoad(prev, withTokens, 10, 0.85).load.itlSeconds.p50).toBeCloseTo(0.03, 12); // 0.01 + 0.04·50/100
    expect(deriveLoad(older, withTokens, 10, 0.85).load.itlSeconds).toEqual({ p50: null, p95: null });
  });

  it('a V0 engine with no previous scrape uses its own throughput gauges', () => {
    const v0 = scrape({ v0Throughput: { prompt: 12.5, generation: 40 } });
    expect(deriveLoad(null, v0, 0, 0.85).load).toMatchObject({ promptTokensPerSec: 12.5, generationTokensPerSec: 40 });
  });

  it('prefix-cache ratio: null with no queries, the V0 gauge when there are no counters', () => {
    expect(deriveLoad(prev, prev, 10, 0.85).prefixCacheHitRatio).toBeNull();
    const v0 = scrape({ counters: { prefixCacheQueries: null, prefixCacheHits: null }, v0PrefixCacheHitRate: 0.25 });
    expect(deriveLoad(v0, v0, 10, 0.85).prefixCacheHitRatio).toBe(0.25);
  });
});

describe('deriveLoadOverWindow', () => {
  it('sums the increases pair by pair, so a reset inside the window loses only its own pair', () => {
    const points = [
      { scrape: scrape({ counters: { promptTokens: 100 } }), atMs: 0 },
      { scrape: scrape({ counters: { promptTokens: 400 } }), atMs: 10_000 },
      { scrape: scrape({ counters: { promptTokens: 50 } }), atMs: 20_000 }, // restarted
    ];
    // 300 + 50 over 20 s
    expect(deriveLoadOverWindow(points, 0.85).load.promptTokensPerSec).toBeCloseTo(17.5, 12);
  });

  it('adds the histogram increases of each pair', () => {
    const h = (a: number, b: number) => hist([[1, a], [INF, b]]);
    const points = [
      { scrape: scrape({ histograms: { e2e: h(0, 0) } }), atMs: 0 },
      { scrape: scrape({ histograms: { e2e: h(2, 2) } }), atMs: 5_000 },
      { scrape: scrape({ histograms: { e2e: h(2, 4) } }), atMs: 10_000 },
    ];
    // window increase [1: 2, +Inf: 4]: p50 rank 2 → 0 + 1·2/2 = 1; p95 rank 3.8 → +Inf → 1
    expect(deriveLoadOverWindow(points, 0.85).load.e2eSeconds).toEqual({ p50: 1, p95: 1 });
  });

  it('needs at least one scrape', () => {
    expect(() => deriveLoadOverWindow([], 0.85)).toThrow(RangeError);
  });
});

describe('LoadWindow (the collector\'s window, one pair\'s deltas per new scrape)', () => {
  // A deterministic pseudo-random engine: load that moves (one counter not in whole numbers), restarts (everything back near 0), a
  // histogram that breaks now and then, bucket bounds that change on a restart, an ITL rename.
  function* scrapes(seed: number): Generator<EngineScrape> {
    let x = seed;
    const rnd = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let tokens = 0;
    let counts = [0, 0, 0];
    let bounds = [0.1, 1, INF];
    for (;;) {
      const r = rnd();
      if (r < 0.05) {
        tokens = 0;
        counts = [0, 0, 0];
        if (rnd() < 0.5) bounds = [0.2, 2, INF];
      }
      tokens += Math.floor(rnd() * 1000);
      const add = [Math.floor(rnd() * 5), Math.floor(rnd() * 5), Math.floor(rnd() * 5)];
      counts = [counts[0]! + add[0]!, counts[1]! + add[0]! + add[1]!, counts[2]! + add[0]! + add[1]! + add[2]!];
      const broken = rnd() < 0.03;
      const h = hist(bounds.map((le, i) => [le, broken && i === 0 ? counts[2]! + 1 : counts[i]!] as [number, number]));
      yield scrape({
        running: Math.floor(rnd() * 10),
        kvCacheUsage: rnd(),
        counters: { promptTokens: tokens, generationTokens: tokens / 3, requestSuccess: counts[2]!, prefixCacheQueries: tokens, prefixCacheHits: tokens / 4 },
        histograms: { ttft: h, itl: h, e2e: hist([[1, counts[2]!], [INF, counts[2]!]]) },
        itlMetric: rnd() < 0.02 ? 'vllm:time_per_output_token_seconds' : 'vllm:inter_token_latency_seconds',
      });
    }
  }

  it.each([1, 2, 3, 4])('answers exactly what deriveLoadOverWindow answers on its points (seed %i)', (seed) => {
    const w = new LoadWindow();
    const gen = scrapes(seed);
    let withQuantiles = 0;
    let points: ScrapePoint[] = [];
    for (let t = 0; t < 400; t++) {
      const at = t * 1000 + (t % 7) * 13; // uneven ticks
      const p = { scrape: gen.next().value as EngineScrape, atMs: at };
      w.push(p);
      w.trim(at, 10_000);
      // The same window kept whole: the same trimming rule.
      points.push(p);
      while (points.length > 2 && at - (points[0] as ScrapePoint).atMs > 10_000) points = points.slice(1);
      expect(w.length).toBe(points.length);
      expect(points.length).toBeLessThanOrEqual(12);
      const d = w.derive(0.9);
      expect(d).toEqual(deriveLoadOverWindow(points, 0.9));
      if (d.load.ttftSeconds.p50 !== null) withQuantiles++;
    }
    // Both kinds of window were met: with quantiles, and without (a break or a change of bounds inside).
    expect(withQuantiles).toBeGreaterThan(50);
    expect(withQuantiles).toBeLessThan(390);
  });

  it('keeps the last two scrapes however old they are', () => {
    const w = new LoadWindow();
    w.push({ scrape: scrape(), atMs: 0 });
    w.push({ scrape: scrape(), atMs: 1_000 });
    w.push({ scrape: scrape(), atMs: 500_000 });
    w.trim(900_000, 60_000);
    expect(w.length).toBe(2);
    // The span is what is left: 1 s → 500 s.
    w.push({ scrape: scrape({ counters: { promptTokens: 499_000 } }), atMs: 500_000 + 1000 });
    w.trim(501_000, 60_000);
    expect(w.length).toBe(2);
    expect(w.last?.atMs).toBe(501_000);
  });
});

describe('busy (NVIDIA Dynamo worker-monitor rule)', () => {
  it('KV-cache usage strictly above the threshold', () => {
    expect([isBusy(0.9, 0.85), isBusy(0.85, 0.85), isBusy(null, 0.85), isBusy(0.9, NaN)]).toEqual([true, false, false, false]);
  });
  it('a data-parallel engine is busy only when all its ranks are', () => {
    expect([engineBusy([true, true]), engineBusy([true, false]), engineBusy([])]).toEqual([true, false, false]);
  });
  it('the issue’s example: ranks at 1.00 and 0.85, threshold 0.9 → rank 0 busy, the engine not (KV shown 1.00)', () => {
    const threshold = 0.9;
    const ranks = [scrape({ engine: '0', kvCacheUsage: 1 }), scrape({ engine: '1', rank: 1, kvCacheUsage: 0.85 })];
    const perRank = ranks.map((r) => isBusy(r.kvCacheUsage, threshold));
    expect(perRank).toEqual([true, false]);
    expect(engineBusy(perRank)).toBe(false);
    expect(mergeEngineScrapes(ranks).kvCacheUsage).toBe(1);
  });
});

describe('mergeEngineScrapes', () => {
  it('adds ranks up; KV usage is the fullest rank’s, whatever their sizes', () => {
    const cc = (n: number) => ({
      blockSize: 16,
      numGpuBlocks: n,
      numCpuBlocks: null,
      gpuMemoryUtilization: 0.9,
      enablePrefixCaching: true,
      cacheDtype: 'auto',
      raw: {},
    });
    const a = scrape({ engine: '0', running: 3, kvCacheUsage: 0.25, cacheConfig: cc(1000), counters: { promptTokens: 100 }, histograms: { ttft: hist([[1, 1], [INF, 2]]) } });
    const b = scrape({ engine: '1', running: 5, kvCacheUsage: 0.9, cacheConfig: cc(3000), counters: { promptTokens: 200 }, histograms: { ttft: hist([[1, 3], [INF, 3]]) } });
    const m = mergeEngineScrapes([a, b]);
    expect(m.engine).toBe('all');
    expect(m.running).toBe(8);
    expect(m.kvCacheUsage).toBe(0.9);
    expect(m.counters.promptTokens).toBe(300);
    expect([m.histograms.ttft?.les, m.histograms.ttft?.counts]).toEqual([[1, INF], [4, 5]]);
    // a rank without a reading does not hide the others'
    expect(mergeEngineScrapes([{ ...a, kvCacheUsage: null }, { ...b, kvCacheUsage: 0.4 }]).kvCacheUsage).toBe(0.4);
  });
});
