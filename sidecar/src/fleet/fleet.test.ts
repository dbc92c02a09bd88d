// The fleet simulator's model and exposition: a seed gives one fleet, the mixes have the proportions the
// help promises, all-mig is 56 engines on 56 slices per host, and each host's /metrics (the sidecar's own
// metrics code) joins: every engine_mig row has its MIG instance, every rank edge its GPU.
import { parsePromText, type PromSample } from '../engines/promText.js';
import { FleetExposition } from './fleetExposition.js';
import { buildFleet, fleetCounts, type FleetHost } from './fleetModel.js';
import { hostSnapshotAt, prepareHost } from './hostSnapshot.js';

const EPOCH = Date.UTC(2026, 0, 1);

function exposition(hosts: FleetHost[]): FleetExposition {
  return new FleetExposition(hosts, { epochMs: EPOCH, cacheMs: 1000, version: 't', maxSeries: 5000 });
}

async function families(fx: FleetExposition, h: FleetHost, atMs = EPOCH + 60_000): Promise<Map<string, PromSample[]>> {
  const expo = parsePromText(await fx.render(h, atMs));
  expect(expo.skipped).toBe(0);
  return expo.byName;
}

describe('buildFleet', () => {
  it('the same seed gives the same fleet and the same host state at the same time; another seed another fleet', () => {
    const a = buildFleet({ hosts: 40, seed: 3, mix: 'typical' });
    const b = buildFleet({ hosts: 40, seed: 3, mix: 'typical' });
    const c = buildFleet({ hosts: 40, seed: 4, mix: 'typical' });
    expect(b).toEqual(a);
    expect(c.map((h) => [h.kind, h.scenario.engines.length])).not.toEqual(a.map((h) => [h.kind, h.scenario.engines.length]));
    const at = (h: FleetHost) => hostSnapshotAt(prepareHost(h), 123.5, EPOCH);
    expect(at(b[7] as FleetHost)).toEqual(at(a[7] as FleetHost));
  });

  it('typical: about 10 % MIG hosts (7 slices per GPU), 10 % vGPU hosts with VMs, engines TP1–TP8 with some DP on the rest', () => {
    const hosts = buildFleet({ hosts: 1000, seed: 1, mix: 'typical' });
    const share = (k: string) => hosts.filter((h) => h.kind === k).length / hosts.length;
    expect(share('mig')).toBeGreaterThan(0.07);
    expect(share('mig')).toBeLessThan(0.13);
    expect(share('vgpu')).toBeGreaterThan(0.07);
    expect(share('vgpu')).toBeLessThan(0.13);
    for (const h of hosts) expect(h.scenario.gpus).toHaveLength(8);
    for (const h of hosts.filter((x) => x.kind === 'mig')) for (const g of h.scenario.gpus) expect(g.mig?.instances).toHaveLength(7);
    for (const h of hosts.filter((x) => x.kind === 'vgpu')) for (const g of h.scenario.gpus) expect(g.vgpu?.instances.length).toBeGreaterThan(0);
    const whole = hosts.filter((h) => h.kind === 'whole').flatMap((h) => h.scenario.engines);
    expect(new Set(whole.map((e) => e.tensorParallel))).toEqual(new Set([1, 2, 4, 8]));
    expect(whole.some((e) => e.dataParallel === 2)).toBe(true);
    // Placement labels: 16 hosts to a rack, 16 racks to a cluster, unique host names.
    expect(new Set(hosts.map((h) => h.name)).size).toBe(1000);
    expect(new Set(hosts.map((h) => h.cluster)).size).toBe(4);
    expect(new Set(hosts.map((h) => h.rack)).size).toBe(Math.ceil(1000 / 16));
  });

  it('all-mig: every GPU in 7 slices with an engine on each (56 per host)', () => {
    const hosts = buildFleet({ hosts: 20, seed: 1, mix: 'all-mig' });
    expect(fleetCounts(hosts)).toMatchObject({ hosts: 20, gpus: 160, mig: 20 * 56, engines: 20 * 56, ranks: 20 * 56, vgpu: 0 });
  });

  it('--dup-host: one more host named like the first, in another cluster, with GPUs of its own', () => {
    const hosts = buildFleet({ hosts: 10, seed: 1, mix: 'typical', dupHost: true });
    expect(hosts).toHaveLength(11);
    const [first, dup] = [hosts[0] as FleetHost, hosts[10] as FleetHost];
    expect(dup.name).toBe(first.name);
    expect(dup.cluster).not.toBe(first.cluster);
    expect(dup.key).not.toBe(first.key);
    const uuids = (h: FleetHost) => hostSnapshotAt(prepareHost(h), 0, EPOCH).gpus.map((g) => g.uuid);
    expect(uuids(dup).filter((u) => uuids(first).includes(u))).toEqual([]);
  });
});

describe('FleetExposition', () => {
  it('all-mig: 56 engine_mig rows per host, each joining one MIG instance on (host, mig_uuid), and one engine_gpu row per rank', async () => {
    const hosts = buildFleet({ hosts: 2, seed: 5, mix: 'all-mig' });
    const fx = exposition(hosts);
    const f = await families(fx, hosts[1] as FleetHost);
    const migInfo = f.get('gpufleet_mig_instance_info') ?? [];
    const edges = f.get('gpufleet_engine_mig') ?? [];
    expect(migInfo).toHaveLength(56);
    expect(edges).toHaveLength(56);
    const key = (s: PromSample) => `${s.labels.host}|${s.labels.mig_uuid}`;
    const infoKeys = new Set(migInfo.map(key));
    expect(infoKeys.size).toBe(56);
    for (const e of edges) expect(infoKeys.has(key(e))).toBe(true);
    const gpuEdges = f.get('gpufleet_engine_gpu') ?? [];
    expect(gpuEdges).toHaveLength(56);
    for (const e of gpuEdges) expect(e.labels.mig_uuid).toBeUndefined();
    expect(f.get('gpufleet_host_info')?.map((s) => s.labels.host)).toEqual([hosts[1]?.name]);
  });

  it('typical: whole-GPU hosts have free GPUs (0 processes) and busy ones; vGPU hosts list their VMs; collectors carry the host', async () => {
    const hosts = buildFleet({ hosts: 60, seed: 1, mix: 'typical' });
    const fx = exposition(hosts);
    let free = 0;
    let busy = 0;
    for (const h of hosts.filter((x) => x.kind === 'whole').slice(0, 10)) {
      const procs = (await families(fx, h)).get('gpufleet_gpu_processes') ?? [];
      expect(procs).toHaveLength(8);
      free += procs.filter((s) => s.value === 0).length;
      busy += procs.filter((s) => s.value > 0).length;
    }
    expect(free).toBeGreaterThan(0);
    expect(busy).toBeGreaterThan(0);
    const vgpuHost = hosts.find((h) => h.kind === 'vgpu') as FleetHost;
    const v = await families(fx, vgpuHost);
    expect((v.get('gpufleet_vgpu_instance_info') ?? []).length).toBeGreaterThanOrEqual(8);
    expect((v.get('gpufleet_collector_up') ?? []).map((s) => [s.labels.host, s.labels.collector]).sort()).toEqual(
      [[vgpuHost.name, 'engines'], [vgpuHost.name, 'gpu'], [vgpuHost.name, 'vgpu']],
    );
  });

  it('reuses a rendering within the cache time and renders again after it', async () => {
    let now = EPOCH + 10_000;
    const hosts = buildFleet({ hosts: 3, seed: 1, mix: 'typical' });
    const fx = new FleetExposition(hosts, { epochMs: EPOCH, cacheMs: 1000, version: 't', maxSeries: 5000, now: () => now });
    const h = hosts[0] as FleetHost;
    const a = await fx.metrics(h);
    now += 500;
    expect(await fx.metrics(h)).toBe(a);
    expect(fx.renders).toBe(1);
    now += 600;
    await fx.metrics(h);
    expect(fx.renders).toBe(2);
  });

  it('a host keeps its metrics registry between scrapes and renders what a fresh one renders at that time', async () => {
    const hosts = buildFleet({ hosts: 12, seed: 1, mix: 'typical' });
    const kept = exposition(hosts);
    const sorted = async (fx: FleetExposition, h: FleetHost, at: number) =>
      parsePromText(await fx.render(h, at))
        .samples.map((x) => `${x.name}${JSON.stringify(Object.entries(x.labels).sort())} ${x.value}`)
        .sort();
    for (const h of hosts) {
      // A day of scrapes an hour apart: engines go down and up, loads move; nothing stale stays behind.
      for (let hour = 0; hour < 24; hour += 3) {
        const at = EPOCH + 60_000 + hour * 3_600_000;
        expect(await sorted(kept, h, at)).toEqual(await sorted(exposition(hosts), h, at));
      }
    }
  });

  it('/sd: one target group per host with the contract labels; a shared name gets its cluster as a parameter', () => {
    const hosts = buildFleet({ hosts: 5, seed: 1, mix: 'typical', dupHost: true });
    const sd = exposition(hosts).sd('127.0.0.1:9750');
    expect(sd).toHaveLength(6);
    expect(sd[1]).toEqual({
      targets: ['127.0.0.1:9750'],
      labels: { __metrics_path__: '/hosts/gpu0002/metrics', instance: 'gpu0002', cluster: 'alpha', rack: 'alpha-r01' },
    });
    expect(sd.filter((g) => g.labels.instance === 'gpu0001').map((g) => g.labels.__param_cluster)).toEqual(['alpha', hosts[5]?.cluster]);
  });
});
