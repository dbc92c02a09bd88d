import { capTopology } from '../cap';
import { computeLayout } from '../layout';
import { figureOf } from '../model';
import { readPanelInput } from '../source';
import {
  FLEET_REFIDS,
  HOST_REFIDS,
  type Sample,
  combine,
  fleetAnswers,
  onlyHosts,
  pick,
  seriesFrames,
  tableFrames,
} from '../testing/prometheus';
import { MEANING_LIST, type RowKind } from './contract';
import { buildFleet } from './fleet';
import { describeQueryError, readRows } from './rows';
import { tileGroups, tileFigure, fleetWarnings } from './tiles';
import { fleetTopology, fleetTopologyCapped, missingFamilies } from './topology';

const GiB = 1024 ** 3;

function fleetOf(answers: Record<string, Sample[]>, group = 'cluster', frames = tableFrames) {
  const input = readPanelInput(frames(answers), group);
  if (input.source !== 'prometheus') {
    throw new Error(`not read as Prometheus: ${JSON.stringify(input)}`);
  }
  return input.fleet;
}

const hostTopo = (answers: Record<string, Sample[]>, key: string) => {
  const fleet = fleetOf(answers);
  return fleetTopology(fleet, [key], []);
};

describe('Prometheus table frames → the topology model', () => {
  // Host 0 of the synthetic fleet is a MIG host (8 GPUs × 7 slices, an engine per slice); host 2 has TP2 engines.
  const fleet = fleetAnswers({ hosts: 3, extra: (h) => ({ cluster: h < 2 ? 'east' : 'west', job: 'gpufleet' }) });

  it("a whole-GPU host: engines → ranks → GPUs, with the sidecar topology frames' titles and details", () => {
    const topo = hostTopo(pick(fleet, HOST_REFIDS), 'sim-0002');
    expect(topo.gpus.map((g) => g.title)).toEqual(Array.from({ length: 8 }, (_, i) => `GPU ${i}`));
    expect(topo.gpus[0].subtitle).toBe('NVIDIA H100 80GB HBM3 · whole');
    expect(topo.engines.map((e) => e.title)).toEqual([
      'meta-llama/Llama-3.1-70B-Instruct',
      'meta-llama/Llama-3.1-70B-Instruct',
    ]);
    expect(topo.workers.map((w) => w.title)).toEqual(['rank 0', 'rank 1', 'rank 0', 'rank 1']);
    // Engine → rank → GPU: 2 engines × 2 ranks.
    expect(topo.edges).toHaveLength(8);
    const engine = topo.engines[0];
    const ranks = topo.outgoing.get(engine.id)!;
    expect(ranks.flatMap((r) => topo.outgoing.get(r)!).map((g) => topo.nodes.get(g)!.title)).toEqual([
      'GPU 0',
      'GPU 1',
    ]);
    // Values from their families, units as the sidecar's: utilization in percent, bytes, KV 0..1.
    const g0 = fleet.gpu_util.find((s) => s.metric.host === 'sim-0002' && s.metric.gpu_index === '0')!;
    expect(topo.gpus[0].detail).toMatchObject({
      host: 'sim-0002',
      uuid: 'GPU-2-0',
      index: 0,
      utilizationGpu: Number(g0.value) * 100,
      memoryTotalBytes: 80 * GiB,
      migMode: 'disabled',
    });
    expect(engine.detail).toMatchObject({ engineId: 'sim-0002:9000', kvCacheUsage: 0.62, health: 'healthy' });
  });

  it('a MIG host: instances inside their GPU, each rank on its instance (not also on the parent GPU)', () => {
    const topo = hostTopo(pick(fleet, HOST_REFIDS), 'sim-0000');
    expect(topo.gpus).toHaveLength(8);
    for (const g of topo.gpus) {
      expect(topo.instancesByGpu.get(g.id)!.map((m) => m.title)).toEqual(Array(7).fill('1g.10gb'));
    }
    expect(topo.engines).toHaveLength(56);
    // 56 engine → rank and 56 rank → MIG edges: the contract's parent-GPU edge of each MIG rank is not drawn.
    expect(topo.edges).toHaveLength(112);
    expect(topo.edges.filter((e) => topo.nodes.get(e.target)!.kind === 'gpu')).toHaveLength(0);
    // No utilization under MIG: no data (never 0); the GPU's load figure is its memory use, as the sidecar's.
    const g = topo.gpus[3];
    expect(g.detail.utilizationGpu).toBeUndefined();
    const used = Number(fleet.gpu_mem_used.find((s) => s.metric.gpu_uuid === 'GPU-0-3')!.value);
    expect(figureOf(topo, g, 'load')).toBeCloseTo((used / (80 * GiB)) * 100);
  });

  it('a vGPU host: VMs inside their GPU with type, VM, utilization and framebuffer; the licence is unknown', () => {
    const topo = hostTopo(pick(fleet, HOST_REFIDS), 'sim-0001');
    const vms = topo.instancesByGpu.get(topo.gpus[0].id)!;
    expect(vms.map((v) => [v.title, v.subtitle])).toEqual([
      ['tenant-0-0', 'NVIDIA H100XM-40C'],
      ['tenant-0-1', 'NVIDIA H100XM-40C'],
    ]);
    expect(vms[1].detail).toMatchObject({ vmId: 'vm-1-0-1', utilizationGpu: 40, framebufferTotalBytes: 40 * GiB });
    expect(vms[1].detail.licensed).toBeUndefined();
  });

  it('reads the rows by their labels, not by the query: extra labels, `by (...)` without __name__, time-series format', () => {
    const plain = hostTopo(pick(fleet, HOST_REFIDS), 'sim-0002');
    const shape = (t: typeof plain) =>
      Array.from(t.nodes.values())
        .map((n) => `${n.id} ${n.title} ${n.mainstat ?? ''} ${n.load ?? ''}`)
        .sort();
    // `max by (host, gpu_uuid, …)`: no __name__, the refId says what the value is.
    const aggregated = fleetAnswers({ hosts: 3, names: false, extra: (h) => ({ cluster: h < 2 ? 'east' : 'west' }) });
    expect(shape(hostTopo(pick(aggregated, HOST_REFIDS), 'sim-0002'))).toEqual(shape(plain));
    // Format "Time series" instead of "Table".
    const series = fleetOf(pick(fleet, HOST_REFIDS), 'cluster', seriesFrames);
    expect(shape(fleetTopology(series, ['sim-0002'], []))).toEqual(shape(plain));
  });

  it('__name__ decides over the refId; rows of a refId the contract does not know are ignored with a notice', () => {
    const answers = pick(fleet, ['gpus', 'gpu_util']);
    // A user renamed the queries: plain selectors still say what they are.
    const renamed = {
      A: answers.gpus,
      B: answers.gpu_util,
      C: [{ metric: { host: 'sim-0002', gpu_uuid: 'GPU-2-0' }, value: '5' }],
    };
    const f = fleetOf(renamed);
    const topo = fleetTopology(f, ['sim-0002'], []);
    expect(topo.gpus).toHaveLength(8);
    expect(topo.gpus[0].detail.utilizationGpu).toBe(
      Number(answers.gpu_util.find((s) => s.metric.gpu_uuid === 'GPU-2-0')!.value) * 100
    );
    expect(f.warnings).toEqual([
      'Query C: 1 row of GPUs, but neither their __name__ nor the refId "C" is in the panel\'s contract: ignored (README, "Topology panel on Prometheus").',
    ]);
  });

  it('several families per query (`{__name__=~"a|b"}`, the provisioned dashboard): the same fleet as one query per family', () => {
    // One query per join key, as provisioning/generate/dashboards.ts groups the per-GPU and per-engine families (the
    // tiles too: `max by (__name__, host, …)` keeps the name); none of these refIds is the contract's.
    const QUERY_OF: Record<RowKind, string> = {
      host: 'fleet',
      gpu: 'gpu_families',
      vgpu: 'gpu_families',
      mig: 'mig_families',
      engine: 'engine_families',
      edge: 'engine_families',
    };
    const queries: Record<string, string[]> = {};
    for (const m of MEANING_LIST) {
      (queries[QUERY_OF[m.kind]] ??= []).push(m.refId);
    }
    const perFamily = fleetOf(fleet);
    const shape = (f: typeof perFamily, key: string) =>
      Array.from(fleetTopology(f, [key], []).nodes.values())
        .map(
          (n) =>
            `${n.id} ${n.title} ${n.subtitle ?? ''} ${n.mainstat ?? ''} ${n.load ?? ''} ${JSON.stringify(n.detail)}`
        )
        .sort();
    const tiles = (f: typeof perFamily) => JSON.stringify(tileGroups(f));
    for (const frames of [tableFrames, seriesFrames]) {
      const merged = combine(fleet, queries);
      // A frame really mixes families: its rows carry several __name__s (the table's `__name__` column).
      const table = tableFrames(merged).find((f) => f.refId === 'gpu_families')!;
      expect(new Set(table.fields.find((x) => x.name === '__name__')!.values).size).toBeGreaterThan(5);
      const f = fleetOf(merged, 'cluster', frames);
      expect(f.warnings).toEqual([]);
      expect(Array.from(f.seen).sort()).toEqual(Array.from(perFamily.seen).sort());
      expect(tiles(f)).toEqual(tiles(perFamily));
      for (const host of ['sim-0000', 'sim-0001', 'sim-0002']) {
        expect(shape(f, host)).toEqual(shape(perFamily, host));
        expect(missingFamilies(f, f.hosts.get(host)!)).toEqual(missingFamilies(perFamily, perFamily.hosts.get(host)!));
      }
      // The fleet level alone (one aggregation `by (__name__, host, …)`): the same tiles.
      expect(tiles(fleetOf(pick(merged, ['fleet']), 'cluster', frames))).toEqual(
        tiles(fleetOf(pick(fleet, FLEET_REFIDS)))
      );
    }
    // A row of a multi-family query that lost its __name__ (an aggregation without it) cannot be guessed from the refId.
    const nameless = { ...combine(pick(fleet, ['gpus', 'gpu_util']), { gpu_families: ['gpus', 'gpu_util'] }) };
    nameless.gpu_families = [
      ...nameless.gpu_families,
      { metric: { host: 'sim-0002', gpu_uuid: 'GPU-2-0' }, value: '0.5' },
    ];
    expect(fleetOf(nameless).warnings).toEqual([
      'Query gpu_families: 1 row of GPUs, but neither their __name__ nor the refId "gpu_families" is in the panel\'s contract: ignored (README, "Topology panel on Prometheus").',
    ]);
  });

  it('rows without a host label are named, not guessed', () => {
    const f = buildFleet(
      readRows(
        tableFrames({ gpus: [{ metric: { gpu_uuid: 'GPU-x' }, value: '1' }], gpu_util: fleet.gpu_util.slice(0, 1) })
      ),
      ''
    );
    expect(f.warnings[0]).toMatch(/^Query gpus: 1 row without a host label .*Keep host in by/);
    expect(f.hosts.size).toBe(1);
  });

  it('NaN and ±Inf samples are no data, not numbers', () => {
    const util = fleet.gpu_util
      .filter((s) => s.metric.host === 'sim-0002')
      .map((s, i) => ({ ...s, value: ['NaN', '+Inf', '-Inf'][i % 3] }));
    const topo = hostTopo({ ...pick(fleet, ['gpus']), gpu_util: util }, 'sim-0002');
    for (const g of topo.gpus) {
      expect(g.detail.utilizationGpu).toBeUndefined();
    }
  });
});

describe('Prometheus bad input', () => {
  const gpuInfo = (labels: Record<string, string>): Sample => ({
    metric: { __name__: 'gpufleet_gpu_info', host: 'h1', gpu_uuid: 'GPU-a', gpu_index: '0', ...labels },
    value: '1',
  });

  it('an info series whose data labels changed (two rows for one GPU): one GPU, the newest row, the same whatever the order', () => {
    const old = gpuInfo({ name: 'NVIDIA A100', mig_mode: 'disabled' });
    const now = gpuInfo({ name: 'NVIDIA A100', mig_mode: 'enabled' });
    for (const rows of [
      [old, now],
      [now, old],
    ]) {
      const f = fleetOf({ gpus: rows });
      const topo = fleetTopology(f, ['h1'], []);
      expect(topo.gpus).toHaveLength(1);
      // Same sample time: the choice is by label set, so it does not depend on the row order.
      expect(topo.gpus[0].detail.migMode).toBe('enabled');
      expect(f.warnings).toEqual([
        'Query gpus: 1 extra series for the same thing (e.g. GPU-a on h1); their labels changed within the lookback or two targets scrape one host. Showing the newest of each.',
      ]);
    }
    // Different sample times: the newer wins even when its labels sort first.
    const frames = [...tableFrames({ gpus: [now] }, 2_000), ...tableFrames({ gpus: [old] }, 1_000)];
    const f = buildFleet(readRows(frames), '');
    expect(fleetTopology(f, ['h1'], []).gpus[0].detail.migMode).toBe('enabled');
  });

  it('the same host name in two clusters: two hosts, a warning, nothing merged', () => {
    const a = fleetAnswers({ hosts: 3, extra: () => ({ cluster: 'east' }) });
    const b = fleetAnswers({ hosts: 3, extra: () => ({ cluster: 'west' }) });
    const both = Object.fromEntries(Object.keys(a).map((r) => [r, [...a[r], ...b[r]]]));
    const f = fleetOf(both);
    expect(Array.from(f.hosts.keys()).sort()).toEqual([
      'sim-0000 (east)',
      'sim-0000 (west)',
      'sim-0001 (east)',
      'sim-0001 (west)',
      'sim-0002 (east)',
      'sim-0002 (west)',
    ]);
    expect(f.warnings).toContain(
      'Host name sim-0002 is used in cluster east and west: shown apart as "sim-0002 (east)", "sim-0002 (west)".'
    );
    expect(tileGroups(f).map((g) => [g.group, g.tiles.length])).toEqual([
      ['east', 3],
      ['west', 3],
    ]);
    const east = fleetTopology(f, ['sim-0002 (east)'], []);
    expect(east.gpus).toHaveLength(8);
    expect(east.gpus[0].detail).toMatchObject({ host: 'sim-0002', hostKey: 'sim-0002 (east)' });
  });

  it('an old sidecar without gpufleet_host_info: its tile and host view say so', () => {
    const answers = fleetAnswers({ hosts: 3 });
    answers.hosts = answers.hosts.filter((s) => s.metric.host !== 'sim-0001');
    const f = fleetOf(answers);
    expect(fleetWarnings(f)[0]).toBe(
      '1 host has no gpufleet_host_info (sim-0001): their sidecars are older than the fleet families; upgrade them, until then their counts may be missing.'
    );
    expect(missingFamilies(f, f.hosts.get('sim-0001')!)).toEqual(['hosts']);
    expect(missingFamilies(f, f.hosts.get('sim-0002')!)).toEqual([]);
  });

  it('a host without recording-rule counts is "no data", and no counts at all says to load the rules', () => {
    const answers = fleetAnswers({ hosts: 2 });
    for (const r of FLEET_REFIDS.filter((x) => x !== 'hosts')) {
      answers[r] = answers[r].filter((s) => s.metric.host !== 'sim-0001');
    }
    const f = fleetOf(pick(answers, FLEET_REFIDS));
    const t = tileGroups(f)[0].tiles.find((x) => x.host === 'sim-0001')!;
    expect(t.gpus).toBeUndefined();
    expect(tileFigure(t, 'load')).toBeUndefined();
    expect(fleetWarnings(f)).toEqual([
      '1 host has no gpufleet:host_* counts (sim-0001): shown as "no data". The recording rules have not evaluated for them yet, or they are missing gpufleet_host_info.',
    ]);
    const none = fleetOf(pick(answers, ['hosts']));
    expect(fleetWarnings(none)[0]).toMatch(/^No gpufleet:host_gpus:count series: .*gpufleet-fleet\.rules\.yml/);
  });

  it('tile colours: utilization, else memory (MIG hosts report none); capacity; alerts', () => {
    const f = fleetOf(pick(fleetAnswers({ hosts: 6 }), FLEET_REFIDS));
    const tiles = tileGroups(f)[0].tiles;
    const mig = tiles[0]; // host 0: MIG, no utilization
    expect(mig.util).toBeUndefined();
    expect(tileFigure(mig, 'load')).toBeCloseTo(mig.mem! * 100);
    const whole = tiles[2];
    expect(tileFigure(whole, 'load')).toBeCloseTo(whole.util! * 100);
    expect(tileFigure(whole, 'free')).toBe(50); // 4 of 8 GPUs free
    expect(tileFigure(tiles[5], 'alerts')).toBe(100);
    expect(tileFigure(tiles[4], 'alerts')).toBe(0);
  });

  it('Prometheus errors are named per query, with what to do about limits and timeouts', () => {
    expect(
      describeQueryError({
        refId: 'mig',
        message: 'query processing would load too many samples into memory in query execution',
      })
    ).toBe(
      "Query mig failed: query processing would load too many samples into memory in query execution. Narrow it (pick a host, a model or a cluster) or raise the store's limit (--query.max-samples)."
    );
    expect(describeQueryError({ refId: 'gpus', message: 'context deadline exceeded' })).toMatch(
      /^Query gpus failed: context deadline exceeded\. Prometheus ran out of time/
    );
    expect(describeQueryError({ refId: 'x', message: 'found duplicate series for the match group' })).toMatch(
      /join on identifying labels only/
    );
  });
});

describe('Prometheus fleet at the all-MIG bound (1,000 hosts × 8 GPUs × 7 slices: 56,000 MIG rows)', () => {
  it('transform, cap and layout stay bounded: the first hosts drawn up to the cap, the rest counted per host', () => {
    // The engines → MIG graph across every host: GPUs, MIG instances and rank edges (120,000 rows).
    const answers = pick(fleetAnswers({ hosts: 1000, mix: 'all-mig' }), ['gpus', 'mig', 'edges_mig']);
    expect(answers.mig).toHaveLength(56_000);
    const frames = tableFrames(answers);
    const fleet = fleetOf(answers);
    expect(fleet.hosts.size).toBe(1000);
    // What the panel does: nodes built only for the hosts the cap reaches, the others counted from their rows.
    const { topo: drawn, omitted } = fleetTopologyCapped(fleet, 400, []);
    expect(drawn.nodes.size).toBeLessThanOrEqual(400);
    // Whole GPUs with their instances and the engines on them: 2 hosts (352 nodes), and 2 GPUs (44) of the third.
    expect(drawn.gpus.map((g) => g.detail.hostKey)).toEqual([
      ...Array(8).fill('sim-0000'),
      ...Array(8).fill('sim-0001'),
      'sim-0002',
      'sim-0002',
    ]);
    // Per host: 8 GPUs, 56 MIG instances, 56 engines, 56 ranks.
    expect(omitted!.total).toBe(1000 * 176 - drawn.nodes.size);
    expect(omitted!.byHost.get('sim-0002')).toEqual({ gpus: 6, instances: 42, engines: 42, ranks: 42 });
    expect(omitted!.byHost.get('sim-0999')).toEqual({ gpus: 8, instances: 56, engines: 56, ranks: 56 });
    const layout = computeLayout(drawn, { groupBy: 'host', showWorkers: true, width: 1400 });
    expect(layout.gpuRows).toHaveLength(18);
    expect(layout.engines).toHaveLength(drawn.engines.length);
    expect(frames).toHaveLength(Object.keys(answers).length);
  });
});

describe('Prometheus node cap', () => {
  it('building only the hosts the cap reaches draws and counts exactly what capping the whole topology does', () => {
    for (const mix of ['typical', 'all-mig'] as const) {
      const fleet = fleetOf(pick(fleetAnswers({ hosts: 30, mix }), HOST_REFIDS));
      const whole = capTopology(fleetTopology(fleet, undefined, []), 300);
      const built = fleetTopologyCapped(fleet, 300, []);
      expect(Array.from(built.topo.nodes.keys()).sort()).toEqual(Array.from(whole.topo.nodes.keys()).sort());
      expect(built.omitted!.total).toBe(whole.omitted!.total);
      expect(new Map([...built.omitted!.byHost].sort())).toEqual(new Map([...whole.omitted!.byHost].sort()));
    }
  });
});

describe('Prometheus host filter', () => {
  it('{host="$host"} answers and the panel\'s own host filter give the same host topology', () => {
    const all = pick(fleetAnswers({ hosts: 4 }), HOST_REFIDS);
    const narrowed = onlyHosts(all, ['sim-0002']);
    const ids = (t: ReturnType<typeof hostTopo>) => Array.from(t.nodes.keys()).sort();
    expect(ids(hostTopo(narrowed, 'sim-0002'))).toEqual(ids(hostTopo(all, 'sim-0002')));
  });
});
