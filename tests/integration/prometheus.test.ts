// A real Prometheus (Debian's) scrapes the sidecar on the simulated demo host: the exposition parses,
// and the MIG/vGPU inventory Prometheus holds matches what the API says.
import { json, startSidecar, waitFor, type Running } from './harness.js';
import { startPrometheus, type Prometheus } from './prom.js';

describe('Prometheus scraping the sidecar', () => {
  let sidecar: Running;
  let prom: Prometheus;
  let promUrl: string;

  beforeAll(async () => {
    sidecar = await startSidecar(['--simulate', 'demo', '--interval', '1s']);
    const target = sidecar.base.replace('http://', '');
    prom = await startPrometheus(
      `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: gpufleet-sidecar\n    static_configs:\n      - targets: ['${target}']\n`,
    );
    promUrl = prom.url;
  });

  afterAll(async () => {
    await prom?.stop();
    await sidecar?.stop();
  });

  const query = (q: string) => prom.query(q);

  it('scrapes the target without errors', async () => {
    const up = await waitFor('target up', async () => {
      const r = await query('up{job="gpufleet-sidecar"}');
      return r[0]?.value[1] === '1' ? r : undefined;
    }, 30_000);
    expect(up).toHaveLength(1);
    const targets = await json(`${promUrl}/api/v1/targets`);
    expect(targets.body.data.activeTargets[0].lastError).toBe('');
  });

  it('holds the same MIG and vGPU inventory as the API', async () => {
    // On a loaded machine the first nvidia-smi answer can come after Prometheus' first scrape.
    const body = await waitFor('GPUs in the API', async () => {
      const r = await json(`${sidecar.base}/api/v1/gpus`);
      return r.status === 200 && r.body.gpus.length === 8 ? r.body : undefined;
    });
    const migs = body.gpus.flatMap((g: any) => g.mig.instances.map((m: any) => m.uuid)).sort();
    const vms = body.gpus.flatMap((g: any) => g.vgpu.instances.map((v: any) => v.vmName)).sort();
    const promMigs = await waitFor('MIG series', async () => {
      const r = await query('gpufleet_mig_instance_info');
      return r.length ? r : undefined;
    });
    expect(promMigs.map((r) => r.metric.mig_uuid).sort()).toEqual(migs);
    const promVms = (await query('gpufleet_vgpu_instance_info')).map((r) => r.metric.vm_name).sort();
    // A demo VM may attach or detach between the two reads; compare once both agree.
    if (promVms.join() !== vms.join()) {
      await waitFor('inventories agree', async () => {
        const a = (await json(`${sidecar.base}/api/v1/gpus`)).body.gpus.flatMap((g: any) => g.vgpu.instances.map((v: any) => v.vmName)).sort();
        const b = (await query('gpufleet_vgpu_instance_info')).map((r) => r.metric.vm_name).sort();
        return a.join() === b.join() ? true : undefined;
      });
    }
    const util = await query('gpufleet_gpu_utilization_ratio');
    // Whole GPUs and vGPU hosts report utilization; MIG GPUs do not (N/A).
    expect(util).toHaveLength(6);
    for (const r of util) expect(Number(r.value[1])).toBeGreaterThanOrEqual(0);
    for (const r of util) expect(Number(r.value[1])).toBeLessThanOrEqual(1);
  });
});
