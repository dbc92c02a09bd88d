// What a fake vLLM engine reports: load over time, /metrics in the real format of its version, /v1/models and
// /version bodies. Pure and deterministic: the same engine, start time and t give the same text.
//
// Load model (per data-parallel rank, from the scenario's `load`): λ(t) ∈ 0..1 = base + amplitude·sin(2π(t/period +
// phase)) + per-second noise. Requests arrive at λ·3 req/s per GPU of the rank and take P ≈ 500 prompt and
// G ≈ 200 generation tokens; TTFT, inter-token latency and the request phases get slower as λ grows (lognormal
// around a λ-dependent median, `latencyAt`: the latencies depend on the load only, so a constant load gives one
// known distribution and SLO attainment at a bucket bound is its CDF there). Gauges come from λ(t) now; counters
// and histograms integrate every whole second since the engine (re)started, so they grow with time and reset on
// a restart, as vLLM's do.
import type { EngineSpec } from './engineScenario.js';
import { engineFaultsAt, servedNames } from './engineScenario.js';
import { PromWriter, pyRepr, type Labels } from './promFormat.js';
import { clamp, hashUnit } from './util.js';

// ---------------------------------------------------------------------------------------------------------
// Bucket bounds (from the fixtures in tests/fixtures/vllm)

/** vLLM's build_1_2_5_buckets(max): 1, 2, 5, 10, 20, 50, … up to max (token-count histograms). */
export function buckets125(max: number): number[] {
  const out: number[] = [];
  for (let e = 0; ; e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v > max) return out;
      out.push(v);
    }
  }
}

export const BUCKETS = {
  ttftV1: [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560],
  itlV1: [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80],
  requestLatencyV1: [0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680],
  iterationV1: [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384],
  paramsN: [1, 2, 5, 10, 20],
  ttftV0: [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
  tpotV0: [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5],
  e2eV0: [1, 2.5, 5, 10, 15, 20, 30, 40, 50, 60],
  /** 0.7.x fixture (trimmed after 96): the CUDA graph capture sizes 1, 2, 4, 8, 16, …, 512. */
  iterationV0: [1, 2, 4, ...Array.from({ length: 64 }, (_, i) => 8 * (i + 1))],
  httpHighr: [0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 7.5, 10, 30, 60],
  httpByHandler: [0.1, 0.5, 1],
} as const;

// ---------------------------------------------------------------------------------------------------------
// Load

/** The engine's load, 0..1, at t (seconds since the scenario start) on data-parallel rank dp. */
export function engineLoadAt(spec: EngineSpec, dp: number, t: number): number {
  const l = spec.load;
  const wave = l.amplitude * Math.sin(2 * Math.PI * (t / l.periodSeconds + l.phase + 0.07 * dp));
  const noise = l.noise * (hashUnit('vllm-load', spec.name, dp, Math.floor(t)) * 2 - 1);
  return clamp(l.base + wave + noise, 0, 1);
}

/** Mean load over the engine's ranks (what its GPUs show). */
export function engineMeanLoadAt(spec: EngineSpec, t: number): number {
  let s = 0;
  for (let d = 0; d < spec.dataParallel; d++) s += engineLoadAt(spec, d, t);
  return s / spec.dataParallel;
}

interface Moment {
  lambda: number;
  /** Requests per second arriving (and finishing). */
  rate: number;
  promptTokens: number;
  generationTokens: number;
  ttft: number;
  itl: number;
  e2e: number;
  queue: number;
  prefill: number;
  decode: number;
}

/** A lognormal latency: `median` seconds, log-space spread `sigma` (0: every request at the median). */
export interface LatencyDistribution {
  median: number;
  sigma: number;
}

/** Generation tokens of a mean request: what the decode time is made of. */
const MEAN_GENERATION_TOKENS = 200;

/**
 * The latency distributions of requests finishing on rank dp at t: a function of the load λ (and the
 * `slow-prefill` fault) only, so an engine under constant load has a fixed, known distribution.
 * `itlPerToken` is what vLLM's inter-token histogram sees (each gap between tokens), `itlPerRequest` a request's
 * mean time per output token (vLLM 0.11's request_time_per_output_token).
 */
export function latencyAt(spec: EngineSpec, dp: number, t: number): Record<'ttft' | 'itlPerToken' | 'itlPerRequest' | 'e2e' | 'queue' | 'prefill' | 'decode', LatencyDistribution> {
  const lambda = engineLoadAt(spec, dp, t);
  const gpus = spec.tensorParallel * spec.pipelineParallel;
  // `slow-prefill`: prompts wait ten times longer for their first token (what a TTFT alert is about).
  const prefillScale = engineFaultsAt(spec, t).has('slow-prefill') ? 10 : 1;
  const ttft = (0.035 + 0.45 * lambda ** 3) * prefillScale;
  const itl = (0.012 + 0.028 * lambda ** 2) / Math.sqrt(gpus);
  const queue = 0.002 + 1.5 * lambda ** 4;
  const prefill = 0.8 * ttft;
  const decode = MEAN_GENERATION_TOKENS * itl;
  return {
    ttft: { median: ttft, sigma: 0.55 },
    itlPerToken: { median: itl, sigma: 0.25 },
    itlPerRequest: { median: itl, sigma: 0.2 },
    e2e: { median: queue + prefill + decode, sigma: 0.45 },
    queue: { median: queue, sigma: 0.9 },
    prefill: { median: prefill, sigma: 0.5 },
    decode: { median: decode, sigma: 0.45 },
  };
}

/** The share of requests of a distribution that take at most `bound` seconds: the SLO attainment there. */
export function shareWithin(d: LatencyDistribution, bound: number): number {
  return lognormalCdf(bound, d.median, d.sigma);
}

function moment(spec: EngineSpec, dp: number, t: number): Moment {
  const lambda = engineLoadAt(spec, dp, t);
  const gpus = spec.tensorParallel * spec.pipelineParallel;
  const k = Math.floor(t);
  const promptTokens = 500 * (0.9 + 0.2 * hashUnit('vllm-p', spec.name, dp, k));
  const generationTokens = MEAN_GENERATION_TOKENS * (0.85 + 0.3 * hashUnit('vllm-g', spec.name, dp, k));
  const l = latencyAt(spec, dp, t);
  return {
    lambda,
    rate: 3 * gpus * lambda,
    promptTokens,
    generationTokens,
    ttft: l.ttft.median,
    itl: l.itlPerToken.median,
    e2e: l.e2e.median,
    queue: l.queue.median,
    prefill: l.prefill.median,
    decode: l.decode.median,
  };
}

export interface RankGauges {
  running: number;
  waiting: number;
  /** 0..1 */
  kvCacheUsage: number;
}

export function rankGaugesAt(spec: EngineSpec, dp: number, t: number): RankGauges {
  const m = moment(spec, dp, t);
  const running = Math.min(256, Math.round(m.rate * m.e2e));
  // A slow prefill (`slow-prefill`) lets the queue grow three times as long.
  const backlog = engineFaultsAt(spec, t).has('slow-prefill') ? 3 : 1;
  const waiting = m.lambda > 0.8 ? Math.round(((m.lambda - 0.8) / 0.2) ** 2 * 12 * spec.tensorParallel * backlog) : 0;
  const kv = running === 0 ? 0 : clamp(0.93 * m.lambda ** 1.25 + 0.02 * (hashUnit('vllm-kv', spec.name, dp, Math.floor(t)) - 0.5), 0.001, 1);
  return { running, waiting, kvCacheUsage: kv };
}

// ---------------------------------------------------------------------------------------------------------
// Accumulated counters and histograms

function erf(x: number): number {
  // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).
  const s = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}

/** P(X ≤ x) for a lognormal with this median and σ (σ = 0: all at the median). */
function lognormalCdf(x: number, median: number, sigma: number): number {
  if (sigma === 0) return x >= median ? 1 : 0;
  if (x <= 0) return 0;
  return 0.5 * (1 + erf((Math.log(x) - Math.log(median)) / (sigma * Math.SQRT2)));
}

export class Hist {
  /** Cumulative counts per bound, then +Inf. */
  readonly counts: number[];
  /** Expected cumulative counts per bound (fractional); `counts` are their floors. */
  private readonly expected: number[];
  sum = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
    this.expected = new Array<number>(bounds.length).fill(0);
  }

  /**
   * `n` observations around `median` (lognormal σ): integer, cumulative, monotonic in le and in time. Each
   * bucket is the floor of its expected count so far, never a per-call rounding: rounding a second's one or
   * two requests at a time biased a bucket by up to half a request a second, and the attainment the SLO rules
   * read from the buckets with it. Now any window's increase is n·CDF(le) to within one request.
   */
  observe(n: number, median: number, sigma: number): void {
    if (n <= 0) return;
    this.bounds.forEach((le, i) => {
      const e = (this.expected[i] ?? 0) + n * lognormalCdf(le, median, sigma);
      this.expected[i] = e;
      // The epsilon keeps 2.9999999999 (sums of CDFs of 1) from flooring to 2.
      this.counts[i] = Math.floor(e + 1e-9);
    });
    const last = this.bounds.length;
    this.counts[last] = (this.counts[last] ?? 0) + n;
    this.sum += n * median * Math.exp((sigma * sigma) / 2);
  }

  get count(): number {
    return this.counts[this.bounds.length] ?? 0;
  }
}

/** Finish reasons of request j (0-based), j mod 100: 0–85 stop, 86–98 length, 99 abort. Deterministic, so the
 * per-reason counters only grow. */
export function reasonCounts(n: number): { stop: number; length: number; abort: number } {
  const full = Math.floor(n / 100);
  const rest = n % 100;
  return { stop: full * 86 + Math.min(rest, 86), length: full * 13 + clamp(rest - 86, 0, 13), abort: full };
}

/** One data-parallel rank's counters and histograms since the engine started. */
export class RankAccumulator {
  /** Next whole second (scenario time) to add. */
  private next: number;
  private expectedRequests = 0;
  private expectedPreemptions = 0;
  requests = 0;
  promptTokens = 0;
  generationTokens = 0;
  preemptions = 0;
  prefixQueries = 0;
  prefixHits = 0;
  readonly h: Record<string, Hist>;

  constructor(
    readonly spec: EngineSpec,
    readonly dp: number,
    /** Engine start, seconds since the scenario start. */
    readonly startT: number
  ) {
    this.next = Math.ceil(startT);
    const tokens = buckets125(spec.maxModelLen);
    const v1 = spec.profile.metrics === 'v1';
    this.h = v1
      ? {
          promptTokens: new Hist(tokens),
          generationTokens: new Hist(tokens),
          iteration: new Hist(BUCKETS.iterationV1),
          maxGeneration: new Hist(tokens),
          paramsN: new Hist(BUCKETS.paramsN),
          maxTokens: new Hist(tokens),
          ttft: new Hist(BUCKETS.ttftV1),
          itl: new Hist(BUCKETS.itlV1),
          requestTpot: new Hist(BUCKETS.itlV1),
          e2e: new Hist(BUCKETS.requestLatencyV1),
          queue: new Hist(BUCKETS.requestLatencyV1),
          inference: new Hist(BUCKETS.requestLatencyV1),
          prefill: new Hist(BUCKETS.requestLatencyV1),
          decode: new Hist(BUCKETS.requestLatencyV1),
        }
      : {
          ttft: new Hist(BUCKETS.ttftV0),
          itl: new Hist(BUCKETS.tpotV0),
          e2e: new Hist(BUCKETS.e2eV0),
          promptTokens: new Hist(tokens),
          generationTokens: new Hist(tokens),
          bestOf: new Hist(BUCKETS.paramsN),
          paramsN: new Hist(BUCKETS.paramsN),
          iteration: new Hist(BUCKETS.iterationV0),
        };
  }

  /** Adds every whole second [k, k+1) with k + 1 ≤ t. */
  advanceTo(t: number): void {
    const spec = this.spec;
    const h = this.h;
    const maxTokens = Math.min(1024, spec.maxModelLen);
    for (; this.next + 1 <= t; this.next++) {
      const m = moment(spec, this.dp, this.next);
      const before = Math.floor(this.expectedRequests);
      this.expectedRequests += m.rate;
      const n = Math.floor(this.expectedRequests) - before;
      const gauges = rankGaugesAt(spec, this.dp, this.next);
      this.expectedPreemptions += Math.max(0, gauges.kvCacheUsage - 0.92) * 8;
      this.preemptions = Math.floor(this.expectedPreemptions);
      const running = gauges.running;
      const steps = running > 0 ? Math.round(1 / m.itl) : 0;
      if (steps > 0) h.iteration?.observe(steps, Math.max(1, running), 0.6);
      if (n === 0) continue;
      const prompt = Math.round(n * m.promptTokens);
      const generation = Math.round(n * m.generationTokens);
      this.requests += n;
      this.promptTokens += prompt;
      this.generationTokens += generation;
      this.prefixQueries += prompt;
      this.prefixHits += Math.round(prompt * (0.25 + 0.15 * hashUnit('vllm-hit', spec.name, this.dp, this.next)));
      h.promptTokens?.observe(n, m.promptTokens, 0.8);
      h.generationTokens?.observe(n, m.generationTokens, 0.7);
      h.maxGeneration?.observe(n, maxTokens, 0.4);
      h.maxTokens?.observe(n, maxTokens, 0.4);
      h.paramsN?.observe(n, 1, 0);
      h.bestOf?.observe(n, 1, 0);
      const l = latencyAt(spec, this.dp, this.next);
      const at = (key: string, count: number, d: LatencyDistribution) => h[key]?.observe(count, d.median, d.sigma);
      at('ttft', n, l.ttft);
      at('itl', Math.max(0, generation - n), l.itlPerToken);
      at('requestTpot', n, l.itlPerRequest);
      at('e2e', n, l.e2e);
      at('queue', n, l.queue);
      at('prefill', n, l.prefill);
      at('decode', n, l.decode);
      h.inference?.observe(n, m.prefill + m.decode, 0.45);
    }
  }

  reasons(): { stop: number; length: number; abort: number } {
    return reasonCounts(this.requests);
  }
}

// ---------------------------------------------------------------------------------------------------------
// HTTP instrumentation (prometheus-fastapi-instrumentator, V1 only; vLLM excludes /metrics, /health, /version…)

interface HandlerStats {
  handler: string;
  method: string;
  status: string;
  count: number;
  requestBytes: number;
  responseBytes: number;
  durations: Hist;
  created: number;
}

export class HttpStats {
  readonly handlers = new Map<string, HandlerStats>();
  readonly highr = new Hist(BUCKETS.httpHighr);
  highrCreated: number | null = null;

  record(handler: string, method: string, status: number, requestBytes: number, responseBytes: number, seconds: number, nowSec: number): void {
    const key = `${method} ${handler} ${status}`;
    let s = this.handlers.get(key);
    if (!s) {
      s = { handler, method, status: `${Math.floor(status / 100)}xx`, count: 0, requestBytes: 0, responseBytes: 0, durations: new Hist(BUCKETS.httpByHandler), created: nowSec };
      this.handlers.set(key, s);
    }
    s.count++;
    s.requestBytes += requestBytes;
    s.responseBytes += responseBytes;
    s.durations.observe(1, Math.max(seconds, 1e-6), 0);
    s.durations.sum += seconds - Math.max(seconds, 1e-6);
    this.highr.observe(1, Math.max(seconds, 1e-6), 0);
    this.highrCreated ??= nowSec;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Rendering

export interface RenderOptions {
  /** Wall clock of the scrape, ms since the Unix epoch. */
  nowMs: number;
  /** GPU memory per rank (MiB): sizes num_gpu_blocks. */
  rankMemoryMiB: number;
  http: HttpStats | null;
  /** The `bad-histograms` fault: bucket counts that fall with le and a +Inf bucket below the others. */
  brokenHistograms: boolean;
  /** CPU seconds of this process so far (process_cpu_seconds_total grows from a plausible start). */
  cpuSeconds: number;
}

const HELP = {
  running: 'Number of requests in model execution batches.',
  runningV0: 'Number of requests currently running on GPU.',
  waiting: 'Number of requests waiting to be processed.',
  swapped: 'Number of requests swapped to CPU.',
  kvNew: 'KV-cache usage. 1 means 100 percent usage.',
  kvOld: 'GPU KV-cache usage. 1 means 100 percent usage.',
  cpuKv: 'CPU KV-cache usage. 1 means 100 percent usage.',
  gpuPrefixQueries: 'GPU prefix cache queries, in terms of number of queriedtokens. DEPRECATED: Use vllm:prefix_cache_queries instead.',
  gpuPrefixHits: 'GPU prefix cache hits, in terms of number of cached tokens. DEPRECATED: Use vllm:prefix_cache_hits instead.',
  prefixQueries: 'Prefix cache queries, in terms of number of queried tokens.',
  prefixHits: 'Prefix cache hits, in terms of number of cached tokens.',
  preemptions: 'Cumulative number of preemption from the engine.',
  promptTokens: 'Number of prefill tokens processed.',
  generationTokens: 'Number of generation tokens processed.',
  success: 'Count of successfully processed requests.',
  iteration: 'Histogram of number of tokens per engine_step.',
  maxGeneration: 'Histogram of maximum number of requested generation tokens.',
  paramsN: 'Histogram of the n request parameter.',
  bestOf: 'Histogram of the best_of request parameter.',
  maxTokens: 'Histogram of the max_tokens request parameter.',
  ttft: 'Histogram of time to first token in seconds.',
  tpot: 'Histogram of time per output token in seconds.',
  itl: 'Histogram of inter-token latency in seconds.',
  requestTpot: 'Histogram of time_per_output_token_seconds per request.',
  e2e: 'Histogram of e2e request latency in seconds.',
  e2eV0: 'Histogram of end to end request latency in seconds.',
  queue: 'Histogram of time spent in WAITING phase for request.',
  inference: 'Histogram of time spent in RUNNING phase for request.',
  prefill: 'Histogram of time spent in PREFILL phase for request.',
  decode: 'Histogram of time spent in DECODE phase for request.',
  cacheConfig: 'Information of the LLMEngine CacheConfig',
} as const;

function brokenCounts(counts: readonly number[]): number[] {
  const last = counts.length - 1;
  const total = counts[last] ?? 0;
  return counts.map((c, i) => (i === last ? Math.floor(total / 2) : total - c + (last - i)));
}

class Renderer {
  readonly w = new PromWriter();
  constructor(private readonly broken: boolean) {}

  family(name: string, type: 'counter' | 'gauge' | 'histogram' | 'summary', help: string): this {
    this.w.family(name, type, help);
    return this;
  }

  sample(name: string, labels: Labels, v: number): this {
    this.w.sample(name, labels, v);
    return this;
  }

  hist(name: string, labels: Labels, h: Hist): this {
    this.w.histogram(name, labels, h.bounds, this.broken ? brokenCounts(h.counts) : h.counts, h.sum);
    return this;
  }
}

function blocksFor(rankMemoryMiB: number): number {
  // KV cache ≈ 55 % of what the rank preallocates, 2 MiB per 16-token block (a 7B-class model).
  return Math.max(64, Math.round((0.55 * rankMemoryMiB) / 2));
}

function processFamilies(r: Renderer, spec: EngineSpec, startMs: number, opts: RenderOptions): void {
  const up = Math.max(0, (opts.nowMs - startMs) / 1000);
  const v1 = spec.profile.metrics === 'v1';
  r.family('python_gc_objects_collected_total', 'counter', 'Objects collected during gc');
  [11299 + Math.floor(up * 3), 1620 + Math.floor(up / 4), 236 + Math.floor(up / 60)].forEach((v, g) =>
    r.sample('python_gc_objects_collected_total', { generation: String(g) }, v)
  );
  r.family('python_gc_objects_uncollectable_total', 'counter', 'Uncollectable objects found during GC');
  [0, 1, 2].forEach((g) => r.sample('python_gc_objects_uncollectable_total', { generation: String(g) }, 0));
  r.family('python_gc_collections_total', 'counter', 'Number of times this generation was collected');
  [1746 + Math.floor(up / 2), 158 + Math.floor(up / 20), 11 + Math.floor(up / 600)].forEach((v, g) =>
    r.sample('python_gc_collections_total', { generation: String(g) }, v)
  );
  r.family('python_info', 'gauge', 'Python platform information');
  const py = v1 ? ['3', '12', '11'] : ['3', '10', '12'];
  r.sample('python_info', { implementation: 'CPython', major: py[0] as string, minor: py[1] as string, patchlevel: py[2] as string, version: py.join('.') }, 1);
  r.family('process_virtual_memory_bytes', 'gauge', 'Virtual memory size in bytes.');
  r.sample('process_virtual_memory_bytes', {}, 13720145920);
  r.family('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.');
  r.sample('process_resident_memory_bytes', {}, 1109622784 + 4096 * Math.floor(up / 10));
  r.family('process_start_time_seconds', 'gauge', 'Start time of the process since unix epoch in seconds.');
  r.sample('process_start_time_seconds', {}, Math.round(startMs / 10) / 100);
  r.family('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds.');
  r.sample('process_cpu_seconds_total', {}, Math.round((11.24 + opts.cpuSeconds) * 100) / 100);
  r.family('process_open_fds', 'gauge', 'Number of open file descriptors.');
  r.sample('process_open_fds', {}, 44);
  r.family('process_max_fds', 'gauge', 'Maximum number of open file descriptors.');
  r.sample('process_max_fds', {}, 1048576);
}

function renderV1(r: Renderer, spec: EngineSpec, ranks: RankAccumulator[], t: number, startMs: number, opts: RenderOptions): void {
  const p = spec.profile;
  const model = servedNames(spec)[0] as string;
  const lab = (dp: number): Labels => ({ engine: String(dp), model_name: model });
  const created = (dp: number, i: number) => startMs / 1000 + 0.8 + dp * 0.05 + i * 0.00003;
  const gauges = ranks.map((_, dp) => rankGaugesAt(spec, dp, t));
  let ci = 0;
  const counter = (name: string, help: string, value: (dp: number) => number) => {
    r.family(`${name}_total`, 'counter', help);
    ranks.forEach((_, dp) => r.sample(`${name}_total`, lab(dp), value(dp)));
    r.family(`${name}_created`, 'gauge', help);
    const i = ci++;
    ranks.forEach((_, dp) => r.sample(`${name}_created`, lab(dp), created(dp, i)));
  };
  const hist = (name: string, help: string, key: string) => {
    r.family(name, 'histogram', help);
    ranks.forEach((acc, dp) => {
      const h = acc.h[key];
      if (h) r.hist(name, lab(dp), h);
    });
    r.family(`${name}_created`, 'gauge', help);
    const i = ci++;
    ranks.forEach((_, dp) => r.sample(`${name}_created`, lab(dp), created(dp, i)));
  };

  r.family('vllm:num_requests_running', 'gauge', HELP.running);
  gauges.forEach((g, dp) => r.sample('vllm:num_requests_running', lab(dp), g.running));
  r.family('vllm:num_requests_waiting', 'gauge', HELP.waiting);
  gauges.forEach((g, dp) => r.sample('vllm:num_requests_waiting', lab(dp), g.waiting));
  if (p.kvUsageOld) {
    r.family('vllm:gpu_cache_usage_perc', 'gauge', p.kvUsageNew ? `${HELP.kvOld}DEPRECATED: Use vllm:kv_cache_usage_perc instead.` : HELP.kvOld);
    gauges.forEach((g, dp) => r.sample('vllm:gpu_cache_usage_perc', lab(dp), g.kvCacheUsage));
  }
  if (p.prefixOld) {
    const q = p.prefixNew ? HELP.gpuPrefixQueries : HELP.gpuPrefixQueries.replace(/ DEPRECATED.*$/, '');
    const h = p.prefixNew ? HELP.gpuPrefixHits : HELP.gpuPrefixHits.replace(/ DEPRECATED.*$/, '');
    counter('vllm:gpu_prefix_cache_queries', q, (dp) => ranks[dp]?.prefixQueries ?? 0);
    counter('vllm:gpu_prefix_cache_hits', h, (dp) => ranks[dp]?.prefixHits ?? 0);
  }
  if (p.kvUsageNew) {
    r.family('vllm:kv_cache_usage_perc', 'gauge', HELP.kvNew);
    gauges.forEach((g, dp) => r.sample('vllm:kv_cache_usage_perc', lab(dp), g.kvCacheUsage));
  }
  if (p.prefixNew) {
    counter('vllm:prefix_cache_queries', HELP.prefixQueries, (dp) => ranks[dp]?.prefixQueries ?? 0);
    counter('vllm:prefix_cache_hits', HELP.prefixHits, (dp) => ranks[dp]?.prefixHits ?? 0);
  }
  counter('vllm:num_preemptions', HELP.preemptions, (dp) => ranks[dp]?.preemptions ?? 0);
  counter('vllm:prompt_tokens', HELP.promptTokens, (dp) => ranks[dp]?.promptTokens ?? 0);
  counter('vllm:generation_tokens', HELP.generationTokens, (dp) => ranks[dp]?.generationTokens ?? 0);

  r.family('vllm:request_success_total', 'counter', HELP.success);
  ranks.forEach((acc, dp) => {
    const c = acc.reasons();
    for (const reason of ['stop', 'length', 'abort'] as const) r.sample('vllm:request_success_total', { ...lab(dp), finished_reason: reason }, c[reason]);
  });
  r.family('vllm:request_success_created', 'gauge', HELP.success);
  const si = ci++;
  ranks.forEach((_, dp) =>
    ['stop', 'length', 'abort'].forEach((reason, j) => r.sample('vllm:request_success_created', { ...lab(dp), finished_reason: reason }, created(dp, si) + j * 0.00001))
  );

  hist('vllm:request_prompt_tokens', HELP.promptTokens, 'promptTokens');
  hist('vllm:request_generation_tokens', HELP.generationTokens, 'generationTokens');
  hist('vllm:iteration_tokens_total', HELP.iteration, 'iteration');
  hist('vllm:request_max_num_generation_tokens', HELP.maxGeneration, 'maxGeneration');
  hist('vllm:request_params_n', HELP.paramsN, 'paramsN');
  hist('vllm:request_params_max_tokens', HELP.maxTokens, 'maxTokens');
  hist('vllm:time_to_first_token_seconds', HELP.ttft, 'ttft');
  if (p.tpotOld) hist('vllm:time_per_output_token_seconds', p.itlNew ? `${HELP.tpot}DEPRECATED: Use vllm:inter_token_latency_seconds instead.` : HELP.tpot, 'itl');
  if (p.itlNew) hist('vllm:inter_token_latency_seconds', HELP.itl, 'itl');
  if (p.requestTpot) hist('vllm:request_time_per_output_token_seconds', HELP.requestTpot, 'requestTpot');
  hist('vllm:e2e_request_latency_seconds', HELP.e2e, 'e2e');
  hist('vllm:request_queue_time_seconds', HELP.queue, 'queue');
  hist('vllm:request_inference_time_seconds', HELP.inference, 'inference');
  hist('vllm:request_prefill_time_seconds', HELP.prefill, 'prefill');
  hist('vllm:request_decode_time_seconds', HELP.decode, 'decode');

  r.family('vllm:cache_config_info', 'gauge', HELP.cacheConfig);
  ranks.forEach((_, dp) => {
    const labels: Labels = {
      block_size: '16',
      cache_dtype: 'auto',
      calculate_kv_scales: 'False',
      cpu_kvcache_space_bytes: 'None',
      cpu_offload_gb: '0.0',
      enable_prefix_caching: 'True',
      engine: String(dp),
      gpu_memory_utilization: pyRepr(spec.gpuMemoryUtilization),
      is_attention_free: 'False',
      kv_sharing_fast_prefill: 'False',
      mamba_cache_dtype: 'auto',
      mamba_page_size_padded: 'None',
      mamba_ssm_cache_dtype: 'auto',
      num_cpu_blocks: 'None',
      num_gpu_blocks: String(blocksFor(opts.rankMemoryMiB)),
      num_gpu_blocks_override: 'None',
      prefix_caching_hash_algo: p.kvCacheMemoryLabel ? 'sha256' : 'builtin',
      sliding_window: 'None',
      swap_space: '4.0',
      swap_space_bytes: '4294967296.0',
    };
    if (p.kvCacheMemoryLabel) labels.kv_cache_memory_bytes = 'None';
    r.sample('vllm:cache_config_info', labels, 1);
  });
}

function renderHttp(r: Renderer, http: HttpStats | null): void {
  const handlers = http ? [...http.handlers.values()] : [];
  const help = {
    total: 'Total number of requests by method, status and handler.',
    req: 'Content length of incoming requests by handler. Only value of header is respected. Otherwise ignored. No percentile calculated. ',
    resp: 'Content length of outgoing responses by handler. Only value of header is respected. Otherwise ignored. No percentile calculated. ',
    highr: 'Latency with many buckets but no API specific labels. Made for more accurate percentile calculations. ',
    dur: 'Latency with only few buckets by handler. Made to be only used if aggregation by handler is important. ',
  };
  r.family('http_requests_total', 'counter', help.total);
  for (const h of handlers) r.sample('http_requests_total', { handler: h.handler, method: h.method, status: h.status }, h.count);
  if (handlers.length) {
    r.family('http_requests_created', 'gauge', help.total);
    for (const h of handlers) r.sample('http_requests_created', { handler: h.handler, method: h.method, status: h.status }, h.created);
  }
  for (const [name, text, field] of [
    ['http_request_size_bytes', help.req, 'requestBytes'],
    ['http_response_size_bytes', help.resp, 'responseBytes'],
  ] as const) {
    r.family(name, 'summary', text);
    for (const h of handlers) {
      r.sample(`${name}_count`, { handler: h.handler }, h.count);
      r.sample(`${name}_sum`, { handler: h.handler }, h[field]);
    }
    if (handlers.length) {
      r.family(`${name}_created`, 'gauge', text);
      for (const h of handlers) r.sample(`${name}_created`, { handler: h.handler }, h.created);
    }
  }
  r.family('http_request_duration_highr_seconds', 'histogram', help.highr);
  const highr = http?.highr ?? new Hist(BUCKETS.httpHighr);
  r.w.histogram('http_request_duration_highr_seconds', {}, highr.bounds, highr.counts, highr.sum);
  r.family('http_request_duration_highr_seconds_created', 'gauge', help.highr);
  r.sample('http_request_duration_highr_seconds_created', {}, http?.highrCreated ?? 0);
  r.family('http_request_duration_seconds', 'histogram', help.dur);
  for (const h of handlers) r.w.histogram('http_request_duration_seconds', { handler: h.handler, method: h.method }, h.durations.bounds, h.durations.counts, h.durations.sum);
  if (handlers.length) {
    r.family('http_request_duration_seconds_created', 'gauge', help.dur);
    for (const h of handlers) r.sample('http_request_duration_seconds_created', { handler: h.handler, method: h.method }, h.created);
  }
}

function renderV0(r: Renderer, spec: EngineSpec, acc: RankAccumulator, t: number, opts: RenderOptions): void {
  const p = spec.profile;
  const model = servedNames(spec)[0] as string;
  const lab: Labels = { model_name: model };
  const g = rankGaugesAt(spec, 0, t);
  const blocks = String(blocksFor(opts.rankMemoryMiB));
  const gmu = pyRepr(spec.gpuMemoryUtilization);
  if (p.v0PrefixAndLora) {
    r.family('vllm:cache_config_info', 'gauge', HELP.cacheConfig);
    r.sample('vllm:cache_config_info', { block_size: '16', cache_dtype: 'auto', calculate_kv_scales: 'False', cpu_offload_gb: '0', enable_prefix_caching: 'False', gpu_memory_utilization: gmu, is_attention_free: 'False', num_cpu_blocks: '2048', num_gpu_blocks: blocks, num_gpu_blocks_override: 'None', sliding_window: 'None', swap_space_bytes: '4294967296' }, 1);
  } else {
    r.family('vllm:cache_config_info', 'gauge', 'information of cache_config');
    r.sample('vllm:cache_config_info', { block_size: '16', cache_dtype: 'auto', cpu_kvcache_space_bytes: '4294967296', enable_prefix_caching: 'False', gpu_memory_utilization: gmu, num_cpu_blocks: '0', num_gpu_blocks: blocks, num_gpu_blocks_override: 'None', sliding_window: 'None', swap_space_bytes: '4294967296' }, 1);
  }
  r.family('vllm:num_requests_running', 'gauge', HELP.runningV0).sample('vllm:num_requests_running', lab, g.running);
  const swapped = g.kvCacheUsage > 0.97 ? Math.round((g.kvCacheUsage - 0.97) * 100) : 0;
  if (p.v0PrefixAndLora) {
    r.family('vllm:num_requests_swapped', 'gauge', HELP.swapped).sample('vllm:num_requests_swapped', lab, swapped);
    r.family('vllm:num_requests_waiting', 'gauge', HELP.waiting).sample('vllm:num_requests_waiting', lab, g.waiting);
  } else {
    r.family('vllm:num_requests_waiting', 'gauge', HELP.waiting).sample('vllm:num_requests_waiting', lab, g.waiting);
    r.family('vllm:num_requests_swapped', 'gauge', HELP.swapped).sample('vllm:num_requests_swapped', lab, swapped);
  }
  r.family('vllm:gpu_cache_usage_perc', 'gauge', HELP.kvOld).sample('vllm:gpu_cache_usage_perc', lab, g.kvCacheUsage);
  r.family('vllm:cpu_cache_usage_perc', 'gauge', HELP.cpuKv).sample('vllm:cpu_cache_usage_perc', lab, swapped > 0 ? 0.01 * swapped : 0);
  if (p.v0PrefixAndLora) {
    r.family('vllm:cpu_prefix_cache_hit_rate', 'gauge', 'CPU prefix cache block hit rate.').sample('vllm:cpu_prefix_cache_hit_rate', lab, -1);
    r.family('vllm:gpu_prefix_cache_hit_rate', 'gauge', 'GPU prefix cache block hit rate.').sample('vllm:gpu_prefix_cache_hit_rate', lab, -1);
    const running = g.running > 0 ? spec.loraAdapters.slice(0, Math.min(spec.loraAdapters.length, Math.ceil(g.running / 8))) : [];
    r.family('vllm:lora_requests_info', 'gauge', 'Running stats on lora requests.').sample(
      'vllm:lora_requests_info',
      { max_lora: String(spec.loraAdapters.length), running_lora_adapters: running.join(','), waiting_lora_adapters: '' },
      Math.floor(opts.nowMs / 1000) + 0.8407154
    );
  }
  r.family('vllm:num_preemptions_total', 'counter', HELP.preemptions).sample('vllm:num_preemptions_total', lab, acc.preemptions);
  r.family('vllm:prompt_tokens_total', 'counter', HELP.promptTokens).sample('vllm:prompt_tokens_total', lab, acc.promptTokens);
  r.family('vllm:generation_tokens_total', 'counter', HELP.generationTokens).sample('vllm:generation_tokens_total', lab, acc.generationTokens);
  const success = () => {
    r.family('vllm:request_success_total', 'counter', HELP.success);
    const c = acc.reasons();
    for (const reason of ['stop', 'length', 'abort'] as const) if (c[reason] > 0 || reason === 'stop') r.sample('vllm:request_success_total', { ...lab, finished_reason: reason }, c[reason]);
  };
  const hist = (name: string, help: string, key: string) => {
    const h = acc.h[key];
    if (h) r.family(name, 'histogram', help).hist(name, lab, h);
  };
  if (p.v0PrefixAndLora) {
    success();
    hist('vllm:iteration_tokens_total', HELP.iteration, 'iteration');
  }
  hist('vllm:time_to_first_token_seconds', HELP.ttft, 'ttft');
  hist('vllm:time_per_output_token_seconds', HELP.tpot, 'itl');
  hist('vllm:e2e_request_latency_seconds', HELP.e2eV0, 'e2e');
  hist('vllm:request_prompt_tokens', HELP.promptTokens, 'promptTokens');
  hist('vllm:request_generation_tokens', HELP.generationTokens, 'generationTokens');
  hist('vllm:request_params_best_of', HELP.bestOf, 'bestOf');
  hist('vllm:request_params_n', HELP.paramsN, 'paramsN');
  if (!p.v0PrefixAndLora) success();
  if (p.v0AvgThroughput) {
    const m = moment(spec, 0, t);
    r.family('vllm:avg_prompt_throughput_toks_per_s', 'gauge', 'Average prefill throughput in tokens/s.').sample('vllm:avg_prompt_throughput_toks_per_s', lab, Math.round(m.rate * m.promptTokens * 10) / 10);
    r.family('vllm:avg_generation_throughput_toks_per_s', 'gauge', 'Average generation throughput in tokens/s.').sample('vllm:avg_generation_throughput_toks_per_s', lab, Math.round(m.rate * m.generationTokens * 10) / 10);
  }
}

/** Everything an engine's /metrics reports, for one engine (re)start. */
export class EngineMetricsModel {
  readonly ranks: RankAccumulator[];
  private readonly startT: number;

  constructor(
    readonly spec: EngineSpec,
    readonly epochMs: number,
    /** When this engine process started (ms since the Unix epoch). */
    readonly startMs: number
  ) {
    this.startT = (startMs - epochMs) / 1000;
    this.ranks = Array.from({ length: spec.dataParallel }, (_, dp) => new RankAccumulator(spec, dp, this.startT));
  }

  /** Scenario time of a wall-clock moment. */
  tAt(nowMs: number): number {
    return (nowMs - this.epochMs) / 1000;
  }

  advanceTo(nowMs: number): void {
    const t = this.tAt(nowMs);
    for (const r of this.ranks) r.advanceTo(t);
  }

  render(opts: RenderOptions): string {
    const t = this.tAt(opts.nowMs);
    this.advanceTo(opts.nowMs);
    const r = new Renderer(opts.brokenHistograms);
    processFamilies(r, this.spec, this.startMs, opts);
    if (this.spec.profile.metrics === 'v1') {
      renderV1(r, this.spec, this.ranks, t, this.startMs, opts);
      renderHttp(r, opts.http);
    } else {
      renderV0(r, this.spec, this.ranks[0] as RankAccumulator, t, opts);
    }
    return r.w.text();
  }
}

// ---------------------------------------------------------------------------------------------------------
// /v1/models and /version

/** Where a LoRA adapter of the launch line lives (`--lora-modules name=path`). */
export function loraPath(name: string): string {
  return `/models/lora/${name}`;
}

/** GET /v1/models: served names (root = model, parent null) and LoRA adapters (parent = first served name). */
export function modelsBody(spec: EngineSpec, nowMs: number, permissionId: () => string): string {
  const created = Math.floor(nowMs / 1000);
  const permission = () => [
    {
      id: `modelperm-${permissionId()}`,
      object: 'model_permission',
      created,
      allow_create_engine: false,
      allow_sampling: true,
      allow_logprobs: true,
      allow_search_indices: false,
      allow_view: true,
      allow_fine_tuning: false,
      organization: '*',
      group: null,
      is_blocking: false,
    },
  ];
  const base = servedNames(spec);
  const data = [
    ...base.map((id) => ({ id, object: 'model', created, owned_by: 'vllm', root: spec.model, parent: null, max_model_len: spec.maxModelLen, permission: permission() })),
    ...spec.loraAdapters.map((id) => ({ id, object: 'model', created, owned_by: 'vllm', root: loraPath(id), parent: base[0], max_model_len: null, permission: permission() })),
  ];
  return JSON.stringify({ object: 'list', data });
}

export function versionBody(spec: EngineSpec): string {
  return JSON.stringify({ version: spec.version });
}

/** What the `html-metrics` fault answers on /metrics (a proxy's or a misrouted app's page). */
export const HTML_PAGE =
  '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>502 Bad Gateway</title></head>\n' +
  '<body><h1>502 Bad Gateway</h1><p>The upstream server returned an invalid response.</p><hr><p>nginx</p></body>\n</html>\n';
