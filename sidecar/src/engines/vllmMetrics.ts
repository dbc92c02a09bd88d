// vLLM's /metrics (one scrape) → one EngineScrape per data-parallel engine. Pure.
//
// Metric names across versions (checked against tests/fixtures/vllm, see PROVENANCE.md there):
// - KV-cache usage: `vllm:kv_cache_usage_perc` (0.9.2+), else the older `vllm:gpu_cache_usage_perc`.
//   Both are 0..1 ratios despite "perc": their HELP says "1 means 100 percent usage", and in the
//   0.10.1 capture both read 0.0011764705882353343 = 1 block of the 850 in cache_config_info.
// - Inter-token latency: `vllm:inter_token_latency_seconds` (0.10.2+), else the deprecated
//   `vllm:time_per_output_token_seconds` (the only one in 0.4.3 and 0.10.1).
// - Prefix cache: `vllm:prefix_cache_{queries,hits}_total`, else the deprecated
//   `vllm:gpu_prefix_cache_{queries,hits}_total`; V0 only had the `vllm:gpu_prefix_cache_hit_rate`
//   gauge (-1 = no data, as in the 0.7.x capture).
// - V0 only, used when present: `vllm:num_requests_swapped`, `vllm:avg_prompt_throughput_toks_per_s`,
//   `vllm:avg_generation_throughput_toks_per_s`.
// - Removed since: `vllm:gpu_cache_usage_perc` and `vllm:gpu_prefix_cache_*` (0.12),
//   `vllm:time_per_output_token_seconds` (0.13): read only as fallbacks for older engines.
// - Families are taken by their exact sample name: `vllm:num_requests_waiting_by_reason{reason}`
//   (whose sum is `vllm:num_requests_waiting`), `vllm:prompt_tokens_cached_total`,
//   `vllm:prompt_tokens_by_source_total` or the KV-offload counters never stand in for the family
//   their name starts with.
// - OpenMetrics (the Rust frontend's only format) names a counter family without `_total` in
//   `# TYPE` and its samples with it: samples are looked up by their own name, so
//   `vllm:prompt_tokens_total` is found in both formats; `_created` samples are never read.
// - The `engine` label (V1) names the data-parallel engine behind one API server: its global DP
//   rank (vLLM's client labels the ranks it manages, `range(start_rank, start_rank + local)` with
//   hybrid load balancing, so a node's ranks start at its `--data-parallel-start-rank`). Series
//   without it (all of V0, and `cache_config_info` in 0.4.3) belong to engine "0".
// Counters and histogram buckets are kept raw (cumulative) so vllmLoad can take deltas.

import { parsePromNumber, parsePromText, type PromExposition, type PromParseOptions, type PromSample } from './promText.js';
import { ownCopy } from '../util/ownCopy.js';

/** Bucket bounds and counts of a histogram, one number per bucket rather than one object per bucket:
 * the last readings of every engine live a tick or more, and per-bucket objects were a quarter of
 * what the collector promoted to old space (README, issue 12). */
export interface BucketCounts {
  /** Upper bounds, rising, the last +Inf. Readings with the same bounds share one array: never change it. */
  les: readonly number[];
  /** Count of observations <= each bound (cumulative in a reading, an increase in a delta). */
  counts: number[];
}

export interface Histogram extends BucketCounts {
  /** `_count`, when present and finite. */
  count: number | null;
  /** `_sum`, when present and finite. */
  sum: number | null;
}

export interface EngineCounters {
  promptTokens: number | null;
  generationTokens: number | null;
  preemptions: number | null;
  prefixCacheQueries: number | null;
  prefixCacheHits: number | null;
  /** Finished requests, all finish reasons together. */
  requestSuccess: number | null;
}

export interface CacheConfig {
  blockSize: number | null;
  numGpuBlocks: number | null;
  numCpuBlocks: number | null;
  gpuMemoryUtilization: number | null;
  enablePrefixCaching: boolean | null;
  cacheDtype: string | null;
  /** Every label of `vllm:cache_config_info` except `engine`, as exported. */
  raw: Record<string, string>;
}

export interface LoraInfo {
  maxLora: number | null;
  running: string[];
  waiting: string[];
}

export const KV_USAGE_METRICS = ['vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc'] as const;
export const ITL_METRICS = ['vllm:inter_token_latency_seconds', 'vllm:time_per_output_token_seconds'] as const;

export interface EngineScrape {
  /** The `engine` label (data-parallel rank behind the API server); "0" when absent. */
  engine: string;
  /** The global DP rank: the `engine` label as a number; null when the label is not one. */
  rank: number | null;
  /** Distinct `model_name` labels on this engine's series, in order of appearance. */
  modelNames: string[];
  running: number | null;
  waiting: number | null;
  /** V0 only. */
  swapped: number | null;
  /** 0..1. */
  kvCacheUsage: number | null;
  kvCacheUsageMetric: (typeof KV_USAGE_METRICS)[number] | null;
  counters: EngineCounters;
  histograms: { ttft: Histogram | null; itl: Histogram | null; e2e: Histogram | null };
  itlMetric: (typeof ITL_METRICS)[number] | null;
  /** V0's own averages over its last logging interval, tokens/s. */
  v0Throughput: { prompt: number | null; generation: number | null };
  /** V0's GPU prefix-cache hit rate gauge, 0..1 (its -1 "no data" becomes null). */
  v0PrefixCacheHitRate: number | null;
  cacheConfig: CacheConfig | null;
  lora: LoraInfo | null;
  /** Series that were present but unusable (broken histogram, out-of-range gauge...). */
  problems: string[];
}

export interface VllmMetrics {
  /** One per `engine` label value, sorted (numerically where numeric). Empty: not vLLM metrics. */
  engines: EngineScrape[];
  /** `process_start_time_seconds` of the API server, when exported (restart detection). */
  processStartTimeSeconds: number | null;
  /** Malformed lines the text parser skipped. */
  skippedLines: number;
}

type BySample = Map<string, PromSample[]>;

function finiteNonNegative(v: number): boolean {
  return Number.isFinite(v) && v >= 0;
}

/** Sum of the samples' values; null when none, or when any is not a finite non-negative number. */
function sumOf(list: PromSample[] | undefined): number | null {
  if (!list || list.length === 0) return null;
  let s = 0;
  for (const x of list) {
    if (!finiteNonNegative(x.value)) return null;
    s += x.value;
  }
  return s;
}

const RATIO_SLACK = 1e-9;

function ratioOf(list: PromSample[] | undefined): number | null | 'bad' {
  if (!list || list.length === 0) return null;
  let best = -Infinity;
  for (const x of list) {
    if (!Number.isFinite(x.value) || x.value < -RATIO_SLACK || x.value > 1 + RATIO_SLACK) return 'bad';
    best = Math.max(best, x.value);
  }
  return Math.min(1, Math.max(0, best));
}

function configNumber(v: string | undefined): number | null {
  if (v === undefined || v === 'None' || v === '') return null;
  const x = parsePromNumber(v);
  return x !== null && Number.isFinite(x) ? x : null;
}

function configBool(v: string | undefined): boolean | null {
  if (v === 'True' || v === 'true') return true;
  if (v === 'False' || v === 'false') return false;
  return null;
}

// The bounds each histogram had last time, shared by every reading that has them again (nearly all do).
const MAX_KNOWN_BOUNDS = 64;
const knownBounds = new Map<string, readonly number[]>();

/** Equal bucket bounds (the same array, or the same numbers in the same order). */
export function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** `les` itself, or an equal array read before under `name`. */
function sharedBounds(name: string, les: number[]): readonly number[] {
  const known = knownBounds.get(name);
  if (known && sameBounds(known, les)) return known;
  if (known || knownBounds.size < MAX_KNOWN_BOUNDS) knownBounds.set(name, les);
  return les;
}

/** Histogram `name` from its `_bucket/_count/_sum` samples (summed over any other labels). */
function histogramOf(by: BySample, name: string, problems: string[]): Histogram | null {
  const buckets = by.get(`${name}_bucket`);
  const countS = by.get(`${name}_count`);
  const sumS = by.get(`${name}_sum`);
  if (!buckets && !countS && !sumS) return null;
  // Buckets come once each, in rising order of le, as a rule: then they are the sorted list as they
  // are. Buckets of one le in several series (other labels) are added up, and any order sorted.
  // Sized up front: arrays grown by push keep up to twice the room they need, and the counts live a tick.
  const list = buckets ?? [];
  let les = new Array<number>(list.length);
  let counts = new Array<number>(list.length);
  let inOrder = true;
  let bad: string | null = null;
  for (let k = 0; k < list.length; k++) {
    const b = list[k] as PromSample;
    const leText = b.labels.le;
    const le = leText === undefined ? null : parsePromNumber(leText);
    if (le === null || Number.isNaN(le)) {
      bad = 'bucket without a numeric le';
      break;
    }
    if (!finiteNonNegative(b.value)) {
      bad = 'bucket count not a finite non-negative number';
      break;
    }
    if (k > 0 && !(le > (les[k - 1] as number))) inOrder = false;
    // (0 + x: a -0 reads as 0, as it does as a Map key or sum)
    les[k] = 0 + le;
    counts[k] = 0 + b.value;
  }
  if (!inOrder) {
    const byLe = new Map<number, number>();
    les.forEach((le, i) => byLe.set(le, (byLe.get(le) ?? 0) + (counts[i] as number)));
    const sorted = [...byLe.entries()].sort((a, b) => a[0] - b[0]);
    les = sorted.map((e) => e[0]);
    counts = sorted.map((e) => e[1]);
  }
  if (!bad && les.length > 0 && les[les.length - 1] !== Infinity) bad = 'no +Inf bucket';
  if (!bad) {
    for (let i = 1; i < counts.length; i++) {
      if ((counts[i] as number) < (counts[i - 1] as number)) {
        bad = 'bucket counts not cumulative';
        break;
      }
    }
  }
  if (bad) {
    problems.push(`${name}: ${bad}`);
    return null;
  }
  return { les: sharedBounds(name, les), counts, count: sumOf(countS), sum: sumOf(sumS) };
}

function engineKeyOrder(a: string, b: string): number {
  const na = /^\d+$/.test(a) ? Number(a) : NaN;
  const nb = /^\d+$/.test(b) ? Number(b) : NaN;
  if (!Number.isNaN(na) && !Number.isNaN(nb)) return na - nb;
  if (!Number.isNaN(na)) return -1;
  if (!Number.isNaN(nb)) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A DP rank from an `engine` label: a plain decimal number up to a million, else null. */
export function rankOf(engine: string): number | null {
  return /^\d{1,7}$/.test(engine) && Number(engine) <= 1_000_000 ? Number(engine) : null;
}

// gaugeOf and counterOf are module functions, not closures made at each call: see TextParser in promText.ts.
/** A gauge summed over its series; a problem noted when it is there but not a finite non-negative number. */
function gaugeOf(by: BySample, name: string, problems: string[]): number | null {
  const list = by.get(name);
  const v = sumOf(list);
  if (v === null && list && list.length > 0) problems.push(`${name}: not a finite non-negative number`);
  return v;
}

/** A counter summed over its series: `name`, or `oldName` when only that is there (renamed across versions). */
function counterOf(by: BySample, problems: string[], name: string, oldName?: string): number | null {
  let used = name;
  let list = by.get(name);
  if (!list?.length && oldName !== undefined) {
    used = oldName;
    list = by.get(oldName);
  }
  if (!list || list.length === 0) return null;
  const v = sumOf(list);
  if (v === null) problems.push(`${used}: not a finite non-negative number`);
  return v;
}

function extractEngine(engine: string, by: BySample): EngineScrape {
  const problems: string[] = [];
  const modelNames: string[] = [];
  for (const list of by.values()) {
    for (const s of list) {
      const m = s.labels.model_name;
      if (m !== undefined && !modelNames.includes(m) && modelNames.length < 16) modelNames.push(m);
    }
  }

  let kvCacheUsage: number | null = null;
  let kvCacheUsageMetric: EngineScrape['kvCacheUsageMetric'] = null;
  for (const name of KV_USAGE_METRICS) {
    const r = ratioOf(by.get(name));
    if (r === 'bad') {
      problems.push(`${name}: outside 0..1`);
      continue;
    }
    if (r !== null) {
      kvCacheUsage = r;
      kvCacheUsageMetric = name;
      break;
    }
  }

  let itl: Histogram | null = null;
  let itlMetric: EngineScrape['itlMetric'] = null;
  for (const name of ITL_METRICS) {
    const present = by.has(`${name}_bucket`) || by.has(`${name}_count`);
    if (!present) continue;
    itl = histogramOf(by, name, problems);
    itlMetric = name;
    break;
  }

  let cacheConfig: CacheConfig | null = null;
  const cc = by.get('vllm:cache_config_info')?.[0];
  if (cc) {
    const raw: Record<string, string> = {};
    for (const [k, v] of Object.entries(cc.labels)) if (k !== 'engine') raw[k] = v;
    cacheConfig = {
      blockSize: configNumber(cc.labels.block_size),
      numGpuBlocks: configNumber(cc.labels.num_gpu_blocks),
      numCpuBlocks: configNumber(cc.labels.num_cpu_blocks),
      gpuMemoryUtilization: configNumber(cc.labels.gpu_memory_utilization),
      enablePrefixCaching: configBool(cc.labels.enable_prefix_caching),
      cacheDtype: cc.labels.cache_dtype ?? null,
      raw,
    };
  }

  let lora: LoraInfo | null = null;
  const loraSamples = by.get('vllm:lora_requests_info');
  if (loraSamples && loraSamples.length > 0) {
    // The value is the time of the last update: the latest series is the current state.
    const latest = loraSamples.reduce((a, b) => (b.value > a.value ? b : a));
    const list = (v: string | undefined): string[] =>
      (v ?? '')
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x.length > 0)
        .slice(0, 256);
    lora = {
      maxLora: configNumber(latest.labels.max_lora),
      running: list(latest.labels.running_lora_adapters),
      waiting: list(latest.labels.waiting_lora_adapters),
    };
  }

  const hitRate = by.get('vllm:gpu_prefix_cache_hit_rate');
  let v0PrefixCacheHitRate: number | null = null;
  if (hitRate && hitRate.length > 0) {
    const r = ratioOf(hitRate);
    v0PrefixCacheHitRate = r === 'bad' ? null : r; // -1 means "no queries yet"
  }

  return {
    engine,
    rank: rankOf(engine),
    modelNames,
    running: gaugeOf(by, 'vllm:num_requests_running', problems),
    waiting: gaugeOf(by, 'vllm:num_requests_waiting', problems),
    swapped: gaugeOf(by, 'vllm:num_requests_swapped', problems),
    kvCacheUsage,
    kvCacheUsageMetric,
    counters: {
      promptTokens: counterOf(by, problems, 'vllm:prompt_tokens_total'),
      generationTokens: counterOf(by, problems, 'vllm:generation_tokens_total'),
      preemptions: counterOf(by, problems, 'vllm:num_preemptions_total'),
      prefixCacheQueries: counterOf(by, problems, 'vllm:prefix_cache_queries_total', 'vllm:gpu_prefix_cache_queries_total'),
      prefixCacheHits: counterOf(by, problems, 'vllm:prefix_cache_hits_total', 'vllm:gpu_prefix_cache_hits_total'),
      requestSuccess: counterOf(by, problems, 'vllm:request_success_total'),
    },
    histograms: {
      ttft: histogramOf(by, 'vllm:time_to_first_token_seconds', problems),
      itl,
      e2e: histogramOf(by, 'vllm:e2e_request_latency_seconds', problems),
    },
    itlMetric,
    v0Throughput: {
      prompt: gaugeOf(by, 'vllm:avg_prompt_throughput_toks_per_s', problems),
      generation: gaugeOf(by, 'vllm:avg_generation_throughput_toks_per_s', problems),
    },
    v0PrefixCacheHitRate,
    cacheConfig,
    lora,
    problems,
  };
}

/** Most engines one scrape may describe; more `engine` label values than this are ignored. */
export const MAX_ENGINES_PER_SCRAPE = 256;

/** The vLLM engines in one parsed /metrics exposition. */
export function extractVllmMetrics(expo: PromExposition): VllmMetrics {
  const perEngine = new Map<string, BySample>();
  for (const [name, list] of expo.byName) {
    if (!name.startsWith('vllm:')) continue;
    for (const s of list) {
      const key = s.labels.engine ?? '0';
      let by = perEngine.get(key);
      if (!by) {
        if (perEngine.size >= MAX_ENGINES_PER_SCRAPE) continue;
        by = new Map();
        perEngine.set(key, by);
      }
      const l = by.get(name);
      if (l) l.push(s);
      else by.set(name, [s]);
    }
  }
  const engines = [...perEngine.keys()].sort(engineKeyOrder).map((k) => extractEngine(k, perEngine.get(k) as BySample));
  const start = expo.byName.get('process_start_time_seconds')?.[0]?.value;
  return {
    engines,
    processStartTimeSeconds: start !== undefined && Number.isFinite(start) && start > 0 ? start : null,
    skippedLines: expo.skipped,
  };
}

/** Parses /metrics text and extracts the engines. Throws PromLimitError on over-limit input. */
export function parseVllmMetrics(text: string, options?: PromParseOptions): VllmMetrics {
  return extractVllmMetrics(parsePromText(text, options));
}

/** Every family extractVllmMetrics reads; the rest of a scrape (python_*, http_*, other vllm:*) is not needed. */
export const READ_FAMILIES: ReadonlySet<string> = new Set([
  'process_start_time_seconds',
  ...KV_USAGE_METRICS,
  ...ITL_METRICS,
  'vllm:avg_generation_throughput_toks_per_s',
  'vllm:avg_prompt_throughput_toks_per_s',
  'vllm:cache_config_info',
  'vllm:e2e_request_latency_seconds',
  'vllm:generation_tokens_total',
  'vllm:gpu_prefix_cache_hit_rate',
  'vllm:gpu_prefix_cache_hits_total',
  'vllm:gpu_prefix_cache_queries_total',
  'vllm:lora_requests_info',
  'vllm:num_preemptions_total',
  'vllm:num_requests_running',
  'vllm:num_requests_swapped',
  'vllm:num_requests_waiting',
  'vllm:prefix_cache_hits_total',
  'vllm:prefix_cache_queries_total',
  'vllm:prompt_tokens_total',
  'vllm:request_success_total',
  'vllm:time_to_first_token_seconds',
]);

/** The histograms among READ_FAMILIES: their samples are `_bucket`, `_sum` and `_count`. */
const READ_HISTOGRAMS: ReadonlySet<string> = new Set(['vllm:e2e_request_latency_seconds', 'vllm:time_to_first_token_seconds', ...ITL_METRICS]);

/**
 * The sample names extractVllmMetrics reads, as prometheus_client's `name[]` filter on /metrics
 * takes them (it matches sample names, not family names): vLLM then renders a quarter of its text.
 */
export const READ_SAMPLE_NAMES: readonly string[] = [...READ_FAMILIES].flatMap((f) => (READ_HISTOGRAMS.has(f) ? [`${f}_bucket`, `${f}_sum`, `${f}_count`] : [f]));

/** Whether extractVllmMetrics reads samples of this name (`_created` series and comments it never does). */
function wantedName(name: string): boolean {
  if (READ_FAMILIES.has(name)) return true;
  const base = name.replace(/_(bucket|sum|count|total)$/, '');
  return base !== name && (READ_FAMILIES.has(base) || READ_FAMILIES.has(`${base}_total`));
}

// The same few dozen names come in every scrape of every engine: each is looked at once. Bounded,
// since the names are the engine's text (past the bound, names are looked at every time).
const MAX_REMEMBERED_NAMES = 4096;
/** Names up to this long are remembered (longer ones are looked at every time). */
const MAX_REMEMBERED_NAME_BYTES = 512;
const wanted = new Map<string, boolean>();
/** The first characters of the names read (`v` of vllm:, `p` of process_start_time_seconds). */
const FIRST_CHARS: ReadonlySet<number> = new Set([...READ_FAMILIES].map((n) => n.charCodeAt(0)));

function isWanted(name: string): boolean {
  let w = wanted.get(name);
  if (w === undefined) {
    w = wantedName(name);
    // A copy: a name cut from a scrape's text would keep that whole text alive for good. Only names
    // of a sane length: one line may be megabytes of "name".
    if (wanted.size < MAX_REMEMBERED_NAMES && name.length <= MAX_REMEMBERED_NAME_BYTES) wanted.set(ownCopy(name), w);
  }
  return w;
}

/** Whether a metric name that reached position i of its line ends there (labels, a blank, the line's end). */
function endsName(text: string, i: number, nl: number): boolean {
  if (i >= nl) return true;
  const c = text.charCodeAt(i);
  return c === 123 /* { */ || c === 32 || c === 9 || c === 13 || c === 11 || c === 12;
}

/**
 * The sample lines of an exposition that extractVllmMetrics reads (and an OpenMetrics `# EOF`).
 * Three quarters of a vLLM scrape are series it never looks at, and HELP/TYPE lines and `_created`
 * series do not change what it reads: dropping them before parsing saves most of the parse on
 * every tick. One pass, kept lines copied in runs.
 */
export function keepReadFamilies(text: string): string {
  const out: string[] = [];
  const n = text.length;
  let runStart = -1;
  let pos = 0;
  let prevName = '';
  let prevLength = -1;
  let prevKeep = false;
  while (pos < n) {
    let nl = text.indexOf('\n', pos);
    if (nl < 0) nl = n;
    let keep: boolean;
    const c0 = text.charCodeAt(pos);
    if (c0 === 35 /* # */) keep = text.startsWith('# EOF', pos);
    else if (!FIRST_CHARS.has(c0)) keep = false; // python_*, http_*, …: most of a scrape, dropped unread
    else if (prevLength > 0 && text.startsWith(prevName, pos) && endsName(text, pos + prevLength, nl)) {
      // A family's lines come together (twenty buckets in a row): the same name as the line before
      // is the same answer, found by one native comparison rather than a walk over the name's
      // characters, then cutting and hashing it.
      keep = prevKeep;
    } else {
      // The metric name runs up to its labels or the first blank, as the parser reads it.
      let end = pos;
      while (!endsName(text, end, nl)) end++;
      prevName = text.slice(pos, end);
      prevLength = end - pos;
      prevKeep = keep = end > pos && isWanted(prevName);
    }
    if (keep) {
      if (runStart < 0) runStart = pos;
    } else if (runStart >= 0) {
      out.push(text.slice(runStart, pos));
      runStart = -1;
    }
    pos = nl + 1;
  }
  if (runStart >= 0) out.push(text.slice(runStart, n));
  return out.join('');
}

/** endsName on bytes. */
function endsNameAt(buf: Uint8Array, i: number, nl: number): boolean {
  if (i >= nl) return true;
  const c = buf[i] as number;
  return c === 123 /* { */ || c === 32 || c === 9 || c === 13 || c === 11 || c === 12;
}

let keptScratch = new Uint8Array(64 * 1024);

const wantedBytes = new Map<number, { bytes: Uint8Array; wanted: boolean }[]>();
let wantedBytesCount = 0;
/** Names remembered under one hash at most. */
const MAX_NAMES_PER_HASH = 4;

/** buf[a, a + len) and buf[b, b + len) hold the same bytes. */
function sameBytes(x: Uint8Array, a: number, y: Uint8Array, b: number, len: number): boolean {
  for (let k = 0; k < len; k++) if (x[a + k] !== y[b + k]) return false;
  return true;
}

/** isWanted of the name in buf[start, end) (ASCII), found by its bytes: no string made for a name seen before. */
function isWantedBytes(buf: Uint8Array, start: number, end: number, hash: number): boolean {
  const len = end - start;
  let list = wantedBytes.get(hash);
  if (list) for (const k of list) if (k.bytes.length === len && sameBytes(buf, start, k.bytes, 0, len)) return k.wanted;
  const wanted = isWanted(Buffer.from(buf.buffer, buf.byteOffset + start, len).toString('latin1'));
  // The hash is a plain one: names made to collide must not make a lookup scan a long list, so a
  // list holds a few names and the rest are read as strings; the table starts over when full, so
  // names seen later are still remembered.
  if (len <= MAX_REMEMBERED_NAME_BYTES && (!list || list.length < MAX_NAMES_PER_HASH)) {
    if (wantedBytesCount >= MAX_REMEMBERED_NAMES) {
      wantedBytes.clear();
      wantedBytesCount = 0;
      list = undefined;
    }
    wantedBytesCount++;
    const known = { bytes: buf.slice(start, end), wanted };
    if (list) list.push(known);
    else wantedBytes.set(hash, [known]);
  }
  return wanted;
}

/** Past this size, the scratch a large body made is let go once bodies are small again. */
const MAX_KEPT_SCRATCH = 1024 * 1024;

/**
 * keepReadFamilies of a body that is all ASCII (buffer.isAscii), read from its bytes: the same lines
 * kept, without decoding the whole body first (three quarters of it are dropped). Characters are bytes
 * in ASCII, so every test below is the one keepReadFamilies makes. Plain loops over a Uint8Array view:
 * Buffer's own indexOf, compare and copy cost more in argument checks than in work on lines this short.
 * The answer is a view into a buffer that the next call overwrites: a caller compares it with an
 * engine's last (lastParse.ts) before it decodes it (latin1, as the bytes are ASCII).
 */
export function keptLinesAscii(body: Buffer): Buffer {
  const buf = new Uint8Array(body.buffer, body.byteOffset, body.length);
  const n = buf.length;
  if (keptScratch.length > MAX_KEPT_SCRATCH && n <= MAX_KEPT_SCRATCH) keptScratch = new Uint8Array(64 * 1024);
  if (keptScratch.length < n) keptScratch = new Uint8Array(n);
  const out = keptScratch;
  let w = 0;
  let runStart = -1;
  let pos = 0;
  let prevStart = -1;
  let prevLength = -1;
  let prevKeep = false;
  while (pos < n) {
    let nl = buf.indexOf(10, pos);
    if (nl < 0) nl = n;
    let keep: boolean;
    const c0 = buf[pos] as number;
    if (c0 === 35 /* # */) keep = nl - pos >= 5 && buf[pos + 1] === 32 && buf[pos + 2] === 69 && buf[pos + 3] === 79 && buf[pos + 4] === 70; // "# EOF"
    else if (!FIRST_CHARS.has(c0)) keep = false;
    else if (prevLength > 0 && pos + prevLength <= n && sameBytes(buf, prevStart, buf, pos, prevLength) && endsNameAt(buf, pos + prevLength, nl)) {
      keep = prevKeep;
    } else {
      let end = pos;
      let hash = 0;
      while (!endsNameAt(buf, end, nl)) hash = (Math.imul(hash, 31) + (buf[end++] as number)) | 0;
      prevStart = pos;
      prevLength = end - pos;
      prevKeep = keep = end > pos && isWantedBytes(buf, pos, end, hash);
    }
    if (keep) {
      if (runStart < 0) runStart = pos;
    } else if (runStart >= 0) {
      out.set(buf.subarray(runStart, pos), w);
      w += pos - runStart;
      runStart = -1;
    }
    pos = nl + 1;
  }
  if (runStart >= 0) {
    out.set(buf.subarray(runStart, n), w);
    w += n - runStart;
  }
  return Buffer.from(out.buffer, out.byteOffset, w);
}
