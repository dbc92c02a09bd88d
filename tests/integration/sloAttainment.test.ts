// SLO attainment end to end: a real Prometheus, with the repository's prometheus.yml and rule files, scrapes a
// simulated host's vLLM engines through the sidecar's service discovery; the SLO recording rules' attainment
// at every bound the dashboard offers matches the simulator's known latency distribution (engines under a
// constant load: one lognormal per objective, sidecar/src/sim/engineMetrics.ts `latencyAt`), within what
// the buckets can resolve.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { OBJECTIVES, RECORD, type Objective } from '../../provisioning/generate/sloRules.js';
import { latencyAt, shareWithin, type LatencyDistribution } from '../../sidecar/src/sim/engineMetrics.js';
import { validateScenario } from '../../sidecar/src/sim/scenario.js';
import type { EngineSpec } from '../../sidecar/src/sim/engineScenario.js';
import { allSelected, interpolate, loadDashboards } from './dashboardQueries.js';
import { ROOT, startSidecar, waitFor, type Running } from './harness.js';
import { gpufleetPrometheusConfig, startPrometheus, type Prometheus } from './prom.js';

// Two engines under constant load, no noise: vLLM 0.11 (TTFT, per-request TPOT, e2e) with two data-parallel
// ranks of TP=2, and vLLM 0.10.1, which has only the per-token time_per_output_token.
const SCENARIO = `
hostname: sim-slo
driverVersion: "570.124.06"
cudaVersion: "12.8"
description: two engines under a constant load, for SLO attainment
gpus: [{ model: H100-SXM5-80GB }, { model: H100-SXM5-80GB }, { model: H100-SXM5-80GB }, { model: H100-SXM5-80GB }, { model: H100-SXM5-80GB }, { model: H100-SXM5-80GB }]
faults: []
engines:
  - name: steady-new
    model: meta-llama/Llama-3.1-8B-Instruct
    port: 18091
    version: "0.11.0"
    tensorParallel: 2
    dataParallel: 2
    gpus: [0, 1, 2, 3]
    load: { base: 0.9, amplitude: 0, noise: 0 }
  - name: steady-old
    model: Qwen/Qwen2.5-7B-Instruct
    port: 18092
    version: "0.10.1"
    tensorParallel: 2
    gpus: [4, 5]
    load: { base: 0.7, amplitude: 0, noise: 0 }
`;

/** Requests a window must hold before the shares are compared (each bucket is within two requests of exact). */
const MIN_REQUESTS = 300;
/** What the buckets resolve here: two requests in MIN_REQUESTS, and Prometheus' rate extrapolation. */
const TOLERANCE = 0.02;

describe('SLO attainment through Prometheus matches the simulator\'s known distribution', () => {
  const specs = validateScenario(parse(SCENARIO)).engines as EngineSpec[];
  let dir: string;
  let sidecar: Running;
  let prom: Prometheus;
  /** engine_id (host:port) → spec. */
  const byId = new Map<string, EngineSpec>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gpufleet-slo-'));
    const file = join(dir, 'slo.yaml');
    writeFileSync(file, SCENARIO);
    sidecar = await startSidecar(['--simulate', file, '--interval', '1s', '--docker-socket', 'none']);
    prom = await startPrometheus(gpufleetPrometheusConfig(ROOT, sidecar.base.replace('http://', '')));
    // Engines may land on other ports than the scenario's when those are taken: the model names them.
    const engines = await waitFor('both engines scraped through service discovery', async () => {
      const r = await prom.query('max by (engine_id, model) (up{job="vllm-engines"} == 1)');
      return r.length === 2 ? r : undefined;
    }, 120_000);
    for (const e of engines) {
      const spec = specs.find((s) => s.model === e.metric.model);
      if (spec) byId.set(e.metric.engine_id as string, spec);
    }
    await waitFor(`${MIN_REQUESTS} requests per engine in the rules' window`, async () => {
      const r = await prom.query(`${OBJECTIVES[2]?.record}{le="+Inf"} * 300`);
      return r.length === 2 && r.every((s) => Number(s.value[1]) >= MIN_REQUESTS) ? true : undefined;
    }, 150_000);
  }, 300_000);

  afterAll(async () => {
    await prom?.stop();
    await sidecar?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The distribution the simulator draws an objective from for this engine (its load is constant). */
  function distribution(spec: EngineSpec, o: Objective, basis: string | undefined): LatencyDistribution {
    const l = latencyAt(spec, 0, 0);
    if (o.key === 'ttft') return l.ttft;
    if (o.key === 'e2e') return l.e2e;
    return basis === 'request' ? l.itlPerRequest : l.itlPerToken;
  }

  it.each(OBJECTIVES.map((o) => [o.key, o]))('%s: the share within every dashboard bound, per engine', async (_k, o: Objective) => {
    const rows: Array<{ engine: string; le: string; basis?: string; measured: number; expected: number }> = [];
    for (const le of o.bounds) {
      // What the dashboard asks at threshold `le`, per engine.
      const r = await prom.query(`${o.record}{le="${le}"} / on (host, engine_id) group_left () ${o.record}{le="+Inf"}`);
      expect(r.map((s) => s.metric.engine_id).sort()).toEqual([...byId.keys()].sort());
      for (const s of r) {
        const spec = byId.get(s.metric.engine_id as string) as EngineSpec;
        const expected = shareWithin(distribution(spec, o, s.metric.basis), Number(le));
        rows.push({ engine: spec.name, le, basis: s.metric.basis, measured: Number(s.value[1]), expected });
      }
    }
    const off = rows.filter((x) => Math.abs(x.measured - x.expected) > TOLERANCE);
    expect(off).toEqual([]);
    // The ITL's basis follows what each version exports: per request from 0.11, per token gap before.
    if (o.key === 'itl') {
      expect(Object.fromEntries(rows.map((x) => [x.engine, x.basis]))).toEqual({ 'steady-new': 'request', 'steady-old': 'token' });
    }
    // The bounds resolve the distribution: somewhere between 10 % and 90 % of it lies a bound (a test where every
    // share were 0 or 1 would pass for any histogram).
    expect(rows.some((x) => x.expected > 0.1 && x.expected < 0.9)).toBe(true);
  });

  it('records the default objectives\' attainment the alert reads, per engine', async () => {
    const r = await prom.query(RECORD.attainment);
    const got = r.map((s) => {
      const spec = byId.get(s.metric.engine_id as string) as EngineSpec;
      const o = OBJECTIVES.find((x) => x.key === s.metric.slo) as Objective;
      expect(s.metric.le).toBe(o.default);
      return { engine: spec.name, slo: o.key, near: Math.abs(Number(s.value[1]) - shareWithin(distribution(spec, o, s.metric.basis), Number(o.default))) <= TOLERANCE };
    });
    expect(got.length).toBe(2 * OBJECTIVES.length);
    expect(got.filter((g) => !g.near)).toEqual([]);
  });

  it('per model, as the fleet dashboard sums engines', async () => {
    const o = OBJECTIVES[0] as Objective;
    const le = '0.25';
    const r = await prom.query(`sum by (model) (${o.record}{le="${le}"}) / sum by (model) (${o.record}{le="+Inf"})`);
    for (const s of r) {
      const spec = specs.find((x) => x.model === s.metric.model) as EngineSpec;
      expect({ model: spec.model, near: Math.abs(Number(s.value[1]) - shareWithin(latencyAt(spec, 0, 0).ttft, Number(le))) <= TOLERANCE }).toEqual({ model: spec.model, near: true });
    }
    expect(r.length).toBe(2);
  });

  // "What share of requests met the SLO", as the provisioned fleet dashboard's "SLO attainment by model" table
  // answers it: its own queries, thresholds set through its variables (TTFT 0.25 s, ITL 0.05 s, e2e 5 s).
  it('the fleet dashboard\'s "SLO attainment by model" table, with its threshold variables set', async () => {
    const fleet = loadDashboards(ROOT).find((d) => d.uid === 'gpufleet-fleet');
    const panel = fleet.panels.find((p: any) => p.title === 'SLO attainment by model');
    const thresholds: Record<string, string> = { ttft: '0.25', itl: '0.05', e2e: '5.0' };
    const vars = { ...allSelected(fleet), slo_ttft: thresholds.ttft!, slo_itl: thresholds.itl!, slo_e2e: thresholds.e2e! };
    const renamed = panel.transformations.find((t: any) => t.id === 'organize').options.renameByName as Record<string, string>;
    // The column named for the objective ("TTFT ≤ $slo_ttft s"), and its query.
    const target = (o: Objective) => {
      const ref = Object.entries(renamed).find(([, v]) => v === `${o.key.toUpperCase()} ≤ $slo_${o.key} s`)?.[0];
      return panel.targets.find((t: any) => `Value #${t.refId}` === ref);
    };
    const off: unknown[] = [];
    const shares: number[] = [];
    for (const o of OBJECTIVES) {
      const r = await prom.query(interpolate(target(o).expr, vars));
      expect(r.map((x) => x.metric.model).sort()).toEqual(specs.map((x) => x.model).sort());
      for (const x of r) {
        const spec = specs.find((y) => y.model === x.metric.model) as EngineSpec;
        // One engine per model here: the model's basis is its engine's (per request from vLLM 0.11).
        const basis = o.key === 'itl' ? (spec.version === '0.11.0' ? 'request' : 'token') : undefined;
        const expected = shareWithin(distribution(spec, o, basis), Number(thresholds[o.key]));
        if (Math.abs(Number(x.value[1]) - expected) > TOLERANCE) off.push({ model: spec.model, slo: o.key, measured: Number(x.value[1]), expected });
        shares.push(expected);
      }
    }
    expect(off).toEqual([]);
    // Thresholds inside the distributions: a share of 0 or 1 everywhere would pass for any histogram.
    expect(shares.filter((x) => x > 0.1 && x < 0.9).length).toBeGreaterThanOrEqual(3);
  });
});
