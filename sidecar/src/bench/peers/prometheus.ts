// Our one-hour timeseries query against Prometheus' query_range over the same data: the bench
// server's hour of demo history is exported as OpenMetrics, backfilled into a fresh TSDB with
// `promtool tsdb create-blocks-from openmetrics`, and a real Prometheus serves it. Both are asked for
// every GPU's utilization over the hour in about 1,000 points, at 200 requests/s.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { start, stop } from '../children.js';
import { freePort, waitReady } from '../load.js';
import { promName } from '../openMetrics.js';
import { compare, compareHeader, heading, line } from '../print.js';
import { formatMs } from '../stats.js';
import { demoEnv } from '../demoHost.js';
import { measureServer } from './measureServer.js';

const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';

interface BenchServer {
  port: number;
  series: number;
  span: { from: number; to: number };
}

export async function prometheusBench(seconds: number): Promise<void> {
  if (!existsSync(PROMETHEUS) || !existsSync(PROMTOOL)) {
    heading('11. 1 h timeseries against Prometheus query_range: skipped (prometheus / promtool not installed)');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'gpufleet-bench-prom-'));
  const exportFile = join(dir, 'history.om');
  const server = start(process.execPath, [fileURLToPath(new URL('../server.js', import.meta.url))], {
    env: { ...demoEnv(), GPUFLEET_BENCH_EXPORT: exportFile },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let prom: ReturnType<typeof start> | null = null;
  try {
    const info = await new Promise<BenchServer>((resolve, reject) => {
      server.stdout?.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()) as BenchServer));
      server.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
    });
    const tsdb = join(dir, 'tsdb');
    const t0 = performance.now();
    execFileSync(PROMTOOL, ['tsdb', 'create-blocks-from', 'openmetrics', exportFile, tsdb], { stdio: 'ignore' });
    const backfillS = (performance.now() - t0) / 1000;
    writeFileSync(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 15s\n');
    const port = await freePort();
    prom = start(PROMETHEUS, [
      `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${tsdb}`, `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=30d', '--log.level=warn',
    ]);
    const promBase = `http://127.0.0.1:${port}`;
    await waitReady(`${promBase}/-/ready`, 60_000);
    const version = `Prometheus ${/version (\S+)/.exec(execFileSync(PROMETHEUS, ['--version'], { encoding: 'utf8' }))?.[1] ?? ''}`;

    const { from, to } = info.span;
    const points = 1000;
    const body = JSON.stringify({ queries: [{ refId: 'A', kind: 'timeseries', metric: 'gpu.utilization', from, to, maxDataPoints: points }] });
    const step = (to - from) / 1000 / points;
    const q = new URLSearchParams({ query: promName('gpu.utilization'), start: String(from / 1000), end: String(to / 1000), step: step.toFixed(3) });
    const promUrl = `${promBase}/api/v1/query_range?${q}`;
    const check = (await (await fetch(promUrl)).json()) as { data?: { result?: { values: unknown[] }[] } };
    const promSeries = check.data?.result ?? [];

    heading(`11. 1 h timeseries query against ${version} query_range on the same data (200 req/s, ${seconds} s each, one server at a time)`);
    console.log(`    the bench server's hour of demo history (${info.series} series held); Prometheus backfilled by promtool in ${backfillS.toFixed(1)} s`);
    console.log(`    with its gpu.utilization series: ${promSeries.length} series × ${promSeries[0]?.values.length ?? 0} points back (step ${step.toFixed(1)} s);`);
    console.log('    ours averages the ticks into ≤ 1,000 buckets, Prometheus takes the last sample at each step');
    const ours = await measureServer(server.pid as number, { label: 'ours', url: `http://127.0.0.1:${info.port}/api/v1/query`, method: 'POST', body }, 200, seconds);
    const theirs = await measureServer(prom.pid as number, { label: 'theirs', url: promUrl }, 200, seconds);
    compareHeader('Prometheus');
    compare('200 req/s: p50', ours.p50, theirs.p50, formatMs);
    compare('200 req/s: p99', ours.p99, theirs.p99, formatMs, '< 10 ms, ≤ 1×');
    compare('200 req/s: server CPU per query', ours.cpuPerRequestMs, theirs.cpuPerRequestMs, formatMs, '≤ 1×');
    line('answered/failed/cut off (ours; Prometheus)', `${ours.ok}/${ours.errors}/${ours.cutOff}; ${theirs.ok}/${theirs.errors}/${theirs.cutOff}`);
  } finally {
    if (prom) await stop(prom);
    await stop(server);
    rmSync(dir, { recursive: true, force: true });
  }
}
