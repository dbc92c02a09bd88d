// The alert rules, once. Both forms are rendered from this list: Grafana-managed rules
// (provisioning/alerting/gpufleet-rules.yaml: query → reduce → threshold) and a Prometheus rule file
// (prometheus/rules/gpufleet.rules.yml: `expr op threshold` with `for`). Each rule's `expr` gives the
// measured value per series, never a comparison, so the two forms compare the same number.
import { JOBS } from './ids.js';
import { gpusInStateExpr } from './capacityQueries.js';
import { OBJECTIVES, RECORD, SLO_MIN_REQUESTS, SLO_TARGET } from './sloRules.js';

export type Severity = 'critical' | 'warning';
export type Op = 'gt' | 'lt';

export interface AlertRuleSpec {
  uid: string;
  /** Prometheus alert name (CamelCase) and the base of the Grafana title. */
  alert: string;
  title: string;
  group: 'gpu' | 'capacity' | 'engines' | 'sidecar';
  /** PromQL giving the measured value per series (labels say what it is about). */
  expr: string;
  op: Op;
  threshold: number;
  /** How long the condition must hold before the alert fires (a Prometheus duration). */
  for: string;
  severity: Severity;
  /**
   * What Grafana does when the query returns no series. `OK` where no series means "nothing to report"
   * (no GPU is hot, no engine exists); `NoData` where absence itself means something is broken.
   */
  noDataState: 'OK' | 'NoData' | 'Alerting';
  /** What Grafana does when Prometheus cannot be queried: always an error state, never silence. */
  execErrState: 'Error';
  /** One line; `{{value}}` becomes the measured value in each form's template language. */
  summary: string;
  description: string;
  runbook: string;
  /** How `{{value}}` is printed: a plain number, a percentage of a 0..1 ratio, or seconds. */
  valueFormat: 'number' | 'percent' | 'seconds';
}

// Every threshold leaves the `demo` scenario quiet and is crossed by exactly the fault of the `faults`
// scenario that the rule is about (tests/integration/alertRules.test.ts checks both on a real Prometheus).
export const ALERT_RULES: readonly AlertRuleSpec[] = [
  {
    uid: 'gpufleet-gpu-temperature-high',
    alert: 'GpuTemperatureHigh',
    title: 'GPU temperature high',
    group: 'gpu',
    expr: 'gpufleet_gpu_temperature_celsius',
    op: 'gt',
    threshold: 85,
    for: '5m',
    severity: 'warning',
    noDataState: 'OK',
    execErrState: 'Error',
    summary: 'GPU {{ $labels.gpu_index }} on {{ $labels.host }} is at {{value}} °C',
    description:
      'GPU {{ $labels.gpu_uuid }} (index {{ $labels.gpu_index }}) on {{ $labels.host }} has been above 85 °C for 5 minutes. ' +
      'Above about 87 °C data-centre GPUs throttle their clocks (thermal slowdown), so jobs on it slow down.',
    runbook:
      'Check the GPU\'s fans / chassis airflow and the inlet temperature (nvidia-smi -q -d TEMPERATURE,PERFORMANCE shows ' +
      'the slowdown reasons). If only this GPU is hot, reseat or service it; move latency-sensitive engines off it meanwhile.',
    valueFormat: 'number',
  },
  {
    uid: 'gpufleet-gpu-memory-nearly-full',
    alert: 'GpuMemoryNearlyFull',
    title: 'GPU memory nearly full',
    group: 'gpu',
    // vGPU hosts hand their framebuffer out to VMs up front, so "full" is their normal state.
    // `total > 0` keeps a GPU that reports no total from dividing by zero (NaN, which Grafana counts as alerting).
    expr:
      'gpufleet_gpu_memory_used_bytes / (gpufleet_gpu_memory_total_bytes > 0) ' +
      'unless on (host, gpu_uuid) gpufleet_gpu_info{vgpu_mode!="none"}',
    op: 'gt',
    threshold: 0.95,
    for: '10m',
    severity: 'warning',
    noDataState: 'OK',
    execErrState: 'Error',
    summary: 'GPU {{ $labels.gpu_index }} on {{ $labels.host }} memory is {{value}} used',
    description:
      'GPU {{ $labels.gpu_uuid }} on {{ $labels.host }} has used over 95 % of its memory for 10 minutes. ' +
      'A new process or a growing one on it will fail with out-of-memory.',
    runbook:
      'List the GPU\'s processes (GPU detail dashboard, processes table, or nvidia-smi --query-compute-apps). vLLM takes ' +
      '--gpu-memory-utilization of the GPU at start: two engines on one GPU need fractions that add up to less than 1.',
    valueFormat: 'percent',
  },
  {
    uid: 'gpufleet-gpu-xid-errors',
    alert: 'GpuXidErrors',
    title: 'GPU Xid errors',
    group: 'gpu',
    // The counter's series first appears already at its count, which increase() cannot see; a series that did
    // not exist ten minutes ago counts with its whole value.
    expr:
      '((gpufleet_gpu_xid_errors_total unless gpufleet_gpu_xid_errors_total offset 10m) + 0) ' +
      'or increase(gpufleet_gpu_xid_errors_total[10m])',
    op: 'gt',
    threshold: 0,
    for: '0s',
    severity: 'critical',
    noDataState: 'OK',
    execErrState: 'Error',
    summary: 'Xid {{ $labels.xid }} on GPU {{ $labels.gpu_index }} of {{ $labels.host }}',
    description:
      'The driver reported Xid {{ $labels.xid }} for GPU {{ $labels.gpu_uuid }} on {{ $labels.host }} ({{value}} in the ' +
      'last 10 minutes). Xids 48, 63, 64, 74, 79, 92, 94, 95 and 119 mean hardware or driver faults; 13, 31 and 43 are usually ' +
      'an application fault.',
    runbook:
      'Read the kernel log on the host (dmesg | grep -i xid) and look the code up in NVIDIA\'s Xid catalogue. For 79 (fallen off ' +
      'the bus) and 48/94/95 (ECC), drain the GPU and reset it (nvidia-smi -r) or reboot; repeated ones mean an RMA.',
    valueFormat: 'number',
  },
  {
    uid: 'gpufleet-gpu-lost',
    alert: 'GpuLost',
    title: 'GPU lost',
    group: 'gpu',
    expr: 'gpufleet_gpu_lost',
    op: 'gt',
    threshold: 0,
    for: '0s',
    severity: 'critical',
    noDataState: 'OK',
    execErrState: 'Error',
    summary: 'GPU {{ $labels.gpu_uuid }} on {{ $labels.host }} is gone',
    description:
      'GPU {{ $labels.gpu_uuid }} was seen on {{ $labels.host }} and is now missing from nvidia-smi: it fell off the bus or ' +
      'its driver lost it. The enumeration index of the GPUs after it has shifted.',
    runbook:
      'Check the kernel log for Xid 79 and PCIe errors (dmesg, lspci -vvv). A GPU that fell off the bus comes back only after a ' +
      'reset or reboot; drain the host first.',
    valueFormat: 'number',
  },
  {
    uid: 'gpufleet-vgpu-saturated',
    alert: 'VgpuInstanceSaturated',
    title: 'vGPU instance saturated',
    group: 'gpu',
    expr:
      'gpufleet_vgpu_utilization_ratio ' +
      '* on (host, gpu_uuid, vgpu_id) group_left (vm_name, vm_id, vgpu_type) gpufleet_vgpu_instance_info',
    op: 'gt',
    threshold: 0.95,
    for: '10m',
    severity: 'warning',
    noDataState: 'OK',
    execErrState: 'Error',
    summary: 'VM {{ $labels.vm_name }} is using {{value}} of its vGPU',
    description:
      'The vGPU {{ $labels.vgpu_id }} ({{ $labels.vgpu_type }}) of VM {{ $labels.vm_name }} ({{ $labels.vm_id }}) on ' +
      '{{ $labels.host }} has been over 95 % busy for 10 minutes. Under the time-sliced scheduler it slows the other VMs of the GPU.',
    runbook:
      'Tell the VM\'s owner, or move the VM to a larger vGPU type or a GPU of its own. The GPU detail dashboard shows the other ' +
      'VMs of this GPU and how much they get.',
    valueFormat: 'percent',
  },
  {
    uid: 'gpufleet-mig-memory-nearly-full',
    alert: 'MigInstanceMemoryNearlyFull',
    title: 'MIG instance memory nearly full',
    group: 'gpu',
    expr:
      'gpufleet_mig_memory_used_bytes / (gpufleet_mig_memory_total_bytes > 0) ' +
      '* on (host, gpu_uuid, mig_uuid) group_left (profile, gi_id) gpufleet_mig_instance_info',
    op: 'gt',
    threshold: 0.95,
    for: '10m',
    severity: 'warning',
    noDataState: 'OK',
    execErrState: 'Error',
    summary: 'MIG {{ $labels.profile }} (GI {{ $labels.gi_id }}) on {{ $labels.host }} memory is {{value}} used',
    description:
      'MIG instance {{ $labels.mig_uuid }} ({{ $labels.profile }}, GPU instance {{ $labels.gi_id }}) of GPU {{ $labels.gpu_uuid }} ' +
      'on {{ $labels.host }} has used over 95 % of its memory for 10 minutes. A MIG instance cannot borrow memory from its neighbours.',
    runbook:
      'Find the process on the instance (GPU detail dashboard, processes table). Give the workload a larger profile or lower ' +
      'vLLM\'s --gpu-memory-utilization / --max-model-len.',
    valueFormat: 'percent',
  },
  {
    uid: 'gpufleet-engine-down',
    alert: 'EngineDown',
    title: 'vLLM engine down',
    group: 'engines',
    expr: 'gpufleet_engine_up',
    op: 'lt',
    threshold: 1,
    for: '2m',
    severity: 'critical',
    noDataState: 'OK',
    execErrState: 'Error',
    summary: 'vLLM engine {{ $labels.engine_id }} is not answering',
    description:
      'The vLLM engine {{ $labels.engine_id }} on {{ $labels.host }} has not answered GET /health for 2 minutes. The sidecar drops ' +
      'an engine that stays down past its --engine-grace (5 minutes by default), and the alert resolves then.',
    runbook:
      'Look at the engine\'s process or container logs (journalctl, docker logs): out-of-memory at start, a crashed worker, or a ' +
      'GPU fault (check the GPU alerts of the same host). Restart it; if it was removed on purpose, nothing is to do.',
    valueFormat: 'number',
  },
  {
    uid: 'gpufleet-engine-kv-cache-high',
    alert: 'EngineKvCacheHigh',
    title: 'vLLM KV cache nearly full',
    group: 'engines',
    expr: 'gpufleet_engine_kv_cache_usage_ratio',
    op: 'gt',
    threshold: 0.9,
    for: '5m',
    severity: 'warning',
    noDataState: 'OK',
    execErrState: 'Error',
    summary: 'vLLM engine {{ $labels.engine_id }} KV cache is {{value}} full',
    description:
      'The KV cache of {{ $labels.engine_id }} on {{ $labels.host }} has been over 90 % used for 5 minutes. vLLM then stops ' +
      'admitting requests and preempts running ones, so latency climbs.',
    runbook:
      'Add capacity (another replica, a larger GPU or tensor parallelism), lower --max-num-seqs, or shorten --max-model-len. ' +
      'The Engine detail dashboard shows preemptions and the queue next to the cache.',
    valueFormat: 'percent',
  },
  {
    uid: 'gpufleet-engine-requests-waiting',
    alert: 'EngineRequestsWaiting',
    title: 'vLLM requests waiting',
    group: 'engines',
    expr: 'gpufleet_engine_requests_waiting',
    op: 'gt',
    threshold: 20,
    for: '10m',
    severity: 'warning',
    noDataState: 'OK',
    execErrState: 'Error',
    summary: '{{value}} requests waiting on vLLM engine {{ $labels.engine_id }}',
    description:
      'More than 20 requests have been waiting in the queue of {{ $labels.engine_id }} on {{ $labels.host }} for 10 minutes: ' +
      'the engine gets more than it can serve.',
    runbook:
      'Scale out (another replica behind the load balancer) or rate-limit the clients. If the KV cache is also full, the cache ' +
      'is the bottleneck; if not, raise --max-num-seqs.',
    valueFormat: 'number',
  },
  {
    uid: 'gpufleet-engine-ttft-high',
    alert: 'EngineTimeToFirstTokenHigh',
    title: 'vLLM time to first token high',
    group: 'engines',
    // From the engine's own histogram, scraped through the sidecar's service discovery (job vllm-engines).
    // An idle engine has no requests in the window and its quantile is NaN, which Grafana's threshold
    // counts as alerting: `>= 0` drops those series.
    expr:
      'histogram_quantile(0.95, sum by (le, host, engine_id, model) ' +
      `(rate(vllm:time_to_first_token_seconds_bucket{job="${JOBS.engines}"}[5m]))) >= 0`,
    op: 'gt',
    threshold: 2,
    for: '5m',
    severity: 'warning',
    noDataState: 'OK',
    execErrState: 'Error',
    summary: 'vLLM engine {{ $labels.engine_id }} p95 time to first token is {{value}}',
    description:
      'For 5 minutes, 5 % of the requests to {{ $labels.engine_id }} ({{ $labels.model }}) on {{ $labels.host }} waited more than ' +
      '2 s for their first token.',
    runbook:
      'Long prompts or a full queue: compare with the waiting requests and prompt tokens/s on the Engine detail dashboard. ' +
      'Enable chunked prefill or prefix caching, add replicas, or cap the prompt length.',
    valueFormat: 'seconds',
  },
  {
    uid: 'gpufleet-engine-slo-attainment-low',
    alert: 'EngineSloAttainmentLow',
    title: 'vLLM SLO attainment below target',
    group: 'engines',
    // From the SLO recording rules (prometheus/rules/gpufleet-slo.rules.yml): one series per engine and
    // objective (`slo`), the share of the last five minutes' requests within the default threshold (`le`).
    // An engine without requests has no series, and one with fewer than SLO_MIN_REQUESTS in the window is left
    // out: a share of a handful of requests swings by tens of percent.
    expr: `${RECORD.attainment} and on (host, engine_id) ${RECORD.requests} >= ${SLO_MIN_REQUESTS}`,
    op: 'lt',
    threshold: SLO_TARGET,
    for: '10m',
    severity: 'warning',
    noDataState: 'OK',
    execErrState: 'Error',
    summary: '{{value}} of requests to {{ $labels.engine_id }} ({{ $labels.model }}) on {{ $labels.host }} met the {{ $labels.slo }} SLO',
    description:
      `For 10 minutes, fewer than ${SLO_TARGET * 100} % of the requests to engine {{ $labels.engine_id }} ({{ $labels.model }}) on ` +
      '{{ $labels.host }} had a {{ $labels.slo }} within {{ $labels.le }} s (' +
      OBJECTIVES.map((o) => `${o.key}: ${o.title.toLowerCase()}`).join(', ') +
      `; thresholds are bucket bounds of vLLM\'s histograms; engines with fewer than ${SLO_MIN_REQUESTS} requests in 5 minutes are left out).`,
    runbook:
      'Open the GPU fleet overview\'s SLO row for the model (attainment per engine, goodput) and the Engine detail dashboard ' +
      'for its latency quantiles, queue and KV cache: ttft misses mean queueing or long prompts (add replicas, enable chunked ' +
      'prefill), itl misses mean too large a batch (lower --max-num-seqs), e2e misses follow either or very long outputs.',
    valueFormat: 'percent',
  },
  {
    uid: 'gpufleet-model-all-engines-busy',
    alert: 'ModelAllEnginesBusy',
    title: 'Every engine of a model busy',
    group: 'capacity',
    // Per host, as the sidecar counts them: busy engines of the model where that is all of them (the
    // comparison keeps only those, with the busy count as the value).
    expr: 'gpufleet_model_engines_busy == gpufleet_model_engines',
    op: 'gt',
    threshold: 0,
    for: '5m',
    severity: 'warning',
    noDataState: 'OK',
    execErrState: 'Error',
    summary: 'All {{value}} engines of {{ $labels.model }} on {{ $labels.host }} are busy',
    description:
      'Every engine serving {{ $labels.model }} on {{ $labels.host }} has been busy (KV cache above the sidecar\'s ' +
      '--busy-threshold) for 5 minutes: a router has no engine of this model left to send new requests to on this host.',
    runbook:
      'Add a replica of the model (the fleet overview\'s capacity row lists free GPUs and MIG slices by profile), move ' +
      'traffic to another host serving it, or rate-limit. GET /api/v1/capacity on the sidecar lists the engines and their headroom.',
    valueFormat: 'number',
  },
  {
    uid: 'gpufleet-gpu-idle-held',
    alert: 'GpuIdleHeld',
    title: 'GPU idle-held for over an hour',
    group: 'capacity',
    // Seconds in the idle-held state, one series per engine holding the GPU (labels engine_id, model), or
    // one for the GPU when a process that is no engine holds it; `holder` names either ("engine ID (model)").
    expr: gpusInStateExpr('idle-held'),
    op: 'gt',
    threshold: 3600,
    for: '0s',
    severity: 'warning',
    noDataState: 'OK',
    execErrState: 'Error',
    summary: 'GPU {{ $labels.gpu_index }} on {{ $labels.host }} held idle by {{ $labels.holder }} for {{value}}',
    description:
      'GPU {{ $labels.gpu_uuid }} (index {{ $labels.gpu_index }}) on {{ $labels.host }} has been idle-held for over an hour: ' +
      '{{ $labels.holder }} keeps its memory but serves nothing (no running or waiting requests, low utilization).',
    runbook:
      'Ask the owner whether the engine is still needed, scale it to zero or move it to a smaller MIG slice; the fleet ' +
      'overview\'s capacity row lists every idle-held GPU with its engine and since when.',
    valueFormat: 'seconds',
  },
  {
    uid: 'gpufleet-collector-failing',
    alert: 'GpufleetCollectorFailing',
    title: 'gpufleet collector failing',
    group: 'sidecar',
    expr: 'gpufleet_collector_up',
    op: 'lt',
    threshold: 1,
    for: '2m',
    severity: 'warning',
    // A sidecar that exports no collector state at all is broken too.
    noDataState: 'NoData',
    execErrState: 'Error',
    summary: 'gpufleet {{ $labels.collector }} collector failing on {{ $labels.instance }}',
    description:
      'The sidecar at {{ $labels.instance }} has not read its {{ $labels.collector }} source for 2 minutes; its figures are stale ' +
      'or missing (for the gpu collector: nvidia-smi hangs, fails or prints garbage).',
    runbook:
      'GET /api/v1/health on the sidecar names the failing source and its last error; the sidecar log has each failure. For gpu, ' +
      'run the same nvidia-smi command by hand (a driver/library mismatch after a driver update needs a reboot).',
    valueFormat: 'number',
  },
  {
    uid: 'gpufleet-sidecar-down',
    alert: 'GpufleetSidecarDown',
    title: 'gpufleet sidecar down',
    group: 'sidecar',
    expr: `up{job="${JOBS.sidecar}"}`,
    op: 'lt',
    threshold: 1,
    for: '2m',
    severity: 'critical',
    noDataState: 'NoData',
    execErrState: 'Error',
    summary: 'Prometheus cannot scrape the gpufleet sidecar at {{ $labels.instance }}',
    description:
      'Prometheus has not scraped {{ $labels.instance }} for 2 minutes: every GPU and engine figure of that host is missing, and ' +
      'the other rules cannot fire for it.',
    runbook:
      'Is the sidecar running (systemctl status / docker compose ps)? Does GET /healthz answer from the Prometheus host? Check ' +
      'the listen address (--listen) and the firewall.',
    valueFormat: 'number',
  },
];

export const GROUP_TITLES: Record<AlertRuleSpec['group'], string> = {
  gpu: 'gpufleet GPUs',
  engines: 'gpufleet engines',
  capacity: 'gpufleet capacity',
  sidecar: 'gpufleet sidecar',
};
