// The report's time window: --from/--to (RFC 3339 or Unix seconds), --last DURATION, or a named window's
// recorded start and stop. Pure: "now" is passed in.
import { formatDuration, parseDurationMs } from '../util/duration.js';
import { EXIT, ReportError, usageError } from './errors.js';

export interface Window {
  startMs: number;
  endMs: number;
  /** Evaluation step of gauge subqueries (utilisation, memory, power). */
  stepMs: number;
  /** How the window was given, for the manifest: `--last 15m`, `--from/--to`, `--window NAME`. */
  source: string;
}

/** Clock skew between this machine and Prometheus' that an end "in the future" is forgiven. */
export const FUTURE_SLACK_MS = 60_000;

/** RFC 3339 (`2026-12-02T22:00:00Z`, offsets allowed) or Unix seconds (fractions allowed). */
export function parseTime(flag: string, text: string): number {
  const s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s)) {
    const ms = Math.round(Number(s) * 1000);
    // Milliseconds given where seconds are meant land tens of thousands of years ahead: say so.
    if (ms > Date.UTC(9999, 0)) throw usageError(`${flag}: "${text}" is too large for Unix seconds (milliseconds given?)`);
    return ms;
  }
  // Date.parse accepts much more than RFC 3339 (and reads zone-less times as local): insist on the form.
  if (!/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(s)) {
    throw usageError(`${flag}: "${text}" is neither RFC 3339 with a zone (2026-12-02T22:00:00Z) nor Unix seconds`);
  }
  const ms = Date.parse(s.replace(' ', 'T'));
  if (!Number.isFinite(ms)) throw usageError(`${flag}: "${text}" is not a valid time`);
  return ms;
}

export function parsePositiveDuration(flag: string, text: string): number {
  let ms: number;
  try {
    ms = parseDurationMs(text);
  } catch (err) {
    throw usageError(`${flag}: ${(err as Error).message}`);
  }
  if (ms <= 0) throw usageError(`${flag}: "${text}" must be longer than zero`);
  return ms;
}

export interface WindowFlags {
  from?: string;
  to?: string;
  last?: string;
  window?: string;
  step: string;
}

/** A named window as the state file holds it. */
export interface NamedWindowTimes {
  name: string;
  startMs: number;
  endMs: number | null;
}

export function resolveWindow(f: WindowFlags, nowMs: number, lookup: (name: string) => NamedWindowTimes | undefined): Window {
  const stepMs = parsePositiveDuration('--step', f.step);
  const given = [f.last !== undefined && '--last', (f.from !== undefined || f.to !== undefined) && '--from/--to', f.window !== undefined && '--window'].filter(Boolean);
  if (given.length === 0) throw usageError('give the window: --last DURATION, --from T --to T, or --window NAME');
  if (given.length > 1) throw usageError(`give one way of setting the window, not ${given.join(' and ')}`);
  let startMs: number;
  let endMs: number;
  let source: string;
  if (f.last !== undefined) {
    const len = parsePositiveDuration('--last', f.last);
    endMs = nowMs;
    startMs = nowMs - len;
    source = `--last ${f.last}`;
  } else if (f.window !== undefined) {
    const w = lookup(f.window);
    if (!w) throw usageError(`--window: no window named "${f.window}" (gpufleet-report window list shows them)`);
    startMs = w.startMs;
    // An open window reports up to now.
    endMs = w.endMs ?? nowMs;
    source = `--window ${f.window}${w.endMs === null ? ' (still open: up to now)' : ''}`;
  } else {
    if (f.from === undefined || f.to === undefined) throw usageError('--from and --to go together (or use --last DURATION)');
    startMs = parseTime('--from', f.from);
    endMs = parseTime('--to', f.to);
    source = '--from/--to';
  }
  if (endMs <= startMs) throw usageError(`the window ends (${iso(endMs)}) before it starts (${iso(startMs)})`);
  if (startMs >= nowMs) throw new ReportError(EXIT.futureWindow, `the window starts in the future (${iso(startMs)}; now is ${iso(nowMs)})`);
  if (endMs > nowMs + FUTURE_SLACK_MS) {
    throw new ReportError(EXIT.futureWindow, `the window ends in the future (${iso(endMs)}; now is ${iso(nowMs)}): its KPIs would miss the rest`);
  }
  if (endMs - startMs < 2 * stepMs) throw usageError(`the window (${formatDuration(endMs - startMs)}) must be at least two steps (--step ${f.step}) long`);
  return { startMs, endMs, stepMs, source };
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** A PromQL range for the window's length, in whole milliseconds (Prometheus accepts `123456ms`). */
export function promRange(w: Pick<Window, 'startMs' | 'endMs'>): string {
  return formatDuration(w.endMs - w.startMs);
}

/** Unix seconds as Prometheus' API takes them (`time=`, `start=`, `end=`). */
export function promTime(ms: number): string {
  return (ms / 1000).toFixed(3);
}
