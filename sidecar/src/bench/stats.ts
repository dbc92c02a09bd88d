// The arithmetic of the bench printout, apart from any measuring so it can be tested: percentiles,
// CPU and memory read from /proc text, and the "ours against theirs" ratio beside its goal.

/** The q-quantile (0..1) of ascending `sorted` by the nearest-rank method; NaN when empty. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

export function median(xs: readonly number[]): number {
  return quantile([...xs].sort((a, b) => a - b), 0.5);
}

/** Clock ticks per second of /proc/PID/stat's times: USER_HZ, 100 on every Linux architecture Node runs on. */
export const USER_HZ = 100;

/**
 * User + system CPU seconds of a process from the text of /proc/PID/stat. The command name (field 2)
 * is in parentheses and may hold spaces and parentheses itself, so fields are counted after the last ')'.
 */
export function statCpuSeconds(stat: string): number {
  // After the name, field 3 (state) comes first; utime and stime are fields 14 and 15.
  return statSeconds(stat, 11, 12);
}

/** CPU seconds of the children a process has waited for (cutime + cstime, fields 16 and 17). */
export function statChildrenCpuSeconds(stat: string): number {
  return statSeconds(stat, 13, 14);
}

/** The parent pid (field 4). */
export function statParentPid(stat: string): number {
  const ppid = Number(statFields(stat)[1]);
  if (!Number.isInteger(ppid)) throw new Error('not a /proc/PID/stat line');
  return ppid;
}

function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

function statSeconds(stat: string, a: number, b: number): number {
  const f = statFields(stat);
  const x = Number(f[a]);
  const y = Number(f[b]);
  if (f.length < 15 || !Number.isFinite(x) || !Number.isFinite(y)) throw new Error('not a /proc/PID/stat line');
  return (x + y) / USER_HZ;
}

/** One memory line of /proc/PID/status (in kB there) in MB (10^6 bytes): resident, or its anonymous / file-backed part. */
export function statusMB(status: string, field: 'VmRSS' | 'RssAnon' | 'RssFile'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
  if (!m) throw new Error(`no ${field} line`);
  return (Number(m[1]) * 1024) / 1e6;
}

/**
 * "ours / theirs" as printed: under 1 means we use less (time, CPU) than the peer. Both must be
 * positive and finite; otherwise there is no ratio to print.
 */
export function ratio(ours: number, theirs: number): number | null {
  if (!(ours >= 0) || !(theirs > 0) || !Number.isFinite(ours) || !Number.isFinite(theirs)) return null;
  return ours / theirs;
}

export function formatRatio(r: number | null): string {
  if (r === null) return 'n/a';
  return r >= 10 ? `${r.toFixed(0)}×` : r >= 0.1 ? `${r.toFixed(2)}×` : `${r.toFixed(3)}×`;
}

/** Milliseconds with a precision that suits them: 0.042 ms, 1.25 ms, 118 ms. */
export function formatMs(ms: number): string {
  if (ms === Infinity) return 'cut off';
  if (!Number.isFinite(ms)) return 'n/a';
  return ms < 1 ? `${ms.toFixed(3)} ms` : ms < 100 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(0)} ms`;
}

/**
 * Least-squares slope and intercept of y against x: what one more GPU, engine or hour of history
 * costs, from the few sizes the bench measures.
 */
export function linearFit(xs: readonly number[], ys: readonly number[]): { slope: number; intercept: number } {
  const n = xs.length;
  if (n < 2 || ys.length !== n) throw new Error('a fit needs two points or more, as many x as y');
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    sxx += ((xs[i] as number) - mx) ** 2;
  }
  if (sxx === 0) throw new Error('a fit needs two different x');
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx };
}
