import type { Server } from 'node:http';
import { SourceTracker } from '../collectors/sourceTracker.js';
import type { Gpu, Snapshot } from '../model.js';
import { Store } from '../store/store.js';
import { createApp } from './app.js';
import { SidecarMetrics } from './metrics.js';
import { listenLoopback } from '../testing/listenLoopback.js';

const MiB = 1024 * 1024;

// Input data shaped like a real host: GPU 0 with MIG (two instances), GPU 1 a vGPU host with two VMs.
function gpus(): Gpu[] {
  const base = {
    host: 'node-a',
    utilization: { gpu: null, memory: null, encoder: null, decoder: null },
    temperatureC: 41,
    powerW: 120.5,
    powerLimitW: 700,
    clocks: { smMHz: 1980, memMHz: 2619 },
    eccUncorrectedVolatile: 0,
  };
  return [
    {
      ...base,
      uuid: 'GPU-aaaaaaaa-0000-0000-0000-000000000000',
      index: 0,
      name: 'NVIDIA H100 80GB HBM3',
      pciBusId: '00000000:18:00.0',
      memory: { totalBytes: 81559 * MiB, usedBytes: 11125 * MiB },
      mig: {
        mode: 'enabled',
        pendingMode: 'enabled',
        instances: [
          {
            uuid: 'MIG-11111111-0000-0000-0000-000000000000', index: 0, gpuInstanceId: 2, computeInstanceId: 0, profile: '3g.40gb',
            multiprocessorCount: 60, memory: { totalBytes: 40448 * MiB, usedBytes: 11091 * MiB },
            processes: [{ pid: 4242, name: 'python3', type: 'C', usedMemoryBytes: 11000 * MiB, gpuUuid: 'GPU-aaaaaaaa-0000-0000-0000-000000000000', migUuid: 'MIG-11111111-0000-0000-0000-000000000000' }],
          },
          {
            uuid: 'MIG-22222222-0000-0000-0000-000000000000', index: 1, gpuInstanceId: 9, computeInstanceId: 0, profile: '1g.10gb',
            multiprocessorCount: 16, memory: { totalBytes: 9984 * MiB, usedBytes: 9 * MiB }, processes: [],
          },
        ],
      },
      vgpu: { hostMode: 'none', schedulerPolicy: null, arr: null, instances: [] },
      processes: [{ pid: 4242, name: 'python3', type: 'C', usedMemoryBytes: 11000 * MiB, gpuUuid: 'GPU-aaaaaaaa-0000-0000-0000-000000000000', migUuid: 'MIG-11111111-0000-0000-0000-000000000000' }],
    },
    {
      ...base,
      uuid: 'GPU-bbbbbbbb-0000-0000-0000-000000000000',
      index: 1,
      name: 'NVIDIA H100 80GB HBM3',
      pciBusId: '00000000:2A:00.0',
      memory: { totalBytes: 81559 * MiB, usedBytes: 40960 * MiB },
      utilization: { gpu: 37, memory: 12, encoder: 0, decoder: 0 },
      mig: { mode: 'disabled', pendingMode: 'disabled', instances: [] },
      vgpu: {
        hostMode: 'sriov',
        schedulerPolicy: null,
        arr: null,
        instances: ['tenant-a', 'tenant-b'].map((vm, i) => ({
          id: String(3251634190 + i), uuid: `c47a3625-859f-11f1-84fe-00000000000${i}`, vmId: `vm-${i}`, vmName: vm,
          type: 'NVIDIA H100XM-20C', typeId: '1000', guestDriverVersion: null, licenseStatus: 'Licensed', gpuInstanceId: null,
          framebuffer: { totalBytes: 20480 * MiB, usedBytes: (1000 + i * 5000) * MiB },
          utilization: { gpu: 10 + i * 80, memory: 5, encoder: 0, decoder: 0 }, active: true, licensed: true,
        })),
      },
      processes: [],
    },
  ];
}

function snapshot(at: number, list = gpus()): Snapshot {
  return {
    host: { hostname: 'node-a', driverVersion: '570.124.06', cudaVersion: '12.8', collectedAt: new Date(at).toISOString(), sources: {} as Snapshot['host']['sources'] },
    gpus: list,
    engines: [],
  };
}

interface Ctx {
  server: Server;
  base: string;
  store: Store;
  sources: SourceTracker;
}

async function start(token: string | null = null, fill = true): Promise<Ctx> {
  const store = new Store({ capacity: 100, maxSeries: 1000 });
  const sources = new SourceTracker(60_000);
  sources.disable('engines', 'n/a');
  sources.disable('docker', 'n/a');
  sources.disable('xid', 'n/a');
  const metrics = new SidecarMetrics({ maxSeries: 1000, defaultMetrics: false });
  const now = Date.now();
  if (fill) {
    for (let i = 10; i >= 1; i--) {
      const list = gpus();
      (list[1] as Gpu).utilization.gpu = 100 - i;
      const snap = snapshot(now - i * 1000, list);
      store.record(snap, true);
      metrics.update(snap, []);
    }
    sources.success('gpu');
    sources.success('vgpu');
  }
  const app = createApp({ store, sources, metrics, version: '9.9.9', startedAt: performance.now() - 5000, token });
  const { server, base } = await listenLoopback(app);
  return { server, base, store, sources };
}

async function getJson(url: string, init?: RequestInit) {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const post = (base: string, body: unknown) =>
  getJson(`${base}/api/v1/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('API', () => {
  let ctx: Ctx;
  beforeAll(async () => {
    ctx = await start();
  });
  afterAll(() => ctx.server.close());

  it('health reports version and per-source status', async () => {
    const { status, body } = await getJson(`${ctx.base}/api/v1/health`);
    expect(status).toBe(200);
    expect(body.status).toBe('ok');
    expect(body.version).toBe('9.9.9');
    expect(body.sources.gpu.status).toBe('ok');
    expect(body.sources.engines.status).toBe('disabled');
  });

  it('health turns degraded with the failing source and its error when one source fails', async () => {
    ctx.sources.failure('vgpu', 'nvidia-smi vgpu -q: exit code 6');
    const { body } = await getJson(`${ctx.base}/api/v1/health`);
    expect(body.status).toBe('degraded');
    expect(body.sources.vgpu).toMatchObject({ status: 'failed', error: 'nvidia-smi vgpu -q: exit code 6' });
    expect(typeof body.sources.vgpu.ageSeconds).toBe('number');
    ctx.sources.success('vgpu');
  });

  it('serves GPUs with MIG and vGPU instances', async () => {
    const { body } = await getJson(`${ctx.base}/api/v1/gpus`);
    expect(body.gpus).toHaveLength(2);
    expect(body.gpus[0].mig.instances.map((m: any) => m.profile)).toEqual(['3g.40gb', '1g.10gb']);
    expect(body.gpus[1].vgpu.instances.map((v: any) => v.vmName)).toEqual(['tenant-a', 'tenant-b']);
  });

  it('finds a GPU by uuid, and by one of its MIG uuids', async () => {
    const a = await getJson(`${ctx.base}/api/v1/gpus/GPU-bbbbbbbb-0000-0000-0000-000000000000`);
    expect(a.body.index).toBe(1);
    const b = await getJson(`${ctx.base}/api/v1/gpus/MIG-22222222-0000-0000-0000-000000000000`);
    expect(b.body.uuid).toBe('GPU-aaaaaaaa-0000-0000-0000-000000000000');
    const c = await getJson(`${ctx.base}/api/v1/gpus/GPU-nope`);
    expect(c.status).toBe(404);
    expect(c.body.error.code).toBe('not-found');
  });

  it('topology links GPUs to their MIG and vGPU instances', async () => {
    const { body } = await getJson(`${ctx.base}/api/v1/topology`);
    const kinds = body.nodes.map((n: any) => n.kind).sort();
    expect(kinds).toEqual(['gpu', 'gpu', 'mig', 'mig', 'vgpu', 'vgpu']);
    expect(body.edges).toHaveLength(4);
    expect(body.edges).toContainEqual(
      expect.objectContaining({ source: 'gpu:GPU-aaaaaaaa-0000-0000-0000-000000000000', target: 'mig:MIG-11111111-0000-0000-0000-000000000000' }),
    );
  });

  it('answers a gpus query as a DataFrameJSON table', async () => {
    const { status, body } = await post(ctx.base, { queries: [{ refId: 'A', kind: 'gpus' }] });
    expect(status).toBe(200);
    const [frame] = body.results.A.frames;
    const names = frame.schema.fields.map((f: any) => f.name);
    expect(names).toContain('uuid');
    const col = (n: string) => frame.data.values[names.indexOf(n)];
    expect(col('index')).toEqual([0, 1]);
    expect(col('migInstances')).toEqual([2, 0]);
    expect(col('vgpuInstances')).toEqual([0, 2]);
    expect(col('utilization')).toEqual([null, 99]);
  });

  it('gpu query returns MIG and vGPU frames of one GPU, selected by index', async () => {
    const { body } = await post(ctx.base, { queries: [{ refId: 'D', kind: 'gpu', filters: { gpu: '1' } }] });
    const [mig, vgpu] = body.results.D.frames;
    expect(mig.data.values[0]).toEqual([]);
    const names = vgpu.schema.fields.map((f: any) => f.name);
    expect(vgpu.data.values[names.indexOf('vmName')]).toEqual(['tenant-a', 'tenant-b']);
    expect(vgpu.data.values[names.indexOf('utilization')]).toEqual([10, 90]);
  });

  it('timeseries returns one frame per matching series from the history', async () => {
    const { body } = await post(ctx.base, {
      queries: [{ refId: 'T', kind: 'timeseries', metric: 'gpu.utilization', filters: { gpu: ['1'] }, from: Date.now() - 60_000, to: Date.now() }],
    });
    const frames = body.results.T.frames;
    expect(frames).toHaveLength(1);
    expect(frames[0].schema.fields[1].labels.gpu).toBe('GPU-bbbbbbbb-0000-0000-0000-000000000000');
    expect(frames[0].data.values[1]).toEqual([90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
    const vg = await post(ctx.base, { queries: [{ refId: 'V', kind: 'timeseries', metric: 'vgpu.framebuffer.used', filters: { vm: 'tenant-b' } }] });
    expect(vg.body.results.V.frames).toHaveLength(1);
    expect(vg.body.results.V.frames[0].data.values[1][0]).toBe(6000 * MiB);
  });

  it.each([
    [{}, 'queries'],
    [{ queries: [{ refId: 'A', kind: 'nope' }] }, 'queries[0].kind'],
    [{ queries: [{ refId: 'A', kind: 'gpus', filters: { colour: 'red' } }] }, 'queries[0].filters'],
    [{ queries: [{ refId: 'A', kind: 'timeseries' }] }, 'queries[0].metric'],
    [{ queries: [{ refId: 'A', kind: 'gpus' }, { refId: 'B', kind: 'timeseries', metric: 'gpu.colour' }] }, 'queries[1].metric'],
    [{ queries: [{ refId: 'A', kind: 'gpus', from: 'yesterday' }] }, 'queries[0].from'],
    [{ queries: [{ refId: 'A', kind: 'gpu' }] }, 'queries[0].filters.gpu'],
  ])('rejects %j with 400 naming %s', async (body, field) => {
    const r = await post(ctx.base, body);
    expect(r.status).toBe(400);
    expect(r.body.error.field).toBe(field);
    expect(r.body.error.message).toContain(field);
  });

  it('puts a failed source on the frames of the queries that depend on it', async () => {
    ctx.sources.failure('vgpu', 'nvidia-smi vgpu -q: no answer within 10000 ms (killed)');
    try {
      const { body } = await post(ctx.base, { queries: [{ refId: 'A', kind: 'gpus' }, { refId: 'B', kind: 'engines' }] });
      expect(body.results.A.frames[0].schema.meta.notices).toEqual([
        expect.objectContaining({ severity: 'error', text: expect.stringMatching(/^vgpu source failed: nvidia-smi vgpu -q: no answer/) }),
      ]);
      expect(body.results.B.frames[0].schema.meta?.notices).toBeUndefined();
    } finally {
      ctx.sources.success('vgpu');
    }
  });

  it('topology nodes carry the detail fields the drill-down reads', async () => {
    const { body } = await post(ctx.base, { queries: [{ refId: 'T', kind: 'topology' }] });
    const [nodes, edges] = body.results.T.frames;
    expect(nodes.schema.meta.preferredVisualisationType).toBe('nodeGraph');
    const field = (n: string) => nodes.schema.fields.findIndex((f: any) => f.name === n);
    const row = nodes.data.values[field('kind')].indexOf('vgpu');
    expect(nodes.data.values[field('detail__vmName')][row]).toBe('tenant-a');
    expect(nodes.data.values[field('detail__utilizationGpu')][row]).toBe(10);
    expect(nodes.schema.fields[field('detail__licensed')].type).toBe('boolean');
    expect(nodes.data.values[field('detail__licensed')][row]).toBe(true);
    expect(edges.data.values[0]).toHaveLength(4);
  });

  it('answers malformed JSON with a 400, not a crash', async () => {
    const r = await getJson(`${ctx.base}/api/v1/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"queries": [' });
    expect(r.status).toBe(400);
    expect(r.body.error.field).toBe('body');
  });

  it('an unknown GPU in a gpu query is a 404', async () => {
    const r = await post(ctx.base, { queries: [{ refId: 'A', kind: 'gpu', filters: { gpu: 'GPU-missing' } }] });
    expect(r.status).toBe(404);
  });

  it('lists template variable values', async () => {
    const gpusVar = await getJson(`${ctx.base}/api/v1/variables/gpus`);
    expect(gpusVar.body.values.map((v: any) => v.value)).toEqual([
      'GPU-aaaaaaaa-0000-0000-0000-000000000000',
      'GPU-bbbbbbbb-0000-0000-0000-000000000000',
    ]);
    const migs = await getJson(`${ctx.base}/api/v1/variables/migs?gpu=0`);
    expect(migs.body.values).toHaveLength(2);
    const vms = await getJson(`${ctx.base}/api/v1/variables/vms`);
    expect(vms.body.values.map((v: any) => v.text)).toEqual(['tenant-a', 'tenant-b']);
    expect((await getJson(`${ctx.base}/api/v1/variables/colours`)).status).toBe(404);
  });

  it('returns events in a time range', async () => {
    const t = new Date().toISOString();
    ctx.store.addEvents([{ time: t, host: 'node-a', kind: 'xid', subject: 'GPU-x', text: 'Xid 79' }]);
    const r = await getJson(`${ctx.base}/api/v1/events?from=${Date.now() - 60_000}&to=${Date.now() + 1000}`);
    expect(r.body.events.map((e: any) => e.text)).toContain('Xid 79');
    expect((await getJson(`${ctx.base}/api/v1/events?from=never`)).status).toBe(400);
  });

  it('/metrics exposes GPU, MIG and vGPU families', async () => {
    const text = await (await fetch(`${ctx.base}/metrics`)).text();
    expect(text).toMatch(/gpufleet_gpu_info\{host="node-a",gpu_uuid="GPU-aaaaaaaa-0000-0000-0000-000000000000",gpu_index="0",name="NVIDIA H100 80GB HBM3",pci_bus_id="00000000:18:00.0",mig_mode="enabled",vgpu_mode="none"\} 1/);
    expect(text).toMatch(/gpufleet_mig_instance_info\{[^}]*profile="3g.40gb"\} 1/);
    expect(text).toMatch(/gpufleet_vgpu_utilization_ratio\{host="node-a",gpu_uuid="GPU-bbbbbbbb-0000-0000-0000-000000000000",vgpu_id="3251634191"\} 0.9/);
    // MIG on: the driver reports no GPU utilization, so there is no series rather than a 0.
    expect(text).not.toMatch(/gpufleet_gpu_utilization_ratio\{[^}]*gpu_index="0"/);
  });

  it('unknown routes are JSON 404s', async () => {
    const r = await getJson(`${ctx.base}/api/v1/nothing`);
    expect(r.status).toBe(404);
  });
});

describe('API before the first collection', () => {
  it('answers 503 not-ready for data, and health says starting', async () => {
    const ctx = await start(null, false);
    try {
      const r = await getJson(`${ctx.base}/api/v1/gpus`);
      expect(r.status).toBe(503);
      expect(r.body.error.code).toBe('not-ready');
      const h = await getJson(`${ctx.base}/api/v1/health`);
      // Nothing has failed yet: the sources have not had their first chance (issue 12).
      expect(h.body.status).toBe('starting');
      expect(h.body.sources.gpu.status).toBe('starting');
    } finally {
      ctx.server.close();
    }
  });
});

describe('API with a bearer token', () => {
  it('refuses requests without the token and accepts them with it', async () => {
    const ctx = await start('s3cret-token');
    try {
      expect((await fetch(`${ctx.base}/api/v1/gpus`)).status).toBe(401);
      expect((await fetch(`${ctx.base}/metrics`)).status).toBe(401);
      expect((await fetch(`${ctx.base}/api/v1/gpus`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
      expect((await fetch(`${ctx.base}/api/v1/gpus`, { headers: { authorization: 'Bearer s3cret-token' } })).status).toBe(200);
      expect((await fetch(`${ctx.base}/healthz`)).status).toBe(200);
    } finally {
      ctx.server.close();
    }
  });
});
