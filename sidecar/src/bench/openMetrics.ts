// The sidecar's own history as OpenMetrics text with timestamps, the input of
// `promtool tsdb create-blocks-from openmetrics`: so Prometheus can answer a range query over
// exactly the data our store holds.
import type { SeriesRange } from '../store/history.js';

/** History metric (e.g. "gpu.utilization") to a Prometheus name under `prefix`. */
export function promName(metric: string, prefix = 'gpufleet_history_'): string {
  return prefix + metric.replace(/[^a-zA-Z0-9_]/g, '_');
}

function labelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelSet(labels: Record<string, string>): string {
  const parts = Object.entries(labels)
    .filter(([k]) => /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k))
    .map(([k, v]) => `${k}="${labelValue(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/** One gauge family per metric, each series' samples in time order, closed by `# EOF`. Null values are gaps. */
export function historyToOpenMetrics(ranges: readonly SeriesRange[]): string {
  const byMetric = new Map<string, SeriesRange[]>();
  for (const r of ranges) byMetric.set(r.metric, [...(byMetric.get(r.metric) ?? []), r]);
  const out: string[] = [];
  for (const [metric, series] of byMetric) {
    const name = promName(metric);
    out.push(`# TYPE ${name} gauge`);
    for (const s of series) {
      const ls = labelSet(s.labels);
      s.times.forEach((t, i) => {
        const v = s.values[i];
        if (v !== null && v !== undefined) out.push(`${name}${ls} ${v} ${(t / 1000).toFixed(3)}`);
      });
    }
  }
  out.push('# EOF');
  return `${out.join('\n')}\n`;
}
