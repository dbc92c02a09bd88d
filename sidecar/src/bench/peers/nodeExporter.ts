// Our /metrics against node_exporter's, the exporter every Prometheus user already runs on the host:
// latency at 200 and 500 scrapes/s and the server's CPU per scrape. node_exporter runs with its
// default collectors (what operators deploy); it gathers at scrape time, we serve the text of the tick.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { start, stop } from '../children.js';
import { freePort, waitReady } from '../load.js';
import { compare, compareHeader, heading, line } from '../print.js';
import { startSidecar } from '../sidecarProcess.js';
import { formatMs, median } from '../stats.js';
import { measureServer, settle, type ServerFigures } from './measureServer.js';

export const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter';

const RATES = [200, 500] as const;

async function describe(url: string): Promise<string> {
  const text = await (await fetch(url)).text();
  const samples = text.split('\n').filter((l) => l && !l.startsWith('#')).length;
  return `${samples} samples, ${(text.length / 1024).toFixed(0)} KiB`;
}

/**
 * `rounds` windows of `seconds` per rate and server, the two servers alternating, so a stall of this
 * machine lands in one window of one of them: the printed figures are medians over the windows, with
 * each of our windows' p99 beside them. One window's p99 at 200 req/s is its 16th slowest answer of 1,600, which one
 * stall of the OS moves by milliseconds.
 */
export async function nodeExporterBench(seconds: number, rounds: number): Promise<void> {
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
    heading(`10. GET /metrics against ${version} (default collectors), open-loop, ${rounds} windows of ${seconds} s per rate and server, alternating; medians over the windows`);
    console.log(`    gpufleet: the sidecar on demo (${await describe(oursUrl)}), text built once per tick`);
    console.log(`    node_exporter: ${await describe(theirsUrl)}, gathered from /proc and /sys at each scrape`);
    const runs = RATES.map((rate) => ({ rate, ours: [] as ServerFigures[], theirs: [] as ServerFigures[], floor: [] as ServerFigures[] }));
    const floorUrl = `${sidecar.base}/healthz`;
    for (let round = 0; round < rounds; round++) {
      for (const run of runs) {
        // The sidecar's idle CPU (its ticks) is measured before each window and subtracted: the rest
        // is the scrapes'. node_exporter idles between scrapes, once it has gathered for the ones its
        // client cut off at its capacity: each window waits for that.
        await settle([ne.pid as number]);
        run.ours.push(await measureServer(sidecar.pid, { label: 'ours', url: oursUrl }, run.rate, seconds, 4));
        // The same process's /healthz (no work of its own) at the same rate: what this machine, the load
        // client and the sidecar's ticks add to any answer. On two shared cores its p99 alone can pass 5 ms.
        if (run.rate === 200) run.floor.push(await measureServer(sidecar.pid, { label: 'floor', url: floorUrl }, run.rate, seconds, 1));
        await settle([ne.pid as number]);
        run.theirs.push(await measureServer(ne.pid as number, { label: 'theirs', url: theirsUrl }, run.rate, seconds, 1));
      }
    }
    const med = (xs: ServerFigures[], pick: (f: ServerFigures) => number) => median(xs.map(pick));
    const sum = (xs: ServerFigures[]) => `${xs.reduce((n, f) => n + f.ok, 0)}/${xs.reduce((n, f) => n + f.errors, 0)}/${xs.reduce((n, f) => n + f.cutOff, 0)}`;
    compareHeader('node_exporter');
    for (const { rate, ours: o, theirs: t, floor } of runs) {
      compare(`${rate} req/s: p50`, med(o, (f) => f.p50), med(t, (f) => f.p50), formatMs);
      compare(`${rate} req/s: p99`, med(o, (f) => f.p99), med(t, (f) => f.p99), formatMs, rate === 200 ? '< 5 ms, ≤ 1×' : '≤ 1×');
      compare(`${rate} req/s: server CPU per scrape`, med(o, (f) => f.cpuPerRequestMs), med(t, (f) => f.cpuPerRequestMs), formatMs, '≤ 1×');
      line(`${rate} req/s: p99 of each window, ours`, o.map((f) => formatMs(f.p99)).join(', '));
      if (floor.length > 0) {
        line(`${rate} req/s: the same sidecar's /healthz (the floor): p99, median`, formatMs(med(floor, (f) => f.p99)));
        line(`${rate} req/s: p99 of each window, /healthz`, floor.map((f) => formatMs(f.p99)).join(', '));
      }
      const theirP99 = t.map((f) => f.p99);
      line(`${rate} req/s: p99 range over the windows, node_exporter`, `${formatMs(Math.min(...theirP99))}–${formatMs(Math.max(...theirP99))}`);
      line(`${rate} req/s: answered/failed/cut off (ours; node_exporter)`, `${sum(o)}; ${sum(t)}`);
    }
  } finally {
    await Promise.all([stop(ne), sidecar.stop()]);
  }
}
