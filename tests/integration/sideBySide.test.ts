// Several simulated hosts on one machine, as `sidecar --simulate` runs them: demo, small and faults side by
// side, then a second demo beside the first. Each has its own host name, its own GPUs and only its own
// engines (on ports of its own), and none adopts another's vLLM processes. A real Prometheus scrapes the three
// with the shipped configuration and rules, and the fleet dashboard's queries run on it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { emptyPanelsSettled, loadDashboards } from './dashboardQueries.js';
import { json, ROOT, startSidecar, waitFor, type Running } from './harness.js';
import { startPrometheus, type Prometheus } from './prom.js';

interface HostView {
  host: string;
  gpus: string[];
  engines: Array<{ id: string; port: string; pids: number[] }>;
}

async function view(s: Running): Promise<HostView> {
  const gpus = (await json(`${s.base}/api/v1/gpus`)).body;
  const engines = (await json(`${s.base}/api/v1/engines`)).body;
  return {
    host: gpus.host,
    gpus: gpus.gpus.map((g: any) => g.uuid),
    engines: engines.engines.map((e: any) => ({ id: e.id, port: new URL(e.endpoint).port, pids: e.workers.map((w: any) => w.pid).filter((p: any) => p !== null) })),
  };
}

/** Waits until the sidecar shows at least `gpus` GPUs and `engines` engines, all up or down (none unknown). */
async function settled(s: Running, gpus: number, engines: number): Promise<HostView> {
  return waitFor(`${s.base}: ${gpus} GPUs and ${engines} engines`, async () => {
    const v = await view(s);
    const list = (await json(`${s.base}/api/v1/engines`)).body.engines as any[];
    return v.gpus.length >= gpus && v.engines.length >= engines && list.every((e) => e.health !== 'unknown') ? v : undefined;
  }, 300_000);
}

function expectDisjoint(views: HostView[]): void {
  const all = (f: (v: HostView) => Array<string | number>) => views.flatMap(f);
  for (const f of [(v: HostView) => v.gpus, (v: HostView) => v.engines.map((e) => e.port), (v: HostView) => v.engines.flatMap((e) => e.pids)]) {
    const list = all(f);
    expect(new Set(list).size).toBe(list.length);
  }
}

/** prometheus/prometheus.yml for several sidecars: each one's /metrics and engine SD, 1 s scrapes and rules. */
function prometheusFor(sidecars: Running[]): string {
  const cfg = parse(readFileSync(join(ROOT, 'prometheus/prometheus.yml'), 'utf8'));
  cfg.global = { ...cfg.global, scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' };
  cfg.rule_files = (cfg.rule_files as string[]).map((f) => join(ROOT, 'prometheus', f));
  const hostPorts = sidecars.map((s) => new URL(s.base).host);
  for (const job of cfg.scrape_configs) {
    job.scrape_interval = '1s';
    job.scrape_timeout = '1s';
    for (const st of job.static_configs ?? []) st.targets = hostPorts;
    if (job.http_sd_configs) {
      const [sd] = job.http_sd_configs;
      job.http_sd_configs = hostPorts.map((hp) => ({ ...sd, url: sd.url.replace('localhost:9740', hp), refresh_interval: '1s' }));
    }
  }
  return stringify(cfg);
}

describe('three simulated hosts side by side', () => {
  const running: Running[] = [];
  let prom: Prometheus | undefined;
  let demo: HostView;
  let small: HostView;
  let faults: HostView;

  beforeAll(async () => {
    // Started together, as an operator's script would; demo and small both prefer port 18001 for their first
    // engine, so one of them moves. A sidecar that did start is stopped in afterAll even if another did not.
    const args = [['demo', '--docker-socket', 'none'], ['small'], ['faults', '--docker-socket', 'none']];
    const started = await Promise.allSettled(args.map((a) => startSidecar(['--simulate', ...a, '--interval', '1s'])));
    for (const r of started) if (r.status === 'fulfilled') running.push(r.value);
    for (const r of started) if (r.status === 'rejected') throw r.reason;
    const [d, s, f] = running as [Running, Running, Running];
    // demo: 8 GPUs, 9 engines (without Docker its container engine is found by the process scan, as a native
    // one); small: 1 and 1; faults: 6 GPUs (one may be lost), 5 engines.
    [demo, small, faults] = await Promise.all([settled(d, 8, 9), settled(s, 1, 1), settled(f, 5, 5)]);
  }, 480_000);

  afterAll(async () => {
    await prom?.stop();
    await Promise.all(running.map((r) => r.stop()));
  });

  it('each is its own host: distinct names, GPUs, engine ports and engine processes', () => {
    expect([demo.host, small.host, faults.host]).toEqual(['sim-demo', 'sim-small', 'sim-faults']);
    expectDisjoint([demo, small, faults]);
  });

  it('each sees only its own engines, named after its own host', () => {
    expect(demo.engines).toHaveLength(9);
    expect(small.engines).toHaveLength(1);
    expect(faults.engines).toHaveLength(5);
    for (const v of [demo, small, faults]) for (const e of v.engines) expect(e.id.startsWith(`${v.host}:`)).toBe(true);
  });

  it('/metrics: one gpufleet_host_info each, with its own host', async () => {
    for (const [r, v] of [[running[0], demo], [running[1], small], [running[2], faults]] as const) {
      const text = await (await fetch(`${r?.base}/metrics`)).text();
      const hosts = text.split('\n').filter((l) => l.startsWith('gpufleet_host_info{')).map((l) => /host="([^"]+)"/.exec(l)?.[1]);
      expect(hosts).toEqual([v.host]);
    }
  });

  it('the fleet dashboard on a real Prometheus scraping the three: the three hosts, and every query answers without an error', async () => {
    prom = await startPrometheus(prometheusFor(running.slice(0, 3)));
    const p = prom;
    await waitFor('the three sidecars scraped and the fleet rules evaluated', async () => {
      const up = await p.query('up{job="gpufleet-sidecar"} == 1');
      const tiles = await p.query('gpufleet:host_gpus:count');
      return up.length === 3 && tiles.length === 3 ? true : undefined;
    }, 120_000);
    expect((await p.query('gpufleet:host_gpus:count')).map((s) => s.metric.host).sort()).toEqual(
      [demo.host, faults.host, small.host].sort(),
    );
    const fleet = loadDashboards(ROOT).find((d) => d.uid === 'gpufleet-fleet');
    // Every Prometheus target of the dashboard, at All and then one host / model / engine at a time: a
    // failed join (422, duplicate series) throws; a target no assignment answers is listed.
    expect(await emptyPanelsSettled(fleet, p.query)).toEqual([]);
  }, 300_000);

  it('a second demo beside the first: another host, other GPUs, its own 9 engines on other ports', async () => {
    const second = await startSidecar(['--simulate', 'demo', '--hostname', 'sim-demo-2', '--interval', '1s', '--docker-socket', 'none']);
    running.push(second);
    const v = await settled(second, 8, 9);
    expect(v.gpus.filter((u) => demo.gpus.includes(u))).toEqual([]);
    expect(v.host).toBe('sim-demo-2');
    expect(v.engines).toHaveLength(9);
    expectDisjoint([demo, small, faults, v]);
    // The first demo still sees only its own.
    expect((await view(running[0] as Running)).engines.map((e) => e.port).sort()).toEqual(demo.engines.map((e) => e.port).sort());
  }, 300_000);
});
