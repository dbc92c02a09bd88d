// One report run: discover the rows, run every column's query and the checks against Prometheus, build the
// rows and warnings, and write the artifacts (CSV / JSON, then MANIFEST.json last: a directory whose manifest
// is there is complete).
import { join, resolve } from 'node:path';
import { writeAtomic, toCsv, toJson, type Artifact } from './artifacts.js';
import {
  COLUMNS,
  ENGINE_KEY,
  engineRowsQuery,
  gpuEnergyCounterPresence,
  gpuRowsQuery,
  gpuScope,
  header,
  type Level,
  type QueryContext,
} from './catalogue.js';
import { EXIT, ReportError } from './errors.js';
import { buildManifest, type Manifest, type ManifestColumn } from './manifest.js';
import { QueryError, type PromClient, type Sample } from './promClient.js';
import { buildRows, countRows, type Answers, type Row } from './rows.js';
import { describeSelection, engineMatchers, gpuMatchers, gpusFollowEngines, gpuSeriesMatchers, joinMatchers, matcher, series, type Selection } from './selectors.js';
import { coverageWarnings, fewObservationWarnings, resetWarnings, type ReportWarning } from './warnings.js';
import { iso, promRange, type Window } from './window.js';
import { formatDuration } from '../util/duration.js';

export type Format = 'csv' | 'json';

export interface ReportOptions {
  window: Window;
  selection: Selection;
  outDir: string;
  formats: Format[];
  prometheusUrl: string;
  version: string;
  /** Parallel queries (Prometheus runs them concurrently up to its --query.max-concurrency). */
  concurrency: number;
  progress: boolean;
}

export interface ReportDeps {
  client: PromClient;
  nowMs: number;
  stderr: (line: string) => void;
}

export interface ReportResult {
  outDir: string;
  files: string[];
  rows: Row[];
  manifest: Manifest;
}

export const CSV_NAME = 'metrics_summary.csv';
export const JSON_NAME = 'metrics_summary.json';
export const MANIFEST_NAME = 'MANIFEST.json';

export function queryContext(w: Window, s: Selection): QueryContext {
  return {
    range: promRange(w),
    seconds: (w.endMs - w.startMs) / 1000,
    step: formatDuration(w.stepMs),
    engineSel: engineMatchers(s),
    engineIdSel: joinMatchers([matcher('host', s.hosts), matcher('engine_id', s.engines)]),
    modelSel: matcher('model', s.models) ?? '',
    gpuSel: gpuSeriesMatchers(s),
    hostSel: matcher('host', s.hosts) ?? '',
    gpusFollowEngines: gpusFollowEngines(s),
  };
}

interface Job {
  name: string;
  promql: string;
  onAnswer: (samples: Sample[]) => void;
}

/** Runs jobs `concurrency` at a time; a failed query leaves its cells empty and becomes a warning. */
async function runJobs(jobs: Job[], opts: ReportOptions, deps: ReportDeps, warnings: ReportWarning[]): Promise<void> {
  let next = 0;
  let done = 0;
  let lastProgress = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++] as Job;
      try {
        const answer = await deps.client.query(job.promql, opts.window.endMs);
        for (const n of answer.notes) warnings.push({ kind: 'prometheus-note', column: job.name, message: `${job.name}: Prometheus noted: ${n}` });
        job.onAnswer(answer.samples);
      } catch (err) {
        if (!(err instanceof QueryError)) throw err;
        warnings.push({
          kind: err.limit ? 'query-limit' : 'query-error',
          column: job.name,
          message: `${job.name}: ${err.limit ? 'hit a limit' : 'failed'} (${err.message}); its cells are empty`,
        });
        deps.stderr(`gpufleet-report: warning: ${job.name}: ${err.message}`);
      }
      done++;
      if (opts.progress && (Date.now() - lastProgress > 1000 || done === jobs.length)) {
        lastProgress = Date.now();
        deps.stderr(`gpufleet-report: ${done}/${jobs.length} queries`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, jobs.length) }, worker));
}

/** A query whose failure means there is no report: Prometheus is not usable for this window. */
async function mustQuery(deps: ReportDeps, what: string, promql: string, atMs: number): Promise<Sample[]> {
  try {
    return (await deps.client.query(promql, atMs)).samples;
  } catch (err) {
    if (err instanceof QueryError) throw new ReportError(EXIT.unreachable, `Prometheus rejected the ${what} query (${err.message}): ${promql}`);
    throw err;
  }
}

const LEVELS: Record<'engine' | 'gpu', Level[]> = { engine: ['engine', 'model', 'total'], gpu: ['gpu', 'total'] };

const HISTOGRAMS: Array<[string, string?]> = [
  ['vllm:time_to_first_token_seconds'],
  ['vllm:inter_token_latency_seconds', 'vllm:time_per_output_token_seconds'],
  ['vllm:e2e_request_latency_seconds'],
  ['vllm:request_queue_time_seconds'],
];

export async function runReport(opts: ReportOptions, deps: ReportDeps): Promise<ReportResult> {
  const w = opts.window;
  const ctx = queryContext(w, opts.selection);
  const buildInfo = await deps.client.buildInfo();

  const engineKeys = await mustQuery(deps, 'engine discovery', engineRowsQuery(ctx), w.endMs);
  const gpuKeys = await mustQuery(deps, 'GPU discovery', gpuRowsQuery(ctx), w.endMs);
  if (engineKeys.length === 0 && gpuKeys.length === 0) {
    const sel = Object.entries(describeSelection(opts.selection)).filter(([, v]) => v.length > 0).map(([k, v]) => `--${k} ${v.join(',')}`).join(' ');
    throw new ReportError(
      EXIT.emptySelection,
      `no engine (vllm:*) and no GPU (gpufleet_gpu_info) series ${sel ? `match ${sel} ` : ''}between ${iso(w.startMs)} and ${iso(w.endMs)} in ${opts.prometheusUrl}`,
    );
  }
  deps.stderr(`gpufleet-report: ${iso(w.startMs)} – ${iso(w.endMs)} (${ctx.range}, step ${ctx.step}): ${engineKeys.length} engine(s), ${gpuKeys.length} GPU(s)`);

  const warnings: ReportWarning[] = [];
  const answers: Answers = new Map();
  const columns: ManifestColumn[] = [];
  const jobs: Job[] = [];
  for (const col of COLUMNS) {
    const promql: ManifestColumn['promql'] = {};
    const perLevel: Partial<Record<Level, Sample[] | null>> = {};
    answers.set(col.name, perLevel);
    for (const level of LEVELS[col.scope]) {
      const q = col.promql(level, ctx);
      if (q === null) continue;
      promql[level] = q;
      perLevel[level] = null;
      jobs.push({ name: `${col.name} (${level})`, promql: q, onAnswer: (s) => (perLevel[level] = s) });
    }
    columns.push({ name: col.name, kind: col.kind, description: col.description, promql });
  }

  // Checks behind the warnings.
  const checks: Array<{ name: string; promql: string }> = [];
  const check = (name: string, promql: string, onAnswer: (s: Sample[]) => void) => {
    checks.push({ name, promql });
    jobs.push({ name, promql, onAnswer });
  };
  // Scrapes, remote-write lag and subquery alignment move first/last samples by a step or so: only gaps
  // larger than that are worth a warning.
  const slackMs = Math.max(3 * w.stepMs, 30_000);
  const engineBy = `by (${ENGINE_KEY.join(', ')})`;
  const gpuBy = 'by (host, gpu_uuid)';
  const tsRange = (sel: string, fn: 'min' | 'max') => `${fn}_over_time(timestamp(${sel})[${ctx.range}:${ctx.step}])`;
  const engineRef = series('vllm:generation_tokens_total', ctx.engineSel);
  const gpuRef = series('gpufleet_gpu_info', ctx.gpuSel);
  const coverage = { engine: { first: [] as Sample[], last: [] as Sample[] }, gpu: { first: [] as Sample[], last: [] as Sample[] } };
  check('engine data coverage: first sample', `min ${engineBy} (${tsRange(engineRef, 'min')})`, (s) => (coverage.engine.first = s));
  check('engine data coverage: last sample', `max ${engineBy} (${tsRange(engineRef, 'max')})`, (s) => (coverage.engine.last = s));
  check('GPU data coverage: first sample', `min ${gpuBy} (${gpuScope(tsRange(gpuRef, 'min'), ctx)})`, (s) => (coverage.gpu.first = s));
  check('GPU data coverage: last sample', `max ${gpuBy} (${gpuScope(tsRange(gpuRef, 'max'), ctx)})`, (s) => (coverage.gpu.last = s));
  // max, not sum: request_success_total has a series per finish reason, each resetting at a restart.
  for (const family of ['vllm:request_success_total', 'vllm:generation_tokens_total', 'vllm:prompt_tokens_total']) {
    check(`counter resets: ${family}`, `max ${engineBy} (resets(${series(family, ctx.engineSel)}[${ctx.range}])) > 0`, (s) =>
      warnings.push(...resetWarnings(family, ENGINE_KEY, s)),
    );
  }
  check(
    'counter resets: gpufleet_gpu_energy_joules_total',
    `max ${gpuBy} (${gpuScope(`resets(${series('gpufleet_gpu_energy_joules_total', ctx.gpuSel)}[${ctx.range}])`, ctx)}) > 0`,
    (s) => warnings.push(...resetWarnings('gpufleet_gpu_energy_joules_total', ['host', 'gpu_uuid'], s)),
  );
  check(
    'counter resets: gpufleet_engine_energy_joules_total',
    `max by (host, engine_id) (resets(${series('gpufleet_engine_energy_joules_total', ctx.engineIdSel)}[${ctx.range}])) > 0`,
    (s) => warnings.push(...resetWarnings('gpufleet_engine_energy_joules_total', ['host', 'engine_id'], s)),
  );
  for (const [family, fallback] of HISTOGRAMS) {
    const inc = (f: string) => `increase(${series(`${f}_count`, ctx.engineSel)}[${ctx.range}])`;
    const inner = fallback ? `${inc(family)} or ${inc(fallback)}` : inc(family);
    check(`observations: ${family}`, `sum ${engineBy} (${inner})`, (s) => warnings.push(...fewObservationWarnings(family, ENGINE_KEY, s)));
  }
  let energyCounterGpus: Sample[] | null = null;
  let engineEnergySeries = 0;
  check('GPUs with an energy counter', gpuEnergyCounterPresence(ctx), (s) => (energyCounterGpus = s));
  check(
    'engines with an energy counter',
    `count (last_over_time(${series('gpufleet_engine_energy_joules_total', ctx.engineIdSel)}[${ctx.range}]))`,
    (s) => (engineEnergySeries = Number(s[0]?.value[1] ?? 0)),
  );

  await runJobs(jobs, opts, deps, warnings);

  warnings.push(...coverageWarnings('engine', ENGINE_KEY, coverage.engine.first, coverage.engine.last, w, slackMs));
  warnings.push(...coverageWarnings('GPU', ['host', 'gpu_uuid'], coverage.gpu.first, coverage.gpu.last, w, slackMs));
  if (w.source.includes('still open')) warnings.push({ kind: 'window-open', message: `${w.source}: reported up to ${iso(w.endMs)}` });

  const rows = buildRows(engineKeys, gpuKeys, answers, energyCounterGpus);
  const gpuRows = rows.filter((r) => r.scope === 'gpu');
  const fromCounter = gpuRows.filter((r) => r.energy_source === 'counter').length;
  const fromPower = gpuRows.filter((r) => r.energy_source === 'power').length;
  const energy = {
    gpu: `gpu_energy_joules: ${fromCounter} GPU(s) from gpufleet_gpu_energy_joules_total, ${fromPower} from gpufleet_gpu_power_watts integrated (mean power × window)`,
    engine: engineEnergySeries > 0 ? `engine_energy_joules from gpufleet_engine_energy_joules_total (${engineEnergySeries} series)` : 'engine_energy_joules empty: no gpufleet_engine_energy_joules_total in the window',
  };
  if (engineKeys.length > 0 && engineEnergySeries === 0) {
    warnings.push({ kind: 'no-energy-counter', column: 'engine_energy_joules', message: `${energy.engine} (a sidecar older than the energy counters?)` });
  }

  const outDir = resolve(opts.outDir);
  const cols = header();
  const artifacts: Artifact[] = [];
  const files: string[] = [];
  if (opts.formats.includes('csv')) {
    artifacts.push(writeAtomic(join(outDir, CSV_NAME), toCsv(cols, rows)));
    files.push(join(outDir, CSV_NAME));
  }
  if (opts.formats.includes('json')) {
    artifacts.push(writeAtomic(join(outDir, JSON_NAME), toJson(cols, rows)));
    files.push(join(outDir, JSON_NAME));
  }
  const manifest = buildManifest({
    version: opts.version,
    nowMs: deps.nowMs,
    prometheusUrl: opts.prometheusUrl,
    buildInfo,
    window: { startMs: w.startMs, endMs: w.endMs, step: ctx.step, source: w.source },
    selectors: { ...describeSelection(opts.selection), gpuMatchers: gpuMatchers(opts.selection.gpus) },
    gpusFollowEngines: ctx.gpusFollowEngines,
    energy,
    rows: countRows(rows),
    artifacts,
    columns,
    checks,
    warnings,
  });
  writeAtomic(join(outDir, MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`);
  files.push(join(outDir, MANIFEST_NAME));
  return { outDir, files, rows, manifest };
}
