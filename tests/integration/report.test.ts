// gpufleet-report against a real Prometheus scraping a simulated host and its engines (through the sidecar's
// engine discovery) for about two minutes, with a steady load: the reported quantiles are histogram_quantile
// over the window computed here from the raw bucket samples, the throughput is the simulator's own token
// count for the window, the manifest's hashes are the files', errors give the documented exit codes; then
// the same report from VictoriaMetrics (fed by Prometheus' remote write).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario } from '../../sidecar/src/sim/scenario.js';
import { RankAccumulator } from '../../sidecar/src/sim/engineMetrics.js';
import { freePort, json, ROOT, startSidecar, waitFor, type Running } from './harness.js';
import { startPrometheus, type Prometheus } from './prom.js';
import { startVictoriaMetrics, type Daemon } from './victoria.js';

const REPORT = join(ROOT, 'sidecar/dist/report/gpufleetReport.js');
const WINDOW_S = 120;

const SCENARIO = `
hostname: sim-report
description: two L40S, one steady engine each
gpus:
  - model: L40S
  - model: L40S
engines:
  - name: steady-a
    model: test/steady-a
    port: 18131
    gpus: [0]
    load: { base: 0.6, amplitude: 0, noise: 0 }
  - name: steady-b
    model: test/steady-b
    port: 18132
    gpus: [1]
    load: { base: 0.3, amplitude: 0, noise: 0 }
`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function report(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((res) => {
    const p = spawn(process.execPath, [REPORT, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => res({ code, stdout, stderr }));
  });
}

function parseCsv(text: string): Array<Record<string, string>> {
  // The report's cells hold no commas or quotes here (model names like test/steady-a).
  const [head, ...lines] = text.trimEnd().split('\r\n');
  const cols = (head as string).split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i] as string, v])));
}

/** Prometheus' histogram_quantile over cumulative bucket counts (le ascending, +Inf last), written out here. */
function quantile(q: number, buckets: Array<[number, number]>): { value: number; lower: number; upper: number } {
  const total = buckets[buckets.length - 1]?.[1] ?? 0;
  const rank = q * total;
  let i = buckets.findIndex(([, c]) => c >= rank);
  if (i === buckets.length - 1) i = buckets.length - 2; // the +Inf bucket answers the highest finite bound
  const [upper, count] = buckets[i] as [number, number];
  const [lower, below] = i === 0 ? [0, 0] : (buckets[i - 1] as [number, number]);
  if (!Number.isFinite(upper)) return { value: lower, lower, upper: lower };
  return { value: lower + ((upper - lower) * (rank - below)) / (count - below), lower, upper };
}

describe('gpufleet-report', () => {
  let sidecar: Running;
  let prom: Prometheus;
  let vm: Daemon | null = null;
  let dir: string;
  let epochMs: number;
  let from: number;
  let to: number;
  const engineOf: Record<string, string> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gpufleet-report-'));
    writeFileSync(join(dir, 'sim-report.yaml'), SCENARIO);
    epochMs = Date.now();
    sidecar = await startSidecar(['--simulate', join(dir, 'sim-report.yaml'), '--interval', '1s'], { GPUFLEET_SIM_EPOCH: String(epochMs) });
    try {
      vm = await startVictoriaMetrics(join(ROOT, 'prometheus/scale-out/victoria-metrics.flags'), { 'search.latencyOffset': '2s' });
    } catch {
      vm = null; // the VictoriaMetrics part is skipped below, saying so
    }
    const target = sidecar.base.replace('http://', '');
    prom = await startPrometheus(
      [
        'global: { scrape_interval: 1s, scrape_timeout: 1s }',
        'scrape_configs:',
        `  - { job_name: gpufleet-sidecar, static_configs: [{ targets: ['${target}'] }] }`,
        `  - { job_name: vllm-engines, http_sd_configs: [{ url: 'http://${target}/api/v1/sd/engines', refresh_interval: 1s }] }`,
        ...(vm ? ['remote_write:', `  - { url: '${vm.url}/api/v1/write', queue_config: { batch_send_deadline: 1s } }`] : []),
      ].join('\n'),
    );
    // Both engines scraped, then a whole window of steady data.
    await waitFor('both engines scraped', async () => {
      const r = await json(`${prom.url}/api/v1/query?query=${encodeURIComponent('vllm:generation_tokens_total')}`);
      for (const s of r.body.data.result) engineOf[s.metric.model] = s.metric.engine_id;
      return new Set(r.body.data.result.map((s: any) => s.metric.engine_id)).size === 2 ? true : undefined;
    }, 120_000);
    from = Math.ceil(Date.now() / 1000) * 1000 + 2000;
    to = from + WINDOW_S * 1000;
    await new Promise((r) => setTimeout(r, to - Date.now() + 2000));
  }, 400_000);

  afterAll(async () => {
    await prom?.stop();
    await vm?.stop();
    await sidecar?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const window = () => ['--from', new Date(from).toISOString(), '--to', String(to / 1000)];

  it('reports each engine, model, the total and each GPU; quantiles equal histogram_quantile over the window', async () => {
    const out = join(dir, 'all');
    const r = await report(['--prometheus', prom.url, ...window(), '--step', '5s', '--out', out, '--format', 'csv,json']);
    expect(r.stderr).not.toMatch(/warning: /);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`wrote ${join(out, 'metrics_summary.csv')}`);
    expect(r.stdout).toContain(`wrote ${join(out, 'MANIFEST.json')}`);
    const rows = parseCsv(readFileSync(join(out, 'metrics_summary.csv'), 'utf8'));
    expect(rows.map((x) => x.scope)).toEqual(['engine', 'engine', 'model', 'model', 'total', 'gpu', 'gpu']);

    // Raw bucket samples of the window, straight from the TSDB, and the quantile computed here.
    const raw = await json(
      `${prom.url}/api/v1/query?query=${encodeURIComponent(`vllm:time_to_first_token_seconds_bucket[${WINDOW_S}s]`)}&time=${to / 1000}`,
    );
    const increases = new Map<string, Map<number, number>>();
    for (const s of raw.body.data.result) {
      const values: Array<[number, string]> = s.values;
      let inc = 0;
      for (let i = 1; i < values.length; i++) {
        const a = Number((values[i - 1] as [number, string])[1]);
        const b = Number((values[i] as [number, string])[1]);
        inc += b >= a ? b - a : b; // a reset starts again from zero
      }
      const m = increases.get(s.metric.engine_id) ?? new Map<number, number>();
      m.set(s.metric.le === '+Inf' ? Infinity : Number(s.metric.le), inc);
      increases.set(s.metric.engine_id, m);
    }
    const bucketsOf = (ids: string[]) => {
      const sum = new Map<number, number>();
      for (const id of ids) for (const [le, c] of increases.get(id) ?? []) sum.set(le, (sum.get(le) ?? 0) + c);
      return [...sum.entries()].sort((a, b) => a[0] - b[0]);
    };
    const checks: Array<[Record<string, string>, string[]]> = [
      [rows.find((x) => x.scope === 'engine' && x.model === 'test/steady-a') as Record<string, string>, [engineOf['test/steady-a'] as string]],
      [rows.find((x) => x.scope === 'engine' && x.model === 'test/steady-b') as Record<string, string>, [engineOf['test/steady-b'] as string]],
      [rows.find((x) => x.scope === 'total') as Record<string, string>, Object.values(engineOf)],
    ];
    for (const [row, ids] of checks) {
      const buckets = bucketsOf(ids);
      expect(buckets.length).toBeGreaterThan(5);
      for (const [q, col] of [[0.5, 'ttft_p50_seconds'], [0.95, 'ttft_p95_seconds'], [0.99, 'ttft_p99_seconds']] as const) {
        const mine = quantile(q, buckets);
        const reported = Number(row[col]);
        // Same bucket, and within a twentieth of its width (Prometheus extrapolates the increases to the
        // window's edges; the ratios between buckets barely move).
        expect(reported).toBeGreaterThanOrEqual(mine.lower);
        expect(reported).toBeLessThanOrEqual(mine.upper);
        expect(Math.abs(reported - mine.value)).toBeLessThanOrEqual((mine.upper - mine.lower) / 20 + 1e-9);
      }
    }

    // The JSON holds the same rows.
    const body = JSON.parse(readFileSync(join(out, 'metrics_summary.json'), 'utf8'));
    expect(body.rows).toHaveLength(rows.length);
    expect(body.rows[0].ttft_p95_seconds).toBeCloseTo(Number(rows[0]?.ttft_p95_seconds), 12);
  });

  it("throughput is the simulator's token rate for the window within 2 %", async () => {
    const out = join(dir, 'rate');
    const r = await report(['--prometheus', prom.url, ...window(), '--step', '5s', '--out', out]);
    expect(r.code).toBe(0);
    const rows = parseCsv(readFileSync(join(out, 'metrics_summary.csv'), 'utf8'));
    const scenario = parseScenario(SCENARIO);
    let all = 0;
    for (const spec of scenario.engines) {
      // The fake engine adds each whole scenario second k once k + 1 has passed, so the counter's growth
      // over [from, to] is the seconds k with from < k + 1 ≤ to: the same code counts them here (starting
      // a second early). Prometheus sees the counter only at scrapes, so each edge may still be off by up
      // to a second's tokens (under 1 % of 120 s).
      const acc = new RankAccumulator(spec, 0, (from - epochMs) / 1000 - 1);
      acc.advanceTo((to - epochMs) / 1000);
      const expected = acc.generationTokens / WINDOW_S;
      all += expected;
      const row = rows.find((x) => x.scope === 'engine' && x.model === spec.model) as Record<string, string>;
      expect(Math.abs(Number(row.generation_tokens_per_second) / expected - 1)).toBeLessThan(0.02);
      expect(Math.abs(Number(row.generation_tokens) / acc.generationTokens - 1)).toBeLessThan(0.02);
    }
    const total = rows.find((x) => x.scope === 'total') as Record<string, string>;
    expect(Math.abs(Number(total.generation_tokens_per_second) / all - 1)).toBeLessThan(0.02);
  });

  it('--model selects that engine and the GPU it runs on; the manifest lists PromQL, build info and hashes', async () => {
    const out = join(dir, 'model');
    const r = await report(['--prometheus', prom.url, ...window(), '--step', '5s', '--out', out, '--model', 'test/steady-b', '--format', 'json,csv']);
    expect(r.code).toBe(0);
    const rows = parseCsv(readFileSync(join(out, 'metrics_summary.csv'), 'utf8'));
    expect(rows.filter((x) => x.scope === 'engine').map((x) => x.model)).toEqual(['test/steady-b']);
    const gpus = rows.filter((x) => x.scope === 'gpu');
    expect(gpus.map((x) => x.gpu_index)).toEqual(['1']);
    expect(Number(gpus[0]?.gpu_utilization_mean_ratio)).toBeGreaterThan(0);
    expect(Number(gpus[0]?.gpu_energy_joules)).toBeGreaterThan(0);

    const manifest = JSON.parse(readFileSync(join(out, 'MANIFEST.json'), 'utf8'));
    expect(manifest.window).toMatchObject({ start: new Date(from).toISOString(), end: new Date(to).toISOString(), seconds: WINDOW_S, step: '5s' });
    expect(manifest.selectors.model).toEqual(['test/steady-b']);
    expect(manifest.prometheus.buildInfo.version).toMatch(/^\d+\.\d+/);
    expect(manifest.rows).toEqual({ engine: 1, model: 1, total: 1, gpu: 1 });
    const p95 = manifest.columns.find((c: any) => c.name === 'ttft_p95_seconds');
    expect(p95.promql.engine).toContain('histogram_quantile(0.95, sum by (le, host, engine_id, model) (increase(vllm:time_to_first_token_seconds_bucket{model="test/steady-b"}[2m])))');
    // Each column's PromQL, run here, gives the cell.
    const again = await json(`${prom.url}/api/v1/query?query=${encodeURIComponent(p95.promql.engine)}&time=${to / 1000}`);
    expect(Number(again.body.data.result[0].value[1])).toBeCloseTo(Number(rows[0]?.ttft_p95_seconds), 12);
    for (const a of manifest.artifacts) {
      const bytes = readFileSync(join(out, a.file));
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(a.sha256);
      expect(bytes.length).toBe(a.bytes);
    }
    expect(manifest.artifacts.map((a: any) => a.file).sort()).toEqual(['metrics_summary.csv', 'metrics_summary.json']);
    // No temporary files left beside them.
    expect(readdirSync(out).sort()).toEqual(['MANIFEST.json', 'metrics_summary.csv', 'metrics_summary.json']);
  });

  it('errors give the documented exit codes and write nothing', async () => {
    const port = await freePort();
    const out = join(dir, 'errors');
    const down = await report(['--prometheus', `http://127.0.0.1:${port}`, '--last', '5m', '--out', out]);
    expect(down.code).toBe(3);
    expect(down.stderr).toMatch(/cannot reach Prometheus/);
    const empty = await report(['--prometheus', prom.url, ...window(), '--model', 'no/such-model', '--out', out]);
    expect(empty.code).toBe(4);
    expect(empty.stderr).toMatch(/no engine .* and no GPU/);
    const future = await report(['--prometheus', prom.url, '--from', String(Date.now() / 1000 + 3600), '--to', String(Date.now() / 1000 + 7200), '--out', out]);
    expect(future.code).toBe(5);
    const usage = await report(['--prometheus', prom.url, '--last', 'soon', '--out', out]);
    expect(usage.code).toBe(2);
    const notProm = await report(['--prometheus', sidecar.base, '--last', '5m', '--out', out]);
    expect(notProm.code).toBe(3);
    expect(existsSync(out)).toBe(false);
  });

  it('named windows: start, stop, and a report on one', async () => {
    const state = join(dir, 'windows.json');
    const start = await report(['window', 'start', 'bench-1', '--state-file', state]);
    expect(start.code).toBe(0);
    await new Promise((r) => setTimeout(r, 3000));
    const stop = await report(['window', 'stop', 'bench-1', '--state-file', state]);
    expect(stop.code).toBe(0);
    expect((await report(['window', 'list', '--state-file', state])).stdout).toMatch(/^bench-1\t\S+Z\t\S+Z {2}\d+s$/m);
    const out = join(dir, 'named');
    const r = await report(['--prometheus', prom.url, '--window', 'bench-1', '--step', '1s', '--state-file', state, '--out', out]);
    expect(r.code).toBe(0);
    const manifest = JSON.parse(readFileSync(join(out, 'MANIFEST.json'), 'utf8'));
    const saved = JSON.parse(readFileSync(state, 'utf8')).windows[0];
    expect(manifest.window.start).toBe(new Date(saved.startMs).toISOString());
    expect(manifest.window.source).toBe('--window bench-1');
  });

  it('the same report from VictoriaMetrics agrees with Prometheus', async () => {
    if (!vm) {
      console.warn('VictoriaMetrics did not start: its part is not checked');
      return;
    }
    const daemon = vm;
    // Prometheus has been writing to it all along: both engines' series at the window's end.
    await waitFor('VictoriaMetrics has the window', async () => {
      const r = await json(`${daemon.url}/api/v1/query?query=${encodeURIComponent('vllm:generation_tokens_total')}&time=${to / 1000}`);
      return r.body.data?.result?.length === 2 ? true : undefined;
    }, 60_000);
    const a = join(dir, 'vm');
    const b = join(dir, 'prom');
    const fromVm = await report(['--prometheus', daemon.url, ...window(), '--step', '5s', '--out', a]);
    expect(fromVm.stderr).not.toMatch(/warning: /);
    expect(fromVm.code).toBe(0);
    expect((await report(['--prometheus', prom.url, ...window(), '--step', '5s', '--out', b])).code).toBe(0);
    const rowsVm = parseCsv(readFileSync(join(a, 'metrics_summary.csv'), 'utf8'));
    const rowsProm = parseCsv(readFileSync(join(b, 'metrics_summary.csv'), 'utf8'));
    expect(rowsVm.map((x) => `${x.scope} ${x.model} ${x.gpu_index}`)).toEqual(rowsProm.map((x) => `${x.scope} ${x.model} ${x.gpu_index}`));
    for (let i = 0; i < rowsVm.length; i++) {
      // VictoriaMetrics does not extrapolate increase() to the window's edges: within a few percent.
      for (const col of ['generation_tokens_per_second', 'ttft_p50_seconds', 'gpu_power_mean_watts']) {
        const p = Number(rowsProm[i]?.[col] || NaN);
        const v = Number(rowsVm[i]?.[col] || NaN);
        if (Number.isNaN(p)) expect(Number.isNaN(v)).toBe(true);
        else expect(Math.abs(v / p - 1)).toBeLessThan(0.05);
      }
    }
  }, 180_000);
});
