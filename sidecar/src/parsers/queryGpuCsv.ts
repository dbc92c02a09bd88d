// `nvidia-smi --query-gpu=<fields> --format=csv,noheader,nounits`: one line per GPU, the values in the
// order asked for, separated by ", ". The sidecar's query mode reads the per-tick figures this way
// (on a real H200 a `-lms 1000` loop of 25 such fields cost 3.3 ms of CPU a second against 26.7 ms for
// `-q -x`) and everything else from a `-q -x` document read less often. Pure: text in, rows out.
import type { MemoryUsage, Utilization } from '../model.js';
import { quoteOutput } from './errors.js';
import type { SmiLogStreamSplitter } from './nvidiaSmiStream.js';
import type { SmiXmlLog } from './nvidiaSmiXml.js';
import { naToNull, parseCelsius, parseMHz, parseMiB, parsePercent, parseWatts } from './values.js';

/**
 * What query mode asks for, in this order. `enforced.power.limit` is the XML's `current_power_limit`;
 * `power.draw.instant` / `.average` are the XML's `instant_power_draw` / `average_power_draw` (drivers that
 * lack them refuse the whole query: query mode then fails with nvidia-smi's message, loop mode works).
 */
export const QUERY_GPU_FIELDS = [
  'uuid',
  'utilization.gpu',
  'utilization.memory',
  'utilization.encoder',
  'utilization.decoder',
  'memory.total',
  'memory.used',
  'temperature.gpu',
  'power.draw.instant',
  'power.draw.average',
  'enforced.power.limit',
  'clocks.current.sm',
  'clocks.current.memory',
] as const;

/** The per-tick figures of one GPU, in the model's units. */
export interface QueryGpuRow {
  uuid: string;
  utilization: Utilization;
  memory: MemoryUsage;
  temperatureC: number | null;
  powerW: number | null;
  powerAverageW: number | null;
  powerLimitW: number | null;
  clocks: { smMHz: number | null; memMHz: number | null };
}

// No GPU's line comes near this; a longer one is not nvidia-smi's and is not split.
const MAX_LINE_CHARS = 4096;
const UUID = /^GPU-[0-9A-Fa-f-]{1,64}$/;

/** One line's values by field name, or null when it has another number of values or is too long. */
export function splitQueryLine(line: string, fields: readonly string[]): Map<string, string> | null {
  if (line.length > MAX_LINE_CHARS) return null;
  const values = line.split(',');
  if (values.length !== fields.length) return null;
  return new Map(fields.map((f, i) => [f, (values[i] as string).trim()]));
}

/** One line of a query-mode loop as a row; null when it is not one (wrong shape, no GPU UUID). */
export function parseQueryGpuLine(line: string): QueryGpuRow | null {
  const v = splitQueryLine(line, QUERY_GPU_FIELDS);
  const uuid = naToNull(v?.get('uuid'));
  if (!v || uuid === null || !UUID.test(uuid)) return null;
  return {
    uuid,
    utilization: {
      gpu: parsePercent(v.get('utilization.gpu')),
      memory: parsePercent(v.get('utilization.memory')),
      encoder: parsePercent(v.get('utilization.encoder')),
      decoder: parsePercent(v.get('utilization.decoder')),
    },
    memory: { totalBytes: parseMiB(v.get('memory.total')), usedBytes: parseMiB(v.get('memory.used')) },
    temperatureC: parseCelsius(v.get('temperature.gpu')),
    // As the XML parser does: the instant reading, else the 1 s average, when a GPU lacks one of them.
    powerW: parseWatts(v.get('power.draw.instant')) ?? parseWatts(v.get('power.draw.average')),
    powerAverageW: parseWatts(v.get('power.draw.average')),
    powerLimitW: parseWatts(v.get('enforced.power.limit')),
    clocks: { smMHz: parseMHz(v.get('clocks.current.sm')), memMHz: parseMHz(v.get('clocks.current.memory')) },
  };
}

/**
 * Splits a query loop's stdout into lines, keeping a partial line for the next chunk. A line that grows
 * past MAX_LINE_CHARS without ending is dropped and reported (its tail is skipped up to the next newline).
 */
export function splitQueryLines(): Pick<SmiLogStreamSplitter, 'push'> {
  let partial = '';
  let skipping = false;
  return {
    push(chunk) {
      const documents: string[] = [];
      const errors: string[] = [];
      const parts = chunk.split('\n');
      const rest = parts.pop() as string; // after the last newline: incomplete
      for (const p of parts) {
        const line = skipping ? '' : (partial + p).replace(/\r$/, '');
        if (line.length > MAX_LINE_CHARS) errors.push(`dropped a line longer than ${MAX_LINE_CHARS} characters: '${quoteOutput(line)}'`);
        else if (line.trim() !== '') documents.push(line);
        partial = '';
        skipping = false;
      }
      if (!skipping) {
        partial += rest;
        if (partial.length > MAX_LINE_CHARS) {
          errors.push(`dropped a line longer than ${MAX_LINE_CHARS} characters: '${quoteOutput(partial)}'`);
          partial = '';
          skipping = true;
        }
      }
      return { documents, errors };
    },
  };
}

/**
 * The XML document's GPUs with each one's per-tick figures replaced by its query row (joined by UUID).
 * Everything else (identity, MIG devices, processes, vGPU state, ECC) stays as the document says. GPUs
 * without a row, and GPUs that report one UUID between them (their rows cannot be told apart), keep the
 * document's figures.
 */
export function withQueryRows(log: SmiXmlLog, rows: ReadonlyMap<string, QueryGpuRow>): SmiXmlLog {
  const seen = new Set<string>();
  const shared = new Set<string>();
  for (const g of log.gpus) (seen.has(g.uuid) ? shared : seen).add(g.uuid);
  return {
    ...log,
    gpus: log.gpus.map((g) => {
      const r = shared.has(g.uuid) ? undefined : rows.get(g.uuid);
      if (!r) return g;
      return {
        ...g,
        utilization: r.utilization,
        memory: r.memory,
        temperatureC: r.temperatureC,
        powerW: r.powerW,
        powerAverageW: r.powerAverageW,
        powerLimitW: r.powerLimitW,
        clocks: r.clocks,
      };
    }),
  };
}
