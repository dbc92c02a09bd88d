// A real Prometheus (Debian's) on a free loopback port with a config the test writes, and its query API.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { freePort, json, waitFor } from './harness.js';


export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}


export interface Prometheus {
  url: string;
  dir: string;
  logs: () => string;
  /** Instant query; throws with Prometheus' error text on a bad query. */
  query: (q: string) => Promise<Sample[]>;
  stop: () => Promise<void>;
}

/** Starts Prometheus with `config` (YAML text) written into a fresh directory; extra files go beside it. */
export async function startPrometheus(config: string, files: Record<string, string> = {}): Promise<Prometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'gpufleet-prom-'));
  writeFileSync(join(dir, 'prometheus.yml'), config);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let log = '';
  const proc: ChildProcess = spawn('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stderr?.on('data', (d) => (log += d));
  proc.stdout?.on('data', (d) => (log += d));
  await waitFor('prometheus ready', async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined), 30_000).catch((err) => {
    throw new Error(`${String(err)}\n${log}`);
  });
  const api = async (path: string) => {
    const r = await json(`${url}${path}`);
    if (r.body.status !== 'success') throw new Error(`${path}: ${r.body.error ?? JSON.stringify(r.body)}`);
    return r.body.data;
  };
  return {
    url,
    dir,
    logs: () => log,
    query: async (q) => (await api(`/api/v1/query?query=${encodeURIComponent(q)}`)).result,
    stop: () =>
      new Promise<void>((res) => {
        if (proc.exitCode !== null) return res();
        proc.once('exit', () => res());
        proc.kill('SIGTERM');
      }).finally(() => rmSync(dir, { recursive: true, force: true })),
  };
}

/**
 * The repository's prometheus/prometheus.yml, pointed at a test sidecar: its static target and its engine
 * service discovery URL, with 1 s scrapes and rule evaluation and the real rule files by absolute path.
 */
export function gpufleetPrometheusConfig(root: string, sidecarHostPort: string): string {
  const cfg = parse(readFileSync(join(root, 'prometheus/prometheus.yml'), 'utf8'));
  cfg.global = { ...cfg.global, scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' };
  cfg.rule_files = (cfg.rule_files as string[]).map((f) => join(root, 'prometheus', f));
  for (const job of cfg.scrape_configs) {
    job.scrape_interval = '1s';
    job.scrape_timeout = '1s';
    for (const s of job.static_configs ?? []) s.targets = s.targets.map((t: string) => t.replace('localhost:9740', sidecarHostPort));
    for (const sd of job.http_sd_configs ?? []) {
      sd.url = sd.url.replace('localhost:9740', sidecarHostPort);
      sd.refresh_interval = '1s';
    }
  }
  return stringify(cfg);
}

export interface PromAlert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
  value: string;
}

/** Alerts of Prometheus' own rule evaluation (pending and firing). */
export async function prometheusAlerts(p: Prometheus): Promise<PromAlert[]> {
  const r = await json(`${p.url}/api/v1/alerts`);
  return r.body.data.alerts;
}
