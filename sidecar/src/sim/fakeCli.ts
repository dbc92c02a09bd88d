// The fake `nvidia-smi` of the simulated GPU host: argument parsing, scenario/control loading and the answer
// loop. The executable is fakeNvidiaSmi.ts; this module is separate so tests can import it without running it.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  exitErrorOutput,
  renderComputeAppsCsv,
  renderGarbage,
  renderList,
  renderQueryGpuCsv,
  renderQueryXml,
  renderVgpuQuery,
  SimCliError,
  type CsvOptions,
} from './render.js';
import { engineLoadAt } from './engineMetrics.js';
import { appendXids } from './kmsg.js';
import { renderMigProfiles } from './renderMig.js';
import { loadScenarioFile, type CommandName, type Scenario } from './scenario.js';
import {
  commandFaults,
  EMPTY_CONTROL,
  hostStateAt,
  parseControl,
  type EngineGpuProcess,
  type SimControl,
  type SimGpu,
  type SimHostState,
} from './state.js';

const PROG = 'gpufleet fake nvidia-smi';
const INVALID = "Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.\n";

interface Invocation {
  command: CommandName | 'help' | 'version';
  ids: string[] | null;
  loopMs: number | null;
  fields: string[];
  csv: CsvOptions;
}

function notRecognized(opt: string): SimCliError {
  return new SimCliError(`ERROR: Option ${opt} is not recognized. Please run 'nvidia-smi -h' for help.\n`, 2);
}

/** Valid nvidia-smi usage that the simulator does not produce: say so on stderr, answer like a bad combination. */
function notSimulated(what: string): SimCliError {
  process.stderr.write(
    `${PROG}: ${what} is not simulated (supported: -q -x, -L, vgpu -q, mig -lgip, --query-gpu, --query-compute-apps)\n`
  );
  return new SimCliError(INVALID, 2);
}

export function parseArgs(argv: string[]): Invocation {
  const args = [...argv];
  let vgpu = false;
  if (args[0] === 'mig') {
    // Only the profile listing (`mig -lgip`, optionally with -i): the sidecar's capacity model reads it.
    const rest = args.slice(1);
    let ids: string[] | null = null;
    let lgip = false;
    for (let i = 0; i < rest.length; i++) {
      const a = rest[i] ?? '';
      if (a === '-lgip' || a === '--list-gpu-instance-profiles') lgip = true;
      else if ((a === '-i' || a === '--id') && rest[i + 1] !== undefined) ids = (rest[++i] as string).split(',');
      else throw notSimulated(`"mig ${a}"`);
    }
    if (!lgip) throw notSimulated('"mig" without -lgip');
    return { command: 'mig', ids, loopMs: null, fields: [], csv: { noheader: false, nounits: false } };
  }
  if (args[0] === 'vgpu') {
    vgpu = true;
    args.shift();
  } else if (args[0] !== undefined && !args[0].startsWith('-')) {
    // Other sub-commands (mig, topo, pmon, dmon, nvlink, ...) exist on the real tool.
    throw notSimulated(`the "${args[0]}" sub-command`);
  }
  let query = false;
  let xml = false;
  let list = false;
  let help = false;
  let version = false;
  let ids: string[] | null = null;
  let loopMs: number | null = null;
  let queryGpu: string | null = null;
  let queryApps: string | null = null;
  let format: string | null = null;
  const value = (i: number, name: string): string => {
    const v = args[i + 1];
    if (v === undefined)
      throw new SimCliError(`ERROR: Option ${name} requires an argument. Please run 'nvidia-smi -h' for help.\n`, 2);
    return v;
  };
  const loopValue = (raw: string, opt: string, scale: number): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0)
      throw new SimCliError(`ERROR: Invalid value "${raw}" for ${opt}. Please run 'nvidia-smi -h' for help.\n`, 2);
    return n * scale;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const inline = a.startsWith('--') && eq > 0 ? a.slice(eq + 1) : null;
    switch (name) {
      case '-h':
      case '--help':
        help = true;
        break;
      case '--version':
        version = true;
        break;
      case '-L':
      case '--list-gpus':
        list = true;
        break;
      case '-q':
      case '--query':
        query = true;
        break;
      case '-x':
      case '--xml-format':
        xml = true;
        break;
      case '-i':
      case '--id': {
        const v = inline ?? value(i++, name);
        ids = v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0);
        break;
      }
      case '-l':
      case '--loop':
        loopMs = loopValue(inline ?? value(i++, name), name, 1000);
        break;
      case '-lms':
      case '--loop-ms':
        loopMs = loopValue(inline ?? value(i++, name), name, 1);
        break;
      case '--query-gpu':
        queryGpu = inline ?? value(i++, name);
        break;
      case '--query-compute-apps':
        queryApps = inline ?? value(i++, name);
        break;
      case '--format':
        format = inline ?? value(i++, name);
        break;
      case '-d':
      case '--display':
      case '-f':
      case '--filename':
      case '-u':
      case '--unit':
      case '-a':
      case '-s':
      case '-B':
      case '--list-excluded-gpus':
      case '--query-accounted-apps':
      case '--query-retired-pages':
      case '--query-remapped-rows':
      case '--help-query-gpu':
      case '--help-query-compute-apps':
        throw notSimulated(`option ${name}`);
      default:
        throw notRecognized(a);
    }
  }
  const csv: CsvOptions = { noheader: false, nounits: false };
  if (format !== null) {
    const parts = format.split(',').map((s) => s.trim());
    if (!parts.includes('csv')) throw new SimCliError(INVALID, 2);
    for (const p of parts) {
      if (p === 'csv') continue;
      else if (p === 'noheader') csv.noheader = true;
      else if (p === 'nounits') csv.nounits = true;
      else throw notRecognized(p);
    }
  }
  const base = { ids, loopMs, csv };
  if (help) return { ...base, command: 'help', fields: [] };
  if (version) return { ...base, command: 'version', fields: [] };
  if (vgpu) {
    if (!query || xml || list || queryGpu !== null || queryApps !== null || format !== null) {
      throw query ? new SimCliError(INVALID, 2) : notSimulated('"vgpu" without -q');
    }
    return { ...base, command: 'vgpu', fields: [] };
  }
  if (queryGpu !== null || queryApps !== null) {
    if ((queryGpu !== null && queryApps !== null) || format === null || query || xml || list)
      throw new SimCliError(INVALID, 2);
    const fields = (queryGpu ?? queryApps ?? '').split(',').map((s) => s.trim());
    return { ...base, command: queryGpu !== null ? 'query-gpu' : 'compute-apps', fields };
  }
  if (format !== null) throw new SimCliError(INVALID, 2);
  if (list) {
    if (query || xml || loopMs !== null) throw new SimCliError(INVALID, 2);
    return { ...base, command: 'list', fields: [] };
  }
  if (query && xml) return { ...base, command: 'xml', fields: [] };
  if (xml) throw new SimCliError(INVALID, 2);
  if (query) throw notSimulated('-q without -x (text output)');
  throw notSimulated('the default summary table');
}

// ---------------------------------------------------------------------------------------------------------

function here(): string {
  return dirname(fileURLToPath(import.meta.url));
}

export function resolveScenarioPath(value: string | undefined): string {
  const v = value && value.trim() !== '' ? value.trim() : 'demo';
  if (v.includes('/') || /\.(ya?ml|json)$/i.test(v)) return v;
  return join(here(), 'scenarios', `${v}.yaml`);
}

/**
 * The scenario named by GPUFLEET_SIM_SCENARIO, renamed to GPUFLEET_SIM_HOSTNAME when set (`sidecar --simulate`
 * sets it to its --hostname): GPU and MIG UUIDs derive from the host name, so two copies of one scenario under
 * two names are two hosts with different GPUs.
 */
export function loadSimScenario(env: NodeJS.ProcessEnv = process.env): Scenario {
  const scenario = loadScenarioFile(resolveScenarioPath(env.GPUFLEET_SIM_SCENARIO));
  const name = env.GPUFLEET_SIM_HOSTNAME?.trim();
  return name ? { ...scenario, hostname: name.slice(0, 253) } : scenario;
}

function readControl(scenario: Scenario): SimControl {
  const path = process.env.GPUFLEET_SIM_CONTROL;
  if (!path || !existsSync(path)) return EMPTY_CONTROL;
  try {
    const text = readFileSync(path, 'utf8');
    if (text.trim() === '') return EMPTY_CONTROL;
    return parseControl(JSON.parse(text), scenario);
  } catch (err) {
    process.stderr.write(`${PROG}: ignoring control file ${path}: ${(err as Error).message}\n`);
    return EMPTY_CONTROL;
  }
}

/**
 * The fake vLLM engines' GPU processes, from $GPUFLEET_SIM_STATE/engines.json (written by simHost): each rank's
 * process that still exists, with its memory and the engine's load now.
 */
export function readEngineProcesses(scenario: Scenario, t: number): EngineGpuProcess[] {
  const dir = process.env.GPUFLEET_SIM_STATE;
  if (!dir) return [];
  const file = join(dir, 'engines.json');
  if (!existsSync(file)) return [];
  let entries: unknown;
  try {
    entries = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    process.stderr.write(`${PROG}: ignoring ${file}: ${(err as Error).message}\n`);
    return [];
  }
  if (!Array.isArray(entries)) return [];
  const out: EngineGpuProcess[] = [];
  for (const e of entries as Array<Record<string, unknown>>) {
    const spec = scenario.engines.find((x) => x.name === e.engine);
    if (!spec || !Array.isArray(e.workers)) continue;
    for (const w of e.workers as Array<Record<string, unknown>>) {
      const pid = Number(w.pid);
      const gpu = Number(w.gpu);
      if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(gpu)) continue;
      // A context dies with its process: a stale file (simHost killed) lists nothing that is gone.
      if (!existsSync(`/proc/${pid}`)) continue;
      out.push({
        gpu,
        migUuid: typeof w.migUuid === 'string' ? w.migUuid : null,
        pid,
        name: typeof w.title === 'string' ? w.title : 'python3',
        memoryMiB: Number(w.memoryMiB) || 0,
        load: engineLoadAt(spec, typeof w.dpRank === 'number' ? w.dpRank : 0, t),
      });
    }
  }
  return out;
}

function epochMs(): number {
  const raw = process.env.GPUFLEET_SIM_EPOCH;
  if (raw && raw.trim() !== '') {
    const n = Number(raw);
    if (!Number.isFinite(n))
      throw new Error(`GPUFLEET_SIM_EPOCH must be milliseconds since the Unix epoch, got "${raw}"`);
    return n;
  }
  const now = new Date();
  now.setMinutes(0, 0, 0);
  return now.getTime();
}

function selectGpus(state: SimHostState, ids: string[] | null): SimGpu[] {
  if (ids === null) return state.gpus;
  const picked: SimGpu[] = [];
  for (const id of ids) {
    const g = state.gpus.find((x) => {
      if (/^\d+$/.test(id)) return x.index === Number(id);
      if (/^GPU-/i.test(id)) return x.uuid.toLowerCase() === id.toLowerCase();
      if (/^MIG-/i.test(id)) return x.mig.devices.some((d) => d.uuid.toLowerCase() === id.toLowerCase());
      const bus = id.toUpperCase();
      return x.pciBusId === bus || x.pciBusId.endsWith(`:${bus}`) || x.pciBusId.slice(4) === bus;
    });
    if (!g) throw new SimCliError('No devices were found\n', 6);
    if (!picked.includes(g)) picked.push(g);
  }
  return picked;
}

function render(inv: Invocation, state: SimHostState, first: boolean): string {
  const sel = { gpus: selectGpus(state, inv.ids) };
  switch (inv.command) {
    case 'xml':
      return renderQueryXml(state, sel);
    case 'list':
      return renderList(state, sel);
    case 'vgpu':
      return renderVgpuQuery(state, sel);
    case 'query-gpu':
      // In loop mode the real tool prints the header once.
      return renderQueryGpuCsv(state, inv.fields, { ...inv.csv, noheader: inv.csv.noheader || !first }, sel);
    case 'mig':
      return renderMigProfiles(sel);
    case 'compute-apps':
      return renderComputeAppsCsv(state, inv.fields, { ...inv.csv, noheader: inv.csv.noheader || !first }, sel);
    default:
      return '';
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function hangForever(ignoreSigterm: boolean): Promise<never> {
  if (ignoreSigterm) process.on('SIGTERM', () => undefined);
  setInterval(() => undefined, 1 << 30);
  return new Promise<never>(() => undefined);
}

function helpText(s: Scenario): string {
  return [
    `NVIDIA System Management Interface -- v${s.driverVersion}`,
    '',
    'gpufleet simulator: a fake nvidia-smi printing the real output formats from a scenario',
    `(GPUFLEET_SIM_SCENARIO; this one has ${s.gpus.length} GPU(s) on ${s.hostname}).`,
    '',
    'nvidia-smi [OPTION1 [ARG1]] [OPTION2 [ARG2]] ...',
    '',
    '    -h,   --help                Print usage information and exit.',
    '    -L,   --list-gpus           Display a list of GPUs connected to the system.',
    '    -q,   --query               Display GPU info (with -x: XML).',
    '    -x,   --xml-format          Produce XML output.',
    '    -i,   --id=                 Target a specific GPU (index, UUID or PCI bus id).',
    '    -l,   --loop=               Probe until Ctrl+C at specified second interval.',
    '    -lms, --loop-ms=            Probe until Ctrl+C at specified millisecond interval.',
    '    --query-gpu=                Information about GPU.',
    '    --query-compute-apps=       List of active compute processes.',
    '    --format=                   csv, noheader, nounits.',
    '    vgpu -q                     Display vGPU information.',
    '    --version                   Print version information.',
    '',
  ].join('\n');
}

function versionText(s: Scenario): string {
  const nvml = s.driverVersion.split('.').slice(0, 2).join('.');
  return [
    `NVIDIA-SMI version  : ${s.driverVersion}`,
    `NVML version        : ${nvml}`,
    `DRIVER version      : ${s.driverVersion}`,
    `CUDA Version        : ${s.cudaVersion}`,
    '',
  ].join('\n');
}

/** One answer (or one loop tick). Returns an exit code to stop with, or null to go on. */
async function tick(inv: Invocation, scenario: Scenario, epoch: number, first: boolean): Promise<number | null> {
  const control = readControl(scenario);
  const t = control.t ?? (Date.now() - epoch) / 1000;
  const state = hostStateAt(scenario, t, control, epoch, readEngineProcesses(scenario, t));
  const kmsg = process.env.GPUFLEET_SIM_KMSG;
  if (kmsg) {
    try {
      appendXids(kmsg, state, scenario, epoch, process.env.GPUFLEET_SIM_CONTROL);
    } catch (err) {
      process.stderr.write(`${PROG}: cannot append to GPUFLEET_SIM_KMSG ${kmsg}: ${(err as Error).message}\n`);
    }
  }
  const command = inv.command as CommandName;
  const { slow, fail } = commandFaults(state, command);
  if (slow) await sleep(slow.delayMs);
  if (fail?.kind === 'hang') return hangForever(fail.ignoreSigterm);
  if (fail?.kind === 'exit-error') {
    const gpu = scenario.gpus[fail.gpu ?? 0];
    const busId =
      state.gpus.find((g) => g.position === (fail.gpu ?? 0))?.pciBusId ?? gpu?.pciBusId ?? '00000000:18:00.0';
    const out = exitErrorOutput(fail.message, state, busId);
    process.stdout.write(out.text);
    return out.exitCode;
  }
  const text = render(inv, state, first);
  process.stdout.write(fail?.kind === 'garbage' ? renderGarbage(state, command, text) : text);
  return null;
}

export async function main(argv: string[]): Promise<number> {
  process.stdout.on('error', () => process.exit(0)); // reader went away (EPIPE)
  let inv: Invocation;
  let scenario: Scenario;
  try {
    inv = parseArgs(argv);
  } catch (err) {
    if (err instanceof SimCliError) {
      process.stdout.write(err.message);
      return err.exitCode;
    }
    throw err;
  }
  try {
    scenario = loadSimScenario();
  } catch (err) {
    process.stderr.write(`${PROG}: ${(err as Error).message}\n`);
    return 255;
  }
  if (inv.command === 'help') {
    process.stdout.write(helpText(scenario));
    return 0;
  }
  if (inv.command === 'version') {
    process.stdout.write(versionText(scenario));
    return 0;
  }
  let epoch: number;
  try {
    epoch = epochMs();
  } catch (err) {
    process.stderr.write(`${PROG}: ${(err as Error).message}\n`);
    return 255;
  }
  try {
    if (inv.loopMs === null) return (await tick(inv, scenario, epoch, true)) ?? 0;
    // Loop: a full answer every interval until killed (the sidecar splits XML on </nvidia_smi_log>).
    const start = Date.now();
    for (let k = 0; ; k++) {
      const code = await tick(inv, scenario, epoch, k === 0);
      if (code !== null) return code;
      const next = start + (k + 1) * inv.loopMs;
      await sleep(Math.max(0, next - Date.now()));
    }
  } catch (err) {
    if (err instanceof SimCliError) {
      process.stdout.write(err.message);
      return err.exitCode;
    }
    process.stderr.write(`${PROG}: ${(err as Error).message}\n`);
    return 255;
  }
}
