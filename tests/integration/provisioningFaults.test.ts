// Every alert rule fires on the `faults` scenario for the fault it is about, and only there: a real
// Prometheus with the repository's prometheus.yml and rule file scrapes a sidecar on the simulated faulty
// host, the test walks the scenario's clock through its fault windows (control file `t`), and each rule is
// evaluated in both forms: Grafana's (query → reduce → threshold, through Prometheus' query API) and
// Prometheus' own (pending or firing in /api/v1/alerts; `for` keeps most of them pending here).
import { evaluateGrafanaRule, loadGrafanaRules, type Evaluation, type GrafanaRule } from './grafanaRules.js';
import { json, ROOT, startSidecar, waitFor, type Running } from './harness.js';
import { gpufleetPrometheusConfig, prometheusAlerts, startPrometheus, type Prometheus } from './prom.js';

const rules = loadGrafanaRules(ROOT);
const rule = (uid: string): GrafanaRule => {
  const r = rules.find((x) => x.uid === uid);
  if (!r) throw new Error(`no rule ${uid}`);
  return r;
};

describe('alert rules on the faults scenario', () => {
  let sidecar: Running;
  let prom: Prometheus;
  let gpus: any[];

  beforeAll(async () => {
    sidecar = await startSidecar(['--simulate', 'faults', '--interval', '1s', '--docker-socket', 'none', '--nvidia-smi-timeout', '3s']);
    // 100 s into the 20-minute cycle: GPU 1 runs hot (60–300); the always-on faults are there too.
    sidecar.control({ t: 100 });
    prom = await startPrometheus(gpufleetPrometheusConfig(ROOT, sidecar.base.replace('http://', '')));
    gpus = await waitFor('six GPUs', async () => {
      const r = await json(`${sidecar.base}/api/v1/gpus`);
      return r.status === 200 && r.body.gpus.length === 6 ? r.body.gpus : undefined;
    }, 60_000);
  }, 120_000);

  afterAll(async () => {
    await prom?.stop();
    await sidecar?.stop();
  });

  const uuidOf = (index: number) => gpus.find((g) => g.index === index)?.uuid as string;

  /**
   * The id of the scenario's engine serving `model` on GPU `index`: the simulator listens on another port
   * when the scenario's is taken, so the id is looked up, not assumed.
   */
  async function engineId(model: string, index: number): Promise<string> {
    return waitFor(`the engine of ${model} on GPU ${index}`, async () => {
      const r = await json(`${sidecar.base}/api/v1/engines`);
      const found = (r.body.engines as any[]).filter((e) => e.model === model && e.workers.some((w: any) => w.gpuUuids.includes(uuidOf(index))));
      return found.length === 1 ? (found[0].id as string) : undefined;
    }, 60_000);
  }
  // faults.yaml: `hangs` answers nothing (Qwen2.5-0.5B on GPU 5), `overloaded` is at full load (Llama-3.1-8B on GPU 2).
  const hangs = () => engineId('Qwen/Qwen2.5-0.5B-Instruct', 5);
  const overloaded = () => engineId('meta-llama/Llama-3.1-8B-Instruct', 2);

  /** Waits until the rule's Grafana evaluation is Alerting and returns it. */
  async function firing(uid: string, timeoutMs = 60_000, until: (e: Evaluation) => boolean = () => true): Promise<Evaluation> {
    return waitFor(`${uid} alerting`, async () => {
      const e = await evaluateGrafanaRule(rule(uid), prom);
      return e.state === 'Alerting' && until(e) ? e : undefined;
    }, timeoutMs);
  }

  /** Waits until Prometheus' own evaluation has the alert pending or firing; returns its instances. */
  async function promAlert(name: string, timeoutMs = 30_000) {
    return waitFor(`${name} in Prometheus`, async () => {
      const list = (await prometheusAlerts(prom)).filter((a) => a.labels.alertname === name);
      return list.length ? list : undefined;
    }, timeoutMs);
  }

  describe('at t = 100 s (GPU 1 hot, plus the faults that never end)', () => {
    it('GPU temperature high: GPU 1 only', async () => {
      const e = await firing('gpufleet-gpu-temperature-high');
      expect(e.alerting.map((a) => a.labels.gpu_uuid)).toEqual([uuidOf(1)]);
      expect(e.alerting[0]?.value).toBeGreaterThan(85);
      expect((await promAlert('GpuTemperatureHigh')).map((a) => a.labels.gpu_index)).toEqual(['1']);
    });

    it('GPU memory nearly full: GPU 0 (a job plus an engine), not the vGPU host', async () => {
      const e = await firing('gpufleet-gpu-memory-nearly-full');
      expect(e.alerting.map((a) => a.labels.gpu_uuid)).toEqual([uuidOf(0)]);
      expect((await promAlert('GpuMemoryNearlyFull')).map((a) => a.labels.gpu_index)).toEqual(['0']);
    });

    it('vGPU instance saturated: the tenant-hog VM only', async () => {
      const e = await firing('gpufleet-vgpu-saturated');
      expect(e.alerting.map((a) => a.labels.vm_name)).toEqual(['tenant-hog']);
      await promAlert('VgpuInstanceSaturated');
    });

    it('MIG instance memory nearly full: the 1g.10gb at GI 9 only', async () => {
      const e = await firing('gpufleet-mig-memory-nearly-full');
      expect(e.alerting.map((a) => [a.labels.profile, a.labels.gi_id])).toEqual([['1g.10gb', '9']]);
      await promAlert('MigInstanceMemoryNearlyFull');
    });

    it('engine down: the engine that answers nothing, not the ones with a bad /metrics', async () => {
      const e = await firing('gpufleet-engine-down');
      expect(e.alerting.map((a) => a.labels.engine_id)).toEqual([await hangs()]);
      await promAlert('EngineDown');
    });

    it('KV cache nearly full and requests waiting: the overloaded engine only', async () => {
      const kv = await firing('gpufleet-engine-kv-cache-high');
      expect(kv.alerting.map((a) => a.labels.engine_id)).toEqual([await overloaded()]);
      const waiting = await firing('gpufleet-engine-requests-waiting');
      expect(waiting.alerting.map((a) => a.labels.engine_id)).toEqual([await overloaded()]);
      await promAlert('EngineKvCacheHigh');
      await promAlert('EngineRequestsWaiting');
    });

    it('time to first token high: the overloaded engine, from its own histogram scraped through service discovery', async () => {
      const e = await firing('gpufleet-engine-ttft-high', 90_000);
      // Only that one: the engine with broken (non-monotonic) histograms is not mistaken for a slow one.
      expect(e.alerting.map((a) => a.labels.engine_id)).toEqual([await overloaded()]);
      expect(e.alerting[0]?.labels.model).toBe('meta-llama/Llama-3.1-8B-Instruct');
      await promAlert('EngineTimeToFirstTokenHigh');
    });

    it('SLO attainment below target: the overloaded engine\'s time to first token only, through the SLO recording rules', async () => {
      const e = await firing('gpufleet-engine-slo-attainment-low', 120_000);
      // Its prompts wait ten times longer (slow-prefill): few first tokens within 2.5 s. Its inter-token and
      // end-to-end latencies meet theirs, and the engine with broken histograms is not taken for a slow one.
      expect(e.alerting.map((a) => [a.labels.engine_id, a.labels.slo])).toEqual([[await overloaded(), 'ttft']]);
      expect(e.alerting[0]?.value).toBeLessThan(0.5);
      await promAlert('EngineSloAttainmentLow');
    });

    it('the rules about other faults stay quiet', async () => {
      for (const uid of ['gpufleet-gpu-xid-errors', 'gpufleet-gpu-lost', 'gpufleet-collector-failing', 'gpufleet-sidecar-down']) {
        expect({ uid, state: (await evaluateGrafanaRule(rule(uid), prom)).state }).toEqual({ uid, state: 'Normal' });
      }
    });
  });

  describe('at t = 535 s and 600 s (Xid 79 on GPU 2, then GPU 2 off the bus)', () => {
    let gpu2: string;
    beforeAll(() => {
      gpu2 = uuidOf(2);
      sidecar.control({ t: 535 });
    });

    it('GPU Xid errors: Xid 79 on GPU 2', async () => {
      const e = await firing('gpufleet-gpu-xid-errors');
      expect(e.alerting.map((a) => [a.labels.gpu_uuid, a.labels.xid])).toEqual([[gpu2, '79']]);
      expect((await promAlert('GpuXidErrors'))[0]?.state).toBe('firing');
    });

    it('GPU lost: GPU 2 once it is gone', async () => {
      sidecar.control({ t: 600 });
      const e = await firing('gpufleet-gpu-lost');
      expect(e.alerting.map((a) => a.labels.gpu_uuid)).toEqual([gpu2]);
      expect((await promAlert('GpuLost'))[0]?.state).toBe('firing');
    });
  });

  describe('at t = 905 s (every nvidia-smi call fails)', () => {
    it('collector failing: the gpu collector, and the sidecar itself is still up', async () => {
      sidecar.control({ t: 905 });
      // The vgpu query fails on its next tick; the long-running `-lms` loop needs its watchdog first.
      const e = await firing('gpufleet-collector-failing', 60_000, (x) => x.alerting.some((a) => a.labels.collector === 'gpu'));
      expect(e.alerting.map((a) => a.labels.collector)).not.toContain('engines');
      await promAlert('GpufleetCollectorFailing');
      expect((await evaluateGrafanaRule(rule('gpufleet-sidecar-down'), prom)).state).toBe('Normal');
    });
  });

  describe('with the sidecar stopped', () => {
    it('sidecar down fires', async () => {
      await sidecar.stop();
      const e = await firing('gpufleet-sidecar-down');
      expect(e.alerting.map((a) => a.labels.job)).toEqual(['gpufleet-sidecar']);
      await promAlert('GpufleetSidecarDown');
    });
  });
});
