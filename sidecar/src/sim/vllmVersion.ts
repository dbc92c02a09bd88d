// What a simulated vLLM engine looks like, by version: process titles and tree, metric names and shapes.
//
// Sources (see README.md, "Fake vLLM engines", and tests/fixtures/vllm/PROVENANCE.md):
// - Process titles: vLLM's set_process_title (vllm/utils) writes f"{VLLM_PROCESS_NAME_PREFIX}::{name}_{suffix}"
//   with setproctitle, prefix "VLLM". v1/engine/core.py run_engine_core titles the engine core
//   "EngineCore", or ("EngineCore", f"DP{dp_rank}") when data_parallel_size > 1. multiproc_executor.py
//   WorkerProc.setup_proc_title_and_log_prefix titles workers "Worker" + "_DP<r>" (dp > 1) + "_PP<r>"
//   (pp > 1) + "_TP<r>" (tp > 1) (PR #22205). v1/engine/coordinator.py titles "DPCoordinator". A single
//   API server keeps its launch command line (PR #21780: "Don't change the title of the top-level processes").
// - PR #22205 is not in 0.10.1.x: the 0.10.1.1 log fixture still prints the old worker prefixes
//   "(VllmWorker TP0 pid=…)". Before it, workers *appended* their suffix to the title they inherited; its
//   "Before" listing (process-listing_pstree-ps_tp2_vllm-pr22205-before.txt) shows the spawn bootstrap
//   "…/python3 -c from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=56, pipe_handle=55)
//   --multiprocessing-fork_TP0". So 0.10.1.x workers get that form here, 0.10.2 and later "VLLM::Worker_TP0".
// - Before titles (< 0.10.1): V1 (0.8 on) runs API server → engine core → workers, all forked with the API
//   server's command line; V0 (< 0.8) runs the driver worker (rank 0) inside the API server and forks
//   `VllmWorkerProcess` children (a log prefix, not a title) for the other ranks.
// - Metric names (fixtures 0.4.3, 0.7.x, 0.10.1, 0.11.0): `vllm:kv_cache_usage_perc` from 0.9.2 (the old
//   `vllm:gpu_cache_usage_perc` stays, marked DEPRECATED, until hidden in 0.11); `vllm:inter_token_latency_seconds`
//   from 0.10.2 (the old `vllm:time_per_output_token_seconds` stays, deprecated, until hidden in 0.12);
//   `vllm:prefix_cache_*` from 0.9.2 (`vllm:gpu_prefix_cache_*` deprecated, hidden in 0.11). V1 (0.8 on) labels
//   every engine series with `engine`; V0 has no `engine` label, has `num_requests_swapped` and the CPU cache.

export type VersionTuple = readonly number[];

/** "0.10.1.1", "v0.11.0", "0.11.0rc2+cu128" → [0, 10, 1, 1] / [0, 11, 0]; null when not a version. */
export function parseVersion(text: string): number[] | null {
  const m = /^v?(\d{1,4}(?:\.\d{1,6}){1,3})/.exec(text.trim());
  if (!m) return null;
  return (m[1] as string).split('.').map(Number);
}

export function compareVersions(a: VersionTuple, b: VersionTuple): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

const atLeast = (v: VersionTuple, ...min: number[]) => compareVersions(v, min) >= 0;

/**
 * - `v0`: the API server is rank 0; other ranks are forked children running its command line.
 * - `v1-untitled`: API server → engine core(s) → workers (tp·pp > 1), all forked with the API server's
 *   command line.
 * - `titled-append`: titled engine core; workers run the spawn bootstrap with an appended `_TP<n>` suffix.
 * - `titled`: `VLLM::EngineCore[_DP<n>]`, `VLLM::Worker[_DP<d>][_PP<p>][_TP<t>]`, `VLLM::DPCoordinator`.
 */
export type ProcessStyle = 'v0' | 'v1-untitled' | 'titled-append' | 'titled';

export interface VllmProfile {
  version: string;
  tuple: number[];
  processStyle: ProcessStyle;
  /** V1 metrics (engine label, _created series, V1 histograms) from 0.8; V0 before. */
  metrics: 'v0' | 'v1';
  /** Export `vllm:kv_cache_usage_perc`. */
  kvUsageNew: boolean;
  /** Export `vllm:gpu_cache_usage_perc` (deprecated from 0.9.2, hidden from 0.11). */
  kvUsageOld: boolean;
  /** Export `vllm:inter_token_latency_seconds`. */
  itlNew: boolean;
  /** Export `vllm:time_per_output_token_seconds` (deprecated from 0.10.2 — 0.11's fixture; hidden from 0.12). */
  tpotOld: boolean;
  /** `vllm:prefix_cache_{queries,hits}_total` (V1, 0.9.2 on). */
  prefixNew: boolean;
  /** `vllm:gpu_prefix_cache_{queries,hits}_total` (V1 before 0.11; deprecated from 0.9.2). */
  prefixOld: boolean;
  /** `vllm:request_time_per_output_token_seconds` (in the 0.11 fixture, not in 0.10.1's). */
  requestTpot: boolean;
  /** `kv_cache_memory_bytes` label on cache_config_info (0.11 fixture). */
  kvCacheMemoryLabel: boolean;
  /** V0 `avg_*_throughput_toks_per_s` gauges (in the 0.4.3 fixture; gone later in V0). */
  v0AvgThroughput: boolean;
  /** V0 0.7-era gauges: `cpu/gpu_prefix_cache_hit_rate`, `lora_requests_info` (0.7.x fixture). */
  v0PrefixAndLora: boolean;
}

export function vllmProfile(version: string): VllmProfile {
  const v = parseVersion(version);
  if (!v) throw new Error(`not a vLLM version: "${version}"`);
  const processStyle: ProcessStyle = atLeast(v, 0, 10, 2)
    ? 'titled'
    : atLeast(v, 0, 10, 1)
      ? 'titled-append'
      : atLeast(v, 0, 8, 0)
        ? 'v1-untitled'
        : 'v0';
  const v1 = atLeast(v, 0, 8, 0);
  return {
    version,
    tuple: v,
    processStyle,
    metrics: v1 ? 'v1' : 'v0',
    kvUsageNew: atLeast(v, 0, 9, 2),
    kvUsageOld: !atLeast(v, 0, 11, 0),
    itlNew: atLeast(v, 0, 10, 2),
    tpotOld: !atLeast(v, 0, 12, 0),
    prefixNew: v1 && atLeast(v, 0, 9, 2),
    prefixOld: v1 && !atLeast(v, 0, 11, 0),
    requestTpot: atLeast(v, 0, 11, 0),
    kvCacheMemoryLabel: atLeast(v, 0, 11, 0),
    v0AvgThroughput: !v1 && !atLeast(v, 0, 6, 0),
    v0PrefixAndLora: !v1 && atLeast(v, 0, 6, 0),
  };
}

export const TITLE_PREFIX = 'VLLM';

/** The engine core's title (titled styles): VLLM::EngineCore, or VLLM::EngineCore_DP<n> when dp > 1. */
export function engineCoreTitle(dpSize: number, dpRank: number): string {
  return dpSize > 1 ? `${TITLE_PREFIX}::EngineCore_DP${dpRank}` : `${TITLE_PREFIX}::EngineCore`;
}

/** Suffix tokens of a worker: _DP<d> (dp > 1) _PP<p> (pp > 1) _TP<t> (tp > 1), in vLLM's order. */
export function workerSuffix(
  sizes: { dp: number; pp: number; tp: number },
  ranks: { dp: number; pp: number; tp: number },
  withDp: boolean
): string {
  let s = '';
  if (withDp && sizes.dp > 1) s += `_DP${ranks.dp}`;
  if (sizes.pp > 1) s += `_PP${ranks.pp}`;
  if (sizes.tp > 1) s += `_TP${ranks.tp}`;
  return s;
}

/** The spawn bootstrap command line of multiprocessing's "spawn" start method (as one title string). */
export function spawnBootstrap(interpreter: string, trackerFd: number, pipeHandle: number): string {
  return `${interpreter} -c from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=${trackerFd}, pipe_handle=${pipeHandle}) --multiprocessing-fork`;
}
