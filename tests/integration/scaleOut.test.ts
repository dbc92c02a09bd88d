// The scale-out store of prometheus/scale-out/, run as shipped: two Prometheus shards (hashmod relabeling,
// each keeping its remainder) scrape a simulated fleet of 50 hosts (fleet-sim, through HTTP SD, with the
// cluster and rack an operator's relabeling would set) beside a demo sidecar and its vLLM engines (the
// latency panels need real engine histograms), and remote-write into VictoriaMetrics
// single-node; vmalert evaluates prometheus/rules/*.yml unchanged against VictoriaMetrics and writes the
// recorded series and ALERTS back. Through VictoriaMetrics' Prometheus API: every provisioned dashboard
// query answers with data and no join error, the fleet recording rules give one series per host, and an
// alert fires, reaches Alertmanager and is counted for its host.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ALERT_RULES } from '../../provisioning/generate/alertRules.js';
import { SLO_RULES } from '../../provisioning/generate/sloRules.js';
import { FLEET_RULES } from '../../provisioning/generate/fleetRules.js';
import { emptyPanelsSettled, loadDashboards } from './dashboardQueries.js';
import { topologyNameProblems, typicalHosts } from './topologyQueries.js';
import { CLI, freePort, json, ROOT, startSidecar, waitFor, type Running } from './harness.js';
import { instantQuery, startPrometheus, stopProcess, type Prometheus } from './prom.js';
import { startVictoriaMetrics, startVmalert, type Daemon } from './victoria.js';

const SCALE_OUT = join(ROOT, 'prometheus/scale-out');
const dashboards = loadDashboards(ROOT);
const FLEET_HOSTS = 50;

/**
 * A shipped shard config pointed at this test's sidecar, fleet simulator and store, relabeling and remote
 * write as shipped. The sidecars' job scrapes every 10 s: fleet-sim renders 50 hosts per round on a
 * machine shared with other work; the engines every 2 s, for their latency rates.
 */
function shardConfig(shard: number, sidecar: string, fleetSd: string, store: string): string {
  const cfg = parse(readFileSync(join(SCALE_OUT, `prometheus-shard-${shard}.yml`), 'utf8'));
  cfg.global = { ...cfg.global, scrape_interval: '2s', scrape_timeout: '2s', evaluation_interval: '2s' };
  for (const job of cfg.scrape_configs) {
    if (job.job_name === 'gpufleet-sidecar') {
      job.static_configs = [{ targets: [sidecar] }];
      job.http_sd_configs = [{ url: fleetSd, refresh_interval: '2s' }];
      job.scrape_interval = '10s';
      job.scrape_timeout = '10s';
    }
    if (job.job_name === 'vllm-engines') {
      job.http_sd_configs = [{ url: `http://${sidecar}/api/v1/sd/engines`, refresh_interval: '2s' }];
      job.scrape_interval = '2s';
      job.scrape_timeout = '2s';
    }
  }
  cfg.remote_write = cfg.remote_write.map((w: any) => ({ ...w, url: w.url.replace('http://victoria-metrics:8428', store) }));
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
  let fleetSim: ChildProcess;
  let vm: Daemon;
  let vmalert: Daemon;
  let alertmanager: Alertmanager;
  const shards: Prometheus[] = [];
  let query: ReturnType<typeof instantQuery>;

  beforeAll(async () => {
    alertmanager = await startAlertmanager();
    sidecar = await startSidecar(['--simulate', 'demo', '--interval', '1s', '--docker-socket', 'none']);
    sidecar.control({ t: 30 });
    const simPort = await freePort();
    let simLog = '';
    fleetSim = spawn(process.execPath, [CLI, 'fleet-sim', '--hosts', String(FLEET_HOSTS), '--listen', `127.0.0.1:${simPort}`, '--seed', '3'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    fleetSim.stdout?.on('data', (d) => (simLog += d));
    fleetSim.stderr?.on('data', (d) => (simLog += d));
    await waitFor('fleet-sim serving /sd', async () => ((await fetch(`http://127.0.0.1:${simPort}/sd`)).ok ? true : undefined), 60_000).catch((err) => {
      throw new Error(`${String(err)}\n${simLog}`);
    });
    vm = await startVictoriaMetrics(join(SCALE_OUT, 'victoria-metrics.flags'));
    query = instantQuery(vm.url);
    const sidecarAddress = sidecar.base.replace('http://', '');
    for (const shard of [0, 1]) shards.push(await startPrometheus(shardConfig(shard, sidecarAddress, `http://127.0.0.1:${simPort}/sd`, vm.url)));
    vmalert = await startVmalert(join(SCALE_OUT, 'vmalert.flags'), ROOT, {
      'datasource.url': vm.url,
      'remoteWrite.url': vm.url,
      'remoteRead.url': vm.url,
      'notifier.url': alertmanager.url,
      evaluationInterval: '2s',
      'remoteWrite.flushInterval': '1s',
    });
    let seen = '';
    await waitFor('demo engines, their latency rates and the fleet rules in VictoriaMetrics', async () => {
      const info = await query('gpufleet_engine_info{instance="' + sidecarAddress + '"}');
      const ttft = await query('count(rate(vllm:time_to_first_token_seconds_bucket{le="+Inf"}[1m]))');
      const recorded = await query('gpufleet:host_alerts_firing:count');
      seen = `engines ${info.length}, engines with rates ${ttft[0]?.value[1] ?? 0}, hosts recorded ${recorded.length}`;
      return info.length >= 8 && Number(ttft[0]?.value[1] ?? 0) >= 8 && recorded.length === FLEET_HOSTS + 1 ? true : undefined;
    }, 150_000).catch((err) => {
      throw new Error(`${String(err)} (last seen: ${seen})`);
    });
  }, 240_000);

  afterAll(async () => {
    await vmalert?.stop();
    for (const s of shards) await s.stop();
    await vm?.stop();
    await sidecar?.stop();
    if (fleetSim) await stopProcess(fleetSim);
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

  it.each(dashboards.map((d) => [d.title, d]))('%s: every Prometheus panel query answers with data and no error through VictoriaMetrics, all hosts at once and one by one', async (_t, d: any) => {
    expect(await emptyPanelsSettled(d, query)).toEqual([]);
  }, 180_000);

  it('the fleet topology panel\'s queries through VictoriaMetrics: multi-family rows keep their __name__, and every family comes back at the fleet and at each host\'s level', async () => {
    const fleet = dashboards.find((d) => d.uid === 'gpufleet-fleet');
    const panel = fleet.panels.find((p: any) => p.targets?.some((t: any) => t.refId === 'gpu_families'));
    const hosts = await typicalHosts(query);
    expect(hosts.length).toBe(3);
    expect(await topologyNameProblems(fleet, panel, query, hosts)).toEqual([]);
  }, 120_000);

  it('vmalert evaluates every alert and recording rule of prometheus/rules/ without an error', async () => {
    // vmalert's Prometheus-compatible rules API.
    const groups = (await json(`${vmalert.url}/api/v1/rules`)).body.data.groups;
    const rules = groups.flatMap((g: any) => g.rules);
    expect(rules.length).toBe(ALERT_RULES.length + FLEET_RULES.length + SLO_RULES.length);
    for (const r of rules) {
      expect({ rule: r.name, health: r.health, lastError: r.lastError ?? '' }).toEqual({ rule: r.name, health: 'ok', lastError: '' });
    }
  });

  it('the fleet recording rules give one series per host in the store, with its cluster and rack, as computed from the raw series', async () => {
    const info = await query('gpufleet_host_info');
    const hosts = new Map(info.map((s) => [s.metric.host as string, s.metric]));
    expect(hosts.size).toBe(FLEET_HOSTS + 1);
    for (const { record } of FLEET_RULES) {
      const series = await query(record);
      if (record === 'gpufleet:host_mig_profile_free:count') {
        // One row per host and profile (not zero-filled: hosts without MIG instances have none).
        const keys = series.map((s) => `${s.metric.host}/${s.metric.profile}`);
        expect({ record, unique: new Set(keys).size, known: series.every((s) => hosts.has(s.metric.host as string) && !!s.metric.profile) })
          .toEqual({ record, unique: keys.length, known: true });
        continue;
      }
      const perHost = series.map((s) => s.metric.host).sort();
      const present = record.endsWith(':avg') || record.endsWith(':ratio')
        // Absent where no GPU reports utilization (every GPU in MIG mode) or the host has no GPU memory.
        ? [...hosts.keys()].filter((h) => series.some((s) => s.metric.host === h))
        : [...hosts.keys()];
      expect({ record, perHost }).toEqual({ record, perHost: present.sort() });
      // The labels the operator's relabeling attached to the host's targets are kept.
      for (const s of series) {
        const host = hosts.get(s.metric.host as string) as Record<string, string>;
        expect({ record, cluster: s.metric.cluster, rack: s.metric.rack, instance: s.metric.instance })
          .toEqual({ record, cluster: host.cluster, rack: host.rack, instance: host.instance });
      }
    }
    const fleetRacks = await query('count by (rack) (gpufleet:host_gpus:count{rack!=""})');
    expect(fleetRacks.length).toBeGreaterThan(1);
    const gpus = await query('gpufleet:host_gpus:count - on (host) count by (host) (gpufleet_gpu_info)');
    expect(gpus.length).toBeGreaterThan(FLEET_HOSTS / 2);
    expect(gpus.filter((s) => Number(s.value[1]) !== 0)).toEqual([]);
    const util = await query('gpufleet:host_gpu_utilization:avg');
    expect(util.length).toBeGreaterThan(FLEET_HOSTS / 2);
  });

  it('an alert fires through vmalert, reaches Alertmanager and is counted for its host', async () => {
    // GPU 7 (a training job, no engine) falls off the bus: GpuLost has no `for`.
    sidecar.control({ t: 30, lostGpus: [7] });
    const host = (await query(`gpufleet_host_info{instance="${sidecar.base.replace('http://', '')}"}`))[0]?.metric.host;
    expect(host).toBeDefined();
    await waitFor('GpuLost at Alertmanager', async () => alertmanager.received.some((a) => a.labels?.alertname === 'GpuLost' && a.labels?.host === host) || undefined, 60_000);
    await waitFor('the firing alert counted for its host', async () => {
      const r = await query(`gpufleet:host_alerts_firing:count{host="${host}"}`);
      return Number(r[0]?.value[1] ?? 0) >= 1 ? true : undefined;
    }, 60_000);
  }, 150_000);
});
