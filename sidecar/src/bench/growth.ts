// How the sidecar's cost grows (issue 12, item 4): CPU per tick and resident memory of the real
// sidecar process at a 1 s interval against the number of GPUs (generated scenarios, no engines) and
// of vLLM engines (one GPU; stand-in engines answering a real capture, found through a laid-out
// procfs), and memory and record cost against the length of history held. A least-squares line
// through each gives the cost of one more GPU, engine or hour, which the README quotes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stop } from './children.js';
import { fakeProc, startEngineStandIns } from './engines.js';
import { heading, line } from './print.js';
import { cpuSeconds, rssMB } from './proc.js';
import { startHostSidecar, startSidecar, type RunningSidecar } from './sidecarProcess.js';
import { linearFit } from './stats.js';

const WARMUP_S = 4;
const MEASURE_S = 10;
/** The sidecar job's scrape interval in prometheus/prometheus.yml. */
const SCRAPE_S = 5;
export const GPU_COUNTS = [1, 8, 32];
export const ENGINE_COUNTS = [1, 16, 128];
export const HISTORY_TICKS = [600, 3600, 21_600];

interface Cost {
  cpuMsPerTick: number;
  rssMB: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A scenario of `n` whole H100s and no engines, in the simulator's format (sim/scenario.ts). */
export function gpuScenario(n: number): string {
  return [
    `hostname: bench-${n}-gpus`,
    'driverVersion: "570.124.06"',
    'cudaVersion: "12.8"',
    `description: ${n} whole H100s, no engines (bench)`,
    'gpus:',
    ...Array.from({ length: n }, () => '  - model: H100-SXM5-80GB'),
    '',
  ].join('\n');
}

interface EngineCount {
  up: number;
  total: number;
}

async function enginesUp(base: string): Promise<EngineCount> {
  const r = (await (await fetch(`${base}/api/v1/engines`)).json()) as { engines: { health: string }[] };
  return { up: r.engines.filter((e) => e.health === 'up').length, total: r.engines.length };
}

async function measure(s: RunningSidecar): Promise<Cost & { engines: EngineCount }> {
  try {
    await sleep(WARMUP_S * 1000);
    const c0 = cpuSeconds(s.pid);
    const t0 = performance.now();
    // Scraped as the shipped Prometheus config scrapes it: /metrics is rendered when asked for.
    const scrape = () => void fetch(`${s.base}/metrics`).then((r) => r.arrayBuffer(), () => undefined);
    scrape();
    const scraper = setInterval(scrape, SCRAPE_S * 1000);
    await sleep(MEASURE_S * 1000);
    clearInterval(scraper);
    const seconds = (performance.now() - t0) / 1000;
    // One tick a second: CPU ms per second is CPU ms per tick, idle work between ticks included.
    return { cpuMsPerTick: ((cpuSeconds(s.pid) - c0) * 1000) / seconds, rssMB: rssMB(s.pid), engines: await enginesUp(s.base) };
  } finally {
    await s.stop();
  }
}

const COMMON = ['--interval', '1s', '--docker-socket', 'none', '--kmsg', 'none'];

function fitLine(what: string, xs: number[], costs: Cost[], unit: string): void {
  const cpu = linearFit(xs, costs.map((c) => c.cpuMsPerTick));
  const mem = linearFit(xs, costs.map((c) => c.rssMB));
  line(`per ${what}: CPU per tick (least squares)`, `${cpu.slope.toFixed(3)} ms`);
  line(`per ${what}: resident memory`, `${mem.slope.toFixed(2)} MB`);
  line(`fixed part (at 0 ${unit})`, `${cpu.intercept.toFixed(1)} ms, ${mem.intercept.toFixed(0)} MB`);
}

export async function growthBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gpufleet-bench-growth-'));
  try {
    heading(`13. Cost growth: the sidecar process at 1 s, ${MEASURE_S} s after ${WARMUP_S} s of start-up, /metrics scraped every ${SCRAPE_S} s; its CPU only (the fake nvidia-smi is another process)`);
    console.log(`    GPUs: generated scenarios of whole H100s, no engines (${GPU_COUNTS.at(-1)} is the simulator's maximum)`);
    const gpuCosts: Cost[] = [];
    for (const n of GPU_COUNTS) {
      const file = join(dir, `gpus-${n}.yaml`);
      writeFileSync(file, gpuScenario(n));
      const c = await measure(await startSidecar(file, COMMON, { GPUFLEET_SIM_ENGINES: 'off' }));
      gpuCosts.push(c);
      line(`${String(n).padStart(3)} GPUs: CPU per tick / RSS`, `${c.cpuMsPerTick.toFixed(1)} ms / ${c.rssMB.toFixed(0)} MB`);
    }
    fitLine('GPU', GPU_COUNTS, gpuCosts, 'GPUs');

    console.log('    engines: one L40S (the small scenario\'s nvidia-smi) and N vLLM stand-ins answering the 0.10.1 capture,');
    console.log('    (47 KiB of /metrics each), found in a laid-out procfs with 300 other processes (--proc);');
    console.log('    busy: their token counters move at every answer, so every scrape is read (an idle engine\'s is not, section 8)');
    const engineCosts: Cost[] = [];
    for (const n of ENGINE_COUNTS) {
      const { servers, ports } = await startEngineStandIns(n, 'busy');
      const proc = fakeProc(ports);
      try {
        const c = await measure(await startHostSidecar('small', [...COMMON, '--proc', proc]));
        engineCosts.push(c);
        line(
          `${String(n).padStart(3)} engines (${c.engines.up} up): CPU per tick / RSS`,
          `${c.cpuMsPerTick.toFixed(1)} ms / ${c.rssMB.toFixed(0)} MB`,
        );
        // This window falls in start-up, while V8 still compiles: the 2 % goal is section 8's, read once settled.
        if (n === 16) console.log('    (the goal, < 2 % of a core with 16 engines, is read once V8 has settled: section 8)');
      } finally {
        await stop(servers);
        rmSync(proc, { recursive: true, force: true });
      }
    }
    fitLine('engine', ENGINE_COUNTS, engineCosts, 'engines');

    console.log('    history: demo readings recorded into a Store of each length at 1 s (fresh process each; full ring)');
    const hist: { ticks: number; rssMB: number; heapMB: number; arrayBuffersMB: number; recordMsMedian: number; series: number }[] = [];
    const script = fileURLToPath(new URL('./growthHistory.js', import.meta.url));
    for (const ticks of HISTORY_TICKS) {
      const r = spawnSync(process.execPath, ['--expose-gc', script, String(ticks)], { encoding: 'utf8' });
      if (r.status !== 0) {
        line(`${ticks} ticks`, 'failed');
        console.log(`    ${r.stderr.split('\n').slice(0, 3).join(' ')}`);
        continue;
      }
      const m = JSON.parse(r.stdout) as (typeof hist)[number];
      hist.push(m);
      const hours = (ticks / 3600).toFixed(ticks < 3600 ? 2 : 0);
      line(`${hours} h (${ticks} ticks, ${m.series} series): RSS / JS heap + buffers`, `${m.rssMB.toFixed(0)} / ${(m.heapMB + m.arrayBuffersMB).toFixed(1)} MB`);
      line(`${hours} h: CPU to record one more tick, median`, `${m.recordMsMedian.toFixed(3)} ms`);
    }
    if (hist.length >= 2) {
      const hours = hist.map((h) => h.ticks / 3600);
      // RSS keeps the pages the fill's garbage once took; heap + buffers is what the store holds.
      line('per hour of history at 1 s (demo host): held (heap + buffers)', `${linearFit(hours, hist.map((h) => h.heapMB + h.arrayBuffersMB)).slope.toFixed(1)} MB`);
      line('per hour of history at 1 s (demo host): RSS', `${linearFit(hours, hist.map((h) => h.rssMB)).slope.toFixed(1)} MB`);
      const s = hist[0]?.series ?? 0;
      line(`the store's arithmetic: 3600 × (8 + 4 × ${s}) bytes`, `${((3600 * (8 + 4 * s)) / 1e6).toFixed(1)} MB`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
