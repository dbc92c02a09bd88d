// vLLM's Rust frontend as the simulator shows it: its command line and its /metrics. Pure.
//
// From vLLM's source (rust/ in vllm-project/vllm) and two real launch lines (tests/fixtures/vllm/
// vllm-log_rust-frontend-launch_*.log): the `vllm serve` process binds the HTTP socket and starts
// `<site-packages>/vllm/vllm-rs frontend --listen-fd N --input-address ipc://… --output-address ipc://…
// --engine-count N --args-json {…}`, the JSON holding the options the user set (argparse dest names, Python's
// json.dumps spacing). Its /metrics (rust/src/server/src/routes/metrics.rs, rust/src/metrics/src/lib.rs) is
// prometheus-client's OpenMetrics text: `application/openmetrics-text; version=1.0.0; charset=utf-8` whatever
// the request asks; a counter's HELP and TYPE name the family, its sample adds `_total`; no `_created` series;
// only `vllm:` families (no python_*, process_*, http_*; no cache_config_info in the registry); `# EOF` last.
import { createHash } from 'node:crypto';
import type { EngineSpec } from './engineScenario.js';

export const RUST_FRONTEND_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
/** The descriptor the frontend gets its socket on (the first one after stdin, stdout, stderr). */
export const RUST_FRONTEND_LISTEN_FD = 3;

/** Where pip puts vLLM for this interpreter: Debian's dist-packages for the system python, a venv's site-packages. */
function packageDir(interpreter: string): string {
  const slash = interpreter.lastIndexOf('/');
  const dir = slash > 0 ? interpreter.slice(0, slash) : '/usr/bin';
  return dir === '/usr/bin' || dir === '/bin' ? '/usr/local/lib/python3.12/dist-packages/vllm' : `${dir.replace(/\/bin$/, '')}/lib/python3.12/site-packages/vllm`;
}

/** A uuid-shaped name for an engine's IPC socket, stable for the engine (the real ones are random). */
function ipcName(e: EngineSpec, which: string): string {
  const h = createHash('sha1').update(`${e.name}/${which}`).digest('hex');
  return `ipc:///tmp/${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** The frontend's argv as /proc/PID/cmdline shows it. */
export function rustFrontendArgv(e: EngineSpec): string[] {
  const args: Record<string, unknown> = { model: e.model, model_tag: e.model };
  if (e.servedModelNames.length > 0) args.served_model_name = e.servedModelNames;
  if (e.tensorParallel > 1) args.tensor_parallel_size = e.tensorParallel;
  if (e.pipelineParallel > 1) args.pipeline_parallel_size = e.pipelineParallel;
  if (e.dataParallel > 1) args.data_parallel_size = e.dataParallel;
  // Python's json.dumps: ", " between items, ": " after keys.
  const json = JSON.stringify(args).replace(/","/g, '", "').replace(/":/g, '": ').replace(/,"/g, ', "');
  return [
    `${packageDir(e.interpreter)}/vllm-rs`, 'frontend', '--listen-fd', String(RUST_FRONTEND_LISTEN_FD),
    '--input-address', ipcName(e, 'input'), '--output-address', ipcName(e, 'output'),
    '--engine-count', String(e.dataParallel), '--args-json', json,
  ];
}

/** Families the Python frontend exports and the Rust frontend's registry does not. */
const NOT_IN_RUST = new Set(['vllm:cache_config_info', 'vllm:gpu_cache_usage_perc', 'vllm:time_per_output_token_seconds']);

/** A 0.0.4 exposition of vLLM's Python frontend → what the Rust frontend answers for the same state. */
export function toRustOpenMetrics(text: string): string {
  const out: string[] = [];
  const familyOf = (name: string) => name.replace(/_(bucket|sum|count|total|created)$/, '');
  for (const line of text.split('\n')) {
    if (line.length === 0) continue;
    const meta = /^# (HELP|TYPE) (\S+)(.*)$/.exec(line);
    const name = meta ? (meta[2] as string) : (/^[^{\s]+/.exec(line)?.[0] ?? '');
    if (!name.startsWith('vllm:') || name.endsWith('_created') || NOT_IN_RUST.has(familyOf(name))) continue;
    if (meta && name.endsWith('_total') && (meta[1] === 'HELP' || meta[3] === ' counter')) {
      // A counter family is named without `_total`; the encoder adds it to the sample. (A histogram whose
      // name ends in _total, vllm:iteration_tokens_total, keeps it: its samples are _bucket/_sum/_count.)
      const counter = meta[1] === 'TYPE' || text.includes(`# TYPE ${name} counter`);
      out.push(counter ? `# ${meta[1]} ${name.slice(0, -'_total'.length)}${meta[3]}` : line);
    } else out.push(line);
  }
  return `${out.join('\n')}\n# EOF\n`;
}
