// vLLM processes from their command lines (argv from /proc/PID/cmdline split on NUL), their
// process titles, and the process prefixes of vLLM's logs. Pure.
//
// Launch forms (what the API server's /proc/PID/cmdline shows):
//   vllm serve <model> [opts]                      argv[0] "vllm" (rare: a binary launcher)
//   /usr/bin/python3 /venv/bin/vllm serve <model>  the usual form: the kernel runs the `vllm`
//                                                  script through its shebang interpreter
//   python -m vllm.entrypoints.openai.api_server --model <m> [opts]
//   python3 -m vllm.entrypoints.api_server [opts]  the simple demo server (no /v1/models)
//   python -m vllm.entrypoints.cli.main serve <model>
//   …/vllm/vllm-rs frontend --listen-fd N --input-address ipc://… --output-address ipc://…
//       --engine-count N --args-json {…}            the Rust frontend (VLLM_USE_RUST_FRONTEND=1), a child
//                                                  of the `vllm serve` process, which binds the HTTP
//                                                  socket and hands it over as fd N; the options it
//                                                  was given are in the JSON (argparse dest names, only
//                                                  those set: {"model": …, "model_tag": …,
//                                                  "tensor_parallel_size": 4}, as vLLM logs the line
//                                                  "Launching Rust frontend: …"). Its port is the
//                                                  socket's, not on the command line.
//   vllm-rs serve <model> [opts]                   the Rust frontend as its own launcher (vllm-metal)
// Defaults checked in vLLM's source (vllm/entrypoints/openai/cli_args.py, FrontendArgs):
// `port: int = 8000`, `host: str | None = None` (bound as all interfaces: api_server.py logs
// `addr or "0.0.0.0"`, as the fixture log "Starting vLLM API server 0 on http://0.0.0.0:8081"
// shows), and `uds` ("Unix domain socket path. If set, host and port arguments are ignored.").
// Short flags from vllm/engine/arg_utils.py: -tp, -pp, -dp, -dpl (--data-parallel-size-local),
// -dpn (--data-parallel-rank), -dpr (--data-parallel-start-rank), -dpa, -dpp, -dpb, -pcp, -dcp,
// -asc (--api-server-count); FlexibleArgumentParser also accepts `--foo_bar` for `--foo-bar`.
//
// Process titles (set with setproctitle, so /proc/PID/cmdline holds the title, not the launch):
//   vllm/utils/system_utils.py: set_process_title(name, suffix) → f"{prefix}::{name}_{suffix}",
//     prefix = VLLM_PROCESS_NAME_PREFIX (default "VLLM").
//   vllm/v1/engine/core.py run_engine_core: "EngineCore", or "EngineCore" + f"DP{dp_rank}" when
//     data_parallel_size > 1 → VLLM::EngineCore_DP<n>.
//   multiproc_executor.py WorkerProc.setup_proc_title_and_log_prefix: "Worker" then, in order,
//     _DP<r> (dp>1) _PP<r> (pp>1) _PCP<r> (pcp>1) _TP<r> (tp>1) _DCP<r> (dcp>1) _EP<r> (when
//     expert parallel is on), e.g. VLLM::Worker_PP1_TP0; plain VLLM::Worker before the parallel
//     groups exist.
//   api_server run_api_server_worker_proc: "APIServer" + str(index) → VLLM::APIServer_<i> — only
//     for the extra API-server processes (--api-server-count > 1 or data parallel); a single API
//     server keeps its launch command line (run_server only decorates its logs "APIServer").
//   v1/engine/coordinator.py DPCoordinatorProc: VLLM::DPCoordinator.
// Older titles, seen in the fixtures: the dev build of PR #21445 (before v0.10.0) used
// VLLM::EngineCoreProc_0 and VLLM::Worker_TP0_DP0; between v0.10.0 and v0.10.1 workers *appended*
// their suffix to the inherited title (set_process_title(suffix, append=True)), giving the spawn
// bootstrap "... spawn_main(tracker_fd=56, pipe_handle=55) --multiprocessing-fork_TP0", or with
// the fork start method the EngineCore's own title plus "_TP0" (so "VLLM::EngineCore_TP0" is a
// worker). Ray workers are titled by Ray: "ray::RayWorkerWrapper". V0 workers have no title: with
// fork they repeat the API server's command line, with spawn they run the spawn bootstrap.

import { capText, MAX_UNTRUSTED_CHARS } from '../util/capText.js';
import { checkHostLiteral } from './endpointPolicy.js';
import { procTree } from './procTree.js';

export const DEFAULT_VLLM_PORT = 8000;
export const DEFAULT_VLLM_HOST = '0.0.0.0';
export const DEFAULT_TITLE_PREFIXES: readonly string[] = ['VLLM'];

export type VllmEntrypoint = 'cli-serve' | 'openai-api-server' | 'simple-api-server' | 'rust-frontend';

export interface VllmLaunch {
  entrypoint: VllmEntrypoint;
  /** `--model`, or the positional after `serve`; null when neither (vLLM then uses its default). */
  model: string | null;
  /** `--served-model-name` values, else [model] when the model is known. */
  servedModelNames: string[];
  /** As given, else DEFAULT_VLLM_HOST; "" (all interfaces) also becomes DEFAULT_VLLM_HOST. */
  host: string;
  port: number;
  hostGiven: boolean;
  portGiven: boolean;
  /** `--uds PATH`: the server listens on this unix socket and ignores host/port. */
  uds: string | null;
  /** `--ssl-keyfile` and `--ssl-certfile` both given: the server speaks HTTPS. */
  tls: boolean;
  parallel: {
    tensor: number;
    pipeline: number;
    data: number;
    /** `--data-parallel-size-local` (-dpl), when given. */
    dataLocal: number | null;
    /** `--enable-expert-parallel` (-ep). */
    expert: boolean;
  };
  apiServerCount: number | null;
  dataParallelRank: number | null;
  dataParallelStartRank: number | null;
  /** `--headless`: engines only, no HTTP server on this node. */
  headless: boolean;
  /** Names of `--lora-modules` given at launch (name=path or JSON {"name": ...}). */
  loraModules: string[];
  /** `--config FILE`: options (port, model...) may be set in that YAML, which the caller may read. */
  configFile: string | null;
  /**
   * The Rust frontend's `--listen-fd`: the descriptor of the listening socket it inherited from the
   * `vllm serve` process. The port is that socket's (procfs), whatever `port` says.
   */
  listenFd: number | null;
  /** Flags that could not be read (e.g. a non-numeric --port); defaults were kept. */
  problems: string[];
}

/** Characters kept of the Rust frontend's `--args-json` (every other argument keeps MAX_UNTRUSTED_CHARS). */
export const MAX_ARGS_JSON_CHARS = 8192;

/** Arguments kept of one command line: a vLLM launch has a few dozen; any local user writes the rest. */
const MAX_ARGS = 256;

/**
 * /proc/PID/cmdline → argv: split on NUL, trailing empty strings dropped, every argument capped
 * (capText) and at most MAX_ARGS of them, so what is kept per process is bounded.
 */
export function splitProcCmdline(raw: string | Uint8Array): string[] {
  const text = typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8');
  const parts = text.split('\0', MAX_ARGS + 1);
  if (parts.length > MAX_ARGS) parts.length = MAX_ARGS;
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts.map((p, i) => capText(p, i > 0 && parts[i - 1] === '--args-json' ? MAX_ARGS_JSON_CHARS : MAX_UNTRUSTED_CHARS));
}

function basename(p: string): string {
  const i = p.lastIndexOf('/');
  return i >= 0 ? p.slice(i + 1) : p;
}

const PYTHON = /^python(?:\d+(?:\.\d+)*)?[a-z]?$/;

// Value-taking flags that matter to us: alias → key.
const VALUE_FLAGS: Record<string, string> = {
  '--model': 'model',
  '--port': 'port',
  '--host': 'host',
  '--uds': 'uds',
  '--tensor-parallel-size': 'tp',
  '-tp': 'tp',
  '--pipeline-parallel-size': 'pp',
  '-pp': 'pp',
  '--data-parallel-size': 'dp',
  '-dp': 'dp',
  '--data-parallel-size-local': 'dpl',
  '-dpl': 'dpl',
  '--data-parallel-rank': 'dpn',
  '-dpn': 'dpn',
  '--data-parallel-start-rank': 'dpr',
  '-dpr': 'dpr',
  '--api-server-count': 'asc',
  '-asc': 'asc',
  '--config': 'config',
  '--ssl-keyfile': 'sslkey',
  '--ssl-certfile': 'sslcert',
};
// nargs="+" flags: every following token up to the next flag.
const MULTI_FLAGS: Record<string, string> = {
  '--served-model-name': 'served',
  '--lora-modules': 'lora',
  '--api-key': 'apikey',
  '--middleware': 'middleware',
  '--allowed-origins': 'x',
  '--allowed-methods': 'x',
  '--allowed-headers': 'x',
};
// Other value-taking flags, so that their values are not taken for the model positional.
const OTHER_VALUE_FLAGS = new Set([
  '--max-model-len',
  '--gpu-memory-utilization',
  '--dtype',
  '--tokenizer',
  '--tokenizer-mode',
  '--revision',
  '--code-revision',
  '--tokenizer-revision',
  '--quantization',
  '-q',
  '--kv-cache-dtype',
  '--max-num-seqs',
  '--max-num-batched-tokens',
  '--block-size',
  '--swap-space',
  '--cpu-offload-gb',
  '--seed',
  '--distributed-executor-backend',
  '--root-path',
  '--data-parallel-address',
  '-dpa',
  '--data-parallel-rpc-port',
  '-dpp',
  '--data-parallel-backend',
  '-dpb',
  '--prefill-context-parallel-size',
  '-pcp',
  '--decode-context-parallel-size',
  '-dcp',
  '--chat-template',
  '--chat-template-content-format',
  '--tool-call-parser',
  '--tool-parser-plugin',
  '--reasoning-parser',
  '--load-format',
  '--download-dir',
  '--max-loras',
  '--max-lora-rank',
  '--max-cpu-loras',
  '--speculative-config',
  '--compilation-config',
  '-O',
  '--uvicorn-log-level',
  '--generation-config',
  '--override-generation-config',
  '--task',
  '--runner',
  '--convert',
  '--limit-mm-per-prompt',
  '--hf-overrides',
  '--hf-config-path',
  '--max-log-len',
  '--response-role',
  '--ssl-ca-certs',
  '--ssl-cert-reqs',
  '--kv-transfer-config',
  '--kv-events-config',
  '--otlp-traces-endpoint',
  '--worker-cls',
  '--worker-extension-cls',
  '--long-prefill-token-threshold',
  '--max-num-partial-prefills',
  '--scheduling-policy',
  '--rope-scaling',
  '--rope-theta',
  '--max-seq-len-to-capture',
  '--num-gpu-blocks-override',
  '--served-model',
  '--logits-processor-pattern',
  '--guided-decoding-backend',
  '--structured-outputs-config',
  '--mm-processor-kwargs',
  '--allowed-local-media-path',
  '--pooler-config',
  '--lora-dtype',
  '--model-impl',
  '--port-offset',
]);
const BOOL_FLAGS = new Set([
  '--headless',
  '--enable-expert-parallel',
  '-ep',
  '--trust-remote-code',
  '--enforce-eager',
  '--enable-lora',
  '--enable-prefix-caching',
  '--enable-chunked-prefill',
  '--enable-auto-tool-choice',
  '--enable-log-requests',
  '--enable-sleep-mode',
  '--enable-reasoning',
  '--async-scheduling',
  '--disable-log-requests',
  '--disable-log-stats',
  '--disable-frontend-multiprocessing',
  '--disable-custom-all-reduce',
  '--disable-uvicorn-access-log',
  '--disable-fastapi-docs',
  '--allow-credentials',
  '--return-tokens-as-token-ids',
  '--skip-tokenizer-init',
  '--data-parallel-hybrid-lb',
  '-dph',
  '--data-parallel-external-lb',
  '-dpe',
  '--fully-sharded-loras',
  '--enable-request-id-headers',
  '--enable-prompt-tokens-details',
  '--enable-force-include-usage',
  '--enable-server-load-tracking',
  '--enable-ssl-refresh',
  '--enable-tokenizer-info-endpoint',
  '--enable-log-outputs',
  '--enable-eplb',
  '--enable-dbo',
  '--numa-bind',
]);

function isFlag(token: string): boolean {
  return token.length > 1 && token.startsWith('-') && !/^-\d/.test(token);
}

function normalizeFlag(flag: string): string {
  return flag.startsWith('--') ? `--${flag.slice(2).replace(/_/g, '-')}` : flag;
}

function positiveInt(v: string | undefined, max: number): number | null {
  if (v === undefined || !/^\d{1,9}$/.test(v.trim())) return null;
  const n = Number(v.trim());
  return n >= 1 && n <= max ? n : null;
}

function loraName(spec: string): string | null {
  const s = spec.trim();
  if (s.startsWith('{')) {
    try {
      const j = JSON.parse(s) as unknown;
      return j && typeof j === 'object' && typeof (j as { name?: unknown }).name === 'string'
        ? (j as { name: string }).name
        : null;
    } catch {
      return null;
    }
  }
  const eq = s.indexOf('=');
  return eq > 0 ? s.slice(0, eq) : null;
}

/** Where the launch arguments start, and which entrypoint; null when not a vLLM server launch. */
function findEntry(argv: readonly string[]): { entrypoint: VllmEntrypoint; rest: readonly string[] } | null {
  const exe = basename(argv[0] ?? '');
  const serveAt = (args: readonly string[], i: number) =>
    args[i] === 'serve' ? { entrypoint: 'cli-serve' as const, rest: args.slice(i + 1) } : null;
  if (exe === 'vllm' || exe === 'vllm-rs') return serveAt(argv, 1);
  if (!PYTHON.test(exe)) return null;
  let j = 1;
  while (j < argv.length) {
    const a = argv[j] as string;
    if (a === '-m' || (a.startsWith('-m') && a.length > 2 && !a.startsWith('--'))) {
      const mod = a === '-m' ? argv[j + 1] : a.slice(2);
      const rest = argv.slice(a === '-m' ? j + 2 : j + 1);
      switch (mod) {
        case 'vllm.entrypoints.openai.api_server':
          return { entrypoint: 'openai-api-server', rest };
        case 'vllm.entrypoints.api_server':
          return { entrypoint: 'simple-api-server', rest };
        case 'vllm.entrypoints.cli.main':
        case 'vllm':
          return serveAt(rest, 0);
        default:
          return null;
      }
    }
    if (a === '-c' || a === '-') return null;
    if (a === '-X' || a === '-W' || a === '--check-hash-based-pycs') {
      j += 2;
      continue;
    }
    if (a.startsWith('-')) {
      j++;
      continue;
    }
    // A script: the `vllm` console script (shebang form), or vLLM's server modules run as files.
    const rest = argv.slice(j + 1);
    if (basename(a) === 'vllm') return serveAt(rest, 0);
    if (a.endsWith('vllm/entrypoints/openai/api_server.py')) return { entrypoint: 'openai-api-server', rest };
    if (a.endsWith('vllm/entrypoints/api_server.py')) return { entrypoint: 'simple-api-server', rest };
    return null;
  }
  return null;
}

/**
 * A vLLM server launch from its argv, or null when the process is not one. Unknown flags are
 * skipped (taking the next token as their value unless it looks like a flag, or the flag looks
 * boolean: --enable-*, --disable-*, --no-*).
 */
// The process scanner hands out the same argv array for a process from one tick to the next: a
// parse is kept with its array (never copied, never changed by callers), so a host's hundreds of
// processes are not parsed again every tick.
const launches = new WeakMap<readonly string[], VllmLaunch | null>();
const roles = new WeakMap<readonly string[], ProcessRole | null>();

/** A vLLM launch from a process's argv; null when it is not one. The result is shared: do not change it. */
export function parseVllmCmdline(argv: readonly string[]): VllmLaunch | null {
  let l = launches.get(argv);
  if (l === undefined) {
    l = parseLaunch(argv);
    launches.set(argv, l);
  }
  return l;
}

function parseLaunch(given: readonly string[]): VllmLaunch | null {
  if (given.length === 0) return null;
  // Command lines from containers come whole: bounded here like those from /proc.
  const over = (a: string, i: number) => a.length > (i > 0 && given[i - 1] === '--args-json' ? MAX_ARGS_JSON_CHARS : MAX_UNTRUSTED_CHARS);
  const argv = given.length > MAX_ARGS || given.some(over) ? splitProcCmdline(given.slice(0, MAX_ARGS).join('\0')) : given;
  if (basename(argv[0] ?? '') === 'vllm-rs' && argv[1] === 'frontend') return parseRustFrontend(argv.slice(2));
  const entry = findEntry(argv);
  if (!entry) return null;
  const { rest } = entry;
  const values = new Map<string, string>();
  const multi = new Map<string, string[]>();
  const bools = new Set<string>();
  const positionals: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const tok = rest[i] as string;
    if (tok === '--') {
      positionals.push(...rest.slice(i + 1));
      break;
    }
    if (!isFlag(tok)) {
      positionals.push(tok);
      continue;
    }
    const eq = tok.indexOf('=');
    const flag = normalizeFlag(eq >= 0 ? tok.slice(0, eq) : tok);
    const inline = eq >= 0 ? tok.slice(eq + 1) : undefined;
    const key = VALUE_FLAGS[flag];
    if (key !== undefined) {
      const v = inline ?? rest[i + 1];
      if (inline === undefined) i++;
      if (v !== undefined) values.set(key, v);
      continue;
    }
    const mkey = MULTI_FLAGS[flag];
    if (mkey !== undefined) {
      const list: string[] = [];
      if (inline !== undefined) list.push(inline);
      else while (i + 1 < rest.length && !isFlag(rest[i + 1] as string)) list.push(rest[++i] as string);
      multi.set(mkey, [...(multi.get(mkey) ?? []), ...list]);
      continue;
    }
    if (BOOL_FLAGS.has(flag) || /^--(?:no|enable|disable)-/.test(flag)) {
      if (inline === undefined || !/^(?:false|0)$/i.test(inline)) bools.add(flag);
      continue;
    }
    if (inline === undefined && (OTHER_VALUE_FLAGS.has(flag) || (i + 1 < rest.length && !isFlag(rest[i + 1] as string)))) {
      i++;
    }
  }

  const problems: string[] = [];
  const intFlag = (key: string, name: string, fallback: number, max: number): number => {
    const raw = values.get(key);
    if (raw === undefined) return fallback;
    const v = positiveInt(raw, max);
    if (v === null) {
      problems.push(`${name} "${raw.slice(0, 40)}" is not a valid number; ${fallback} assumed`);
      return fallback;
    }
    return v;
  };
  const optInt = (key: string, name: string, max: number): number | null => {
    const raw = values.get(key);
    if (raw === undefined) return null;
    const v = key === 'dpn' || key === 'dpr' ? (/^\d{1,9}$/.test(raw.trim()) ? Number(raw.trim()) : null) : positiveInt(raw, max);
    if (v === null) problems.push(`${name} "${raw.slice(0, 40)}" is not a valid number`);
    return v;
  };

  const model = values.get('model') ?? (entry.entrypoint === 'cli-serve' ? (positionals[0] ?? null) : null);
  const served = (multi.get('served') ?? []).filter((s) => s.length > 0);
  const rawHost = values.get('host');
  const uds = values.get('uds') ?? null;
  return {
    entrypoint: entry.entrypoint,
    model: model !== null && model.length > 0 ? model : null,
    servedModelNames: served.length > 0 ? served : model ? [model] : [],
    host: rawHost !== undefined && rawHost.trim().length > 0 ? rawHost.trim() : DEFAULT_VLLM_HOST,
    port: intFlag('port', '--port', DEFAULT_VLLM_PORT, 65535),
    hostGiven: rawHost !== undefined,
    portGiven: values.has('port'),
    uds: uds && uds.length > 0 ? uds : null,
    tls: values.has('sslkey') && values.has('sslcert'),
    parallel: {
      tensor: intFlag('tp', '--tensor-parallel-size', 1, 1_000_000),
      pipeline: intFlag('pp', '--pipeline-parallel-size', 1, 1_000_000),
      data: intFlag('dp', '--data-parallel-size', 1, 1_000_000),
      dataLocal: optInt('dpl', '--data-parallel-size-local', 1_000_000),
      expert: bools.has('--enable-expert-parallel') || bools.has('-ep'),
    },
    apiServerCount: optInt('asc', '--api-server-count', 100_000),
    dataParallelRank: optInt('dpn', '--data-parallel-rank', 1_000_000),
    dataParallelStartRank: optInt('dpr', '--data-parallel-start-rank', 1_000_000),
    headless: bools.has('--headless'),
    loraModules: (multi.get('lora') ?? []).map(loraName).filter((n): n is string => n !== null),
    configFile: values.get('config') ?? null,
    listenFd: null,
    problems,
  };
}

/** `vllm-rs frontend` arguments → a launch: `--listen-fd` and the options in `--args-json`. */
function parseRustFrontend(rest: readonly string[]): VllmLaunch {
  const problems: string[] = [];
  let listenFd: number | null = null;
  let json: string | null = null;
  for (let i = 0; i < rest.length; i++) {
    const tok = rest[i] as string;
    const eq = tok.indexOf('=');
    const flag = eq >= 0 ? tok.slice(0, eq) : tok;
    if (flag !== '--listen-fd' && flag !== '--args-json') continue;
    const v = eq >= 0 ? tok.slice(eq + 1) : rest[++i];
    if (flag === '--args-json') json = v ?? null;
    else if (v !== undefined && /^\d{1,7}$/.test(v)) listenFd = Number(v);
    else problems.push('--listen-fd is not a descriptor number');
  }
  const args = readArgsJson(json, problems);
  const str = (k: string): string | null => (typeof args[k] === 'string' && (args[k] as string).length > 0 ? capText(args[k] as string) : null);
  const int = (k: string, min: number, max: number): number | null => {
    const v = args[k];
    return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : null;
  };
  const model = str('model') ?? str('model_tag');
  const servedRaw = args.served_model_name;
  const served = (Array.isArray(servedRaw) ? servedRaw : [servedRaw]).filter((x): x is string => typeof x === 'string' && x.length > 0).slice(0, 16).map((x) => capText(x));
  const host = str('host');
  const port = int('port', 1, 65535);
  return {
    entrypoint: 'rust-frontend',
    model,
    servedModelNames: served.length > 0 ? served : model ? [model] : [],
    host: host ?? DEFAULT_VLLM_HOST,
    port: port ?? DEFAULT_VLLM_PORT,
    hostGiven: host !== null,
    portGiven: port !== null,
    uds: str('uds'),
    tls: str('ssl_keyfile') !== null && str('ssl_certfile') !== null,
    parallel: {
      tensor: int('tensor_parallel_size', 1, 1_000_000) ?? 1,
      pipeline: int('pipeline_parallel_size', 1, 1_000_000) ?? 1,
      data: int('data_parallel_size', 1, 1_000_000) ?? 1,
      dataLocal: int('data_parallel_size_local', 1, 1_000_000),
      expert: args.enable_expert_parallel === true,
    },
    apiServerCount: null,
    dataParallelRank: int('data_parallel_rank', 0, 1_000_000),
    dataParallelStartRank: int('data_parallel_start_rank', 0, 1_000_000),
    headless: false,
    loraModules: [],
    configFile: null,
    listenFd,
    problems,
  };
}

/** The `--args-json` object, or {} (with the problem said) when it is missing, cut or not an object. */
function readArgsJson(json: string | null, problems: string[]): Record<string, unknown> {
  if (json === null) return {};
  if (json.length >= MAX_ARGS_JSON_CHARS) {
    problems.push(`--args-json is longer than ${MAX_ARGS_JSON_CHARS} characters: not read`);
    return {};
  }
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    problems.push('--args-json is not JSON');
    return {};
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    problems.push('--args-json is not a JSON object');
    return {};
  }
  // Own keys only: a "__proto__" key of JSON.parse is an own property, never the prototype.
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [k, x] of Object.entries(v)) out[k] = x;
  return out;
}

export type LocalEndpoint =
  | { kind: 'tcp'; host: string; port: number; url: string }
  | { kind: 'unix'; socketPath: string }
  /** A `--host` that is no IP or host-name literal: never probed; `problem` says why without quoting it. */
  | { kind: 'invalid'; port: number; problem: string };

/**
 * Where to reach a launch from this host: wildcard binds (0.0.0.0, ::) are probed on loopback,
 * `--uds` on its socket.
 */
export function localEndpoint(launch: VllmLaunch): LocalEndpoint {
  if (launch.uds) return { kind: 'unix', socketPath: launch.uds };
  const checked = checkHostLiteral(launch.host);
  if (!checked.ok) return { kind: 'invalid', port: launch.port, problem: checked.reason };
  let host = checked.host;
  if (host === '0.0.0.0') host = '127.0.0.1';
  else if (host === '::' || host === '::0') host = '::1';
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return { kind: 'tcp', host, port: launch.port, url: `${launch.tls ? 'https' : 'http'}://${hostPart}:${launch.port}` };
}

// ---------------------------------------------------------------------------------------------
// Process roles

export type ProcessRoleName = 'api-server' | 'engine-core' | 'worker' | 'dp-coordinator';

export interface ProcessRole {
  role: ProcessRoleName;
  dp?: number;
  pp?: number;
  pcp?: number;
  tp?: number;
  dcp?: number;
  ep?: number;
  /** APIServer_<i>; the bare number of dev-era titles (VLLM::EngineCoreProc_0). */
  index?: number;
  /** A worker's global rank, where only that is known (log prefix "VllmWorker rank=3"). */
  rank?: number;
  /**
   * How it was recognised: a vLLM process title, a launch command line, the appended-suffix
   * spawn bootstrap of v0.10.0–0.10.1, a Ray worker title, a (possibly truncated) comm name, a
   * log prefix, or its place in the process tree.
   */
  source: 'title' | 'launch' | 'spawn-suffix' | 'ray' | 'comm' | 'log' | 'tree';
  /** For launch command lines: the parsed launch (a `headless` one serves no HTTP). */
  launch?: VllmLaunch;
}

export interface RoleOptions {
  /** Accepted title prefixes (VLLM_PROCESS_NAME_PREFIX); default ["VLLM"]. */
  titlePrefixes?: readonly string[];
}

const RANK_TOKEN = /^(DP|PP|PCP|TP|DCP|EP)(\d{1,7})$/;
const TITLE = /^([A-Za-z0-9_.-]{1,64})::([A-Za-z]{1,40})((?:_[A-Za-z]{0,4}\d{1,7})*)$/;

function roleOfName(name: string): ProcessRoleName | null {
  switch (name) {
    case 'APIServer':
    case 'ApiServer':
      return 'api-server';
    case 'EngineCore':
    case 'EngineCoreProc':
    case 'DPEngineCore':
      return 'engine-core';
    case 'Worker':
    case 'VllmWorker':
    case 'WorkerProc':
      return 'worker';
    case 'DPCoordinator':
      return 'dp-coordinator';
    default:
      return null;
  }
}

const WORKER_ONLY_DIMS = new Set(['PP', 'PCP', 'TP', 'DCP', 'EP']);

/** Applies `_DP0_TP1`-style tokens to a role; returns false on an unknown token. */
function applyTokens(role: ProcessRole, suffix: string): boolean {
  if (suffix.length === 0) return true;
  for (const tok of suffix.slice(1).split('_')) {
    if (/^\d{1,7}$/.test(tok)) {
      role.index = Number(tok);
      continue;
    }
    const m = RANK_TOKEN.exec(tok);
    if (!m) return false;
    const key = (m[1] as string).toLowerCase() as 'dp' | 'pp' | 'pcp' | 'tp' | 'dcp' | 'ep';
    role[key] = Number(m[2]);
  }
  return true;
}

function parseTitle(title: string, prefixes: readonly string[]): ProcessRole | null {
  const m = TITLE.exec(title);
  if (!m || !prefixes.includes(m[1] as string)) return null;
  let name = roleOfName(m[2] as string);
  if (!name) return null;
  const suffix = m[3] as string;
  // v0.10.0–0.10.1 workers appended their suffix to the title they inherited: a forked worker of
  // "VLLM::EngineCore" became "VLLM::EngineCore_TP0". An engine core only ever has a DP suffix.
  if (name === 'engine-core' && suffix.split('_').some((t) => WORKER_ONLY_DIMS.has(t.replace(/\d+$/, '')))) {
    name = 'worker';
  }
  const role: ProcessRole = { role: name, source: 'title' };
  return applyTokens(role, suffix) ? role : null;
}

const SPAWN_SUFFIX = /--multiprocessing-fork((?:_(?:DP|PP|PCP|TP|DCP|EP)\d{1,7})+)\s*$/;

/** The role of a process from its argv (from /proc/PID/cmdline), or null when not a vLLM process. */
/** The role a process's argv says (title or launch line); null when none. The result is shared: do not change it. */
export function parseProcessRole(argv: readonly string[], options: RoleOptions = {}): ProcessRole | null {
  if (options.titlePrefixes !== undefined) return parseRole(argv, options);
  let r = roles.get(argv);
  if (r === undefined) {
    r = parseRole(argv, options);
    roles.set(argv, r);
  }
  return r;
}

function parseRole(argv: readonly string[], options: RoleOptions): ProcessRole | null {
  const prefixes = options.titlePrefixes ?? DEFAULT_TITLE_PREFIXES;
  const args = argv.filter((a) => a.length > 0);
  if (args.length === 0) return null;
  // A title fills argv[0] (setproctitle may leave the rest empty, or pad with spaces).
  const joined = args.join(' ').trim();
  if (joined.length <= 200) {
    const t = parseTitle(joined, prefixes);
    if (t) return t;
  }
  if (/^ray::RayWorkerWrapper(?:[.\s]|$)/.test(joined)) return { role: 'worker', source: 'ray' };
  const launch = parseVllmCmdline(args);
  if (launch) return { role: 'api-server', source: 'launch', launch };
  const spawn = SPAWN_SUFFIX.exec(joined);
  if (spawn && joined.includes('multiprocessing.spawn')) {
    const role: ProcessRole = { role: 'worker', source: 'spawn-suffix' };
    applyTokens(role, spawn[1] as string);
    return role;
  }
  return null;
}

/** Linux keeps 15 characters of a process name in /proc/PID/comm (TASK_COMM_LEN - 1). */
export const COMM_LENGTH = 15;

/**
 * The role from /proc/PID/comm or pstree's name alone: a weaker fallback for when the command
 * line cannot be read. A name cut at 15 characters loses its rank suffix (VLLM::Worker_TP →
 * worker, rank unknown). "vllm" is the comm of the `vllm` script (the API server of `vllm serve`,
 * but also `vllm bench`...): confirm with the command line when possible.
 */
export function parseProcessComm(comm: string, options: RoleOptions = {}): ProcessRole | null {
  const prefixes = options.titlePrefixes ?? DEFAULT_TITLE_PREFIXES;
  const c = comm.trim();
  if (c === 'vllm') return { role: 'api-server', source: 'comm' };
  if (c.length < COMM_LENGTH) {
    const t = parseTitle(c, prefixes);
    return t ? { ...t, source: 'comm' } : /^ray::RayWorkerWrapper/.test(c) ? { role: 'worker', source: 'comm' } : null;
  }
  if ('ray::RayWorkerWrapper'.startsWith(c) || c.startsWith('ray::RayWorkerW')) return { role: 'worker', source: 'comm' };
  const sep = c.indexOf('::');
  if (sep < 0 || !prefixes.includes(c.slice(0, sep))) return null;
  const rest = c.slice(sep + 2);
  const base = /^[A-Za-z]*/.exec(rest)?.[0] ?? '';
  for (const name of ['APIServer', 'EngineCoreProc', 'EngineCore', 'DPEngineCore', 'Worker', 'DPCoordinator']) {
    const complete = base === name;
    if (complete || (base === rest && name.startsWith(base) && base.length > 0)) {
      const role = roleOfName(name);
      return role ? { role, source: 'comm' } : null;
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Log prefixes

export interface LogProcess {
  /** The process name in the prefix ("APIServer", "EngineCore_0", "VllmWorker TP1"), or "". */
  name: string;
  pid: number;
  /** Ray's remote-node marker: "(RayWorkerWrapper pid=374, ip=10.254.6.219)". */
  ip: string | null;
  role: ProcessRole | null;
}

export interface LogLineProcess extends LogProcess {
  /** Outer prefixes, outermost first: "(EngineCore_0 pid=1257) (RayWorkerWrapper pid=1384)". */
  via: LogProcess[];
}

// vllm/utils/system_utils.py _add_prefix writes f"({worker_name} pid={pid}) ", in cyan on a tty;
// Ray adds "(name pid=N, ip=A.B.C.D)" for actors on other nodes.
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;
const PREFIX = /^\(([^()]{0,80}?)\s*pid=(\d{1,10})(?:,\s*ip=([0-9A-Fa-f.:]{1,64}))?\)\s?/;

function roleOfLogName(name: string): ProcessRole | null {
  const n = name.trim();
  if (n.length === 0) return null;
  if (n === 'RayWorkerWrapper' || n === 'VllmWorkerProcess') return { role: 'worker', source: 'log' };
  // The Rust frontend's log lines, relayed by the `vllm serve` process.
  if (n === 'RustFrontend') return { role: 'api-server', source: 'log' };
  let m = /^(APIServer|ApiServer)(?:[_-](\d+))?$/.exec(n);
  if (m) return m[2] !== undefined ? { role: 'api-server', index: Number(m[2]), source: 'log' } : { role: 'api-server', source: 'log' };
  // 0.10.x: multiprocessing name f"EngineCore_{dp_rank}"; later EngineCore_DP<n> like the title.
  m = /^EngineCore(?:_(\d+))?((?:_[A-Z]{2,3}\d+)*)$/.exec(n);
  if (m) {
    const role: ProcessRole = { role: 'engine-core', source: 'log' };
    if (m[1] !== undefined) role.dp = Number(m[1]);
    return applyTokens(role, m[2] as string) ? role : null;
  }
  if (n === 'DPCoordinator') return { role: 'dp-coordinator', source: 'log' };
  // "VllmWorker TP0", "VllmWorker PP1_TP0" (0.10.x), "VllmWorker rank=3" (0.8–0.9),
  // "VllmWorker-0" (multiprocessing name), "Worker", "Worker_PP1_TP0" (0.11+).
  m = /^(?:VllmWorker|Worker)(?:[ _-](.*))?$/.exec(n);
  if (m) {
    const role: ProcessRole = { role: 'worker', source: 'log' };
    const rest = (m[1] ?? '').trim();
    const rank = /^rank=(\d{1,7})$/.exec(rest) ?? /^(\d{1,7})$/.exec(rest);
    if (rank) role.rank = Number(rank[1]);
    else if (rest.length > 0 && !applyTokens(role, `_${rest}`)) return null;
    return role;
  }
  return null;
}

/** The process that wrote a vLLM log line, from its "(Name pid=N)" prefixes; null when none. */
export function parseLogPrefix(line: string): LogLineProcess | null {
  let rest = line.slice(0, 512).replace(ANSI, '');
  const chain: LogProcess[] = [];
  for (let k = 0; k < 4; k++) {
    const m = PREFIX.exec(rest);
    if (!m) break;
    const name = (m[1] as string).trim();
    chain.push({ name, pid: Number(m[2]), ip: m[3] ?? null, role: roleOfLogName(name) });
    rest = rest.slice(m[0].length);
  }
  const last = chain.pop();
  return last ? { ...last, via: chain } : null;
}

// ---------------------------------------------------------------------------------------------
// Process trees

export interface ProcInfo {
  pid: number;
  ppid: number;
  argv: readonly string[];
}

function sameArgv(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Roles for a set of processes (e.g. one /proc scan), using the tree where argv alone is not
 * enough (versions before process titles, ~0.10.0):
 * - a child running its vLLM parent's exact command line (fork start method) or the
 *   multiprocessing spawn bootstrap (not the resource tracker) belongs to that engine;
 * - such an untitled child that has untitled children of its own is the engine core (V1 before
 *   titles: API server → EngineCore → workers; V0's frontend-multiprocessing engine process);
 *   otherwise it is a worker (V0: API server, itself rank 0, → VllmWorkerProcess children).
 * A V1 engine core with no workers (TP=PP=1) is then called a worker: from /proc alone it looks
 * exactly like one; either way it is the process that holds the GPU. Processes with no role are
 * left out of the map.
 */
export function classifyProcesses(procs: readonly ProcInfo[], options: RoleOptions = {}): Map<number, ProcessRole> {
  const { byPid, children } = procTree(procs);
  const roles = new Map<number, ProcessRole>();
  for (const p of procs) {
    const r = parseProcessRole(p.argv, options);
    if (r) roles.set(p.pid, r);
  }
  const untitledChild = (p: ProcInfo, parent: ProcInfo): boolean => {
    const mine = roles.get(p.pid);
    if (mine?.source === 'launch') return sameArgv(p.argv, parent.argv);
    if (mine) return false;
    const joined = p.argv.join(' ');
    return joined.includes('spawn_main') && joined.includes('multiprocessing') && !joined.includes('resource_tracker');
  };
  // Walk down from every titled or launch process, breadth first, so parents are decided first.
  const queue = procs.filter((p) => roles.has(p.pid)).map((p) => p.pid);
  const untitled = new Set<number>();
  for (let q = 0; q < queue.length; q++) {
    const pid = queue[q] as number;
    const parent = byPid.get(pid) as ProcInfo;
    for (const c of children.get(pid) ?? []) {
      if (untitled.has(c.pid) || c.pid === pid || !untitledChild(c, parent)) continue;
      untitled.add(c.pid);
      queue.push(c.pid);
    }
  }
  for (const pid of untitled) {
    const hasUntitledChildren = (children.get(pid) ?? []).some((c) => untitled.has(c.pid));
    roles.set(pid, { role: hasUntitledChildren ? 'engine-core' : 'worker', source: 'tree' });
  }
  return roles;
}
