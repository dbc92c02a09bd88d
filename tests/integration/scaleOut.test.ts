// The scale-out store of prometheus/scale-out/, run as shipped: two Prometheus shards (hashmod relabeling,
// each keeping its remainder) scrape the sidecars and engines and remote-write into VictoriaMetrics
// single-node; vmalert evaluates prometheus/rules/*.yml unchanged against VictoriaMetrics and writes the
// recorded series and ALERTS back. Through VictoriaMetrics' Prometheus API: every provisioned dashboard
// query answers with data and no join error, the fleet recording rules give one series per host, and an
// alert fires, reaches Alertmanager and is counted for its host.
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ALERT_RULES } from '../../provisioning/generate/alertRules.js';
import { FLEET_RULES } from '../../provisioning/generate/fleetRules.js';
import { emptyPanelsSettled, loadDashboards, queryErrorsAllSelected } from './dashboardQueries.js';
import { freePort, json, ROOT, startSidecar, waitFor, type Running } from './harness.js';
import { instantQuery, startPrometheus, type Prometheus } from './prom.js';
import { startVictoriaMetrics, startVmalert, type Daemon } from './victoria.js';

const SCALE_OUT = join(ROOT, 'prometheus/scale-out');
const dashboards = loadDashboards(ROOT);

/** A shipped shard config pointed at this test's sidecar and store, with 1 s scrapes; relabeling as shipped. */
function shardConfig(shard: number, sidecar: string, store: string): string {
  const cfg = parse(readFileSync(join(SCALE_OUT, `prometheus-shard-${shard}.yml`), 'utf8'));
  cfg.global = { ...cfg.global, scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' };
  for (const job of cfg.scrape_configs) {
    job.scrape_interval = '1s';
    job.scrape_timeout = '1s';
    for (const s of job.static_configs ?? []) s.targets = [sidecar];
    if (job.http_sd_configs) job.http_sd_configs = [{ url: `http://${sidecar}/api/v1/sd/engines`, refresh_interval: '1s' }];
  }
  cfg.remote_write = cfg.remote_write.map((w: any) => ({
    ...w,
    url: w.url.replace('http://victoria-metrics:8428', store),
    queue_config: { batch_send_deadline: '1s' },
  }));
  return stringify(cfg);
}

interface Alertmanager {
  url: string;
  received: Array<Record<string, any>>;
  close: () => Promise<void>;
}

/** Stands in for Alertmanager: keeps what vmalert posts to /api/v2/alerts. */
async function startAlertmanager(): Promise<Alertmanager> {
  const received: Array<Record<string, any>> = [];
  const port = await freePort();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/api/v2/alerts') received.push(...JSON.parse(body));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((res) => server.listen(port, '127.0.0.1', res));
  return { url: `http://127.0.0.1:${port}`, received, close: () => new Promise((res) => server.close(() => res())) };
}

describe('scale-out store: two Prometheus shards → VictoriaMetrics, rules in vmalert', () => {
  let sidecar: Running;
  let vm: Daemon;
  let vmalert: Daemon;
  let alertmanager: Alertmanager;
  const shards: Prometheus[] = [];
  let query: ReturnType<typeof instantQuery>;

  beforeAll(async () => {
    alertmanager = await startAlertmanager();
    sidecar = await startSidecar(['--simulate', 'demo', '--interval', '1s', '--docker-socket', 'none']);
    sidecar.control({ t: 30 });
    // Samples become visible to queries 1 s after their timestamp, not the shipped 5 s: the test scrapes every second.
    vm = await startVictoriaMetrics(join(SCALE_OUT, 'victoria-metrics.flags'), { 'search.latencyOffset': '1s' });
    query = instantQuery(vm.url);
    const sidecarAddress = sidecar.base.replace('http://', '');
    for (const shard of [0, 1]) shards.push(await startPrometheus(shardConfig(shard, sidecarAddress, vm.url)));
    vmalert = await startVmalert(join(SCALE_OUT, 'vmalert.flags'), ROOT, {
      'datasource.url': vm.url,
      'remoteWrite.url': vm.url,
      'remoteRead.url': vm.url,
      'notifier.url': alertmanager.url,
      evaluationInterval: '1s',
      'remoteWrite.flushInterval': '1s',
    });
    await waitFor('demo engines, their latency rates and the fleet rules in VictoriaMetrics', async () => {
      const info = await query('gpufleet_engine_info');
      const ttft = await query('count(rate(vllm:time_to_first_token_seconds_bucket{le="+Inf"}[1m]))');
      const recorded = await query('gpufleet:host_gpus:count');
      return info.length >= 8 && Number(ttft[0]?.value[1] ?? 0) >= 8 && recorded.length > 0 ? true : undefined;
    }, 120_000);
  }, 180_000);

  afterAll(async () => {
    await vmalert?.stop();
    for (const s of shards) await s.stop();
    await vm?.stop();
    await sidecar?.stop();
    await alertmanager?.close();
  });

  it('each shard scrapes its own part of the targets, and together all of them', async () => {
    const scraped = await Promise.all(shards.map(async (s) => {
      const r = await json(`${s.url}/api/v1/targets?state=active`);
      return r.body.data.activeTargets.map((t: any) => t.scrapeUrl as string);
    }));
    const [a, b] = scraped as [string[], string[]];
    expect(a.length).toBeGreaterThan(0);
    expect(b.length).toBeGreaterThan(0);
    expect(a.filter((u) => b.includes(u))).toEqual([]);
    // Every target the store has a series for came from one shard or the other.
    const up = await query('up');
    expect(up.length).toBe(a.length + b.length);
  });

  it.each(dashboards.map((d) => [d.title, d]))('%s: every Prometheus panel query answers with data through VictoriaMetrics', async (_t, d: any) => {
    expect(await emptyPanelsSettled(d, query)).toEqual([]);
  });

  it.each(dashboards.map((d) => [d.title, d]))('%s: every Prometheus panel query answers for the whole fleet at once (all hosts selected)', async (_t, d: any) => {
    expect(await queryErrorsAllSelected(d, query)).toEqual([]);
  });

  it('vmalert evaluates every alert and recording rule of prometheus/rules/ without an error', async () => {
    // vmalert's Prometheus-compatible rules API.
    const groups = (await json(`${vmalert.url}/api/v1/rules`)).body.data.groups;
    const rules = groups.flatMap((g: any) => g.rules);
    expect(rules.length).toBe(ALERT_RULES.length + FLEET_RULES.length);
    for (const r of rules) {
      expect({ rule: r.name, health: r.health, lastError: r.lastError ?? '' }).toEqual({ rule: r.name, health: 'ok', lastError: '' });
    }
  });

  it('the fleet recording rules give one series per host in the store, as computed from the raw series', async () => {
    const hosts = new Set((await query('gpufleet_gpu_info')).map((s) => s.metric.host));
    expect(hosts.size).toBeGreaterThan(0);
    for (const { record } of FLEET_RULES) {
      const series = await query(record);
      const perHost = series.map((s) => s.metric.host).sort();
      // Every host once; the alert count is 0 on a healthy fleet but present.
      expect({ record, perHost }).toEqual({ record, perHost: [...hosts].sort() });
    }
    const gpus = await query('gpufleet:host_gpus:count - on (host) count by (host) (gpufleet_gpu_info)');
    expect(gpus.map((s) => Number(s.value[1]))).toEqual([...hosts].map(() => 0));
  });

  it('an alert fires through vmalert, reaches Alertmanager and is counted for its host', async () => {
    // GPU 7 (a training job, no engine) falls off the bus: GpuLost has no `for`.
    sidecar.control({ t: 30, lostGpus: [7] });
    const host = (await query('gpufleet_gpu_info'))[0]?.metric.host;
    await waitFor('GpuLost at Alertmanager', async () => alertmanager.received.some((a) => a.labels?.alertname === 'GpuLost' && a.labels?.host === host) || undefined, 60_000);
    await waitFor('the firing alert counted for its host', async () => {
      const r = await query(`gpufleet:host_alerts_firing:count{host="${host}"}`);
      return Number(r[0]?.value[1] ?? 0) >= 1 ? true : undefined;
    }, 30_000);
  });
});
