// Issue 11's figure: the real sidecar on demo under a mixed load at 500 requests/s for a long while,
// with its resident memory sampled every second (flat is the goal) and the p99 of each route.
import { runLoad, type Target } from './load.js';
import { heading, line } from './print.js';
import { cpuSeconds, rssMB } from './proc.js';
import { startSidecar } from './sidecarProcess.js';
import { formatMs, linearFit, quantile } from './stats.js';

const WARMUP_S = 10;

/** The mix, by share of requests: Prometheus scrapes and Grafana's panels and variables. */
export function soakTargets(base: string, nowMs: number): Target[] {
  const ts = JSON.stringify({
    queries: [{ refId: 'A', kind: 'timeseries', metric: 'gpu.utilization', from: nowMs - 3_600_000, to: nowMs + 3_600_000, maxDataPoints: 1000 }],
  });
  return [
    { label: 'GET /metrics', url: `${base}/metrics`, weight: 8 },
    { label: 'GET /api/v1/snapshot', url: `${base}/api/v1/snapshot`, weight: 3 },
    { label: 'GET /api/v1/gpus', url: `${base}/api/v1/gpus`, weight: 3 },
    { label: 'GET /api/v1/engines', url: `${base}/api/v1/engines`, weight: 3 },
    { label: 'POST /api/v1/query (1 h timeseries)', url: `${base}/api/v1/query`, method: 'POST', body: ts, weight: 1 },
    { label: 'GET /healthz', url: `${base}/healthz`, weight: 2 },
  ];
}

export async function soakBench(durationMs: number, rate: number): Promise<void> {
  const seconds = Math.round(durationMs / 1000);
  const sidecar = await startSidecar('demo');
  try {
    await new Promise((r) => setTimeout(r, WARMUP_S * 1000));
    const targets = soakTargets(sidecar.base, Date.now());
    const rss: { t: number; mb: number }[] = [];
    const t0 = performance.now();
    const sample = () => rss.push({ t: (performance.now() - t0) / 1000, mb: rssMB(sidecar.pid) });
    sample();
    const timer = setInterval(sample, 1000);
    const c0 = cpuSeconds(sidecar.pid);
    const results = await runLoad(targets, { rate, seconds, connections: 32 });
    clearInterval(timer);
    sample();
    const cpuShare = ((cpuSeconds(sidecar.pid) - c0) / ((performance.now() - t0) / 1000)) * 100;
    const default60 = seconds === 60;
    heading(
      `14. Soak: ${rate} req/s for ${seconds >= 120 ? `${(seconds / 60).toFixed(0)} min` : `${seconds} s`} over mixed routes, the sidecar on demo after ${WARMUP_S} s of start-up` +
        (default60 ? ' (the short soak of the default run; --soak runs 10 min)' : ''),
    );
    const mbs = rss.map((r) => r.mb);
    const second = rss.filter((r) => r.t >= seconds / 2);
    const slope = second.length >= 2 ? linearFit(second.map((r) => r.t / 60), second.map((r) => r.mb)).slope : NaN;
    line('resident memory: start / end / max', `${mbs[0]?.toFixed(0)} / ${mbs.at(-1)?.toFixed(0)} / ${Math.max(...mbs).toFixed(0)} MB`, 'flat');
    line('resident memory trend over the second half', `${slope >= 0 ? '+' : ''}${slope.toFixed(2)} MB/min`);
    line('sidecar CPU during the soak', `${cpuShare.toFixed(0)} % of a core`);
    console.log('    each route\'s p99 is within the mix; GET /healthz, which does no work, is the floor (the /metrics goal is sections 2 and 10, at 200 req/s)');
    for (const t of targets) {
      const r = results.get(t.label);
      if (!r) continue;
      line(`${t.label}: p50 / p99`, `${formatMs(quantile(r.latencies, 0.5))} / ${formatMs(quantile(r.latencies, 0.99))}`);
      line(`${t.label}: answered / failed / cut off`, `${r.ok} / ${r.errors} / ${r.cutOff}`);
    }
  } finally {
    await sidecar.stop();
  }
}
