// Pure: what the report warns about besides failed queries — data missing for part of the window, counter
// resets, quantiles from too few observations — from the answers of the checks in checks.ts.
import type { Sample } from './promClient.js';
import { sampleValue } from './rows.js';
import { iso } from './window.js';

export type WarningKind =
  | 'missing-data'
  | 'counter-reset'
  | 'few-observations'
  | 'query-limit'
  | 'query-error'
  | 'prometheus-note'
  | 'no-energy-counter'
  | 'window-open';

export interface ReportWarning {
  kind: WarningKind;
  message: string;
  /** The row's labels (host, engine_id, model, gpu_uuid…) where the warning is about one. */
  labels?: Record<string, string>;
  /** The column or check it is about. */
  column?: string;
}

/** A quantile from fewer observations than this says little about its tail (p99 of 50 requests is the worst). */
export const MIN_OBSERVATIONS = 100;

export function describe(labels: Record<string, string>, keys: readonly string[]): string {
  return keys.filter((k) => labels[k]).map((k) => `${k}=${JSON.stringify(labels[k])}`).join(' ') || 'all selected';
}

function pick(labels: Record<string, string>, keys: readonly string[]): Record<string, string> {
  return Object.fromEntries(keys.filter((k) => labels[k] !== undefined).map((k) => [k, labels[k] as string]));
}

/**
 * Series whose first sample in the window came after its start, or whose last came before its end, by more
 * than `slackMs` (a couple of scrape intervals): their totals and rates cover only part of the window.
 */
export function coverageWarnings(
  what: string,
  keys: readonly string[],
  first: Sample[],
  last: Sample[],
  window: { startMs: number; endMs: number },
  slackMs: number,
): ReportWarning[] {
  const lastBy = new Map(last.map((s) => [JSON.stringify(pick(s.metric, keys)), sampleValue(s)]));
  const out: ReportWarning[] = [];
  for (const s of first) {
    const labels = pick(s.metric, keys);
    const firstSec = sampleValue(s);
    const lastSec = lastBy.get(JSON.stringify(labels)) ?? null;
    if (firstSec === null) continue;
    const late = firstSec * 1000 - window.startMs > slackMs;
    const early = lastSec !== null && window.endMs - lastSec * 1000 > slackMs;
    if (!late && !early) continue;
    const parts = [late ? `first sample ${iso(firstSec * 1000)}` : null, early && lastSec !== null ? `last sample ${iso(lastSec * 1000)}` : null].filter(Boolean);
    out.push({
      kind: 'missing-data',
      labels,
      message: `${what} ${describe(labels, keys)}: data for only part of the window (${parts.join(', ')}); its totals cover that part`,
    });
  }
  return out;
}

/** Counters that went back to zero in the window (a restart): increase() accounts for them, but say so. */
export function resetWarnings(family: string, keys: readonly string[], resets: Sample[]): ReportWarning[] {
  return resets
    .filter((s) => (sampleValue(s) ?? 0) > 0)
    .map((s) => ({
      kind: 'counter-reset' as const,
      labels: pick(s.metric, keys),
      column: family,
      message: `${family} reset ${sampleValue(s)} time(s) in the window for ${describe(s.metric, keys)} (a restart); increase() counts across resets`,
    }));
}

/** Rows whose histogram had fewer than MIN_OBSERVATIONS observations in the window. */
export function fewObservationWarnings(family: string, keys: readonly string[], counts: Sample[]): ReportWarning[] {
  return counts
    .filter((s) => {
      const n = sampleValue(s);
      return n !== null && n < MIN_OBSERVATIONS;
    })
    .map((s) => ({
      kind: 'few-observations' as const,
      labels: pick(s.metric, keys),
      column: family,
      message: `${family}: ${Math.round(sampleValue(s) ?? 0)} observations in the window for ${describe(s.metric, keys)} (under ${MIN_OBSERVATIONS}): its p95/p99 are rough`,
    }));
}
