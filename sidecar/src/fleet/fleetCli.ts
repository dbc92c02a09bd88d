// `gpufleet-sidecar fleet-sim`: one process serving a simulated fleet of GPU hosts to Prometheus (each host's
// /metrics and an HTTP SD list of them), where N real sidecars would not fit on the machine.
import { Command, InvalidArgumentError, Option } from 'commander';
import { pino } from 'pino';
import { LOG_LEVELS, parseListen, type LogLevel } from '../config.js';
import { parseDurationMs } from '../util/duration.js';
import { VERSION } from '../version.js';
import { FleetExposition } from './fleetExposition.js';
import { buildFleet, fleetCounts, FLEET_MIXES, type FleetMix } from './fleetModel.js';
import { createFleetServer } from './fleetServer.js';

export const DEFAULT_FLEET_PORT = 9750;
const MAX_HOSTS = 20_000;

export interface FleetSimConfig {
  hosts: number;
  listenHost: string;
  listenPort: number;
  seed: number;
  mix: FleetMix;
  dupHost: boolean;
  cacheMs: number;
  maxSeries: number;
  logLevel: LogLevel;
}

function intIn(flag: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${flag}: "${value}" must be an integer from ${min} to ${max}`);
    }
    return n;
  };
}

export function buildFleetProgram(): Command {
  return new Command('gpufleet-sidecar fleet-sim')
    .description(
      'Serves a simulated fleet of GPU hosts to Prometheus from one process: each host\'s gpufleet exposition ' +
        '(rendered by the sidecar\'s own metrics code from the simulator\'s state) at /hosts/<host>/metrics and ' +
        'a Prometheus HTTP service-discovery list of them at /sd. Hosts are gpu0001…, 16 to a rack, 16 racks to a ' +
        'cluster, 8 GPUs each. Every option can also be set by the environment variable shown; a flag wins.',
    )
    .addOption(new Option('--hosts <n>', 'number of simulated hosts').env('GPUFLEET_FLEET_HOSTS').argParser(intIn('--hosts', 1, MAX_HOSTS)).default(1000))
    .addOption(new Option('--listen <host:port>', 'address to serve /sd and /hosts/<host>/metrics on').env('GPUFLEET_FLEET_LISTEN').default(`127.0.0.1:${DEFAULT_FLEET_PORT}`))
    .addOption(new Option('--seed <n>', 'seed of the fleet\'s layout: the same seed gives the same fleet').env('GPUFLEET_FLEET_SEED').argParser(intIn('--seed', 0, 2 ** 31 - 1)).default(1))
    .addOption(
      new Option('--mix <mix>', 'typical: ~10 % MIG hosts, ~10 % vGPU hosts, engines TP1–TP8 and DP on the rest; all-mig: every GPU in 7 slices, an engine on each')
        .env('GPUFLEET_FLEET_MIX')
        .choices(FLEET_MIXES)
        .default('typical'),
    )
    .addOption(new Option('--dup-host', 'add one host named like the first in another cluster (bad-input tests)').env('GPUFLEET_FLEET_DUP_HOST').default(false))
    .addOption(new Option('--cache <duration>', 'a host\'s rendering is reused for this long').env('GPUFLEET_FLEET_CACHE').default('1s'))
    .addOption(new Option('--max-series <n>', 'upper bound on series per metric family of one host, as the sidecar\'s').env('GPUFLEET_MAX_SERIES').argParser(intIn('--max-series', 1, 1_000_000)).default(5000))
    .addOption(new Option('--log-level <level>', 'log level').env('GPUFLEET_LOG_LEVEL').choices(LOG_LEVELS).default('info'))
    .showHelpAfterError('(run gpufleet-sidecar fleet-sim --help for the options)')
    .addHelpText(
      'after',
      `
Prometheus:
  scrape_configs:
    - job_name: gpufleet-sidecar
      http_sd_configs: [{ url: 'http://127.0.0.1:${DEFAULT_FLEET_PORT}/sd' }]

Examples:
  gpufleet-sidecar fleet-sim --hosts 1000 --listen 127.0.0.1:${DEFAULT_FLEET_PORT}
  gpufleet-sidecar fleet-sim --hosts 1000 --mix all-mig --seed 7
  curl -s 127.0.0.1:${DEFAULT_FLEET_PORT}/hosts/gpu0001/metrics`,
    );
}

interface RawFleetOptions {
  hosts: number | string;
  listen: string;
  seed: number | string;
  mix: FleetMix;
  dupHost: boolean | string;
  cache: string;
  maxSeries: number | string;
  logLevel: LogLevel;
}

export function toFleetConfig(o: RawFleetOptions): FleetSimConfig {
  const { host, port } = parseListen(o.listen);
  let cacheMs: number;
  try {
    cacheMs = parseDurationMs(o.cache);
  } catch (err) {
    throw new InvalidArgumentError(`--cache: ${(err as Error).message}`);
  }
  if (cacheMs < 0 || cacheMs > 60_000) throw new InvalidArgumentError(`--cache: "${o.cache}" must be from 0s to 1m`);
  // An env twin arrives as a string; commander has already parsed a flag.
  const num = (v: number | string, flag: string, min: number, max: number) => (typeof v === 'number' ? v : intIn(flag, min, max)(v));
  const dup = typeof o.dupHost === 'boolean' ? o.dupHost : /^(1|true|yes|on)$/i.test(o.dupHost) ? true : /^(0|false|no|off|)$/i.test(o.dupHost) ? false : null;
  if (dup === null) throw new InvalidArgumentError(`--dup-host: GPUFLEET_FLEET_DUP_HOST="${String(o.dupHost)}" must be true or false`);
  return {
    hosts: num(o.hosts, '--hosts', 1, MAX_HOSTS),
    listenHost: host,
    listenPort: port,
    seed: num(o.seed, '--seed', 0, 2 ** 31 - 1),
    mix: o.mix,
    dupHost: dup,
    cacheMs,
    maxSeries: num(o.maxSeries, '--max-series', 1, 1_000_000),
    logLevel: o.logLevel,
  };
}

export function parseFleetConfig(args: string[]): FleetSimConfig {
  const program = buildFleetProgram();
  // Bad input exits 2 (as the sidecar's checks do); --help exits 0.
  program.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  program.parse(args, { from: 'user' });
  try {
    return toFleetConfig(program.opts<RawFleetOptions>());
  } catch (err) {
    return program.error(`error: ${(err as Error).message}`, { exitCode: 2 });
  }
}

/** Runs the fleet simulator until SIGTERM/SIGINT. `args` are the arguments after `fleet-sim`. */
export async function runFleetSim(args: string[]): Promise<void> {
  const config = parseFleetConfig(args);
  const logger = pino({ level: config.logLevel, base: { app: 'gpufleet-fleet-sim' } });
  const started = Date.now();
  const hosts = buildFleet({ hosts: config.hosts, seed: config.seed, mix: config.mix, dupHost: config.dupHost });
  const fleet = new FleetExposition(hosts, { epochMs: started, cacheMs: config.cacheMs, version: VERSION, maxSeries: config.maxSeries });
  const advertiseHost = config.listenHost === '0.0.0.0' || config.listenHost === '::' ? '127.0.0.1' : config.listenHost;
  const server = createFleetServer(fleet, {
    advertise: `${advertiseHost.includes(':') ? `[${advertiseHost}]` : advertiseHost}:${config.listenPort}`,
    onError: (err, path) => logger.error({ err, path }, 'rendering failed'),
  });
  server.on('error', (err: NodeJS.ErrnoException) => {
    logger.fatal({ err }, `cannot listen on ${config.listenHost}:${config.listenPort}: ${err.code ?? err.message}`);
    process.exit(1);
  });
  server.listen(config.listenPort, config.listenHost, () => {
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.listenPort;
    logger.info(
      { ...fleetCounts(hosts), mix: config.mix, seed: config.seed, buildMs: Date.now() - started },
      `gpufleet fleet-sim ${VERSION} listening on http://${config.listenHost}:${port} (${hosts.length} hosts; /sd, /hosts/<host>/metrics)`,
    );
  });
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
