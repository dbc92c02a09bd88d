// What the load client reports per target: latency quantiles in ms and the counts. Pure, so it is tested.
import { quantile } from './stats.js';

export interface LoadFigures {
  p50: number;
  p90: number;
  p99: number;
  /** The slowest request (Infinity when one was cut off). */
  max: number;
  ok: number;
  errors: number;
  cutOff: number;
}

export function figures(latencies: readonly number[], ok: number, errors: number, cutOff: number): LoadFigures {
  const max = latencies.length > 0 ? (latencies[latencies.length - 1] as number) : NaN;
  return {
    p50: quantile(latencies, 0.5),
    p90: quantile(latencies, 0.9),
    p99: quantile(latencies, 0.99),
    max,
    ok,
    errors,
    cutOff,
  };
}
