// The fake engines' /metrics text: Python prometheus_client formatting, the families of each version, values
// that follow the load over time, and what the sidecar's own parsers read from it.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePromText } from '../engines/promText.js';
import { parseVllmMetrics, type EngineScrape } from '../engines/vllmMetrics.js';
import { deriveLoad } from '../engines/vllmLoad.js';
import { parseVllmModels, parseVllmVersion } from '../engines/vllmApi.js';
import { BUCKETS, buckets125, EngineMetricsModel, Hist, HttpStats, latencyAt, modelsBody, reasonCounts, shareWithin, versionBody } from './engineMetrics.js';
import { promFloat, pyRepr, restrictToSamples } from './promFormat.js';
import { execFileSync } from 'node:child_process';
import { READ_SAMPLE_NAMES } from '../engines/vllmMetrics.js';
import { CAPTURE_REGISTRY_PY } from '../testing/captureRegistry.js';
import { validateScenario } from './scenario.js';
import type { EngineSpec } from './engineScenario.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '../../../tests/fixtures/vllm');
const EPOCH = Date.UTC(2026, 0, 1);

function engine(extra: Record<string, unknown> = {}): EngineSpec {
  const s = validateScenario({
    gpus: [{ model: 'H100-SXM5-80GB' }, { model: 'H100-SXM5-80GB' }],
    engines: [{ name: 'e', model: 'Qwen/Qwen3-4B', port: 18001, gpus: [0], load: { base: 0.6, amplitude: 0.3, periodSeconds: 120 }, ...extra }],
  });
  return s.engines[0] as EngineSpec;
}

function render(spec: EngineSpec, startT: number, t: number, opts: { broken?: boolean; http?: HttpStats | null } = {}): string {
  const m = new EngineMetricsModel(spec, EPOCH, EPOCH + startT * 1000);
  return m.render({ nowMs: EPOCH + t * 1000, rankMemoryMiB: 73403, http: opts.http ?? null, brokenHistograms: opts.broken ?? false, cpuSeconds: 0.5 });
}

function scrape(text: string, engineLabel = '0'): EngineScrape {
  const m = parseVllmMetrics(text);
  const e = m.engines.find((x) => x.engine === engineLabel);
  if (!e) throw new Error(`no engine ${engineLabel}`);
  return e;
}

// The real capture through Debian's python3-prometheus-client: its whole text, and its answer to the
// sidecar's name[] filter (RestrictedRegistry), for the same registry.
const RESTRICT_PY = `${CAPTURE_REGISTRY_PY}
names = json.load(sys.stdin)
print(json.dumps({'whole': generate_latest(registry).decode(), 'restricted': generate_latest(registry.restricted_registry(names)).decode()}))
`;

describe('name[] filter (prometheus_client RestrictedRegistry)', () => {
  // Every capture, from 0.4.3 to 0.11.0: the names must cover all that any version's text is read for.
  it.each([
    'metrics_0.4.3_opt-125m_tp1_1-request.txt',
    'metrics_0.7.x_qwen2.5-coder-1.5b_lora-enabled_trimmed.txt',
    'metrics_0.10.1_ngc-25.09_qwen3-4b-fp8_tp1_6-requests.txt',
    'metrics_0.11.0_qwen1.5-0.5b-chat_tp1_idle.txt',
  ])("leaves of %s what prometheus_client leaves, for the sidecar's names, and reads the same", (name) => {
    const capture = fileURLToPath(new URL(`../../../tests/fixtures/vllm/${name}`, import.meta.url));
    const py = JSON.parse(execFileSync('/usr/bin/python3', ['-c', RESTRICT_PY, capture], { input: JSON.stringify(READ_SAMPLE_NAMES), encoding: 'utf8' })) as { whole: string; restricted: string };
    expect(py.restricted.length).toBeLessThan(py.whole.length);
    expect(restrictToSamples(py.whole, new Set(READ_SAMPLE_NAMES))).toBe(py.restricted);
    // What the sidecar reads from either is the same.
    expect(parseVllmMetrics(py.restricted)).toEqual(parseVllmMetrics(py.whole));
  });

  it('answers nothing when no sample is named that exists', () => {
    expect(restrictToSamples('# HELP a A.\n# TYPE a gauge\na 1.0\n', new Set(['b']))).toBe('');
  });
});

describe('number formatting (prometheus_client floatToGoString)', () => {
  it('matches the strings of the fixtures', () => {
    expect(promFloat(0)).toBe('0.0');
    expect(promFloat(6)).toBe('6.0');
    expect(promFloat(48906)).toBe('48906.0');
    expect(promFloat(0.24629998207092285)).toBe('0.24629998207092285');
    expect(promFloat(1771042457.4207425)).toBe('1.7710424574207425e+09');
    expect(promFloat(13720145920)).toBe('1.372014592e+010');
    expect(promFloat(1048576)).toBe('1.048576e+06');
    expect(promFloat(8982228992)).toBe('8.982228992e+09');
    expect(promFloat(0.001)).toBe('0.001');
    expect(promFloat(Infinity)).toBe('+Inf');
    expect(promFloat(-1)).toBe('-1.0');
    expect(pyRepr(1e-5)).toBe('1e-05');
    expect(pyRepr(1e16)).toBe('1e+16');
    expect(pyRepr(123.5)).toBe('123.5');
  });

  it('builds the 1-2-5 token buckets from max_model_len like vLLM', () => {
    expect(buckets125(32768)).toEqual([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000]);
    expect(buckets125(2048)).toEqual([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000]);
  });
});

describe('0.11.0 /metrics', () => {
  const spec = engine({ maxModelLen: 32768 });
  const text = render(spec, 0, 600);

  it('has the families of the 0.11.0 capture, in its order, with its bucket bounds', () => {
    const families = (s: string) =>
      s
        .split('\n')
        .filter((l) => l.startsWith('# TYPE '))
        .map((l) => l.split(' ').slice(2).join(' '));
    const fixture = readFileSync(join(fixtures, 'metrics_0.11.0_qwen1.5-0.5b-chat_tp1_idle.txt'), 'utf8');
    // http_* follow the traffic: compare the vLLM and process families.
    const strip = (l: string[]) => l.filter((f) => !f.startsWith('http_'));
    expect(strip(families(text))).toEqual(strip(families(fixture)));
    const bounds = (s: string, name: string) =>
      [...s.matchAll(new RegExp(`^${name}_bucket\\{engine="0",le="([^"]+)"`, 'gm'))].map((m) => m[1]);
    for (const h of ['vllm:time_to_first_token_seconds', 'vllm:inter_token_latency_seconds', 'vllm:e2e_request_latency_seconds', 'vllm:request_prompt_tokens', 'vllm:iteration_tokens_total']) {
      expect(bounds(text, h)).toEqual(bounds(fixture, h));
    }
  });

  it('parses cleanly with the sidecar parsers and reports load', () => {
    const expo = parsePromText(text);
    expect(expo.skipped).toBe(0);
    const e = scrape(text);
    expect(e.problems).toEqual([]);
    expect(e.modelNames).toEqual(['Qwen/Qwen3-4B']);
    expect(e.kvCacheUsageMetric).toBe('vllm:kv_cache_usage_perc');
    expect(e.itlMetric).toBe('vllm:inter_token_latency_seconds');
    expect(e.running).toBeGreaterThan(0);
    expect(e.kvCacheUsage).toBeGreaterThan(0);
    expect(e.kvCacheUsage).toBeLessThanOrEqual(1);
    expect(e.counters.promptTokens).toBeGreaterThan(0);
    expect(e.histograms.ttft?.count).toBeGreaterThan(0);
    expect(e.cacheConfig?.gpuMemoryUtilization).toBe(0.9);
    expect(parseVllmMetrics(text).processStartTimeSeconds).toBe(EPOCH / 1000);
  });

  it('grows counters and histograms with time and derives rates and percentiles from them', () => {
    const a = scrape(render(spec, 0, 300));
    const b = scrape(render(spec, 0, 360));
    for (const k of ['promptTokens', 'generationTokens', 'requestSuccess', 'prefixCacheQueries'] as const) {
      expect(b.counters[k] as number).toBeGreaterThan(a.counters[k] as number);
    }
    for (const h of ['ttft', 'itl', 'e2e'] as const) {
      const ha = a.histograms[h];
      const hb = b.histograms[h];
      expect(hb?.count).toBeGreaterThan(ha?.count as number);
      hb?.counts.forEach((c, i) => expect(c).toBeGreaterThanOrEqual(ha?.counts[i] as number));
    }
    const load = deriveLoad(a, b, 60, 0.9).load;
    expect(load.promptTokensPerSec).toBeGreaterThan(100);
    expect(load.generationTokensPerSec).toBeGreaterThan(50);
    expect(load.ttftSeconds.p50).toBeGreaterThan(0.01);
    expect(load.ttftSeconds.p95 as number).toBeGreaterThanOrEqual(load.ttftSeconds.p50 as number);
    expect(load.itlSeconds.p50).toBeGreaterThan(0.005);
    expect(load.e2eSeconds.p50).toBeGreaterThan(0.5);
  });

  it('follows the load: busier moments have more running requests, higher KV usage and slower tokens', () => {
    // base 0.6 ± 0.3 over 120 s: peak at t = 30, trough at t = 90.
    const peak = scrape(render(spec, 0, 30));
    const trough = scrape(render(spec, 0, 90));
    expect(peak.running as number).toBeGreaterThan(trough.running as number);
    expect(peak.kvCacheUsage as number).toBeGreaterThan(trough.kvCacheUsage as number);
  });

  it('slow-prefill makes the first token ten times slower and the queue three times longer', () => {
    const full = { load: { base: 1, amplitude: 0, periodSeconds: 60 } };
    const healthy = engine(full);
    const slow = engine({ ...full, faults: ['slow-prefill'] });
    const loadOf = (e: EngineSpec) => deriveLoad(scrape(render(e, 0, 300)), scrape(render(e, 0, 360)), 60, 0.9).load;
    const [h, s] = [loadOf(healthy), loadOf(slow)];
    expect(s.ttftSeconds.p50 as number).toBeGreaterThan(5 * (h.ttftSeconds.p50 as number));
    const [hw, sw] = [scrape(render(healthy, 0, 360)).waiting as number, scrape(render(slow, 0, 360)).waiting as number];
    expect(hw).toBeGreaterThan(5);
    expect(sw).toBe(3 * hw);
  });

  it('is deterministic for the same start and t, and resets on a restart', () => {
    expect(render(spec, 0, 500)).toBe(render(spec, 0, 500));
    const restarted = scrape(render(spec, 400, 500));
    expect(restarted.counters.promptTokens as number).toBeLessThan(scrape(render(spec, 0, 500)).counters.promptTokens as number);
    expect(parseVllmMetrics(render(spec, 400, 500)).processStartTimeSeconds).toBe(EPOCH / 1000 + 400);
  });

  it('counts its own /v1/models requests like the FastAPI instrumentator', () => {
    const http = new HttpStats();
    http.record('/v1/models', 'GET', 200, 0, 512, 0.002, EPOCH / 1000 + 5);
    http.record('/v1/models', 'GET', 200, 0, 512, 0.003, EPOCH / 1000 + 6);
    const t = render(spec, 0, 10, { http });
    expect(t).toContain('http_requests_total{handler="/v1/models",method="GET",status="2xx"} 2.0');
    expect(t).toContain('http_response_size_bytes_sum{handler="/v1/models"} 1024.0');
    expect(t).toContain('http_request_duration_highr_seconds_count 2.0');
  });
});

describe('other versions', () => {
  it('0.10.1: both KV names (old one deprecated), time_per_output_token only, like its capture', () => {
    const text = render(engine({ version: '0.10.1', maxModelLen: 8192 }), 0, 100);
    expect(text).toContain('# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.DEPRECATED: Use vllm:kv_cache_usage_perc instead.');
    expect(text).not.toContain('vllm:inter_token_latency_seconds');
    const fixture = readFileSync(join(fixtures, 'metrics_0.10.1_ngc-25.09_qwen3-4b-fp8_tp1_6-requests.txt'), 'utf8');
    const vllmFamilies = (s: string) => s.split('\n').filter((l) => l.startsWith('# TYPE vllm:')).map((l) => l.split(' ')[2]);
    expect(vllmFamilies(text)).toEqual(vllmFamilies(fixture));
    const e = scrape(text);
    expect(e.itlMetric).toBe('vllm:time_per_output_token_seconds');
    expect(e.kvCacheUsageMetric).toBe('vllm:kv_cache_usage_perc');
    expect(e.problems).toEqual([]);
  });

  it('0.7.3 (V0): no engine label, gpu_cache_usage_perc, swapped, LoRA info', () => {
    const spec = engine({ version: '0.7.3', launch: 'python-module', loraAdapters: ['sql'], maxModelLen: 4096 });
    const text = render(spec, 0, 200);
    expect(text).not.toContain('engine="');
    expect(text).not.toContain('_created');
    expect(text).toContain('vllm:lora_requests_info{max_lora="1"');
    const e = scrape(text);
    expect(e.kvCacheUsageMetric).toBe('vllm:gpu_cache_usage_perc');
    expect(e.swapped).not.toBeNull();
    expect(e.lora?.maxLora).toBe(1);
    expect(e.problems).toEqual([]);
    expect(e.histograms.ttft?.count).toBeGreaterThan(0);
  });

  it('DP=2: one API server exports series per `engine` label', () => {
    const s = validateScenario({
      gpus: [{ model: 'H100-SXM5-80GB' }, { model: 'H100-SXM5-80GB' }],
      engines: [{ name: 'dp', model: 'm/x', port: 18001, dataParallel: 2, gpus: [0, 1] }],
    });
    const m = parseVllmMetrics(render(s.engines[0] as EngineSpec, 0, 120));
    expect(m.engines.map((e) => e.engine)).toEqual(['0', '1']);
    expect(m.engines.every((e) => (e.counters.promptTokens as number) > 0 && e.cacheConfig !== null)).toBe(true);
    expect(m.engines[0]?.counters.promptTokens).not.toBe(m.engines[1]?.counters.promptTokens);
  });

  it('the bad-histograms fault breaks every histogram the way the parsers must survive', () => {
    const text = render(engine(), 0, 120, { broken: true });
    expect(parsePromText(text).skipped).toBe(0);
    const e = scrape(text);
    expect(e.histograms.ttft).toBeNull();
    expect(e.problems.some((p) => p.includes('not cumulative'))).toBe(true);
    expect(e.running).not.toBeNull(); // the rest still reads
  });
});

describe('/v1/models and /version', () => {
  it('lists served names and LoRA adapters in the shape of the 0.7.x capture', () => {
    const spec = engine({ servedModelName: ['qwen'], loraAdapters: ['sql', 'chat'], maxModelLen: 8192 });
    const body = modelsBody(spec, EPOCH, () => '0'.repeat(32));
    const fixture = JSON.parse(readFileSync(join(fixtures, 'v1-models_0.7.x_base-plus-2-lora-adapters.json'), 'utf8'));
    const ours = JSON.parse(body);
    expect(Object.keys(ours.data[0]).sort()).toEqual(Object.keys(fixture.data[0]).sort());
    expect(Object.keys(ours.data[0].permission[0]).sort()).toEqual(Object.keys(fixture.data[0].permission[0]).sort());
    const models = parseVllmModels(body);
    expect(JSON.stringify(models)).toContain('sql');
    expect(ours.data.map((d: any) => [d.id, d.parent, d.max_model_len])).toEqual([
      ['qwen', null, 8192],
      ['sql', 'qwen', null],
      ['chat', 'qwen', null],
    ]);
    expect(parseVllmVersion(versionBody(spec))).toBe('0.11.0');
  });

  it('splits finished requests by reason, each counter only growing', () => {
    let prev = reasonCounts(0);
    for (let n = 1; n < 400; n++) {
      const c = reasonCounts(n);
      expect(c.stop + c.length + c.abort).toBe(n);
      expect(c.stop >= prev.stop && c.length >= prev.length && c.abort >= prev.abort).toBe(true);
      prev = c;
    }
  });
});

describe('a known SLO attainment from the load profile', () => {
  // Constant load: every request of every second draws from one lognormal, so the share of requests within a
  // bucket bound over any window is that distribution's CDF at the bound.
  const steady = () => engine({ load: { base: 0.8, amplitude: 0, noise: 0 }, tensorParallel: 2, gpus: [0, 1] });

  it('keeps each bucket within one request of n·CDF(le), however few requests a second', () => {
    const h = new Hist(BUCKETS.ttftV1);
    // 1.4 requests a second on average (1 or 2 at a time): rounding each second's share went wrong here.
    let n = 0;
    for (let k = 0; k < 500; k++) {
      const add = k % 5 < 2 ? 2 : 1;
      h.observe(add, 0.2, 0.55);
      n += add;
    }
    BUCKETS.ttftV1.forEach((le, i) => {
      const expected = n * shareWithin({ median: 0.2, sigma: 0.55 }, le);
      expect({ le, diff: Math.abs((h.counts[i] as number) - expected) < 1 }).toEqual({ le, diff: true });
    });
    expect(h.count).toBe(n);
  });

  it('gives buckets that grow with le and with time', () => {
    const h = new Hist(BUCKETS.itlV1);
    let before = [...h.counts];
    for (let k = 0; k < 50; k++) {
      h.observe(3, 0.03 + 0.001 * k, 0.25);
      h.counts.forEach((c, i) => {
        expect(c).toBeGreaterThanOrEqual(before[i] as number);
        if (i > 0) expect(c).toBeGreaterThanOrEqual(h.counts[i - 1] as number);
      });
      before = [...h.counts];
    }
  });

  it('reports, between two scrapes, the attainment latencyAt predicts at every TTFT, ITL and e2e bound', () => {
    const spec = steady();
    const l = latencyAt(spec, 0, 100);
    // The distribution follows the load: λ = 0.8 on two GPUs.
    expect(l.ttft.median).toBeCloseTo(0.035 + 0.45 * 0.8 ** 3, 10);
    expect(latencyAt(spec, 0, 250)).toEqual(l);
    const a = scrape(render(spec, 0, 100));
    const b = scrape(render(spec, 0, 400));
    const check = (key: 'ttft' | 'itl' | 'e2e', d: { median: number; sigma: number }) => {
      const ha = a.histograms[key];
      const hb = b.histograms[key];
      const total = (hb?.count as number) - (ha?.count as number);
      expect(total).toBeGreaterThan(500);
      hb?.les.forEach((le, i) => {
        if (!Number.isFinite(le)) return;
        const bk = { le, count: hb.counts[i] as number };
        const share = (bk.count - (ha?.counts[i] as number)) / total;
        // Two floors (one per scrape): within two requests of the window's expectation.
        expect({ key, le: bk.le, near: Math.abs(share - shareWithin(d, bk.le)) <= 2 / total }).toEqual({ key, le: bk.le, near: true });
      });
    };
    check('ttft', l.ttft);
    check('e2e', l.e2e);
    // The parser reads vLLM 0.11's inter_token_latency (per token gap) as `itl`.
    check('itl', l.itlPerToken);
  });
});
