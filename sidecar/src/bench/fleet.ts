// npm run bench, section 9: the fleet simulator (fleet-sim) at 1,000 hosts for each mix: series per host and
// in total, the cost of rendering one host, and the simulator's CPU while every host is scraped every 15 s
// (a Prometheus' load: 1,000 / 15 ≈ 67 renders per second), measured on the real process.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FleetExposition } from '../fleet/fleetExposition.js';
import { buildFleet, fleetCounts, type FleetMix } from '../fleet/fleetModel.js';

const HOSTS = 1000;
const SCRAPE_S = 15;

function line(label: string, value: string): void {
  console.log(`  ${label.padEnd(52)} ${value.padStart(14)}`);
}

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(f[11]) + Number(f[12])) / 100;
}

function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function inProcess(mix: FleetMix): Promise<void> {
  let t = processCpuMs();
  const hosts = buildFleet({ hosts: HOSTS, seed: 1, mix });
  const fx = new FleetExposition(hosts, { epochMs: Date.now() - 600_000, cacheMs: 0, version: 'bench', maxSeries: 5000 });
  const buildMs = processCpuMs() - t;
  const c = fleetCounts(hosts);
  console.log(`\n9. fleet-sim, ${mix}: ${c.hosts} hosts, ${c.gpus} GPUs, ${c.mig} MIG instances, ${c.vgpu} vGPUs, ${c.engines} engines`);
  line('build the fleet and resolve its engines (CPU)', `${(buildMs / 1000).toFixed(1)} s`);
  const perHost: number[] = [];
  const costs: number[] = [];
  let bytes = 0;
  const now = Date.now();
  for (const h of hosts) {
    t = processCpuMs();
    const text = await fx.render(h, now);
    costs.push(processCpuMs() - t);
    bytes += text.length;
    let n = 0;
    for (const l of text.split('\n')) if (l && l.charCodeAt(0) !== 35) n++;
    perHost.push(n);
  }
  perHost.sort((a, b) => a - b);
  costs.sort((a, b) => a - b);
  const total = perHost.reduce((a, b) => a + b, 0);
  const mean = costs.reduce((a, b) => a + b, 0) / costs.length;
  line('series per host, min / median / max', `${perHost[0]} / ${perHost[perHost.length >> 1]} / ${perHost[perHost.length - 1]}`);
  line('series in total (one scrape of every host)', total.toLocaleString('en-US'));
  line('exposition per host, mean', `${(bytes / hosts.length / 1024).toFixed(1)} KiB`);
  line('render one host (CPU), median / p99', `${costs[costs.length >> 1]?.toFixed(1)} / ${costs[Math.floor(costs.length * 0.99)]?.toFixed(1)} ms`);
  line(`render CPU at ${HOSTS} hosts every ${SCRAPE_S} s (estimate)`, `${((mean * HOSTS) / SCRAPE_S / 10).toFixed(0)} % of a core`);
}

/** The real `fleet-sim` process, every host fetched once per SCRAPE_S seconds for one round; its CPU from /proc. */
async function scraped(mix: FleetMix): Promise<void> {
  const cli = fileURLToPath(new URL('../cli.js', import.meta.url));
  const child = spawn(process.execPath, [cli, 'fleet-sim', '--hosts', String(HOSTS), '--mix', mix, '--listen', '127.0.0.1:0', '--log-level', 'info'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const base = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(out);
        if (m) resolve(m[1] as string);
      });
      child.once('exit', (code) => reject(new Error(`fleet-sim exited with ${code}`)));
    });
    const sd = (await (await fetch(`${base}/sd`)).json()) as Array<{ labels: Record<string, string> }>;
    const paths = sd.map((g) => g.labels.__metrics_path__ as string);
    const pid = child.pid as number;
    const cpu0 = cpuSeconds(pid);
    const start = performance.now();
    const gap = (SCRAPE_S * 1000) / paths.length;
    let errors = 0;
    let firstError = '';
    const pending: Array<Promise<void>> = [];
    for (let i = 0; i < paths.length; i++) {
      const due = start + i * gap;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      pending.push(
        fetch(`${base}${paths[i]}`).then(
          async (r) => {
            if (!r.ok) {
              errors++;
              firstError ||= `HTTP ${r.status}: ${(await r.text()).slice(0, 200)}`;
            } else await r.arrayBuffer();
          },
          (err: Error) => {
            errors++;
            firstError ||= `${err.message}${err.cause ? ` (${String(err.cause)})` : ''}`;
          },
        ),
      );
    }
    await Promise.all(pending);
    const wall = (performance.now() - start) / 1000;
    const cpu = cpuSeconds(pid) - cpu0;
    line(`fleet-sim process, every host once in ${SCRAPE_S} s: CPU`, `${((cpu / wall) * 100).toFixed(0)} % of a core`);
    // On a crowded machine the process is starved rather than busy: the load average says which.
    line('machine load average (1 min) after the round', readFileSync('/proc/loadavg', 'utf8').split(' ')[0] as string);
    line('requests failed', String(errors));
    if (firstError) console.log(`  first failure: ${firstError}`);
  } finally {
    child.kill('SIGTERM');
  }
}

export async function fleetBench(): Promise<void> {
  for (const mix of ['typical', 'all-mig'] as const) {
    await inProcess(mix);
    await scraped(mix);
  }
}
