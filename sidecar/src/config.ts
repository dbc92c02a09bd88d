// Command-line and environment configuration. Every flag has a GPUFLEET_* twin so the sidecar can be
// configured from a container's environment; flags win over the environment.
import { Command, InvalidArgumentError, Option } from 'commander';
import { hostname as osHostname } from 'node:os';
import { parseAllowList } from './engines/endpointPolicy.js';
import { historyBytes, ticksWithin } from './store/history.js';
import { formatBytes, parseBytes } from './util/bytes.js';
import { parseDurationMs } from './util/duration.js';
import { VERSION } from './version.js';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
export type NvidiaSmiMode = 'loop' | 'spawn' | 'query';

export interface Config {
  listenHost: string;
  listenPort: number;
  intervalMs: number;
  historyMs: number;
  historyBudgetBytes: number;
  nvidiaSmi: string;
  nvidiaSmiMode: NvidiaSmiMode;
  nvidiaSmiTimeoutMs: number;
  /** Query mode: how often the full `nvidia-smi -q -x` document is read. */
  nvidiaSmiFullIntervalMs: number;
  /** How often `nvidia-smi vgpu -q` is read on vGPU hosts (at once when a VM attaches or detaches). */
  vgpuIntervalMs: number;
  procPath: string;
  dockerSocket: string | null;
  kmsg: string | null;
  engines: string[];
  /** Networks (CIDR) beyond loopback and this host's addresses that discovered engines may be probed on. */
  engineAllowRemote: string[];
  maxEngines: number;
  busyThreshold: number;
  engineGraceMs: number;
  /** Capacity model: a held GPU idle this long is idle-held; idle means utilization under idleUtilization (0..1). */
  idleHeldAfterMs: number;
  idleUtilization: number;
  /** A GPU is unavailable this long after an Xid. */
  unavailableAfterXidMs: number;
  tokenFile: string | null;
  simulate: string | null;
  logLevel: LogLevel;
  hostname: string;
  maxSeries: number;
  // The API server (h-server): web config file, connection and request limits.
  webConfigFile: string | null;
  maxConnections: number;
  headerTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxHeavyRequests: number;
}

export const DEFAULT_PORT = 9740;
/** Shorter intervals spend more on nvidia-smi and engines than they show. */
export const MIN_INTERVAL_MS = 100;

function duration(flag: string) {
  return (value: string): number => {
    try {
      const ms = parseDurationMs(value);
      if (ms <= 0) throw new Error('must be greater than zero');
      return ms;
    } catch (err) {
      throw new InvalidArgumentError(`${flag}: ${(err as Error).message}`);
    }
  };
}

export function parseListen(value: string): { host: string; port: number } {
  // "HOST:PORT", ":PORT", "PORT" or "[::1]:PORT".
  const m = /^(?:\[([^\]]+)\]|([^:]*))?:?(\d+)$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(`--listen: "${value}" is not HOST:PORT (e.g. 0.0.0.0:${DEFAULT_PORT})`);
  }
  const host = m[1] ?? (m[2] && m[2].length > 0 ? m[2] : '0.0.0.0');
  return { host, port };
}

function parseRatio(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) {
    throw new InvalidArgumentError(`--busy-threshold: "${value}" must be a number from 0 to 1 (a KV-cache usage ratio)`);
  }
  return n;
}

function parseIdleUtilization(value: string): number {
  const n = value.trim() === '' ? NaN : Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 1) {
    throw new InvalidArgumentError(`--idle-utilization: "${value}" must be a number above 0 and at most 1 (a utilization ratio; 0.05 = 5 %)`);
  }
  return n;
}

function parsePositiveInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${flag}: "${value}" must be a positive integer`);
    return n;
  };
}

function parseEngineUrl(value: string, previous: string[] = []): string[] {
  // The env twin carries several URLs separated by commas or spaces.
  const urls = value.split(/[\s,]+/).filter((u) => u.length > 0);
  for (const u of urls) {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw new InvalidArgumentError(`--engine: "${u}" is not a URL (e.g. http://127.0.0.1:8000)`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new InvalidArgumentError(`--engine: "${u}" must be an http:// or https:// URL`);
    }
  }
  return [...previous, ...urls];
}

export const LOG_LEVELS: LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
function parseAllowRemote(value: string): string[] {
  const cidrs = value.split(/[\s,]+/).filter((c) => c.length > 0);
  try {
    parseAllowList(cidrs);
  } catch (err) {
    throw new InvalidArgumentError(`--engine-allow-remote: ${(err as Error).message}`);
  }
  return cidrs;
}

export function buildProgram(): Command {
  const program = new Command('gpufleet-sidecar');
  program
    .description(
      'Collects GPU, MIG, vGPU and vLLM engine state on this host and serves it as a JSON API\n' +
        '(for the gpufleet Grafana data source) and as Prometheus metrics on /metrics.\n' +
        'Every option can also be set by the environment variable shown; a flag wins over its variable.',
    )
    .addOption(
      new Option('--listen <host:port>', 'address the HTTP API and /metrics listen on')
        .env('GPUFLEET_LISTEN')
        .default(`0.0.0.0:${DEFAULT_PORT}`),
    )
    .addOption(
      new Option('--interval <duration>', 'collection interval (e.g. 1s, 5s, 500ms)')
        .env('GPUFLEET_INTERVAL')
        .default('5s'),
    )
    .addOption(
      new Option('--history <duration>', 'how much history the in-memory store keeps (e.g. 1h, 30m)')
        .env('GPUFLEET_HISTORY')
        .default('1h'),
    )
    .addOption(
      new Option(
        '--history-budget <size>',
        'memory the history may take when full (e.g. 256MB, 1GiB); --history, --interval and --max-series are checked against it at start',
      )
        .env('GPUFLEET_HISTORY_BUDGET')
        .default('512MB'),
    )
    .addOption(
      new Option('--nvidia-smi <path>', 'nvidia-smi executable (a name is looked up on PATH)')
        .env('GPUFLEET_NVIDIA_SMI')
        .default('nvidia-smi'),
    )
    .addOption(
      new Option(
        '--nvidia-smi-mode <mode>',
        'loop: one long-running `nvidia-smi -q -x -lms` split per document; spawn: one nvidia-smi per tick; ' +
          'query: a `--query-gpu` CSV loop for the per-tick figures and `-q -x` every --nvidia-smi-full-interval (least CPU)',
      )
        .env('GPUFLEET_NVIDIA_SMI_MODE')
        .choices(['loop', 'spawn', 'query'])
        .default('loop'),
    )
    .addOption(
      new Option('--nvidia-smi-timeout <duration>', 'a single nvidia-smi call is killed after this long')
        .env('GPUFLEET_NVIDIA_SMI_TIMEOUT')
        .default('10s'),
    )
    .addOption(
      new Option(
        '--nvidia-smi-full-interval <duration>',
        'query mode: how often the whole `nvidia-smi -q -x` document is read (processes, MIG devices, vGPU state are this old at most)',
      )
        .env('GPUFLEET_NVIDIA_SMI_FULL_INTERVAL')
        .default('5s'),
    )
    .addOption(
      new Option(
        '--vgpu-interval <duration>',
        'vGPU hosts: how often `nvidia-smi vgpu -q` is read (VM attach/detach is seen at once; per-vGPU utilization is this old at most)',
      )
        .env('GPUFLEET_VGPU_INTERVAL')
        .default('30s'),
    )
    .addOption(
      new Option('--proc <path>', 'procfs to scan for vLLM processes (the host\'s /proc when run in a container with pid: host)')
        .env('GPUFLEET_PROC')
        .default('/proc'),
    )
    .addOption(
      new Option('--docker-socket <path|none>', 'Docker (or Podman) API socket for container discovery; "none" turns it off')
        .env('GPUFLEET_DOCKER_SOCKET')
        .default('/var/run/docker.sock'),
    )
    .addOption(
      new Option('--kmsg <path|none>', 'kernel log to read Xid errors from (needs root or CAP_SYSLOG); "none" turns it off')
        .env('GPUFLEET_KMSG')
        .default('/dev/kmsg'),
    )
    .addOption(
      new Option('--engine <url>', 'a vLLM engine to watch in addition to discovered ones (repeatable; env: comma-separated)')
        .env('GPUFLEET_ENGINE')
        .argParser(parseEngineUrl),
    )
    .addOption(
      new Option(
        '--engine-allow-remote <cidrs>',
        'networks (comma-separated CIDRs, e.g. 10.0.0.0/8) where discovered engines may be probed besides loopback and this host\'s addresses',
      )
        .env('GPUFLEET_ENGINE_ALLOW_REMOTE')
        .argParser(parseAllowRemote),
    )
    .addOption(
      new Option('--max-engines <n>', 'engines watched at most; more discovered ones are skipped and reported in the engines source')
        .env('GPUFLEET_MAX_ENGINES')
        .argParser(parsePositiveInt('--max-engines'))
        .default(256),
    )
    .addOption(
      new Option('--busy-threshold <ratio>', 'an engine is busy when its KV-cache usage is above this (0..1)')
        .env('GPUFLEET_BUSY_THRESHOLD')
        .argParser(parseRatio)
        .default(0.9),
    )
    .addOption(
      new Option('--idle-held-after <duration>', 'a GPU held by an engine or process but idle this long is "idle-held" in the capacity model')
        .env('GPUFLEET_IDLE_HELD_AFTER')
        .default('15m'),
    )
    .addOption(
      new Option('--idle-utilization <ratio>', 'a held GPU counts as idle under this utilization (0..1) with no request running or waiting')
        .env('GPUFLEET_IDLE_UTILIZATION')
        .argParser(parseIdleUtilization)
        .default(0.05),
    )
    .addOption(
      new Option('--unavailable-after-xid <duration>', 'a GPU is "unavailable" in the capacity model for this long after an Xid error')
        .env('GPUFLEET_UNAVAILABLE_AFTER_XID')
        .default('10m'),
    )
    .addOption(
      new Option('--engine-grace <duration>', 'a down engine that discovery no longer finds is forgotten after this long')
        .env('GPUFLEET_ENGINE_GRACE')
        .default('5m'),
    )
    .addOption(
      new Option('--token-file <path>', 'file holding a bearer token; when set, the API and /metrics require it')
        .env('GPUFLEET_TOKEN_FILE'),
    )
    .addOption(
      new Option(
        '--simulate <scenario>',
        'run against the simulated host instead of real GPUs: a shipped scenario (demo, small, faults, capacity) or a YAML file',
      ).env('GPUFLEET_SIMULATE'),
    )
    .addOption(
      new Option('--hostname <name>', 'host name put on every object and metric label')
        .env('GPUFLEET_HOSTNAME')
        .default(osHostname()),
    )
    .addOption(
      new Option('--max-series <n>', 'upper bound on series per metric family on /metrics and in the history store')
        .env('GPUFLEET_MAX_SERIES')
        .argParser(parsePositiveInt('--max-series'))
        .default(5000),
    )
    .addOption(
      new Option('--web.config.file <path>', "TLS, basic-auth users and response headers in the format of Prometheus' exporter-toolkit; reloaded on SIGHUP")
        .env('GPUFLEET_WEB_CONFIG_FILE'),
    )
    .addOption(
      new Option('--web.max-connections <n>', 'open connections at most; past it the oldest unfinished or idle one is closed')
        .env('GPUFLEET_WEB_MAX_CONNECTIONS')
        .default('512'),
    )
    .addOption(
      new Option('--web.header-timeout <duration>', 'a client must send its request headers (and finish TLS) within this')
        .env('GPUFLEET_WEB_HEADER_TIMEOUT')
        .default('10s'),
    )
    .addOption(
      new Option('--web.request-timeout <duration>', 'a client must send its whole request within this')
        .env('GPUFLEET_WEB_REQUEST_TIMEOUT')
        .default('30s'),
    )
    .addOption(
      new Option('--web.keepalive-timeout <duration>', 'an idle keep-alive connection is closed after this')
        .env('GPUFLEET_WEB_KEEPALIVE_TIMEOUT')
        .default('5s'),
    )
    .addOption(
      new Option('--web.max-heavy-requests <n>', 'queries, snapshots, topology and events in progress at once; past it 503 with Retry-After')
        .env('GPUFLEET_WEB_MAX_HEAVY_REQUESTS')
        .default('32'),
    )
    .addOption(
      new Option('--log-level <level>', 'log level').env('GPUFLEET_LOG_LEVEL').choices(LOG_LEVELS).default('info'),
    )
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run gpufleet-sidecar --help for the options)')
    .addHelpText(
      'after',
      `
Examples:
  gpufleet-sidecar                                   # real host: nvidia-smi on PATH, API on :${DEFAULT_PORT}
  gpufleet-sidecar --simulate demo --listen 127.0.0.1:${DEFAULT_PORT}
  gpufleet-sidecar fleet-sim --hosts 1000 --listen 127.0.0.1:9750   # a simulated fleet for Prometheus (fleet-sim --help)
  GPUFLEET_INTERVAL=1s GPUFLEET_TOKEN_FILE=/run/secrets/gpufleet gpufleet-sidecar
  curl -s localhost:${DEFAULT_PORT}/api/v1/gpus | jq .`,
    );
  return program;
}

interface RawOptions {
  listen: string;
  interval: string;
  history: string;
  historyBudget: string;
  nvidiaSmi: string;
  nvidiaSmiMode: NvidiaSmiMode;
  nvidiaSmiTimeout: string;
  nvidiaSmiFullInterval: string;
  vgpuInterval: string;
  proc: string;
  dockerSocket: string;
  kmsg: string;
  engine?: string[] | string;
  engineAllowRemote?: string[] | string;
  maxEngines: number | string;
  busyThreshold: number | string;
  engineGrace: string;
  idleHeldAfter: string;
  idleUtilization: number | string;
  unavailableAfterXid: string;
  tokenFile?: string;
  simulate?: string;
  hostname: string;
  maxSeries: number | string;
  logLevel: LogLevel;
  'web.config.file'?: string;
  'web.maxConnections': string;
  'web.headerTimeout': string;
  'web.requestTimeout': string;
  'web.keepaliveTimeout': string;
  'web.maxHeavyRequests': string;
}

/** The API server's options of a Config. */
function webOptions(opts: RawOptions) {
  const headerTimeoutMs = duration('--web.header-timeout')(opts['web.headerTimeout']);
  const requestTimeoutMs = duration('--web.request-timeout')(opts['web.requestTimeout']);
  // Node refuses a header timeout above the request timeout (the headers are part of the request).
  if (headerTimeoutMs > requestTimeoutMs) throw new InvalidArgumentError('--web.header-timeout must not be longer than --web.request-timeout');
  return {
    webConfigFile: opts['web.config.file'] || null,
    maxConnections: parsePositiveInt('--web.max-connections')(opts['web.maxConnections']),
    headerTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: duration('--web.keepalive-timeout')(opts['web.keepaliveTimeout']),
    maxHeavyRequests: parsePositiveInt('--web.max-heavy-requests')(opts['web.maxHeavyRequests']),
  };
}

/** A duration rounded down to a readable unit (17h, 45m, 30s). */
function roughDuration(ms: number): string {
  for (const [u, f] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= 2 * f || u === 's') return `${Math.floor(ms / f)}${u}`;
  }
  return `${ms}ms`;
}

/** Refuses a history that would not fit in the budget, naming the largest one that does. */
function checkHistoryBudget(opts: RawOptions, historyMs: number, intervalMs: number, maxSeries: number, budget: number): void {
  const need = historyBytes(Math.ceil(historyMs / intervalMs), maxSeries);
  if (need <= budget) return;
  const fits = ticksWithin(budget, maxSeries) * intervalMs;
  const advice = fits >= intervalMs
    ? `at most --history ${roughDuration(fits)} fits at ${opts.interval}`
    : 'not even one tick fits';
  throw new InvalidArgumentError(
    `--history ${opts.history} at ${opts.interval} needs ~${formatBytes(need)} for up to ${maxSeries} series (--max-series); ` +
      `the budget is ${formatBytes(budget)} (--history-budget): ${advice}, or raise --history-budget or lower --max-series`,
  );
}

/** Turns parsed options into a Config; throws InvalidArgumentError with a message naming the option. */
export function toConfig(opts: RawOptions): Config {
  const { host, port } = parseListen(opts.listen);
  const intervalMs = duration('--interval')(opts.interval);
  const historyMs = duration('--history')(opts.history);
  if (intervalMs < MIN_INTERVAL_MS) throw new InvalidArgumentError(`--interval: ${opts.interval} is below the minimum of ${MIN_INTERVAL_MS}ms`);
  if (historyMs < intervalMs) throw new InvalidArgumentError('--history must be at least one --interval long');
  let historyBudgetBytes: number;
  try {
    historyBudgetBytes = parseBytes(opts.historyBudget);
  } catch (err) {
    throw new InvalidArgumentError(`--history-budget: ${(err as Error).message}`);
  }
  const maxSeries = typeof opts.maxSeries === 'number' ? opts.maxSeries : parsePositiveInt('--max-series')(opts.maxSeries);
  checkHistoryBudget(opts, historyMs, intervalMs, maxSeries, historyBudgetBytes);
  const engines = Array.isArray(opts.engine) ? opts.engine : opts.engine ? parseEngineUrl(opts.engine) : [];
  const hostname = opts.hostname.trim();
  if (hostname.length === 0) throw new InvalidArgumentError('--hostname must not be empty');
  return {
    listenHost: host,
    listenPort: port,
    intervalMs,
    historyMs,
    historyBudgetBytes,
    nvidiaSmi: opts.nvidiaSmi,
    nvidiaSmiMode: opts.nvidiaSmiMode,
    nvidiaSmiTimeoutMs: duration('--nvidia-smi-timeout')(opts.nvidiaSmiTimeout),
    nvidiaSmiFullIntervalMs: duration('--nvidia-smi-full-interval')(opts.nvidiaSmiFullInterval),
    vgpuIntervalMs: duration('--vgpu-interval')(opts.vgpuInterval),
    procPath: opts.proc,
    dockerSocket: opts.dockerSocket === 'none' || opts.dockerSocket === '' ? null : opts.dockerSocket,
    kmsg: opts.kmsg === 'none' || opts.kmsg === '' ? null : opts.kmsg,
    engines,
    engineAllowRemote: Array.isArray(opts.engineAllowRemote) ? opts.engineAllowRemote : opts.engineAllowRemote ? parseAllowRemote(opts.engineAllowRemote) : [],
    maxEngines: typeof opts.maxEngines === 'number' ? opts.maxEngines : parsePositiveInt('--max-engines')(opts.maxEngines),
    busyThreshold: typeof opts.busyThreshold === 'number' ? opts.busyThreshold : parseRatio(opts.busyThreshold),
    engineGraceMs: duration('--engine-grace')(opts.engineGrace),
    idleHeldAfterMs: duration('--idle-held-after')(opts.idleHeldAfter),
    idleUtilization: typeof opts.idleUtilization === 'number' ? opts.idleUtilization : parseIdleUtilization(opts.idleUtilization),
    unavailableAfterXidMs: duration('--unavailable-after-xid')(opts.unavailableAfterXid),
    tokenFile: opts.tokenFile ?? null,
    simulate: opts.simulate ?? null,
    logLevel: opts.logLevel,
    hostname,
    maxSeries,
    ...webOptions(opts),
  };
}

/** Parses argv (as process.argv) into a Config. Exits with usage on --help/--version or bad input. */
export function parseConfig(argv: string[]): Config {
  // What commander itself refuses (an unknown option, a value its parser rejects) is bad configuration
  // too, and exits 2 like the checks below; --help and --version still end with 0.
  const program = buildProgram().exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  program.parse(argv);
  try {
    return toConfig(program.opts<RawOptions>());
  } catch (err) {
    return program.error(`error: ${(err as Error).message}`, { exitCode: 2 });
  }
}
