// npm run bench: the sidecar's figures on the simulated `demo` host. Prints, never asserts.
//   1. nvidia-smi -q -x parse time per snapshot (target: median under 5 ms)
//   2. API latency at 200 requests/s for /api/v1/snapshot and a one-hour timeseries query (p99 under 20 ms)
//   3. /metrics render time (once per tick) and GET /metrics p99 at 500 requests/s (served from the cached text)
//   4. resident memory with a full hour of history at a 1 s interval (under 150 MB)
//   5. nvidia-smi loop mode against one spawn per tick (latency per tick and CPU spent by nvidia-smi)
//   6-8. engines: /metrics parse throughput, a 16-engine cycle, the sidecar's CPU share (engines.ts)
//   9. fleet-sim at 1,000 hosts, typical and all-mig: series per host and in total, render cost, CPU (fleet.ts)
//   9. the worst /api/v1/query the point budget allows: loop blocking and answer size (queryBudget.ts)
//   10. release sizes: plugin archive, npm package, container image when built here (packaging.ts)
import autocannon from 'autocannon';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SidecarMetrics } from '../api/metrics.js';
import { GpuCollector } from '../collectors/gpuCollector.js';
import { buildGpus } from '../parsers/gpuSnapshot.js';
import { parseNvidiaSmiList } from '../parsers/nvidiaSmiList.js';
import { parseNvidiaSmiXml } from '../parsers/nvidiaSmiXml.js';
import { parseVgpuQuery } from '../parsers/vgpuQuery.js';
import { fillHistory, demoEnv, FAKE } from './demoHost.js';
import { engineBench } from './engines.js';
import { fleetBench } from './fleet.js';
import { queryBudgetBench } from './queryBudget.js';
import { packagingBench } from './packaging.js';

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

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

function line(label: string, value: string, target?: string): void {
  console.log(`  ${label.padEnd(52)} ${value.padStart(14)}${target ? `   (target ${target})` : ''}`);
}

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

async function apiBench(): Promise<void> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./server.js', import.meta.url))], {
    env: demoEnv(),
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
  console.log(`\n2. API latency at 200 requests/s (server in its own process; 10 s each; history: 3600 ticks, ${series} series)`);
  for (const [label, opts] of [
    ['GET /api/v1/snapshot', { url: `${base}/api/v1/snapshot` }],
    ['POST /api/v1/query timeseries, 1 h, all GPUs', { url: `${base}/api/v1/query`, method: 'POST', body: tsBody, headers: { 'content-type': 'application/json' } }],
  ] as const) {
    const r = await autocannon({ ...opts, connections: 10, overallRate: 200, duration: 10 } as autocannon.Options);
    line(`${label} p50`, `${r.latency.p50} ms`);
    line(`${label} p99`, `${r.latency.p99} ms`, '< 20 ms');
    line(`${label} requests ok / errors`, `${r['2xx']} / ${r.errors + r.non2xx}`);
  }
  {
    // Scrapes are served from the text rendered once per tick: a scrape costs a string write.
    const r = await autocannon({ url: `${base}/metrics`, connections: 20, overallRate: 500, duration: 10 } as autocannon.Options);
    line('GET /metrics at 500 requests/s p50', `${r.latency.p50} ms`);
    line('GET /metrics at 500 requests/s p99', `${r.latency.p99} ms`, '< 20 ms');
    line('GET /metrics requests ok / errors', `${r['2xx']} / ${r.errors + r.non2xx}`);
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
  const r = spawnSync(process.execPath, ['--expose-gc', script], { encoding: 'utf8', env: demoEnv() });
  console.log('\n4. Memory with a full hour of history at 1 s on demo');
  if (r.status !== 0) {
    console.log(`  failed: ${r.stderr}`);
    return;
  }
  const m = JSON.parse(r.stdout) as { rssMB: number; heapMB: number; baselineRssMB: number; series: number; ticks: number };
  line(`resident memory (${m.ticks} ticks, ${m.series} series)`, `${m.rssMB.toFixed(1)} MB`, '< 150 MB');
  line('of which JS heap', `${m.heapMB.toFixed(1)} MB`);
  line('same process before filling the store', `${m.baselineRssMB.toFixed(1)} MB`);
}

function procCpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, clock ticks
  } catch {
    return 0;
  }
}

function childrenCpuSeconds(): number {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(f[13]) + Number(f[14])) / 100; // cutime + cstime: children already waited for
}

async function modeBench(scenario: string): Promise<void> {
  const ticks = 10;
  const interval = 1000;
  console.log(`\n5. nvidia-smi: loop (-q -x -lms) against a spawn per tick, ${scenario} host, ${ticks} ticks at 1 s`);
  for (const mode of ['spawn', 'loop'] as const) {
    const env = { ...demoEnv(), GPUFLEET_SIM_SCENARIO: scenario };
    const c = new GpuCollector({ nvidiaSmi: FAKE, mode, intervalMs: interval, timeoutMs: 10_000, host: 'bench', env });
    c.start();
    if (mode === 'loop') await new Promise((r) => setTimeout(r, 1500));
    const cpu0 = childrenCpuSeconds();
    const loopPid = (c as unknown as { loop: { child: { pid?: number } | null } | null }).loop?.child?.pid;
    const loopCpu0 = loopPid ? procCpuSeconds(loopPid) : 0;
    const lat: number[] = [];
    for (let i = 0; i < ticks; i++) {
      const t = performance.now();
      const r = await c.collect();
      lat.push(performance.now() - t);
      if (!r.gpu.ok) console.log(`  ${mode}: tick failed: ${r.gpu.error?.message}`);
      await new Promise((res) => setTimeout(res, Math.max(0, interval - (performance.now() - t))));
    }
    const loopCpu = loopPid ? procCpuSeconds(loopPid) - loopCpu0 : 0;
    c.stop();
    const spent = childrenCpuSeconds() - cpu0 + loopCpu;
    lat.sort((a, b) => a - b);
    line(`${mode}: collect() latency per tick, median`, fmt(quantile(lat, 0.5)));
    line(`${mode}: nvidia-smi CPU per tick`, fmt((spent * 1000) / ticks));
  }
}

async function main(): Promise<void> {
  console.log('gpufleet sidecar benchmark (simulated demo host)');
  await parseBench();
  await apiBench();
  memoryBench();
  console.log('\n   The fake nvidia-smi is a Node program: its start-up stands in for NVML initialisation.');
  console.log('   On vGPU hosts both modes also run `nvidia-smi vgpu -q` once per tick.');
  await modeBench('small');
  await modeBench('demo');
  await engineBench();
  await fleetBench();
  await queryBudgetBench(line);
  packagingBench(line);
  console.log('');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
