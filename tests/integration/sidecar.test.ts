// The sidecar as an operator runs it, on the simulated host: the real CLI, the real collector code
// path (the fake nvidia-smi is just another executable), real HTTP, and Debian's promtool.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, json, startSidecar, waitFor, type Running } from './harness.js';

const ready = (s: Running) =>
  waitFor('first collection', async () => {
    const r = await json(`${s.base}/api/v1/gpus`);
    return r.status === 200 && r.body.gpus.length > 0 ? r.body : undefined;
  });

describe.each(['loop', 'spawn', 'query'])('demo host, nvidia-smi %s mode', (mode) => {
  let s: Running;
  beforeAll(async () => {
    s = await startSidecar(['--simulate', 'demo', '--interval', '1s', '--nvidia-smi-mode', mode]);
    await ready(s);
  });
  afterAll(async () => {
    await s.stop();
  });

  it('serves the 8 GPUs with their MIG instances and vGPU VMs', async () => {
    const { body } = await json(`${s.base}/api/v1/gpus`);
    expect(body.host).toBe('sim-demo');
    expect(body.gpus.map((g: any) => g.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const mig = body.gpus.filter((g: any) => g.mig.mode === 'enabled');
    expect(mig).toHaveLength(2);
    for (const g of mig) {
      expect(g.utilization.gpu).toBeNull(); // N/A under MIG, never 0
      expect(g.mig.instances.length).toBeGreaterThan(1);
      for (const m of g.mig.instances) {
        expect(m.uuid).toMatch(/^MIG-/);
        expect(m.profile).toMatch(/^\d+g\.\d+gb$/);
        expect(m.memory.totalBytes).toBeGreaterThan(0);
      }
    }
    const vgpuHosts = body.gpus.filter((g: any) => g.vgpu.hostMode !== 'none');
    expect(vgpuHosts).toHaveLength(2);
    const vms = vgpuHosts.flatMap((g: any) => g.vgpu.instances.map((v: any) => v.vmName));
    expect(vms.length).toBeGreaterThanOrEqual(5);
    for (const g of vgpuHosts) for (const v of g.vgpu.instances) expect(v.type).toMatch(/H100/);
    const whole = body.gpus.filter((g: any) => g.mig.mode !== 'enabled' && g.vgpu.hostMode === 'none');
    expect(whole).toHaveLength(4);
    for (const g of whole) expect(typeof g.utilization.gpu).toBe('number');
  });

  it('exposes the same on /metrics, in a format promtool accepts', async () => {
    const text = await (await fetch(`${s.base}/metrics`)).text();
    const count = (re: RegExp) => text.split('\n').filter((l) => re.test(l)).length;
    const { body } = await json(`${s.base}/api/v1/gpus`);
    const migCount = body.gpus.reduce((n: number, g: any) => n + g.mig.instances.length, 0);
    const vgpuCount = body.gpus.reduce((n: number, g: any) => n + g.vgpu.instances.length, 0);
    expect(count(/^gpufleet_gpu_info\{/)).toBe(8);
    expect(count(/^gpufleet_mig_instance_info\{/)).toBe(migCount);
    expect(count(/^gpufleet_vgpu_instance_info\{/)).toBe(vgpuCount);
    expect(text).toMatch(/^gpufleet_collector_up\{host="sim-demo",collector="gpu"\} 1$/m);
    // One host row, also when nothing else is known; the driver and CUDA versions the fake nvidia-smi reports.
    expect(text.split('\n').filter((l) => l.startsWith('gpufleet_host_info{'))).toEqual([
      expect.stringMatching(/^gpufleet_host_info\{host="sim-demo",version="[^"]+",driver_version="570\.124\.06",cuda_version="12\.8"\} 1$/),
    ]);
    // Every GPU has a process count; the training job's GPU is not free.
    expect(count(/^gpufleet_gpu_processes\{/)).toBe(8);
    expect(text).toMatch(/^gpufleet_gpu_processes\{host="sim-demo",gpu_uuid="[^"]+",gpu_index="7"\} [1-9]\d*$/m);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    // promtool prints parse errors and lint problems. prom-client's own nodejs_active_*_total gauges
    // break a naming rule; everything of ours must be clean.
    const problems = (check.stderr + check.stdout).split('\n').filter((l) => l.trim() && !/^nodejs_active_\w+_total /.test(l));
    expect(problems).toEqual([]);
  });

  it('answers a timeseries query from its history', async () => {
    await waitFor('three ticks of history', async () => {
      const r = await json(`${s.base}/api/v1/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ queries: [{ refId: 'A', kind: 'timeseries', metric: 'gpu.power', filters: { gpu: '0' } }] }),
      });
      return r.body.results?.A.frames[0]?.data.values[0].length >= 3 ? r : undefined;
    });
  });
});

describe('a failing nvidia-smi', () => {
  let s: Running;
  beforeAll(async () => {
    s = await startSidecar(['--simulate', 'small', '--interval', '500ms', '--nvidia-smi-mode', 'spawn', '--nvidia-smi-timeout', '1s']);
    await ready(s);
  });
  afterAll(async () => {
    await s.stop();
  });

  const health = async () => (await json(`${s.base}/api/v1/health`)).body;
  const errorsTotal = async (reason: string) => {
    const text = await (await fetch(`${s.base}/metrics`)).text();
    const m = new RegExp(`^gpufleet_collector_errors_total\\{host="[^"]+",collector="gpu",reason="${reason}"\\} (\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };

  it('garbage output: source failed with a parse error, last good GPUs still served with their age', async () => {
    s.control({ fault: 'garbage' });
    const h = await waitFor('gpu source failed', async () => {
      const b = await health();
      return b.sources.gpu.status === 'failed' ? b : undefined;
    });
    // The other sources (here the kernel log) still work.
    expect(h.status).toBe('degraded');
    expect(h.sources.gpu.error).toMatch(/^nvidia-smi -q -x: /);
    expect(await errorsTotal('parse')).toBeGreaterThan(0);
    const gpus = await json(`${s.base}/api/v1/gpus`);
    expect(gpus.status).toBe(200);
    expect(gpus.body.gpus).toHaveLength(1);
    expect(gpus.body.sources.gpu.status).toBe('failed');
    expect(gpus.body.sources.gpu.ageSeconds).toBeGreaterThan(0);
    // No stale GPU series on /metrics while failing.
    const text = await (await fetch(`${s.base}/metrics`)).text();
    expect(text).not.toMatch(/^gpufleet_gpu_info\{/m);
    expect(text).toMatch(/^gpufleet_collector_up\{host="[^"]+",collector="gpu"\} 0$/m);
    // The host stays known while its GPU source fails.
    expect(text).toMatch(/^gpufleet_host_info\{host="[^"]+",/m);
  });

  it('a hanging nvidia-smi is killed at the deadline and reported as a timeout', async () => {
    s.control({ fault: 'hang' });
    await waitFor('timeout reported', async () => ((await errorsTotal('timeout')) > 0 ? true : undefined));
    const h = await health();
    expect(h.sources.gpu.status).toBe('failed');
    expect(h.sources.gpu.error).toMatch(/no answer within 1000 ms/);
    // The API keeps answering quickly while nvidia-smi hangs.
    const t = Date.now();
    expect((await json(`${s.base}/api/v1/snapshot`)).status).toBe(200);
    expect(Date.now() - t).toBeLessThan(1000);
  });

  it('recovers when nvidia-smi answers again', async () => {
    s.control({});
    const h = await waitFor('gpu source ok', async () => {
      const b = await health();
      return b.sources.gpu.status === 'ok' ? b : undefined;
    });
    expect(h.status).toBe('ok');
  });

  it('an Xid in the kernel log becomes an event on its GPU and a count on /metrics', async () => {
    s.control({ fault: { kind: 'xid', gpu: 0, xid: 48 } });
    const ev = await waitFor('xid event', async () => {
      const r = await json(`${s.base}/api/v1/events?kind=xid`);
      return r.body.events.length ? r.body.events : undefined;
    });
    const { body } = await json(`${s.base}/api/v1/gpus`);
    expect(ev[0].subject).toBe(body.gpus[0].uuid);
    expect(ev[0].text).toMatch(/^Xid 48 on GPU 0 /);
    const text = await (await fetch(`${s.base}/metrics`)).text();
    expect(text).toMatch(new RegExp(`^gpufleet_gpu_xid_errors_total\\{host="sim-small",gpu_uuid="${body.gpus[0].uuid}",gpu_index="0",xid="48"\\} 1$`, 'm'));
    s.control({});
  });

  it('a GPU that disappears is reported lost, and back', async () => {
    s.control({ lostGpus: [0] });
    const lost = await waitFor('gpu-lost event', async () => {
      const r = await json(`${s.base}/api/v1/events?kind=gpu-lost`);
      return r.body.events.length ? r.body.events : undefined;
    });
    expect(lost[0].text).toMatch(/no longer reported/);
    const text = await (await fetch(`${s.base}/metrics`)).text();
    expect(text).toMatch(/^gpufleet_gpu_lost\{[^}]*gpu_index="0"[^}]*\} 1$/m);
    s.control({});
    await waitFor('gpu-back event', async () => {
      const r = await json(`${s.base}/api/v1/events?kind=gpu-back`);
      return r.body.events.length ? true : undefined;
    });
  });
});

describe('loop mode with a hanging nvidia-smi', () => {
  it('kills the silent child, reports a timeout, and restarts it when it answers again', async () => {
    const s = await startSidecar(['--simulate', 'small', '--interval', '500ms', '--nvidia-smi-mode', 'loop', '--nvidia-smi-timeout', '1s']);
    try {
      await ready(s);
      s.control({ fault: 'hang' });
      const h = await waitFor('gpu source failed', async () => {
        const b = (await json(`${s.base}/api/v1/health`)).body;
        return b.sources.gpu.status === 'failed' ? b : undefined;
      });
      expect(h.sources.gpu.error).toMatch(/no document within \d+ ms/);
      expect(s.logs()).toMatch(/printed nothing for \d+ ms; killing it/);
      s.control({});
      await waitFor('gpu source ok again', async () => {
        const b = (await json(`${s.base}/api/v1/health`)).body;
        return b.sources.gpu.status === 'ok' ? b : undefined;
      }, 40_000);
    } finally {
      await s.stop();
    }
  });
});

describe('the command line', () => {
  it('--help explains the options', () => {
    const out = execFileSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    expect(out).toMatch(/--simulate <scenario>/);
    expect(out).toMatch(/GPUFLEET_LISTEN/);
  });

  it('bad configuration exits 2 with a message naming the option', () => {
    for (const [args, named] of [[['--interval', 'often'], /--interval/], [['--max-series', '0'], /--max-series/], [['--bogus'], /--bogus/]] as const) {
      const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
      expect({ args, status: r.status }).toEqual({ args, status: 2 });
      expect(r.stderr).toMatch(named);
    }
  });

  it('an empty token file is refused at start', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpufleet-tok-'));
    try {
      writeFileSync(join(dir, 'token'), '\n');
      const r = spawnSync(process.execPath, [CLI, '--simulate', 'small', '--token-file', join(dir, 'token')], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/token-file.*empty/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing nvidia-smi leaves the API up with the source failed and says why', async () => {
    const s = await startSidecar(['--nvidia-smi', '/nonexistent/nvidia-smi', '--interval', '500ms', '--nvidia-smi-mode', 'spawn']);
    try {
      const h = await waitFor('failed source', async () => {
        const b = (await json(`${s.base}/api/v1/health`)).body;
        return b.sources.gpu.status === 'failed' ? b : undefined;
      });
      expect(h.sources.gpu.error).toMatch(/not found/);
    } finally {
      await s.stop();
    }
  });

  it('stops cleanly on SIGTERM', async () => {
    const s = await startSidecar(['--simulate', 'small']);
    await ready(s);
    expect(await s.stop()).toBe(0);
    expect(s.logs()).toMatch(/shutting down/);
  });
});
