// The fleet dashboard's topology panel end to end: a real Prometheus scrapes `fleet-sim --hosts 50` through
// HTTP SD and evaluates the fleet recording rules; the panel's targets, resolved as Grafana would for each
// level (all hosts, one host, a model filter), answer as instant queries; each answer becomes the table frame
// Grafana's Prometheus data source hands the panel, and the panel's own transform says what a user sees.
// What it must show is counted from the raw families, not from the dashboard's queries.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rowKind } from '../../src/panels/topology/prometheus/contract.js';
import { type Fleet, buildFleet } from '../../src/panels/topology/prometheus/fleet.js';
import { readRows } from '../../src/panels/topology/prometheus/rows.js';
import { fleetWarnings, tileGroups } from '../../src/panels/topology/prometheus/tiles.js';
import { fleetTopology, fleetTopologyCapped, missingFamilies } from '../../src/panels/topology/prometheus/topology.js';
import { tableFrames, type Sample as FrameSample } from '../../src/panels/topology/testing/prometheus.js';
import { allSelected, emptyPanels, interpolate, loadDashboards, type Vars } from './dashboardQueries.js';
import { topologyNameProblems, typicalHosts } from './topologyQueries.js';
import { ROOT, startFleetSim, waitFor, type FleetSim } from './harness.js';
import { startPrometheus, type Prometheus, type Sample } from './prom.js';

const HOSTS = 50;
const RULE_FILE = join(ROOT, 'prometheus/rules/gpufleet-fleet.rules.yml');
const fleetDashboard = loadDashboards(ROOT).find((d) => d.uid === 'gpufleet-fleet');
const panelType = JSON.parse(readFileSync(join(ROOT, 'src/panels/topology/plugin.json'), 'utf8')).id;
const panel = fleetDashboard.panels.find((p: any) => p.type === panelType);

/** A value as Grafana's Prometheus data source puts a multi-value variable into a query (regex-escaped). */
const grafanaRegex = (v: string) => v.replace(/\\/g, '\\\\\\\\').replace(/[$^*{}[\]'+?.()|]/g, '\\\\$&');

describe('the fleet dashboard\'s topology panel on fleet-sim and Prometheus', () => {
  let sim: FleetSim;
  let prom: Prometheus;

  /** Every topology target with these variables, as the panel receives them: answers by refId, and the fleet. */
  async function panelSees(vars: Vars): Promise<{ answers: Record<string, Sample[]>; fleet: Fleet }> {
    const answers: Record<string, Sample[]> = {};
    for (const t of panel.targets) answers[t.refId] = await prom.query(interpolate(t.expr, vars));
    const frames: Record<string, FrameSample[]> = Object.fromEntries(
      Object.entries(answers).map(([refId, rows]) => [refId, rows.map((s) => ({ metric: s.metric, value: s.value[1] }))]),
    );
    return { answers, fleet: buildFleet(readRows(tableFrames(frames)), vars.group as string) };
  }

  /** `count by (host) (expr)` as a map. */
  async function countByHost(expr: string): Promise<Map<string, number>> {
    return new Map((await prom.query(`count by (host) (${expr})`)).map((s) => [s.metric.host as string, Number(s.value[1])]));
  }

  const key = (...parts: Array<string | undefined>) => parts.join('/');

  beforeAll(async () => {
    sim = await startFleetSim(['--hosts', String(HOSTS), '--seed', '1', '--mix', 'typical']);
    prom = await startPrometheus(
      `global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\n  evaluation_interval: 2s\nrule_files:\n  - ${RULE_FILE}\n` +
        `scrape_configs:\n  - job_name: gpufleet-sidecar\n    http_sd_configs:\n      - url: ${sim.base}/sd\n        refresh_interval: 5s\n`,
    );
    await waitFor('every simulated host scraped', async () => {
      const up = await prom.query('up{job="gpufleet-sidecar"} == 1');
      return up.length === HOSTS ? true : undefined;
    }, 90_000);
    // The rules have evaluated on complete scrapes once every host's rule series is newer than the scrape
    // that made the last host up.
    const allUpAt = Date.now() / 1000;
    await waitFor('the fleet rules evaluated after every host was scraped', async () => {
      const ts = await prom.query('timestamp(gpufleet:host_gpus:count)');
      return ts.length === HOSTS && ts.every((s) => Number(s.value[1]) > allUpAt + 0.5) ? true : undefined;
    }, 60_000);
  }, 240_000);

  afterAll(async () => {
    await prom?.stop();
    await sim?.stop();
  });

  it('all hosts: one tile per host with the counts of the raw families, no per-GPU rows, no warnings', async () => {
    const vars = allSelected(fleetDashboard);
    const { answers, fleet } = await panelSees(vars);
    // Fleet level: the browser gets one series per host and figure, nothing per GPU or engine.
    const detailRows = Object.entries(answers)
      .map(([r, rows]) => [r, rows.filter((s) => rowKind(s.metric as Record<string, string>) !== 'host').length] as const)
      .filter(([, n]) => n > 0)
      .map(([r, n]) => `${r}: ${n}`);
    expect(detailRows).toEqual([]);

    const tiles = tileGroups(fleet).flatMap((g) => g.tiles);
    const hosts = new Set((await prom.query('gpufleet_host_info')).map((s) => s.metric.host));
    expect(hosts.size).toBe(HOSTS);
    expect(tiles.map((t) => t.host).sort()).toEqual([...hosts].sort());
    // Grouped by the group variable's label, as the operator's relabeling set it (the SD list's cluster).
    const clusters = new Set((await prom.query('up{job="gpufleet-sidecar"}')).map((s) => s.metric.cluster));
    expect(new Set(tileGroups(fleet).map((g) => g.group))).toEqual(clusters);

    const raw = {
      gpus: await countByHost('gpufleet_gpu_info'),
      mig: await countByHost('gpufleet_mig_instance_info'),
      vgpu: await countByHost('gpufleet_vgpu_instance_info'),
      engines: await countByHost('gpufleet_engine_info'),
    };
    const seen = tiles.map((t) => ({ host: t.host, gpus: t.gpus, mig: t.mig, vgpu: t.vgpu, engines: t.engines }));
    const want = tiles.map((t) => ({
      host: t.host,
      gpus: raw.gpus.get(t.host) ?? 0,
      mig: raw.mig.get(t.host) ?? 0,
      vgpu: raw.vgpu.get(t.host) ?? 0,
      engines: raw.engines.get(t.host) ?? 0,
    }));
    expect(seen).toEqual(want);
    // The typical mix has MIG and vGPU hosts: the comparison above is not all zeros.
    expect([raw.mig.size > 0, raw.vgpu.size > 0, raw.engines.size > 0]).toEqual([true, true, true]);
    expect([...fleet.warnings, ...fleetWarnings(fleet)]).toEqual([]);
  });

  for (const kind of ['MIG', 'vGPU'] as const) {
    it(`one ${kind} host: its GPUs, ${kind} instances and engines with their rank edges, as the raw series say, and no other host`, async () => {
      const family = kind === 'MIG' ? 'gpufleet_mig_instance_info' : 'gpufleet_vgpu_instance_info';
      const candidates = [...(await countByHost(`${family} and on (host) gpufleet_engine_info`)).keys()].sort();
      const host = candidates[0] ?? [...(await countByHost(family)).keys()].sort()[0];
      expect(host).toBeDefined();
      const vars = { ...allSelected(fleetDashboard), host: host as string };
      const { answers, fleet } = await panelSees(vars);
      const others = Object.entries(answers).flatMap(([r, rows]) => rows.filter((s) => s.metric.host !== host).map((s) => `${r}: ${s.metric.host}`));
      expect(others).toEqual([]);

      const h = fleet.hosts.get(host as string)!;
      expect(h).toBeDefined();
      const sel = `{host="${host}"}`;
      const ids = async (q: string, ...labels: string[]) => new Set((await prom.query(q + sel)).map((s) => key(...labels.map((l) => s.metric[l]))));
      expect(new Set(h.detail.gpus.keys())).toEqual(await ids('gpufleet_gpu_info', 'gpu_uuid'));
      expect(new Set(h.detail.migs.keys())).toEqual(await ids('gpufleet_mig_instance_info', 'mig_uuid'));
      expect(new Set(h.detail.vgpus.keys())).toEqual(await ids('gpufleet_vgpu_instance_info', 'gpu_uuid', 'vgpu_id'));
      expect(new Set(h.detail.engines.keys())).toEqual(await ids('gpufleet_engine_info', 'engine_id'));

      // What is drawn: every rank of every engine, engine → rank → its MIG instance (when on one), else its GPU.
      const topo = fleetTopology(fleet, [host as string], []);
      const drawn = new Set(topo.edges.map((e) => `${e.source} -> ${e.target}`));
      const onMig = new Map((await prom.query(`gpufleet_engine_mig${sel}`)).map((s) => [key(s.metric.engine_id, s.metric.rank), s.metric.mig_uuid]));
      const ranks = await prom.query(`gpufleet_engine_gpu${sel}`);
      const missing: string[] = [];
      for (const r of ranks) {
        const { engine_id: engine, rank, gpu_uuid: gpu } = r.metric;
        const worker = `worker:${host}/${engine}/${rank}`;
        const mig = onMig.get(key(engine, rank));
        const target = mig ? `mig:${host}/${mig}` : `gpu:${host}/${gpu}`;
        for (const edge of [`engine:${host}/${engine} -> ${worker}`, `${worker} -> ${target}`]) if (!drawn.has(edge)) missing.push(edge);
      }
      expect(missing).toEqual([]);
      // Every instance is drawn, under its GPU.
      const instances = kind === 'MIG'
        ? [...h.detail.migs.keys()].map((id) => `mig:${host}/${id}`)
        : [...h.detail.vgpus.keys()].map((id) => `vgpu:${host}/${id}`);
      expect(instances.length).toBeGreaterThan(0);
      expect(instances.filter((id) => !topo.parentGpu.has(id))).toEqual([]);
      // The simulated MIG hosts run an engine per slice; its vGPU hosts run VMs only.
      if (kind === 'MIG') expect([ranks.length > 0, onMig.size > 0]).toEqual([true, true]);
      expect([...fleet.warnings, ...missingFamilies(fleet, h)]).toEqual([]);
    });
  }

  it('a model filter: only that model\'s engines across hosts, the GPUs and MIG instances their ranks use, under the node cap', async () => {
    const info = await prom.query('gpufleet_engine_info');
    const byModel = new Map<string, Set<string>>();
    for (const s of info) {
      const m = s.metric.model;
      if (!m) continue;
      if (!byModel.has(m)) byModel.set(m, new Set());
      byModel.get(m)!.add(s.metric.host as string);
    }
    // A model served on several hosts, but not on every one: the filter has something to leave out.
    const model = [...byModel.entries()].filter(([, hosts]) => hosts.size > 1).sort((a, b) => a[1].size - b[1].size || a[0].localeCompare(b[0]))[0]?.[0];
    expect(model).toBeDefined();
    const engines = new Set(info.filter((s) => s.metric.model === model).map((s) => key(s.metric.host, s.metric.engine_id)));
    const gpus = new Set<string>();
    for (const s of await prom.query('gpufleet_engine_gpu')) if (engines.has(key(s.metric.host, s.metric.engine_id))) gpus.add(key(s.metric.host, s.metric.gpu_uuid));
    const migs = new Set<string>();
    for (const s of await prom.query('gpufleet_engine_mig')) if (engines.has(key(s.metric.host, s.metric.engine_id))) migs.add(key(s.metric.host, s.metric.mig_uuid));

    const vars = { ...allSelected(fleetDashboard), model: grafanaRegex(model as string) };
    const { fleet } = await panelSees(vars);
    const hosts = [...fleet.hosts.values()];
    const got = (pick: (h: (typeof hosts)[number]) => Iterable<string>) => new Set(hosts.flatMap((h) => [...pick(h)].map((id) => key(h.host, id))));
    expect(got((h) => h.detail.engines.keys())).toEqual(engines);
    expect(got((h) => h.detail.gpus.keys())).toEqual(gpus);
    expect(got((h) => h.detail.migs.keys())).toEqual(migs);
    // Engines do not run on vGPU instances: the filter keeps those of its GPUs (none when no engine shares a GPU with VMs).
    const vgpus = new Set((await prom.query('gpufleet_vgpu_instance_info')).filter((s) => gpus.has(key(s.metric.host, s.metric.gpu_uuid))).map((s) => key(s.metric.host, s.metric.gpu_uuid, s.metric.vgpu_id)));
    expect(got((h) => h.detail.vgpus.keys())).toEqual(vgpus);
    expect(fleet.warnings).toEqual([]);

    // What the panel draws across hosts (the filtered view): only engines of the model.
    const { topo } = fleetTopologyCapped(fleet, 800, []);
    const titles = new Set(topo.engines.map((n) => n.detail.model));
    expect([...titles]).toEqual([model]);
  });

  it('the engine list: empty while every host and model is selected; a picked host\'s or model\'s engines otherwise', async () => {
    // As Grafana's Prometheus data source lists a variable's values: the label-values API with the selector as match[].
    const variable = fleetDashboard.templating.list.find((v: any) => v.name === 'engine');
    const [, selector, label] = /^label_values\((.*), (\w+)\)$/.exec(variable.definition) as string[];
    const listed = async (vars: Vars) => {
      const url = `${prom.url}/api/v1/label/${label}/values?match[]=${encodeURIComponent(interpolate(selector as string, vars))}`;
      const answer = (await (await fetch(url)).json()) as { status: string; data: string[] };
      expect(answer.status).toBe('success');
      return new Set(answer.data);
    };
    const info = await prom.query('gpufleet_engine_info');
    const all = allSelected(fleetDashboard);
    expect(info.length).toBeGreaterThan(HOSTS);
    expect(await listed(all)).toEqual(new Set());

    const host = info[0]?.metric.host as string;
    expect(await listed({ ...all, host: grafanaRegex(host) })).toEqual(new Set(info.filter((s) => s.metric.host === host).map((s) => s.metric.engine_id)));
    const model = info.find((s) => s.metric.model)?.metric.model as string;
    const ofModel = new Set(info.filter((s) => s.metric.model === model).map((s) => s.metric.engine_id));
    expect(ofModel.size).toBeGreaterThan(0);
    expect(await listed({ ...all, model: grafanaRegex(model) })).toEqual(ofModel);
  });

  it('several families per query: every row keeps its family\'s __name__, and each level brings back every family the store has', async () => {
    const hosts = await typicalHosts(prom.query);
    expect(hosts.length).toBe(3);
    expect(await topologyNameProblems(fleetDashboard, panel, prom.query, hosts)).toEqual([]);
  });

  it('every topology query answers without an error, and with rows at some level of the variables', async () => {
    expect(await emptyPanels({ ...fleetDashboard, panels: [panel] }, prom.query)).toEqual([]);
  });
});
