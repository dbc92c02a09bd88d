// gpufleet-report: KPIs of a time window (throughput, latency quantiles, utilisation, energy) from Prometheus,
// written as metrics_summary.csv / .json and MANIFEST.json; `window start|stop|list|delete` keep named windows.
import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { VERSION } from '../version.js';
import { EXIT, ReportError, usageError } from './errors.js';
import { annotateStart, annotateStop, type GrafanaTarget } from './grafanaAnnotation.js';
import { defaultStateFile, deleteWindow, formatList, readState, setAnnotation, startWindow, stopWindow, writeState } from './namedWindows.js';
import { PromClient, type Auth } from './promClient.js';
import { CSV_NAME, MANIFEST_NAME, runReport, type Format } from './report.js';
import { splitList, type Selection } from './selectors.js';
import { iso, parsePositiveDuration, resolveWindow } from './window.js';

export const DEFAULT_PROMETHEUS = 'http://localhost:9090';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function buildReportProgram(): Command {
  const program = new Command('gpufleet-report');
  program
    .description(
      'KPIs of a time window from Prometheus for the engines and GPUs selected: requests and tokens (totals and per second), ' +
        'TTFT / inter-token / end-to-end / queue-time p50, p95 and p99 (from histogram bucket increases over the whole window), ' +
        'KV-cache use, GPU utilisation, memory and power (mean and max), and energy. Rows per engine, per model, a total, and per GPU, ' +
        'written as metrics_summary.csv (and .json) beside MANIFEST.json (window, selectors, the exact PromQL of every column, ' +
        'Prometheus build info, sha256 of the files, warnings).\n' +
        'Every option can also be set by the environment variable shown; a flag wins over its variable.',
    )
    .version(VERSION, '--version', 'print the version and exit')
    .addOption(new Option('--prometheus <url>', 'Prometheus (or VictoriaMetrics, Thanos…) base URL').env('GPUFLEET_REPORT_PROMETHEUS').default(DEFAULT_PROMETHEUS))
    .addOption(new Option('--from <time>', 'window start: RFC 3339 with a zone (2026-12-02T21:00:00Z) or Unix seconds').env('GPUFLEET_REPORT_FROM'))
    .addOption(new Option('--to <time>', 'window end (same forms as --from)').env('GPUFLEET_REPORT_TO'))
    .addOption(new Option('--last <duration>', 'the window is the last DURATION up to now (15m, 1h30m)').env('GPUFLEET_REPORT_LAST'))
    .addOption(new Option('--window <name>', 'a named window recorded with `window start` / `window stop`').env('GPUFLEET_REPORT_WINDOW'))
    .addOption(new Option('--host <host>', 'only these hosts (repeatable, or a comma list)').env('GPUFLEET_REPORT_HOST').argParser(collect))
    .addOption(new Option('--engine <id>', 'only these engines, by engine_id (repeatable, or a comma list); GPU rows are then their GPUs').env('GPUFLEET_REPORT_ENGINE').argParser(collect))
    .addOption(new Option('--model <model>', 'only engines serving these models, by the `model` label (repeatable, or a comma list); GPU rows are then their GPUs').env('GPUFLEET_REPORT_MODEL').argParser(collect))
    .addOption(new Option('--gpu <uuid|index>', 'only these GPUs, by UUID (GPU-…) or index (repeatable, or a comma list)').env('GPUFLEET_REPORT_GPU').argParser(collect))
    .addOption(new Option('--out <dir>', 'directory the files are written to (created; files in it are replaced)').env('GPUFLEET_REPORT_OUT').default('gpufleet-report-<window end, UTC>'))
    .addOption(new Option('--format <list>', 'csv, json or csv,json').env('GPUFLEET_REPORT_FORMAT').default('csv'))
    .addOption(new Option('--step <duration>', 'sampling step of the gauges (utilisation, memory, power, KV cache): mean and max are over samples this far apart').env('GPUFLEET_REPORT_STEP').default('15s'))
    .addOption(new Option('--token-file <file>', 'bearer token for Prometheus, read from this file').env('GPUFLEET_REPORT_TOKEN_FILE'))
    .addOption(new Option('--basic-auth <user:password>', 'basic auth for Prometheus (prefer --basic-auth-file: a command line is visible to other users)').env('GPUFLEET_REPORT_BASIC_AUTH'))
    .addOption(new Option('--basic-auth-file <file>', 'basic auth for Prometheus: a file holding user:password').env('GPUFLEET_REPORT_BASIC_AUTH_FILE'))
    .addOption(new Option('--timeout <duration>', 'time limit of each request to Prometheus').env('GPUFLEET_REPORT_TIMEOUT').default('60s'))
    .addOption(new Option('--concurrency <n>', 'queries run at once').env('GPUFLEET_REPORT_CONCURRENCY').default('4'))
    .addOption(new Option('--progress', 'report progress on stderr (on by itself for windows of an hour or more)').env('GPUFLEET_REPORT_PROGRESS'))
    .addOption(new Option('--quiet', 'no progress or summary on stderr (warnings still)').env('GPUFLEET_REPORT_QUIET'))
    .addOption(new Option('--state-file <file>', 'named windows\' state file').env('GPUFLEET_REPORT_STATE_FILE').default(defaultStateFile(), '$XDG_STATE_HOME/gpufleet/report-windows.json'))
    .addOption(new Option('--grafana-url <url>', '`window start/stop`: also mark the window as a Grafana annotation here').env('GPUFLEET_REPORT_GRAFANA_URL'))
    .addOption(new Option('--grafana-token <token>', '`window start/stop`: Grafana service account token (prefer --grafana-token-file)').env('GPUFLEET_REPORT_GRAFANA_TOKEN'))
    .addOption(new Option('--grafana-token-file <file>', '`window start/stop`: file holding the Grafana token').env('GPUFLEET_REPORT_GRAFANA_TOKEN_FILE'))
    .showHelpAfterError('(run gpufleet-report --help for the options)')
    .addHelpText(
      'after',
      `
Named windows:
  gpufleet-report window start NAME     record the start of a benchmark window (now)
  gpufleet-report window stop NAME      record its end
  gpufleet-report window list           the recorded windows
  gpufleet-report window delete NAME    forget one
  gpufleet-report --window NAME         report on it

Exit codes:
  0  report written          1  internal or I/O error       2  bad usage (flags, times, window names)
  3  Prometheus unreachable, refusing the credentials, or not a Prometheus API
  4  no engine and no GPU match the selectors in the window
  5  the window starts or ends in the future
  6  report written, but a query failed or hit a limit: some cells are empty (MANIFEST.json "complete": false)

Examples:
  gpufleet-report --prometheus http://prom:9090 --last 15m --model meta-llama/Llama-3.1-8B-Instruct
  gpufleet-report --from 2026-12-02T21:00:00Z --to 2026-12-02T22:00:00Z --host gpu0001,gpu0002 --format csv,json
  gpufleet-report window start upgrade-a && ./run-benchmark && gpufleet-report window stop upgrade-a
  gpufleet-report --window upgrade-a --out reports/upgrade-a`,
    );
  const win = program.command('window').description('record named benchmark windows (start, stop, list, delete)');
  win.command('start <name>').description('record that window NAME starts now').action(async (name: string, _o, cmd: Command) => windowCommand('start', name, cmd));
  win.command('stop <name>').description('record that window NAME ends now').action(async (name: string, _o, cmd: Command) => windowCommand('stop', name, cmd));
  win.command('list').description('the recorded windows').action(async (_o, cmd: Command) => windowCommand('list', '', cmd));
  win.command('delete <name>').description('forget window NAME').action(async (name: string, _o, cmd: Command) => windowCommand('delete', name, cmd));
  program.action(async (_o, cmd: Command) => reportCommand(cmd));
  return program;
}

interface RootOptions {
  prometheus: string;
  from?: string;
  to?: string;
  last?: string;
  window?: string;
  host?: string[] | string;
  engine?: string[] | string;
  model?: string[] | string;
  gpu?: string[] | string;
  out: string;
  format: string;
  step: string;
  tokenFile?: string;
  basicAuth?: string;
  basicAuthFile?: string;
  timeout: string;
  concurrency: string;
  progress?: boolean | string;
  quiet?: boolean | string;
  stateFile: string;
  grafanaUrl?: string;
  grafanaToken?: string;
  grafanaTokenFile?: string;
}

// An env twin arrives as one string; a repeated flag as a list.
const list = (v: string[] | string | undefined) => (v === undefined ? [] : typeof v === 'string' ? [v] : v);
const flagOn = (v: boolean | string | undefined) => v === true || (typeof v === 'string' && /^(1|true|yes|on)$/i.test(v));

function readSecret(flag: string, file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw usageError(`${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const s = text.trim();
  if (!s) throw usageError(`${flag}: ${file} is empty`);
  return s;
}

export function parseAuth(o: Pick<RootOptions, 'tokenFile' | 'basicAuth' | 'basicAuthFile'>): Auth {
  const given = [o.tokenFile && '--token-file', o.basicAuth && '--basic-auth', o.basicAuthFile && '--basic-auth-file'].filter(Boolean);
  if (given.length > 1) throw usageError(`give one of ${given.join(', ')}`);
  if (o.tokenFile) return { kind: 'bearer', token: readSecret('--token-file', o.tokenFile) };
  const pair = o.basicAuth ?? (o.basicAuthFile ? readSecret('--basic-auth-file', o.basicAuthFile) : undefined);
  if (pair === undefined) return { kind: 'none' };
  const i = pair.indexOf(':');
  if (i <= 0) throw usageError(`${o.basicAuth ? '--basic-auth' : '--basic-auth-file'}: expected user:password`);
  return { kind: 'basic', user: pair.slice(0, i), password: pair.slice(i + 1) };
}

export function parseFormats(text: string): Format[] {
  const parts = text.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (parts.length === 0) throw usageError('--format: give csv, json or csv,json');
  for (const p of parts) if (p !== 'csv' && p !== 'json') throw usageError(`--format: "${p}" is not csv or json`);
  return [...new Set(parts)] as Format[];
}

function checkUrl(flag: string, text: string): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw usageError(`${flag}: "${text}" is not a URL (e.g. ${DEFAULT_PROMETHEUS})`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw usageError(`${flag}: "${text}" must be http:// or https://`);
  return text;
}

function positiveInt(flag: string, text: string, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < 1 || n > max) throw usageError(`${flag}: "${text}" must be an integer from 1 to ${max}`);
  return n;
}

/** `gpufleet-report-20261202T220000Z` for the window's end. */
export function defaultOutDir(endMs: number): string {
  return `gpufleet-report-${iso(endMs).replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
}

async function reportCommand(cmd: Command): Promise<void> {
  const o = cmd.opts<RootOptions>();
  const nowMs = Date.now();
  const selection: Selection = {
    hosts: splitList('--host', list(o.host)),
    engines: splitList('--engine', list(o.engine)),
    models: splitList('--model', list(o.model)),
    gpus: splitList('--gpu', list(o.gpu)),
  };
  const prometheusUrl = checkUrl('--prometheus', o.prometheus);
  const formats = parseFormats(o.format);
  const auth = parseAuth(o);
  const timeoutMs = parsePositiveDuration('--timeout', o.timeout);
  const concurrency = positiveInt('--concurrency', o.concurrency, 64);
  const state = o.window !== undefined ? readState(o.stateFile) : null;
  const window = resolveWindow(o, nowMs, (name) => state?.windows.find((w) => w.name === name));
  const quiet = flagOn(o.quiet);
  const outDir = o.out === 'gpufleet-report-<window end, UTC>' ? defaultOutDir(window.endMs) : o.out;
  const stderr = (line: string) => {
    if (!quiet || line.includes('warning')) process.stderr.write(`${line}\n`);
  };
  const result = await runReport(
    {
      window,
      selection,
      outDir,
      formats,
      prometheusUrl,
      version: VERSION,
      concurrency,
      progress: !quiet && (flagOn(o.progress) || window.endMs - window.startMs >= 3_600_000),
    },
    { client: new PromClient({ url: prometheusUrl, auth, timeoutMs }), nowMs, stderr },
  );
  const m = result.manifest;
  const rowText = Object.entries(m.rows).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(', ');
  for (const f of result.files) {
    const name = f.slice(f.lastIndexOf('/') + 1);
    process.stdout.write(`wrote ${f}${name === MANIFEST_NAME ? '' : ` (${rowText} rows)`}\n`);
  }
  if (m.warnings.length > 0) {
    const kinds = [...new Set(m.warnings.map((w) => w.kind))].join(', ');
    process.stderr.write(`gpufleet-report: ${m.warnings.length} warning(s) (${kinds}): see "warnings" in ${MANIFEST_NAME}\n`);
  }
  if (!m.complete) {
    process.stderr.write(`gpufleet-report: incomplete: some queries failed or hit a limit, their cells in ${CSV_NAME} are empty\n`);
    process.exitCode = 6;
  }
}

function grafanaTarget(o: RootOptions, timeoutMs: number): GrafanaTarget | null {
  if (!o.grafanaUrl) {
    if (o.grafanaToken || o.grafanaTokenFile) throw usageError('--grafana-token needs --grafana-url');
    return null;
  }
  checkUrl('--grafana-url', o.grafanaUrl);
  if (o.grafanaToken && o.grafanaTokenFile) throw usageError('give one of --grafana-token, --grafana-token-file');
  const token = o.grafanaToken ?? (o.grafanaTokenFile ? readSecret('--grafana-token-file', o.grafanaTokenFile) : undefined);
  if (!token) throw usageError('--grafana-url needs --grafana-token or --grafana-token-file');
  return { url: o.grafanaUrl, token, timeoutMs };
}

async function windowCommand(action: 'start' | 'stop' | 'list' | 'delete', name: string, cmd: Command): Promise<void> {
  const o = cmd.optsWithGlobals<RootOptions>();
  const file = o.stateFile;
  const state = readState(file);
  if (action === 'list') {
    process.stdout.write(formatList(state));
    return;
  }
  if (action === 'delete') {
    writeState(file, deleteWindow(state, name));
    process.stdout.write(`deleted window ${name}\n`);
    return;
  }
  const grafana = grafanaTarget(o, parsePositiveDuration('--timeout', o.timeout));
  const nowMs = Date.now();
  const next = action === 'start' ? startWindow(state, name, nowMs) : stopWindow(state, name, nowMs);
  // The local record comes first: a Grafana that is down must not lose the benchmark's window.
  writeState(file, next.state);
  const w = next.window;
  process.stdout.write(action === 'start' ? `window ${name} started at ${iso(w.startMs)} (${file})\n` : `window ${name}: ${iso(w.startMs)} – ${iso(w.endMs ?? nowMs)} (${file})\n`);
  if (!grafana) return;
  try {
    if (action === 'start') {
      const id = await annotateStart(grafana, name, w.startMs);
      writeState(file, setAnnotation(next.state, name, id, grafana.url));
      process.stdout.write(`Grafana annotation ${id} at ${grafana.url}\n`);
    } else if (w.grafanaAnnotationId !== undefined) {
      await annotateStop(grafana, w.grafanaAnnotationId, w.startMs, w.endMs ?? nowMs);
      process.stdout.write(`Grafana annotation ${w.grafanaAnnotationId} now ends at ${iso(w.endMs ?? nowMs)}\n`);
    } else {
      const id = await annotateStart(grafana, name, w.startMs);
      await annotateStop(grafana, id, w.startMs, w.endMs ?? nowMs);
      writeState(file, setAnnotation(next.state, name, id, grafana.url));
      process.stdout.write(`Grafana annotation ${id} marks ${iso(w.startMs)} – ${iso(w.endMs ?? nowMs)}\n`);
    }
  } catch (err) {
    throw new ReportError(EXIT.unreachable, `window ${name} is recorded in ${file}, but the Grafana annotation failed: ${(err as Error).message}`);
  }
}

export async function main(argv: string[]): Promise<void> {
  const program = buildReportProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const e = err as Error & { exitCode?: number; code?: string };
    if (err instanceof ReportError) {
      process.stderr.write(`gpufleet-report: ${err.message}\n`);
      process.exit(err.code);
    }
    // commander's own: --help / --version exit 0; its parse errors were printed already.
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) process.exit(e.exitCode === 0 ? 0 : EXIT.usage);
    process.stderr.write(`gpufleet-report: ${e.stack ?? String(err)}\n`);
    process.exit(EXIT.internal);
  }
}
