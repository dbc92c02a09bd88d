// The bench's command line: which sections run and how long the soak lasts. Pure, so it is tested;
// a bad value is an error naming the option (run.ts prints it and exits 2, as the sidecar does).
import { parseDurationMs } from '../util/duration.js';

export const SECTIONS = [
  'parse', 'api', 'memory', 'nvidia-smi', 'engines', 'fleet', 'node-exporter', 'prometheus', 'parsers', 'growth',
  'soak', 'startup', 'real-host', 'query-budget', 'capacity', 'capacity-rules', 'packaging',
] as const;
export type Section = (typeof SECTIONS)[number];

export interface BenchOptions {
  sections: Set<Section>;
  /** Soak length in ms. */
  soakMs: number;
  /** Requests per second of the soak. */
  soakRate: number;
  help: boolean;
}

export const DEFAULT_SOAK_MS = 60_000;
export const FULL_SOAK_MS = 600_000;

export const HELP = `Usage: node sidecar/dist/bench/run.js [options]   (npm run bench runs it, then the plugin's bench)

Prints the sidecar's figures on the simulated demo host beside their targets, and side by side with
node_exporter, Prometheus, Python's prometheus_client parser and an nvidia-smi spawn per tick. Never asserts.

Options:
  --only <sections>         comma-separated sections to run (default: all)
  --skip <sections>         comma-separated sections to leave out
  --soak                    the full soak: ${FULL_SOAK_MS / 60_000} minutes (the default run soaks ${DEFAULT_SOAK_MS / 1000} s)
  --soak-duration <d>       soak length, e.g. 90s, 10m (implies the soak section)
  --soak-rate <n>           soak requests per second over the mixed routes (default 500)
  -h, --help                this text

Each option with a value has an env twin: GPUFLEET_BENCH_ONLY, GPUFLEET_BENCH_SKIP,
GPUFLEET_BENCH_SOAK_DURATION, GPUFLEET_BENCH_SOAK_RATE (e.g. GPUFLEET_BENCH_SOAK_DURATION=10m npm run bench).

Sections: ${SECTIONS.join(', ')}
`;

function sectionList(option: string, value: string | undefined): Section[] {
  if (!value) throw new Error(`${option}: needs a comma-separated list of sections (${SECTIONS.join(', ')})`);
  return value.split(',').map((s) => {
    const t = s.trim();
    if (!(SECTIONS as readonly string[]).includes(t)) throw new Error(`${option}: unknown section "${t}" (one of ${SECTIONS.join(', ')})`);
    return t as Section;
  });
}

/** Each option's env twin, for `npm run bench`, whose extra arguments would go to the plugin's bench. */
export const ENV_TWINS: Record<string, string> = {
  GPUFLEET_BENCH_ONLY: '--only',
  GPUFLEET_BENCH_SKIP: '--skip',
  GPUFLEET_BENCH_SOAK_DURATION: '--soak-duration',
  GPUFLEET_BENCH_SOAK_RATE: '--soak-rate',
};

/** Flags on the command line win over their env twins (they come after). */
export function parseBenchArgs(cmdline: readonly string[], env: NodeJS.ProcessEnv = {}): BenchOptions {
  const argv = [...Object.entries(ENV_TWINS).flatMap(([name, flag]) => (env[name] ? [`${flag}=${env[name]}`] : [])), ...cmdline];
  let only: Section[] | null = null;
  const skip = new Set<Section>();
  let soakMs = DEFAULT_SOAK_MS;
  let soakRate = 500;
  let soakAsked = false;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = (argv[i] as string).split(/=(.*)/s, 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '-h':
      case '--help':
        help = true;
        break;
      case '--only':
        only = sectionList('--only', value());
        break;
      case '--skip':
        for (const s of sectionList('--skip', value())) skip.add(s);
        break;
      case '--soak':
        soakMs = FULL_SOAK_MS;
        soakAsked = true;
        break;
      case '--soak-duration': {
        const v = value();
        if (!v) throw new Error('--soak-duration: needs a duration, e.g. 10m');
        soakMs = parseDurationMs(v);
        if (soakMs < 5000) throw new Error(`--soak-duration: "${v}" is under 5 s`);
        soakAsked = true;
        break;
      }
      case '--soak-rate': {
        const v = Number(value());
        if (!Number.isFinite(v) || v <= 0 || v > 20_000) throw new Error('--soak-rate: a number of requests per second, 1 to 20000');
        soakRate = v;
        break;
      }
      default:
        throw new Error(`unknown option ${flag} (see --help)`);
    }
  }
  const sections = new Set<Section>(only ?? SECTIONS);
  if (soakAsked) sections.add('soak');
  for (const s of skip) sections.delete(s);
  return { sections, soakMs, soakRate, help };
}
