// Our /metrics against node_exporter's, the exporter every Prometheus user already runs on the host:
// latency at 200 and 500 scrapes/s and the server's CPU per scrape. node_exporter runs with its
// default collectors (what operators deploy); it gathers at scrape time, we serve the text of the tick.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { start, stop } from '../children.js';
import { freePort, waitReady } from '../load.js';
import { compare, compareHeader, heading, line } from '../print.js';
import { startSidecar } from '../sidecarProcess.js';
import { formatMs } from '../stats.js';
import { measureServer } from './measureServer.js';

export const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter';

async function describe(url: string): Promise<string> {
  const text = await (await fetch(url)).text();
  const samples = text.split('\n').filter((l) => l && !l.startsWith('#')).length;
  return `${samples} samples, ${(text.length / 1024).toFixed(0)} KiB`;
}

export async function nodeExporterBench(seconds: number): Promise<void> {
  if (!existsSync(NODE_EXPORTER)) {
    heading(`10. /metrics against node_exporter: skipped (${NODE_EXPORTER} not installed; Debian: prometheus-node-exporter)`);
    return;
  }
  const version = `node_exporter ${/version (\S+)/.exec(execFileSync(NODE_EXPORTER, ['--version'], { encoding: 'utf8' }))?.[1] ?? ''}`;
  const port = await freePort();
  const ne = start(NODE_EXPORTER, [`--web.listen-address=127.0.0.1:${port}`]);
  const sidecar = await startSidecar('demo');
  try {
    const theirsUrl = `http://127.0.0.1:${port}/metrics`;
    await waitReady(theirsUrl);
    const oursUrl = `${sidecar.base}/metrics`;
    heading(`10. GET /metrics against ${version} (default collectors), open-loop, ${seconds} s per rate, one server at a time`);
    console.log(`    gpufleet: the sidecar on demo (${await describe(oursUrl)}), text built once per tick`);
    console.log(`    node_exporter: ${await describe(theirsUrl)}, gathered from /proc and /sys at each scrape`);
    compareHeader('node_exporter');
    for (const rate of [200, 500]) {
      const ours = await measureServer(sidecar.pid, { label: 'ours', url: oursUrl }, rate, seconds, 6);
      const theirs = await measureServer(ne.pid as number, { label: 'theirs', url: theirsUrl }, rate, seconds);
      compare(`${rate} req/s: p50`, ours.p50, theirs.p50, formatMs);
      compare(`${rate} req/s: p99`, ours.p99, theirs.p99, formatMs, rate === 200 ? '< 5 ms, ≤ 1×' : '≤ 1×');
      // The sidecar's idle CPU (its ticks) is measured over 6 s and subtracted: the rest is the scrapes'.
      compare(`${rate} req/s: server CPU per scrape`, ours.cpuPerRequestMs, theirs.cpuPerRequestMs, formatMs, '≤ 1×');
      line(`${rate} req/s: answered/failed/cut off (ours; node_exporter)`, `${ours.ok}/${ours.errors}/${ours.cutOff}; ${theirs.ok}/${theirs.errors}/${theirs.cutOff}`);
    }
  } finally {
    await Promise.all([stop(ne), sidecar.stop()]);
  }
}
