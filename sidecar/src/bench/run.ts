// npm run bench: the sidecar's figures on the simulated `demo` host. Prints, never asserts.
//   1. nvidia-smi -q -x parse time per snapshot (target: median under 5 ms)
//   2. API latency at 200 requests/s: /healthz (the machine's floor), /api/v1/snapshot and a one-hour timeseries
//      query (p99 under 10 ms), GET /metrics (p99 under 5 ms; and at 500 requests/s), the client in its own process
//   3. /metrics render time (once per tick)
//   4. resident memory with a full hour of history at a 1 s interval (under 100 MB, issue 12): the store in a
//      bare process, then the whole sidecar on demo with as many ticks stored (six minutes at 100 ms)
//   5. nvidia-smi: a spawn per tick (exporter-style --query-gpu) against spawn and loop modes (peers/nvidiaSmi.ts)
//   6-8. engines: /metrics parse throughput, a 16-engine cycle, the sidecar's CPU share (engines.ts)
//   9. fleet-sim at 1,000 hosts, typical and all-mig: series per host and in total, render cost, CPU (fleet.ts)
//  10-12. side by side: /metrics against node_exporter, the 1 h query against Prometheus, the vLLM parser
//         against Python's prometheus_client (peers/)
//  13. cost growth against GPUs, engines and history length (growth.ts)
//  14. the mixed-route soak (soak.ts; --soak for 10 minutes)
//  15. start-up: the first GPU reading after start, on demo and as on a real host (startup.ts)
//  16. on a GPU host only: sections 5 and 15 against the real nvidia-smi, the sidecar's CPU at 1 s and
//      NVML's own calls through pynvml, the physical floor (realHost.ts; skipped elsewhere)
//  17. the worst /api/v1/query the point budget allows: loop blocking and answer size (queryBudget.ts)
//  18. the capacity answer per tick and per request (capacity.ts)
//  19. the shipped rule files' evaluation time in a real Prometheus on fleet-sim's 1,000 hosts
//      (capacityRules.ts; --only capacity-rules)
//  20. release sizes: plugin archive, npm package, container image when built here (packaging.ts)
// The numbers are printed in that order; the README and docs/PERFORMANCE.md cite them.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { SidecarMetrics } from '../api/metrics.js';
import { buildGpus } from '../parsers/gpuSnapshot.js';
import { parseNvidiaSmiList } from '../parsers/nvidiaSmiList.js';
import { parseNvidiaSmiXml } from '../parsers/nvidiaSmiXml.js';
import { parseVgpuQuery } from '../parsers/vgpuQuery.js';
import { fillHistory, demoEnv, FAKE } from './demoHost.js';
import { engineBench } from './engines.js';
import { capacityBench } from './capacity.js';
import { capacityRulesBench } from './capacityRules.js';
import { fleetBench } from './fleet.js';
import { queryBudgetBench } from './queryBudget.js';
import { growthBench } from './growth.js';
import { HELP, parseBenchArgs, SECTIONS, type BenchOptions, type Section } from './options.js';
import { nodeExporterBench } from './peers/nodeExporter.js';
import { nvidiaSmiPeerBench } from './peers/nvidiaSmi.js';
import { realHostBench } from './realHost.js';
import { parserPeersBench } from './peers/parsers.js';
import { prometheusBench } from './peers/prometheus.js';
import { heading, line } from './print.js';
import type { Target } from './load.js';
import { runLoadApart } from './loadClient.js';
import { cpuSeconds } from './proc.js';
import { soakBench } from './soak.js';
import { startSidecar } from './sidecarProcess.js';
import { formatMs, quantile, statusMB } from './stats.js';
import { sidecarNodeFlags, startupBench } from './startup.js';
import { packagingBench } from './packaging.js';

function timeIt(n: number, fn: () => unknown): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    fn();
    out.push(performance.now() - t);
  }
  return out.sort((a, b) => a - b);
}

const fmt = (ms: number) => `${ms.toFixed(2)} ms`;

async function parseBench(): Promise<void> {
  const env = demoEnv();
  const xml = execFileSync(FAKE, ['-q', '-x'], { env, encoding: 'utf8', maxBuffer: 64 << 20 });
  const list = execFileSync(FAKE, ['-L'], { env, encoding: 'utf8' });
  const vgpu = execFileSync(FAKE, ['vgpu', '-q'], { env, encoding: 'utf8' });
  for (let i = 0; i < 50; i++) parseNvidiaSmiXml(xml); // warm-up (JIT)
  const xmlTimes = timeIt(300, () => parseNvidiaSmiXml(xml));
  const log = parseNvidiaSmiXml(xml);
  const full = timeIt(300, () => buildGpus('bench', parseNvidiaSmiXml(xml), parseNvidiaSmiList(list), parseVgpuQuery(vgpu)));
  console.log(`\n1. nvidia-smi parse, demo host (${log.gpus.length} GPUs, ${(xml.length / 1024).toFixed(0)} KiB of XML)`);
  line('-q -x parse, median', fmt(quantile(xmlTimes, 0.5)), '< 5 ms');
  line('-q -x parse, p99', fmt(quantile(xmlTimes, 0.99)));
  line('-q -x + -L + vgpu -q parse and join, median', fmt(quantile(full, 0.5)));
}

const API_SECONDS = 10;

async function apiBench(): Promise<void> {
  // Publishing each second, as the sidecar does: the answers kept per publication are rebuilt each second.
  const child = spawn(process.execPath, [...sidecarNodeFlags(), fileURLToPath(new URL('./server.js', import.meta.url))], {
    env: { ...demoEnv(), GPUFLEET_BENCH_PUBLISH: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const { port, series } = await new Promise<{ port: number; series: number }>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(JSON.parse(d.toString())));
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  const base = `http://127.0.0.1:${port}`;
  const now = Date.now();
  const tsBody = JSON.stringify({
    queries: [{ refId: 'A', kind: 'timeseries', metric: 'gpu.utilization', from: now - 3_600_000, to: now, maxDataPoints: 1000 }],
  });
  heading(`2. API latency, open-loop (server in its own process, publishing a tick each second; load client in another; ${API_SECONDS} s each; history: 3600 ticks, ${series} series)`);
  console.log('    /healthz is the floor: what the client, the kernel and the other processes on this machine add to any');
  console.log('    answer. A route whose p99 is near it has little of its own to remove.');
  const rows: { label: string; target: Target; rate: number; connections: number; goal?: string }[] = [
    { label: 'GET /healthz (floor) at 200 req/s', target: { label: 'healthz', url: `${base}/healthz` }, rate: 200, connections: 10 },
    { label: 'GET /api/v1/snapshot at 200 req/s', target: { label: 'snapshot', url: `${base}/api/v1/snapshot` }, rate: 200, connections: 10, goal: '< 10 ms' },
    {
      label: 'POST /api/v1/query 1 h timeseries, all GPUs, 200 req/s',
      target: { label: 'timeseries', url: `${base}/api/v1/query`, method: 'POST', body: tsBody },
      rate: 200,
      connections: 10,
      goal: '< 10 ms',
    },
    { label: 'GET /metrics at 200 req/s', target: { label: 'metrics', url: `${base}/metrics` }, rate: 200, connections: 10, goal: '< 5 ms' },
    { label: 'GET /metrics at 500 req/s', target: { label: 'metrics', url: `${base}/metrics` }, rate: 500, connections: 20 },
  ];
  // The server's CPU per answer holds on a busy machine, where the latencies do not: its idle CPU (the
  // per-tick /metrics render) is measured first and subtracted.
  const pid = child.pid as number;
  const i0 = cpuSeconds(pid);
  const idleStart = performance.now();
  await new Promise((r) => setTimeout(r, 3000));
  const idlePerSecond = (cpuSeconds(pid) - i0) / ((performance.now() - idleStart) / 1000);
  for (const row of rows) {
    const c0 = cpuSeconds(pid);
    const l0 = performance.now();
    const f = (await runLoadApart({ targets: [row.target], rate: row.rate, seconds: API_SECONDS, connections: row.connections }))[row.target.label];
    const busy = cpuSeconds(pid) - c0 - (idlePerSecond * (performance.now() - l0)) / 1000;
    if (!f) throw new Error(`no figures for ${row.label}`);
    line(`${row.label}: p50 / p99`, `${formatMs(f.p50)} / ${formatMs(f.p99)}`, row.goal ? `p99 ${row.goal}` : undefined);
    const cpu = f.ok > 0 ? formatMs((Math.max(0, busy) * 1000) / f.ok) : 'n/a';
    line('  max; server CPU per answer; answered / failed / cut off', `${formatMs(f.max)}; ${cpu}; ${f.ok} / ${f.errors} / ${f.cutOff}`);
  }
  // Wait for it to be reaped: its CPU time would otherwise land in the children's total that
  // section 5 measures.
  await new Promise((r) => {
    child.once('exit', r);
    child.kill();
  });

  const { snapshot } = fillHistory(2, 1000);
  const metrics = new SidecarMetrics({ maxSeries: 5000, host: 'bench' });
  const renders = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    metrics.update(snapshot, []);
    await metrics.refresh();
    renders.push(performance.now() - t);
  }
  renders.sort((a, b) => a - b);
  const text = await metrics.render();
  console.log(`\n3. /metrics (${text.split('\n').filter((l) => l && !l.startsWith('#')).length} samples, ${(text.length / 1024).toFixed(0)} KiB)`);
  line('update + render (once per tick), median', fmt(quantile(renders, 0.5)));
  line('update + render (once per tick), p99', fmt(quantile(renders, 0.99)));
}

function memoryBench(): void {
  // A fresh process, so the figure is the store's and not this benchmark's garbage.
  const script = fileURLToPath(new URL('./memory.js', import.meta.url));
  const r = spawnSync(process.execPath, [...sidecarNodeFlags(), '--expose-gc', script], { encoding: 'utf8', env: demoEnv() });
  console.log('\n4. Memory with a full hour of history at 1 s on demo');
  if (r.status !== 0) {
    console.log(`  failed: ${r.stderr}`);
    return;
  }
  const m = JSON.parse(r.stdout) as { rssMB: number; heapMB: number; baselineRssMB: number; series: number; ticks: number };
  line(`resident memory (${m.ticks} ticks, ${m.series} series)`, `${m.rssMB.toFixed(1)} MB`, '< 100 MB');
  line('of which JS heap', `${m.heapMB.toFixed(1)} MB`);
  line('same process before filling the store', `${m.baselineRssMB.toFixed(1)} MB`);
}

/** Ticks an hour at 1 s holds; the whole-process row fills as many at WHOLE_INTERVAL. */
const WHOLE_TICKS = 3600;
const WHOLE_INTERVAL_MS = 100;

/**
 * The whole sidecar on demo (API, engines, simulator's engines apart) with its store full: the same 3,600
 * ticks as an hour at 1 s, collected at 100 ms so it takes six minutes. RSS split as the kernel counts it:
 * pages of node's own binary and libraries (file-backed, shared with every node process) and the rest.
 */
async function wholeMemoryBench(): Promise<void> {
  const fillMs = WHOLE_TICKS * WHOLE_INTERVAL_MS;
  console.log(`  the whole sidecar on demo, ${WHOLE_TICKS} ticks stored (--interval ${WHOLE_INTERVAL_MS}ms --history ${fillMs / 60_000}m: an hour at 1 s in ${fillMs / 60_000} min)`);
  const sidecar = await startSidecar('demo', ['--interval', `${WHOLE_INTERVAL_MS}ms`, '--history', `${fillMs / 60_000}m`]);
  try {
    await new Promise((r) => setTimeout(r, fillMs + 10_000));
    const status = readFileSync(`/proc/${sidecar.pid}/status`, 'utf8');
    const mb = (field: 'VmRSS' | 'RssAnon' | 'RssFile') => statusMB(status, field);
    const text = await (await fetch(`${sidecar.base}/metrics`)).text();
    const heap = Number(/^nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1] ?? NaN) / 1e6;
    line('  resident memory', `${mb('VmRSS').toFixed(1)} MB`, '< 100 MB');
    line('  of which anonymous (heap, malloc) / file-backed (node binary)', `${mb('RssAnon').toFixed(1)} / ${mb('RssFile').toFixed(1)} MB`);
    line('  JS heap used', `${heap.toFixed(1)} MB`);
  } finally {
    await sidecar.stop();
  }
}

const SECTION_RUNS: Record<Section, (o: BenchOptions) => Promise<void>> = {
  parse: parseBench,
  api: apiBench,
  memory: async () => {
    memoryBench();
    await wholeMemoryBench();
  },
  'nvidia-smi': nvidiaSmiPeerBench,
  engines: engineBench,
  fleet: fleetBench,
  'query-budget': () => queryBudgetBench(line),
  'node-exporter': () => nodeExporterBench(8, 5),
  prometheus: () => prometheusBench(10),
  parsers: parserPeersBench,
  growth: growthBench,
  soak: (o) => soakBench(o.soakMs, o.soakRate),
  startup: () => startupBench(line),
  capacity: () => capacityBench(line),
  'capacity-rules': capacityRulesBench,
  packaging: async () => packagingBench(line),
  'real-host': () => realHostBench(),
};

async function main(): Promise<void> {
  let opts: BenchOptions;
  try {
    opts = parseBenchArgs(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    process.exit(2);
  }
  if (opts.help) {
    process.stdout.write(HELP);
    return;
  }
  const t0 = performance.now();
  console.log(`gpufleet sidecar benchmark (simulated demo host; ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')})`);
  for (const section of SECTIONS) {
    if (opts.sections.has(section)) await SECTION_RUNS[section](opts);
  }
  console.log(`\n(${((performance.now() - t0) / 1000).toFixed(0)} s; load average now ${os.loadavg().map((l) => l.toFixed(2)).join(' ')})\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
