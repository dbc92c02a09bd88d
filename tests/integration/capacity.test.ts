// The capacity model on simulated hosts, through the built sidecar: GET /api/v1/capacity agrees with what
// /api/v1/gpus and /api/v1/engines say, every state is where the scenario puts it (`capacity`: one state per
// GPU; `faults`: an Xid, then a lost GPU), and the fleet recording rules give the same per-host counts through
// a real Prometheus scraping the sidecar.
import { allSelected, interpolate, loadDashboards } from './dashboardQueries.js';
import { json, ROOT, startSidecar, waitFor, type Running } from './harness.js';
import { gpufleetPrometheusConfig, startPrometheus, type Prometheus } from './prom.js';

const isCompute = (p: any) => p.type === null || String(p.type).includes('C');

/** Checks the answer against the GPUs and engines the API reports at (nearly) the same moment. */
function agrees(cap: any, gpus: any[], engines: any[]): void {
  expect(cap.host).toBe(gpus[0]?.host);
  const present = cap.gpus.filter((g: any) => !/^lost since/.test(g.reason ?? ''));
  expect(present.map((g: any) => g.uuid).sort()).toEqual(gpus.map((g) => g.uuid).sort());
  const parentOfMig = new Map(gpus.flatMap((g) => g.mig.instances.map((m: any) => [m.uuid, g.uuid])));
  for (const g of gpus) {
    const c = present.find((x: any) => x.uuid === g.uuid);
    expect(c.index).toBe(g.index);
    const pids = new Set<number>([...g.processes, ...g.mig.instances.flatMap((m: any) => m.processes)].filter(isCompute).map((p: any) => p.pid));
    expect({ gpu: g.index, pids: c.pids }).toEqual({ gpu: g.index, pids: [...pids].sort((a, b) => a - b) });
    const on = engines.filter((e) => e.workers.some((w: any) => w.gpuUuids.includes(g.uuid) || w.migUuids.some((m: string) => parentOfMig.get(m) === g.uuid)));
    expect({ gpu: g.index, engines: c.engines }).toEqual({ gpu: g.index, engines: on.map((e) => e.id).sort() });
    // Free means nothing holds it, in the GPU's own terms.
    const held = pids.size > 0 || on.length > 0 || g.vgpu.instances.length > 0 || (g.mig.mode === 'enabled' && g.mig.instances.length > 0);
    if (c.state === 'free') expect({ gpu: g.index, held }).toEqual({ gpu: g.index, held: false });
    if (c.state === 'idle-held') expect({ gpu: g.index, held }).toEqual({ gpu: g.index, held: true });
    // MIG: instances per profile, used when a process or an engine rank is on them.
    if (g.mig.mode === 'enabled') {
      const engineMigs = new Set(engines.flatMap((e) => e.workers.flatMap((w: any) => w.migUuids)));
      const want: Record<string, { free: number; used: number }> = {};
      for (const m of g.mig.instances) {
        const r = (want[m.profile] ??= { free: 0, used: 0 });
        if (m.processes.some(isCompute) || engineMigs.has(m.uuid)) r.used++;
        else r.free++;
      }
      // Profiles with no instance are there only for what `mig -lgip` says could be created.
      const got = Object.fromEntries(cap.mig.filter((m: any) => m.gpuUuid === g.uuid && m.free + m.used > 0).map((m: any) => [m.profile, { free: m.free, used: m.used }]));
      expect({ gpu: g.index, mig: got }).toEqual({ gpu: g.index, mig: want });
    }
  }
  // Models: every up engine of the model, busy as the engine says, all busy when every one is.
  const models = new Set(engines.map((e) => e.model).filter(Boolean));
  expect(cap.models.map((m: any) => m.model).sort()).toEqual([...models].sort());
  for (const m of cap.models) {
    const up = engines.filter((e) => e.model === m.model && e.health === 'up');
    expect({ model: m.model, engines: m.engines.map((e: any) => e.id).sort() }).toEqual({ model: m.model, engines: up.map((e) => e.id).sort() });
    for (const e of m.engines) {
      const api = engines.find((x) => x.id === e.id);
      expect({ id: e.id, endpoint: e.endpoint }).toEqual({ id: e.id, endpoint: api.endpoint });
    }
    expect(m.allBusy).toBe(m.engines.length > 0 && m.engines.every((e: any) => e.busy));
    // The router's order: not busy first, most KV headroom first.
    const keys = m.engines.map((e: any) => [e.busy ? 1 : 0, -(e.kvHeadroom ?? -1)]);
    expect(keys).toEqual([...keys].sort((a: number[], b: number[]) => a[0]! - b[0]! || a[1]! - b[1]!));
  }
}

/** Capacity, GPUs and engines read back to back, retried until the three agree (a tick may fall between). */
async function consistentRead(s: Running, ready: (cap: any) => boolean): Promise<{ cap: any; gpus: any[]; engines: any[] }> {
  let last: unknown;
  return waitFor('capacity that agrees with /gpus and /engines', async () => {
    const cap = (await json(`${s.base}/api/v1/capacity`)).body;
    const gpus = (await json(`${s.base}/api/v1/gpus`)).body.gpus;
    const engines = (await json(`${s.base}/api/v1/engines`)).body.engines;
    const again = (await json(`${s.base}/api/v1/capacity`)).body;
    if (!cap.gpus || !ready(cap) || cap.collectedAt !== again.collectedAt) return undefined;
    try {
      agrees(cap, gpus, engines);
      return { cap, gpus, engines };
    } catch (err) {
      last = err;
      return undefined;
    }
  }, 90_000).catch((err) => {
    throw last instanceof Error ? last : err;
  });
}

const stateOf = (cap: any, index: number) => cap.gpus.find((g: any) => g.index === index)?.state;

describe('capacity on the capacity scenario', () => {
  let s: Running;
  let prom: Prometheus;

  beforeAll(async () => {
    s = await startSidecar(['--simulate', 'capacity', '--interval', '1s', '--docker-socket', 'none', '--idle-held-after', '3s']);
    prom = await startPrometheus(gpufleetPrometheusConfig(process.cwd(), s.base.replace('http://', '')));
  }, 240_000);
  afterAll(async () => {
    await prom?.stop();
    await s?.stop();
  });

  it('puts each GPU in the scenario\'s state and agrees with /api/v1/gpus and /api/v1/engines', async () => {
    const { cap, gpus, engines } = await consistentRead(s, (c) =>
      c.models?.length === 3 && c.gpus.length === 6 && stateOf(c, 1) === 'idle-held' && c.mig.some((m: any) => m.creatable !== undefined));
    expect(cap.gpus.map((g: any) => [g.index, g.state])).toEqual([[0, 'free'], [1, 'idle-held'], [2, 'busy'], [3, 'busy'], [4, 'busy'], [5, 'unavailable']]);
    expect(cap.summary).toEqual({ free: 1, 'idle-held': 1, busy: 3, unavailable: 1 });
    expect(cap.gpus[5].reason).toMatch(/^Xid 48 \d+[sm] ago/);
    expect(cap.gpus[1].reason).toMatch(/^held by engine sim-capacity:\d+; no request running or waiting, utilization \d %; idle for \d+s$/);
    // GPU 4: 3g.40gb + 3×1g.10gb, two engines on two of the 1g.10gb; room for one more 1g.10gb (mig -lgip).
    const g4 = gpus.find((g) => g.index === 4);
    const row = (profile: string, free: number, used: number, creatable: number) => ({ gpuUuid: g4.uuid, gpuIndex: 4, profile, free, used, creatable });
    expect(cap.mig).toEqual([
      row('1g.10gb', 1, 2, 1), row('1g.20gb', 0, 0, 0), row('2g.20gb', 0, 0, 0), row('3g.40gb', 1, 0, 0), row('4g.40gb', 0, 0, 0), row('7g.80gb', 0, 0, 0),
    ]);
    const byModel = Object.fromEntries(cap.models.map((m: any) => [m.model, m]));
    expect(byModel['meta-llama/Llama-3.1-8B-Instruct']).toMatchObject({ allBusy: true, engineCount: 2, busyCount: 2 });
    expect(byModel['microsoft/Phi-3.5-mini-instruct']).toMatchObject({ allBusy: false, engineCount: 2, busyCount: 0 });
    // The light Phi engine (on MIG device 1) comes first: more KV headroom.
    const dev1 = g4.mig.instances.find((m: any) => m.index === 1).uuid;
    const light = engines.find((e) => e.workers.some((w: any) => w.migUuids.includes(dev1)));
    expect(byModel['microsoft/Phi-3.5-mini-instruct'].engines[0].id).toBe(light.id);
    expect(byModel['Qwen/Qwen2.5-0.5B-Instruct'].engines).toEqual([expect.objectContaining({ busy: false, kvHeadroom: 1, waiting: 0 })]);
  }, 120_000);

  it('the fleet recording rules count what the API says, per host, through Prometheus', async () => {
    const value = async (q: string) => {
      const r = await prom.query(q);
      return r.length === 1 ? Number(r[0]!.value[1]) : r.length === 0 ? undefined : NaN;
    };
    const counts = await waitFor('recording rules with the idle-held GPU', async () => {
      const c = {
        idleHeld: await value('gpufleet:host_gpus_idle_held:count{host="sim-capacity"}'),
        free3g: await value('gpufleet:host_mig_profile_free:count{host="sim-capacity",profile="3g.40gb"}'),
        free1g: await value('gpufleet:host_mig_profile_free:count{host="sim-capacity",profile="1g.10gb"}'),
        allBusy: await value('gpufleet:host_models_all_busy:count{host="sim-capacity"}'),
      };
      return c.idleHeld === 1 && c.allBusy !== undefined && c.free1g !== undefined ? c : undefined;
    }, 90_000);
    const cap = (await json(`${s.base}/api/v1/capacity`)).body;
    const free = (p: string) => cap.mig.filter((m: any) => m.profile === p).reduce((a: number, m: any) => a + m.free, 0);
    expect(counts).toEqual({
      idleHeld: cap.gpus.filter((g: any) => g.state === 'idle-held').length,
      free3g: free('3g.40gb'),
      free1g: free('1g.10gb'),
      allBusy: cap.models.filter((m: any) => m.allBusy).length,
    });
    expect(counts).toEqual({ idleHeld: 1, free3g: 1, free1g: 1, allBusy: 1 });
    // Creatable slices, as nvidia-smi mig -lgip tells them.
    expect(await value('gpufleet_mig_profile_creatable{host="sim-capacity",profile="1g.10gb"}')).toBe(1);
    // Energy counters, one per GPU.
    const e1 = await prom.query('gpufleet_gpu_energy_joules_total{host="sim-capacity"}');
    expect(e1).toHaveLength(6);
  }, 120_000);

  // The "Done when", from the provisioned fleet dashboard's own panels (their queries as Grafana sends them,
  // the host variable set to this host): where a 3g.40gb workload fits now, which GPUs are held but idle (and by
  // what), which model is saturated.
  it('the fleet dashboard\'s capacity panels answer where a 3g.40gb fits, which GPUs are idle-held, which model is saturated', async () => {
    const fleet = loadDashboards(ROOT).find((d) => d.uid === 'gpufleet-fleet');
    const vars = { ...allSelected(fleet), host: 'sim-capacity' };
    const panel = async (title: string, refId = 'A') => {
      const p = fleet.panels.find((x: any) => x.title === title);
      const t = p?.targets.find((x: any) => x.refId === refId);
      if (!t) throw new Error(`no panel "${title}" [${refId}] in the fleet dashboard`);
      return prom.query(interpolate(t.expr, vars));
    };
    const answers = await waitFor('the capacity panels answered with the idle-held GPU', async () => {
      const slices = await panel('Free MIG slices by profile per $group');
      const held = await panel('Idle-held GPUs (one host: and busy ones)');
      const engines = await panel('Models and their busy engines', 'A');
      const busy = await panel('Models and their busy engines', 'B');
      return held.some((r) => r.metric.state === 'idle-held') && slices.length > 0 && busy.length > 0 ? { slices, held, engines, busy } : undefined;
    }, 90_000);
    const cap = (await json(`${s.base}/api/v1/capacity`)).body;
    // Where a 3g.40gb fits: the profile's free slices (GPU 4's one 3g.40gb instance no one uses).
    const free = Object.fromEntries(answers.slices.map((r) => [r.metric.profile, Number(r.value[1])]));
    expect(free['3g.40gb']).toBe(1);
    expect(free['3g.40gb']).toBe(cap.mig.filter((m: any) => m.profile === '3g.40gb').reduce((a: number, m: any) => a + m.free, 0));
    // Held but idle: GPU 1, with the engine that holds it; the busy ones listed too (one host selected).
    const idle = answers.held.filter((r) => r.metric.state === 'idle-held');
    const apiIdle = cap.gpus.find((g: any) => g.state === 'idle-held');
    expect(idle.map((r) => ({ gpu: r.metric.gpu_index, holder: r.metric.holder }))).toEqual([
      { gpu: '1', holder: `engine ${apiIdle.engines[0]} (${cap.models.find((m: any) => m.engines.some((e: any) => e.id === apiIdle.engines[0]))?.model ?? ''})` },
    ]);
    expect(new Set(answers.held.filter((r) => r.metric.state === 'busy').map((r) => r.metric.gpu_index))).toEqual(new Set(['2', '3', '4']));
    // Saturated: the model whose every engine is busy.
    const count = (rows: any[]) => Object.fromEntries(rows.map((r) => [r.metric.model, Number(r.value[1])]));
    const engines = count(answers.engines);
    const busy = count(answers.busy);
    const saturated = Object.keys(engines).filter((m) => engines[m]! > 0 && busy[m] === engines[m]);
    expect(saturated).toEqual(['meta-llama/Llama-3.1-8B-Instruct']);
    expect(saturated).toEqual(cap.models.filter((m: any) => m.allBusy).map((m: any) => m.model));
  }, 120_000);
});

describe('capacity on the faults scenario', () => {
  let s: Running;
  beforeAll(async () => {
    s = await startSidecar(['--simulate', 'faults', '--interval', '1s', '--docker-socket', 'none', '--nvidia-smi-timeout', '3s']);
    s.control({ t: 100 });
  }, 240_000);
  afterAll(async () => {
    await s?.stop();
  });

  it('agrees with the API; an Xid makes GPU 2 unavailable, and it stays so while it is lost', async () => {
    // The always-overloaded engine (GPU 2) is its model's only engine: the model is all busy.
    const llama = (c: any) => c.models.find((m: any) => m.model === 'meta-llama/Llama-3.1-8B-Instruct');
    const first = await consistentRead(s, (c) => c.gpus.length === 6 && llama(c)?.allBusy === true);
    expect(llama(first.cap)).toMatchObject({ allBusy: true, engineCount: 1, busyCount: 1 });
    s.control({ t: 535 });
    const { cap } = await consistentRead(s, (c) => stateOf(c, 2) === 'unavailable');
    expect(cap.gpus.find((g: any) => g.index === 2).reason).toMatch(/^Xid 79 /);
    s.control({ t: 600 });
    const lost = await waitFor('GPU 2 lost', async () => {
      const c = (await json(`${s.base}/api/v1/capacity`)).body;
      const g = c.gpus.find((x: any) => /^lost since/.test(x.reason ?? ''));
      return g ? { c, g } : undefined;
    }, 60_000);
    expect(lost.g).toMatchObject({ state: 'unavailable', index: 2 });
    const gpus = (await json(`${s.base}/api/v1/gpus`)).body.gpus;
    expect(gpus.map((g: any) => g.uuid)).not.toContain(lost.g.uuid);
  }, 180_000);
});

describe('capacity on the demo scenario', () => {
  let s: Running;
  beforeAll(async () => {
    s = await startSidecar(['--simulate', 'demo', '--interval', '1s']);
    s.control({ t: 30 });
  }, 240_000);
  afterAll(async () => {
    await s?.stop();
  });

  it('agrees with the API: MIG slices free and used, vGPU hosts held, no GPU free', async () => {
    const { cap } = await consistentRead(s, (c) => c.gpus.length === 8 && c.models.length >= 9);
    expect(cap.gpus.filter((g: any) => g.state === 'free')).toEqual([]);
    expect(cap.mig.filter((m: any) => m.used + m.free > 0).map((m: any) => [m.gpuIndex, m.profile, m.used + m.free])).toEqual([
      [1, '1g.10gb', 2], [1, '2g.20gb', 1], [1, '3g.40gb', 1], [2, '1g.10gb', 7],
    ]);
  }, 180_000);
});
