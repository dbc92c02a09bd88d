// Field readers shared by the scenario parsers (scenario.ts, engineScenario.ts): every error names the field
// it is about with a path such as `gpus[3].mig.instances[1].profile`.

export class ScenarioError extends Error {
  constructor(
    readonly field: string,
    detail: string
  ) {
    super(field ? `${field}: ${detail}` : detail);
    this.name = 'ScenarioError';
  }
}

export interface LoadSpec {
  /** Mean value, 0..1. */
  base: number;
  /** Sine amplitude, 0..1. */
  amplitude: number;
  periodSeconds: number;
  /** Phase as a fraction of the period, 0..1. */
  phase: number;
  /** Deterministic per-second noise amplitude, 0..1. */
  noise: number;
}

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `"${v}"`;
  return String(v);
}

export function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

export function asObj(v: unknown, path: string): Obj {
  if (!isObj(v)) throw new ScenarioError(path, `must be a mapping, got ${describe(v)}`);
  return v;
}

export function asList(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) throw new ScenarioError(path, `must be a list, got ${describe(v)}`);
  return v;
}

export function onlyKeys(o: Obj, path: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) {
      throw new ScenarioError(join(path, k), `unknown field (allowed here: ${allowed.join(', ')})`);
    }
  }
}

export interface NumOpts {
  min?: number;
  max?: number;
  int?: boolean;
  /** min is exclusive */
  above?: boolean;
}

export function num(v: unknown, path: string, opts: NumOpts = {}): number {
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new ScenarioError(path, `must be a number, got ${describe(v)}`);
  if (opts.int && !Number.isInteger(v)) throw new ScenarioError(path, `must be a whole number, got ${v}`);
  if (opts.min !== undefined && (opts.above ? v <= opts.min : v < opts.min)) {
    throw new ScenarioError(path, `must be ${opts.above ? 'greater than' : 'at least'} ${opts.min}, got ${v}`);
  }
  if (opts.max !== undefined && v > opts.max) throw new ScenarioError(path, `must be at most ${opts.max}, got ${v}`);
  return v;
}

export function optNum(o: Obj, key: string, path: string, opts: NumOpts = {}): number | null {
  const v = o[key];
  return v === undefined || v === null ? null : num(v, join(path, key), opts);
}

export function str(v: unknown, path: string): string {
  // Versions such as 12.8 are numbers to YAML; accept them as the text the operator wrote.
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string' || v.trim() === '')
    throw new ScenarioError(path, `must be a non-empty string, got ${describe(v)}`);
  return v;
}

export function optStr(o: Obj, key: string, path: string): string | null {
  const v = o[key];
  return v === undefined || v === null ? null : str(v, join(path, key));
}

export function oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new ScenarioError(path, `must be one of ${allowed.join(', ')}, got ${describe(v)}`);
  }
  return v as T;
}

const DEFAULT_PERIOD = 300;

export function parseLoad(v: unknown, path: string): LoadSpec {
  if (typeof v === 'number') {
    return {
      base: num(v, path, { min: 0, max: 1 }),
      amplitude: 0,
      periodSeconds: DEFAULT_PERIOD,
      phase: 0,
      noise: 0.02,
    };
  }
  const o = asObj(v, path);
  onlyKeys(o, path, ['base', 'amplitude', 'periodSeconds', 'phase', 'noise']);
  if (o.base === undefined) throw new ScenarioError(join(path, 'base'), 'is required (0..1)');
  return {
    base: num(o.base, join(path, 'base'), { min: 0, max: 1 }),
    amplitude: optNum(o, 'amplitude', path, { min: 0, max: 1 }) ?? 0,
    periodSeconds: optNum(o, 'periodSeconds', path, { min: 0, above: true }) ?? DEFAULT_PERIOD,
    phase: optNum(o, 'phase', path, { min: 0, max: 1 }) ?? 0,
    noise: optNum(o, 'noise', path, { min: 0, max: 1 }) ?? 0.02,
  };
}

/** A fault's `from`/`to`/`every` window (seconds since start; `every` repeats it), checked. */
export function timeWindow(o: Obj, path: string): { from: number; to: number | null; every: number | null } {
  const from = optNum(o, 'from', path, { min: 0 }) ?? 0;
  const to = optNum(o, 'to', path, { min: 0 });
  const every = optNum(o, 'every', path, { min: 0, above: true });
  if (to !== null && to <= from) throw new ScenarioError(join(path, 'to'), `must be after from (${from})`);
  if (every !== null && to === null) throw new ScenarioError(join(path, 'to'), 'is required with every');
  if (every !== null && to !== null && to - from > every)
    throw new ScenarioError(join(path, 'every'), `must be at least the window length (${to - from})`);
  return { from, to, every };
}
