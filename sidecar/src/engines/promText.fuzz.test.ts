// Fuzz: thousands of deterministic random mutations of the real vLLM /metrics captures go through
// the text parser, the vLLM extraction and the load math. Nothing may throw except the documented
// PromLimitError, every number that comes out must be a number (finite, NaN or ±Inf from the
// parser as the text says; finite or null from the extraction and the load), and every count must
// stay within its limit.

import type { EngineLoad } from '../model.js';
import { DEFAULT_PROM_LIMITS, parsePromText, PromLimitError, type PromLimits, type PromSample } from './promText.js';
import { deriveLoad, histogramQuantile } from './vllmLoad.js';
import { extractVllmMetrics, type EngineScrape } from './vllmMetrics.js';
import { metricsFixtureNames, prng, readVllmFixture } from './__tests__/fixtures.js';

const ITERATIONS = 3000;

const TOKENS = [
  '{',
  '}',
  '"',
  '\\',
  '\\"',
  '\\n',
  '\n',
  '\r\n',
  '=',
  ',',
  ' ',
  '\t',
  '#',
  '# HELP ',
  '# TYPE x histogram\n',
  '# EOF\n',
  'NaN',
  '+Inf',
  '-Inf',
  'Inf',
  '-1',
  '1e308',
  '1e999',
  '-0',
  '0x1F',
  'le="',
  'le="+Inf"',
  'le="NaN"',
  'engine="1"',
  'engine="0"',
  '\u001b[31m',
  '\u0000',
  '\u2028',
  '😀',
  'é',
  '__proto__="x"',
  'vllm:num_requests_running{engine="0"} 5\n',
  'vllm:kv_cache_usage_perc{engine="0"} 7\n',
  'vllm:time_to_first_token_seconds_bucket{engine="0",le="0.5"} 99999\n',
];

function mutate(text: string, rnd: () => number): string {
  const int = (n: number) => Math.floor(rnd() * n);
  // a window of the fixture, so that each case is small and different
  const start = int(text.length);
  let s = text.slice(start, start + 500 + int(6000));
  const ops = 1 + int(8);
  for (let k = 0; k < ops; k++) {
    const at = int(s.length + 1);
    switch (int(7)) {
      case 0:
        s = s.slice(0, at) + (TOKENS[int(TOKENS.length)] as string) + s.slice(at);
        break;
      case 1:
        s = s.slice(0, at) + s.slice(at + 1 + int(50));
        break;
      case 2: {
        const len = 1 + int(200);
        s = s.slice(0, at) + s.slice(at, at + len) + s.slice(at);
        break;
      }
      case 3:
        s = s.slice(0, at) + String.fromCharCode(int(0x3000)) + s.slice(at + 1);
        break;
      case 4: {
        const lines = s.split('\n');
        const a = int(lines.length);
        const b = int(lines.length);
        [lines[a], lines[b]] = [lines[b] as string, lines[a] as string];
        s = lines.join('\n');
        break;
      }
      case 5:
        s = s.slice(0, at);
        break;
      default:
        // change a digit: breaks monotonic buckets and counters
        s = s.replace(/\d/, () => String(int(10)));
    }
  }
  return s;
}

function expectFiniteOrNull(v: number | null | undefined, what: string): void {
  if (v === null) return;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${what} = ${String(v)}`);
}

function checkScrape(e: EngineScrape): void {
  for (const k of ['running', 'waiting', 'swapped', 'kvCacheUsage'] as const) expectFiniteOrNull(e[k], k);
  if (e.kvCacheUsage !== null && !(e.kvCacheUsage >= 0 && e.kvCacheUsage <= 1)) throw new Error(`kv ${e.kvCacheUsage}`);
  for (const [k, v] of Object.entries(e.counters)) expectFiniteOrNull(v, k);
  for (const h of Object.values(e.histograms)) {
    if (!h) continue;
    let last = 0;
    if (h.les.length !== h.counts.length) throw new Error('bounds and counts differ in length');
    for (const c of h.counts) {
      if (!(Number.isFinite(c) && c >= last)) throw new Error('bucket counts not cumulative');
      last = c;
    }
    expectFiniteOrNull(histogramQuantile(0.5, h), 'p50 of cumulative');
  }
}

function checkLoad(load: EngineLoad): void {
  expectFiniteOrNull(load.running, 'running');
  expectFiniteOrNull(load.waiting, 'waiting');
  expectFiniteOrNull(load.kvCacheUsage, 'kvCacheUsage');
  expectFiniteOrNull(load.promptTokensPerSec, 'promptTokensPerSec');
  expectFiniteOrNull(load.generationTokensPerSec, 'generationTokensPerSec');
  expectFiniteOrNull(load.preemptions, 'preemptions');
  for (const q of [load.ttftSeconds, load.itlSeconds, load.e2eSeconds]) {
    expectFiniteOrNull(q.p50, 'p50');
    expectFiniteOrNull(q.p95, 'p95');
  }
}

describe('fuzz: mutated vLLM /metrics captures', () => {
  const fixtures = metricsFixtureNames().map((n) => readVllmFixture(n));
  const baselines = fixtures.map((t) => extractVllmMetrics(parsePromText(t)).engines[0] as EngineScrape);

  it(`${ITERATIONS} mutations: no unexpected throw, bounded counts, numbers only`, () => {
    const rnd = prng(0x5eed);
    let limitErrors = 0;
    let parsed = 0;
    let skippedSomething = 0;
    for (let it = 0; it < ITERATIONS; it++) {
      const which = Math.floor(rnd() * fixtures.length);
      const input = mutate(fixtures[which] as string, rnd);
      // One case in ten runs under tight limits, to reach the limit errors too.
      const tight = rnd() < 0.1;
      const limits: PromLimits = tight
        ? { ...DEFAULT_PROM_LIMITS, maxSamples: 40, maxFamilies: 12, maxLabels: 3, maxLabelValueLength: 20 }
        : DEFAULT_PROM_LIMITS;
      let expo;
      try {
        expo = parsePromText(input, { limits });
      } catch (e) {
        if (!(e instanceof PromLimitError)) throw new Error(`case ${it}: ${String(e)}\n${JSON.stringify(input.slice(0, 300))}`);
        limitErrors++;
        continue;
      }
      parsed++;
      if (expo.skipped > 0) skippedSomething++;
      expect(expo.samples.length).toBeLessThanOrEqual(limits.maxSamples);
      expect(expo.families.size).toBeLessThanOrEqual(limits.maxFamilies);
      expect(expo.skipped).toBeLessThanOrEqual(expo.lines);
      expect(expo.problems.length).toBeLessThanOrEqual(Math.min(expo.skipped, limits.maxProblems));
      let inFamilies = 0;
      for (const f of expo.families.values()) inFamilies += f.samples.length;
      expect(inFamilies).toBe(expo.samples.length);
      // (plain checks in the per-sample loop: expect() is too slow for millions of calls)
      for (const s of expo.samples) {
        if (typeof s.value !== 'number') throw new Error(`case ${it}: value ${String(s.value)}`);
        const labels = Object.values(s.labels);
        if (labels.length > limits.maxLabels) throw new Error(`case ${it}: ${labels.length} labels`);
        for (const v of labels) {
          if (typeof v !== 'string' || v.length > limits.maxLabelValueLength) throw new Error(`case ${it}: label value`);
        }
        if (s.timestamp !== null && !Number.isFinite(s.timestamp)) throw new Error(`case ${it}: timestamp`);
      }

      const vllm = extractVllmMetrics(expo);
      for (const e of vllm.engines) {
        checkScrape(e);
        const base = baselines[which] as EngineScrape;
        checkLoad(deriveLoad(base, e, 10, 0.8).load);
        checkLoad(deriveLoad(e, base, 10, 0.8).load);
        checkLoad(deriveLoad(null, e, 0, 0.8).load);
      }
    }
    // The fuzzer did reach both the error path and the skip path.
    expect(limitErrors).toBeGreaterThan(0);
    expect(skippedSomething).toBeGreaterThan(ITERATIONS / 4);
    expect(parsed + limitErrors).toBe(ITERATIONS);
  });

  it('a name or label value recognised in place reads as the same line read on its own', () => {
    // Each line parsed alone has nothing seen before to recognise: it is read afresh, the reference.
    const rnd = prng(0xcafe);
    const plain = (list: readonly { name: string; labels: Record<string, string>; value: number; timestamp: number | null }[]) =>
      list.map((x) => [x.name, { ...x.labels }, x.value, x.timestamp]);
    let compared = 0;
    for (let it = 0; it < 600; it++) {
      const input = mutate(fixtures[Math.floor(rnd() * fixtures.length)] as string, rnd);
      let whole;
      try {
        whole = parsePromText(input);
      } catch (e) {
        if (e instanceof PromLimitError) continue;
        throw e;
      }
      const alone: PromSample[] = [];
      for (const line of input.split('\n')) {
        const e = parsePromText(line);
        alone.push(...e.samples);
        if (e.eof) break;
      }
      expect(plain(whole.samples)).toEqual(plain(alone));
      compared += whole.samples.length;
    }
    expect(compared).toBeGreaterThan(5000);
  });
});

