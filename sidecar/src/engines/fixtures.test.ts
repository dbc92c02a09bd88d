// Every file in tests/fixtures/vllm goes through the parser for its kind here, with the values a
// user would read off it. A new fixture without an entry fails the first test.

import { parseVllmModels, parseVllmVersion } from './vllmApi.js';
import {
  classifyProcesses,
  parseLogPrefix,
  parseProcessComm,
  parseProcessRole,
  parseVllmCmdline,
  type ProcessRole,
} from './vllmCmdline.js';
import { deriveLoad, histogramQuantile } from './vllmLoad.js';
import { parseVllmMetrics, type EngineScrape, type Histogram } from './vllmMetrics.js';
import { readVllmFixture, vllmFixtureNames } from './__tests__/fixtures.js';

/** The same engine with every counter and histogram bucket at zero: "just started". */
function zeroed(e: EngineScrape): EngineScrape {
  const h = (x: Histogram | null): Histogram | null =>
    x && { les: x.les, counts: x.counts.map(() => 0), count: 0, sum: 0 };
  const counters = { ...e.counters };
  for (const k of Object.keys(counters) as (keyof typeof counters)[]) if (counters[k] !== null) counters[k] = 0;
  return { ...e, counters, histograms: { ttft: h(e.histograms.ttft), itl: h(e.histograms.itl), e2e: h(e.histograms.e2e) } };
}

function only(text: string): EngineScrape {
  const m = parseVllmMetrics(text);
  expect(m.skippedLines).toBe(0);
  expect(m.engines).toHaveLength(1);
  return m.engines[0] as EngineScrape;
}

/** Role without the parsed launch, for compact comparisons. */
function brief(r: ProcessRole | null): Omit<ProcessRole, 'launch'> | null {
  if (!r) return null;
  const rest: ProcessRole = { ...r };
  delete rest.launch;
  return rest;
}

/** pid → "name role [ranks]" for every prefixed line of a log; throws on a prefixed line with no parse. */
function logProcesses(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('(')) {
      expect(parseLogPrefix(line)).toBeNull();
      continue;
    }
    const p = parseLogPrefix(line);
    if (!p) throw new Error(`unparsed prefix: ${line.slice(0, 80)}`);
    for (const x of [...p.via, p]) {
      const r = x.role;
      const ranks = r ? ['dp', 'pp', 'tp', 'rank'].filter((k) => k in r).map((k) => `${k}${String(r[k as 'dp'])}`) : [];
      const desc = [x.name || '(unnamed)', r?.role ?? 'unknown', ...ranks, x.ip ?? ''].filter(Boolean).join(' ');
      const key = String(x.pid);
      // a named prefix wins over Ray's unnamed "(pid=N)" for the same process
      if (!out[key] || out[key]?.startsWith('(unnamed)')) out[key] = desc;
    }
  }
  return out;
}

/**
 * The argv of vLLM's "Launching Rust frontend: …" log line: Python joined it with blanks, and the last
 * argument, `--args-json`'s value, holds blanks itself.
 */
function rustArgv(log: string): string[] {
  const line = log.split('\n').find((l) => l.startsWith('Launching Rust frontend: ')) ?? '';
  const cmd = line.slice('Launching Rust frontend: '.length);
  const at = cmd.indexOf(' --args-json ');
  return [...cmd.slice(0, at).split(' '), '--args-json', cmd.slice(at + ' --args-json '.length)];
}

function rustLaunch(log: string) {
  return parseVllmCmdline(rustArgv(log));
}

const CHECKS: Record<string, (text: string) => void> = {
  'metrics_0.10.1_ngc-25.09_qwen3-4b-fp8_tp1_6-requests.txt': (text) => {
    const e = only(text);
    expect(e.engine).toBe('0');
    expect(e.modelNames).toEqual(['Qwen/Qwen3-4B-Instruct-2507-FP8']);
    expect([e.running, e.waiting, e.swapped]).toEqual([0, 0, null]);
    // 1 of the 850 GPU blocks in cache_config_info: a 0..1 ratio, not a percentage
    expect(e.kvCacheUsageMetric).toBe('vllm:kv_cache_usage_perc');
    expect(e.kvCacheUsage).toBeCloseTo(1 / 850, 12);
    expect(e.cacheConfig).toMatchObject({ blockSize: 16, numGpuBlocks: 850, gpuMemoryUtilization: 0.9, enablePrefixCaching: true });
    expect(e.counters).toEqual({
      promptTokens: 246,
      generationTokens: 1739,
      preemptions: 0,
      prefixCacheQueries: 246,
      prefixCacheHits: 80,
      requestSuccess: 6,
    });
    expect(e.itlMetric).toBe('vllm:time_per_output_token_seconds'); // inter_token_latency is 0.10.2+
    expect([e.histograms.ttft?.count, e.histograms.itl?.count, e.histograms.e2e?.count]).toEqual([6, 1733, 6]);
    // Six requests served since the start, read as one 60 s window from an empty engine:
    const d = deriveLoad(zeroed(e), e, 60, 0.85);
    expect(d.load.promptTokensPerSec).toBeCloseTo(246 / 60, 12);
    expect(d.load.generationTokensPerSec).toBeCloseTo(1739 / 60, 12);
    // TTFT buckets le 0.02 → 0, 0.04 → 4, 0.06 → 6. p50: rank 3 in (0.02, 0.04] holding 4:
    // 0.02 + 0.02·3/4 = 0.035. p95: rank 5.7, 1.7 of the 2 in (0.04, 0.06]: 0.04 + 0.02·0.85 = 0.057.
    expect(d.load.ttftSeconds.p50).toBeCloseTo(0.035, 12);
    expect(d.load.ttftSeconds.p95).toBeCloseTo(0.057, 12);
    // TPOT: 1731 of 1733 in (0.01, 0.025]: p50 = 0.01 + 0.015·866.5/1731, p95 = 0.01 + 0.015·1646.35/1731
    expect(d.load.itlSeconds.p50).toBeCloseTo(0.01 + (0.015 * 866.5) / 1731, 12);
    expect(d.load.itlSeconds.p95).toBeCloseTo(0.01 + (0.015 * 1646.35) / 1731, 12);
    // E2E: le 5 → 2, 10 → 4, 15 → 6. p50: rank 3, 1 of 2 in (5, 10] → 7.5; p95: 1.7 of 2 in (10, 15] → 14.25
    expect(d.load.e2eSeconds.p50).toBeCloseTo(7.5, 12);
    expect(d.load.e2eSeconds.p95).toBeCloseTo(14.25, 12);
    expect(d.load.preemptions).toBe(0);
    expect(d.prefixCacheHitRatio).toBeCloseTo(80 / 246, 12);
    expect(d.requestsPerSec).toBeCloseTo(0.1, 12);
    expect(d.busy).toBe(false);
  },
  'metrics_0.11.0_qwen1.5-0.5b-chat_tp1_idle.txt': (text) => {
    const e = only(text);
    expect(e.modelNames).toEqual(['Qwen/Qwen1.5-0.5B-Chat']);
    expect([e.running, e.waiting, e.kvCacheUsage, e.kvCacheUsageMetric]).toEqual([0, 0, 0, 'vllm:kv_cache_usage_perc']);
    expect(e.itlMetric).toBe('vllm:inter_token_latency_seconds'); // preferred over the deprecated TPOT
    expect(e.cacheConfig).toMatchObject({ numGpuBlocks: 2452, gpuMemoryUtilization: 0.25, raw: { kv_cache_memory_bytes: 'None' } });
    expect(Object.values(e.counters)).toEqual([0, 0, 0, 0, 0, 0]);
    // Idle between two scrapes: rates 0, no observations → no quantiles.
    const d = deriveLoad(e, e, 15, 0.85);
    expect([d.load.promptTokensPerSec, d.load.generationTokensPerSec, d.load.preemptions]).toEqual([0, 0, 0]);
    expect([d.load.ttftSeconds, d.load.itlSeconds, d.load.e2eSeconds]).toEqual([
      { p50: null, p95: null },
      { p50: null, p95: null },
      { p50: null, p95: null },
    ]);
    expect(d.prefixCacheHitRatio).toBeNull(); // no queries in the window
  },
  'metrics_0.4.3_opt-125m_tp1_1-request.txt': (text) => {
    const m = parseVllmMetrics(text);
    expect(m.processStartTimeSeconds).toBe(1718140558.3);
    const e = only(text);
    expect(e.engine).toBe('0'); // V0: no engine label
    expect(e.modelNames).toEqual(['facebook/opt-125m']);
    expect([e.running, e.waiting, e.swapped]).toEqual([0, 0, 0]);
    expect([e.kvCacheUsage, e.kvCacheUsageMetric]).toEqual([0, 'vllm:gpu_cache_usage_perc']);
    expect(e.counters).toMatchObject({ promptTokens: 5, generationTokens: 7, preemptions: 0, prefixCacheQueries: null });
    expect(e.v0Throughput).toEqual({ prompt: 0, generation: 0 });
    expect(e.cacheConfig).toMatchObject({ numGpuBlocks: 7281, numCpuBlocks: 0, enablePrefixCaching: false });
    // First scrape of a V0 engine: its own throughput gauges stand in for the rates.
    expect(deriveLoad(null, e, 0, 0.85).load.promptTokensPerSec).toBe(0);
    const d = deriveLoad(zeroed(e), e, 10, 0.85);
    // TTFT: the one request in (0.25, 0.5]: p50 = 0.25 + 0.25·0.5, p95 = 0.25 + 0.25·0.95
    expect(d.load.ttftSeconds.p50).toBeCloseTo(0.375, 12);
    expect(d.load.ttftSeconds.p95).toBeCloseTo(0.4875, 12);
    // TPOT: 6 in (0.025, 0.05]: p50 rank 3 → 0.0375, p95 rank 5.7 → 0.04875
    expect(d.load.itlSeconds.p50).toBeCloseTo(0.0375, 12);
    expect(d.load.itlSeconds.p95).toBeCloseTo(0.04875, 12);
    // E2E: the first bucket (0, 1.0] holds it: 0.5 and 0.95
    expect(d.load.e2eSeconds.p50).toBeCloseTo(0.5, 12);
    expect(d.load.e2eSeconds.p95).toBeCloseTo(0.95, 12);
    expect(d.load.generationTokensPerSec).toBeCloseTo(0.7, 12);
  },
  'metrics_0.7.x_qwen2.5-coder-1.5b_lora-enabled_trimmed.txt': (text) => {
    const e = only(text);
    expect(e.modelNames).toEqual(['Qwen/Qwen2.5-Coder-1.5B-Instruct']);
    expect([e.running, e.waiting, e.swapped, e.kvCacheUsage]).toEqual([0, 0, 0, 0]);
    expect(e.counters).toMatchObject({ promptTokens: 148, generationTokens: 955, requestSuccess: 4 });
    expect(e.v0PrefixCacheHitRate).toBeNull(); // -1.0: "no data"
    expect(e.lora).toEqual({ maxLora: 0, running: [], waiting: [] });
    expect(e.cacheConfig).toMatchObject({ numGpuBlocks: 81767, numCpuBlocks: 9362 });
    // trimmed by its author before the latency histograms
    expect(e.histograms).toEqual({ ttft: null, itl: null, e2e: null });
  },
  'process-listing_ps-ef_tp4_vllm-pr21445-dev.txt': (text) => {
    const rows = text
      .split('\n')
      .filter((l) => /^\w+\s+\d+\s+\d+/.test(l))
      .map((l) => {
        const f = l.trim().split(/\s+/);
        return { pid: Number(f[1]), ppid: Number(f[2]), argv: f.slice(7) };
      });
    expect(rows.map((r) => [r.pid, brief(parseProcessRole(r.argv))])).toEqual([
      [15593, { role: 'api-server', index: 0, source: 'title' }],
      [15954, null], // multiprocessing resource tracker
      [15955, { role: 'engine-core', index: 0, source: 'title' }],
      [16120, { role: 'worker', tp: 0, dp: 0, source: 'title' }],
      [16124, { role: 'worker', tp: 1, dp: 0, source: 'title' }],
      [16125, { role: 'worker', tp: 2, dp: 0, source: 'title' }],
      [16126, { role: 'worker', tp: 3, dp: 0, source: 'title' }],
    ]);
    const roles = classifyProcesses(rows);
    expect([...roles.keys()].sort()).toEqual([15593, 15955, 16120, 16124, 16125, 16126]);
  },
  'process-listing_ps_enginecore-stuck_tp1_unsloth-issue3331.txt': (text) => {
    const row = text.split('\n')[1]?.trim().split(/\s+/) ?? [];
    expect(row[0]).toBe('77637');
    expect(brief(parseProcessRole(row.slice(8)))).toEqual({ role: 'engine-core', source: 'title' });
  },
  'process-listing_pstree-ps_tp2_vllm-pr22205-before.txt': (text) => {
    // pstree shows comm (cut at 15 characters): only a weak fallback can name these.
    const names = [...text.matchAll(/([^\s─┬│└├]+)\((\d+)\)/g)].map((m) => [Number(m[2]), m[1] as string] as const);
    expect(names.map(([pid, comm]) => [pid, brief(parseProcessComm(comm))])).toEqual([
      [3093095, { role: 'api-server', source: 'comm' }], // "vllm": the vllm script
      [3096648, { role: 'engine-core', source: 'comm' }], // "VLLM::EngineCor"
      [3097681, null], // worker, but its comm is a path cut at 15: its cmdline (below) says more
      [3097705, null],
      [3096647, null], // "python3": the resource tracker
    ]);
    // ps shows the cmdline: the spawn bootstrap with the suffix appended by v0.10.0's title code
    const ps = text.split('\n').find((l) => l.startsWith('3097681 '));
    const argv = ps?.trim().split(/\s+/).slice(4) ?? [];
    expect(brief(parseProcessRole(argv))).toEqual({ role: 'worker', tp: 0, source: 'spawn-suffix' });
    expect(logProcesses(text)).toEqual({
      '1271000': 'EngineCore_0 engine-core dp0',
      '3996821': 'VllmWorker TP0 worker tp0',
      '3996847': 'VllmWorker TP1 worker tp1',
    });
  },
  'v1-models_0.7.x_base-plus-2-lora-adapters.json': (text) => {
    const m = parseVllmModels(text);
    expect(m.skipped).toBe(0);
    expect(m.models.map((x) => [x.id, x.parent, x.maxModelLen, x.ownedBy])).toEqual([
      ['Qwen/Qwen2.5-Coder-1.5B-Instruct', null, 32768, 'vllm'],
      ['lora-1', 'Qwen/Qwen2.5-Coder-1.5B-Instruct', null, 'vllm'],
      ['lora-2', 'Qwen/Qwen2.5-Coder-1.5B-Instruct', null, 'vllm'],
    ]);
    expect(m.tree.map((t) => [t.model.id, t.adapters.map((a) => [a.id, a.root])])).toEqual([
      [
        'Qwen/Qwen2.5-Coder-1.5B-Instruct',
        [
          ['lora-1', 'bharati2324/Qwen2.5-1.5B-Instruct-Code-LoRA-r16v2'],
          ['lora-2', 'bharati2324/Qwen2.5-1.5B-Instruct-Code-LoRA-r16v2'],
        ],
      ],
    ]);
  },
  'version_0.4.3_datadog-fixture.json': (text) => {
    expect(parseVllmVersion(text)).toBe('0.4.3');
  },
  'vllm-log_rust-frontend-launch_tp1_vllm-pr44183.log': (text) => {
    const l = rustLaunch(text);
    expect(l).toMatchObject({
      entrypoint: 'rust-frontend', listenFd: 18, model: 'HuggingFaceTB/SmolLM2-135M-Instruct', servedModelNames: ['HuggingFaceTB/SmolLM2-135M-Instruct'],
      portGiven: false, parallel: { tensor: 1, pipeline: 1, data: 1 }, problems: [],
    });
    expect(brief(parseProcessRole(rustArgv(text)))).toEqual({ role: 'api-server', source: 'launch' });
    expect(logProcesses(text)).toEqual({ '2502': 'RustFrontend api-server' });
  },
  'vllm-log_rust-frontend-launch_tp4_vllm-pr43825.log': (text) => {
    expect(rustLaunch(text)).toMatchObject({
      entrypoint: 'rust-frontend', listenFd: 38, model: '/new-model/MiniMax-M2.7', portGiven: false, parallel: { tensor: 4 }, problems: [],
    });
    // The frontend's own log says where it bound: the socket the `vllm serve` process handed it.
    expect(text).toMatch(/bind_address=0\.0\.0\.0:8000/);
  },
  'vllm-log_0.10.1.1_tp2-mp-same-node_process-prefixes.log': (text) => {
    expect(logProcesses(text)).toEqual({
      '3761': 'APIServer api-server',
      '3902': 'EngineCore_0 engine-core dp0',
      '3974': 'VllmWorker TP0 worker tp0',
      '3975': 'VllmWorker TP1 worker tp1',
    });
  },
  'vllm-log_0.10.1.1_tp2-ray-two-nodes_process-prefixes.log': (text) => {
    expect(logProcesses(text)).toEqual({
      '121': 'APIServer api-server',
      '1257': 'EngineCore_0 engine-core dp0',
      '1384': 'RayWorkerWrapper worker',
      '374': 'RayWorkerWrapper worker 10.254.6.219',
    });
  },
};

describe('tests/fixtures/vllm', () => {
  it('every fixture file has a check here, and PROVENANCE.md describes it', () => {
    expect(vllmFixtureNames()).toEqual(Object.keys(CHECKS).sort());
    const provenance = readVllmFixture('PROVENANCE.md');
    for (const name of vllmFixtureNames()) expect(provenance).toContain(`\`${name}\``);
  });

  it.each(Object.entries(CHECKS))('%s', (name, check) => {
    check(readVllmFixture(name));
  });

  it('the latency histograms answer the same quantile whichever way they are read', () => {
    // histogramQuantile on the cumulative fixture buckets equals the window from zero.
    const e = only(readVllmFixture('metrics_0.10.1_ngc-25.09_qwen3-4b-fp8_tp1_6-requests.txt'));
    expect(histogramQuantile(0.5, e.histograms.ttft ?? { les: [], counts: [] })).toBeCloseTo(0.035, 12);
  });
});
