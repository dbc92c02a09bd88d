// Which engines and GPUs a report covers, as PromQL label matchers. The values come from the command line
// (and from named windows' files), so they are escaped twice: as regular expressions (several values are
// one `=~` alternation, and a value is matched literally) and as PromQL string literals.
import { usageError } from './errors.js';

export interface Selection {
  hosts: string[];
  engines: string[];
  models: string[];
  /** GPU UUIDs (`GPU-…`) or indexes (`0`, `3`). */
  gpus: string[];
}

/** Values of a repeatable flag, each possibly a comma list: `--model a,b --model c` → [a, b, c]. */
export function splitList(flag: string, values: readonly string[] | undefined): string[] {
  const out: string[] = [];
  for (const v of values ?? []) {
    for (const part of v.split(',')) {
      const s = part.trim();
      if (s === '') continue;
      // Label values may hold anything, but a control character on a command line is a mistake.
      // eslint-disable-next-line no-control-regex -- control characters are what this looks for
      if (/[\x00-\x1f\x7f]/.test(s)) throw usageError(`${flag}: "${JSON.stringify(s)}" holds a control character`);
      if (s.length > 1024) throw usageError(`${flag}: a value longer than 1024 characters`);
      if (!out.includes(s)) out.push(s);
    }
  }
  return out;
}

/** A PromQL double-quoted string literal holding exactly `s`. */
export function promString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** `s` as a RE2 pattern matching only itself. */
export function regexLiteral(s: string): string {
  return s.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
}

/** `label="v"` for one value, `label=~"v1|v2"` (literal alternatives) for several, nothing for none. */
export function matcher(label: string, values: readonly string[]): string | null {
  if (values.length === 0) return null;
  if (values.length === 1) return `${label}=${promString(values[0] as string)}`;
  return `${label}=~${promString(values.map(regexLiteral).join('|'))}`;
}

/** GPU selectors: UUIDs by `gpu_uuid`, bare integers by `gpu_index`. */
export function gpuMatchers(gpus: readonly string[]): string[] {
  const indexes = gpus.filter((g) => /^\d+$/.test(g));
  const uuids = gpus.filter((g) => !/^\d+$/.test(g));
  return [matcher('gpu_index', indexes), matcher('gpu_uuid', uuids)].filter((m): m is string => m !== null);
}

/** `name{matchers}`, or the bare name: VictoriaMetrics reads `name{}[5m:15s]` as nothing. */
export function series(name: string, matchers: string): string {
  return matchers ? `${name}{${matchers}}` : name;
}

export function joinMatchers(ms: ReadonlyArray<string | null>): string {
  return ms.filter((m): m is string => m !== null).join(', ');
}

/** Matchers for vLLM's series as scraped through the sidecar's engine discovery (target labels host, engine_id, model). */
export function engineMatchers(s: Selection): string {
  return joinMatchers([matcher('host', s.hosts), matcher('engine_id', s.engines), matcher('model', s.models)]);
}

/** Matchers for the sidecar's per-GPU series. */
export function gpuSeriesMatchers(s: Selection): string {
  return joinMatchers([matcher('host', s.hosts), ...gpuMatchers(s.gpus)]);
}

/** Whether GPU rows follow the engines selected (--engine / --model without --gpu: the GPUs they run on). */
export function gpusFollowEngines(s: Selection): boolean {
  return s.gpus.length === 0 && (s.engines.length > 0 || s.models.length > 0);
}

export function describeSelection(s: Selection): Record<string, string[]> {
  return { host: s.hosts, engine: s.engines, model: s.models, gpu: s.gpus };
}
