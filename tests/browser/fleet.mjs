// A simulated fleet behind a real Prometheus, for the browser tests and the bench: the built
// `gpufleet-sidecar fleet-sim` serving N hosts, and Debian's Prometheus scraping them through its HTTP SD
// with the shipped fleet recording rules (prometheus/rules/gpufleet-fleet.rules.yml). Resolves once
// every host is scraped and the rules have evaluated on complete scrapes.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ROOT } from './server.mjs';

const CLI = join(ROOT, 'sidecar/dist/cli.js');
const RULES = join(ROOT, 'prometheus/rules/gpufleet-fleet.rules.yml');

function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

function stop(proc) {
  return new Promise((res) => {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      return res();
    }
    proc.once('exit', () => res());
    // A process the bench stopped (SIGSTOP) acts on SIGTERM only once it runs again.
    proc.kill('SIGCONT');
    proc.kill('SIGTERM');
  });
}

async function waitFor(what, fn, timeoutMs, logs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) {
      return v;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}\n${logs?.() ?? ''}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * Starts fleet-sim (`--hosts`, `--mix`, `--seed`) and Prometheus (scrape and rule interval `interval`
 * seconds, `extraArgs` for its flags, remote-writing to `remoteWriteUrl` when given, as a scale-out
 * shard does). Returns {promUrl, simUrl, query(expr), stop()}.
 */
export async function startFleet({
  hosts = 20,
  mix = 'typical',
  seed = 1,
  interval = 2,
  extraArgs = [],
  remoteWriteUrl,
  readyTimeoutMs = 180_000,
} = {}) {
  if (!existsSync(CLI)) {
    throw new Error(`${CLI} is missing: build the sidecar first (npm run build -w sidecar)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'gpufleet-browser-fleet-'));
  const procs = [];
  let log = '';
  const spawnLogged = (cmd, args) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.on('data', (d) => (log = (log + d).slice(-20_000)));
    p.stderr.on('data', (d) => (log = (log + d).slice(-20_000)));
    procs.push(p);
    return p;
  };
  const stopAll = async () => {
    for (const p of procs.reverse()) {
      await stop(p);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const simPort = await freePort();
    const simUrl = `http://127.0.0.1:${simPort}`;
    spawnLogged(process.execPath, [CLI, 'fleet-sim', '--hosts', String(hosts), '--mix', mix, '--seed', String(seed), '--listen', `127.0.0.1:${simPort}`]);
    await waitFor('fleet-sim listening', async () => (/listening on/.test(log) ? true : undefined), 60_000, () => log);

    const promPort = await freePort();
    const promUrl = `http://127.0.0.1:${promPort}`;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: ${interval}s\n  scrape_timeout: ${interval}s\n  evaluation_interval: ${interval}s\n` +
        `rule_files:\n  - ${RULES}\nscrape_configs:\n  - job_name: gpufleet-sidecar\n    http_sd_configs:\n` +
        `      - url: ${simUrl}/sd\n        refresh_interval: 5s\n` +
        (remoteWriteUrl ? `remote_write:\n  - url: ${remoteWriteUrl}/api/v1/write\n    queue_config:\n      batch_send_deadline: 2s\n` : '')
    );
    spawnLogged('prometheus', [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      ...extraArgs,
    ]);
    const query = async (expr) => {
      const r = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = await r.json();
      if (body.status !== 'success') {
        throw new Error(`${expr}: ${body.error}`);
      }
      return body.data.result;
    };
    await waitFor('Prometheus ready', async () => (await fetch(`${promUrl}/-/ready`)).ok, 60_000, () => log);
    await waitFor(
      `all ${hosts} simulated hosts scraped`,
      async () => (await query('up{job="gpufleet-sidecar"} == 1')).length === hosts,
      readyTimeoutMs,
      () => log
    );
    const allUpAt = Date.now() / 1000;
    await waitFor(
      'the fleet rules evaluated on complete scrapes',
      async () => {
        const ts = await query('timestamp(gpufleet:host_gpus:count)');
        return ts.length === hosts && ts.every((s) => Number(s.value[1]) > allUpAt + 0.5);
      },
      readyTimeoutMs,
      () => log
    );
    return { promUrl, simUrl, query, logs: () => log, pids: procs.map((p) => p.pid), stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
