// The three provisioned dashboards. Prometheus panels carry the history and the alerting view; the
// gpufleet data source carries what Prometheus cannot hold well: the live topology, a GPU's MIG / vGPU
// layout with VM names, and its processes. Links carry host / gpu / engine between them.
import type { AnnotationQuery, Dashboard, DashboardLink, VariableModel } from '@grafana/schema';
import { DASHBOARDS, DS, TAG } from './ids.js';
import {
  alertList,
  layout,
  promTable,
  row,
  sidecarTable,
  stat,
  timeseries,
  topologyPanel,
  type DataLinkSpec,
  type Unplaced,
} from './panels.js';

const prometheus = { type: DS.prometheus.type, uid: DS.prometheus.uid };
const sidecar = { type: DS.sidecar.type, uid: DS.sidecar.uid };

// Data links from a series to the detail dashboards, with the series' own labels.
const gpuLink: DataLinkSpec = {
  title: 'GPU detail: ${__field.labels.host} GPU ${__field.labels.gpu_index}',
  url: `/d/${DASHBOARDS.gpu.uid}/${DASHBOARDS.gpu.slug}?var-host=\${__field.labels.host}&var-gpu=\${__field.labels.gpu_uuid}&\${__url_time_range}`,
};
const engineLink: DataLinkSpec = {
  title: 'Engine detail: ${__field.labels.engine_id}',
  url: `/d/${DASHBOARDS.engine.uid}/${DASHBOARDS.engine.slug}?var-host=\${__field.labels.host}&var-engine=\${__field.labels.engine_id:percentencode}&\${__url_time_range}`,
};
// Table cells link with the row's values.
const gpuRowLink: DataLinkSpec = {
  title: 'GPU detail',
  url: `/d/${DASHBOARDS.gpu.uid}/${DASHBOARDS.gpu.slug}?var-host=\${__data.fields.host}&var-gpu=\${__data.fields.gpu_uuid}&\${__url_time_range}`,
};
const engineRowLink: DataLinkSpec = {
  title: 'Engine detail',
  url: `/d/${DASHBOARDS.engine.uid}/${DASHBOARDS.engine.slug}?var-host=\${__data.fields.host}&var-engine=\${__data.fields.engine_id:percentencode}&\${__url_time_range}`,
};

function queryVariable(
  name: string,
  label: string,
  query: string,
  o: { multi?: boolean; includeAll?: boolean } = {},
): VariableModel & { definition: string } {
  // `definition` is what Grafana's variable editor shows; the schema's VariableModel leaves it out.
  return {
    type: 'query',
    name,
    label,
    datasource: prometheus,
    // The plain-text form: every Grafana version's Prometheus variable editor reads (and migrates) it.
    query,
    definition: query,
    refresh: 2 as never,
    sort: 1 as never,
    multi: o.multi ?? false,
    includeAll: o.includeAll ?? false,
    ...(o.includeAll ? { allValue: '.+' } : {}),
    options: [],
    // Empty: Grafana selects the first value it finds (or All) when the dashboard opens.
    current: o.includeAll ? { text: 'All', value: '$__all' } : { text: '', value: '' },
    hide: 0 as never,
  };
}

const links: DashboardLink[] = [
  {
    title: 'gpufleet',
    type: 'dashboards',
    tags: [TAG],
    asDropdown: false,
    includeVars: true,
    keepTime: true,
    icon: 'external link',
    targetBlank: false,
    tooltip: '',
    url: '',
  },
];

const builtInAnnotations: AnnotationQuery = {
  builtIn: 1,
  datasource: { type: 'grafana', uid: '-- Grafana --' },
  enable: true,
  hide: true,
  iconColor: 'rgba(0, 211, 255, 1)',
  name: 'Annotations & Alerts',
  type: 'dashboard',
};

function sidecarEvents(hostExpr: string): AnnotationQuery {
  return {
    name: 'gpufleet events',
    datasource: sidecar,
    enable: true,
    hide: false,
    iconColor: 'orange',
    target: { refId: 'Anno', kind: 'events', filters: { host: hostExpr }, eventKinds: [] } as never,
  };
}

function dashboard(
  d: { uid: string; title: string },
  description: string,
  variables: VariableModel[],
  panels: Unplaced[],
  annotations: AnnotationQuery[],
): Dashboard {
  return {
    uid: d.uid,
    title: d.title,
    description,
    tags: [TAG],
    editable: true,
    graphTooltip: 1 as never,
    time: { from: 'now-1h', to: 'now' },
    timepicker: {},
    timezone: 'browser',
    refresh: '30s',
    schemaVersion: 41,
    version: 1,
    links,
    templating: { list: variables },
    annotations: { list: [builtInAnnotations, ...annotations] },
    panels: layout(panels),
  };
}

const H = 'host=~"$host"';

export function fleetOverview(): Dashboard {
  const gpuLegend = '{{host}} GPU {{gpu_index}}';
  return dashboard(
    DASHBOARDS.fleet,
    'Every GPU host running the gpufleet sidecar: which engine runs on which GPU or MIG slice, GPU health and engine load.',
    [queryVariable('host', 'Host', 'label_values(gpufleet_gpu_info, host)', { multi: true, includeAll: true })],
    [
      stat('GPUs', 'Physical GPUs nvidia-smi reports now.', { expr: `count(gpufleet_gpu_info{${H}}) or vector(0)` }),
      stat('GPUs lost', 'GPUs seen earlier that nvidia-smi no longer reports.', { expr: `count(gpufleet_gpu_lost{${H}}) or vector(0)` }, {
        thresholds: [[null, 'green'], [1, 'red']],
      }),
      stat('MIG instances', 'MIG GPU instances across the hosts.', { expr: `count(gpufleet_mig_instance_info{${H}}) or vector(0)` }),
      stat('vGPU VMs', 'vGPU instances attached to VMs.', { expr: `count(gpufleet_vgpu_instance_info{${H}}) or vector(0)` }),
      stat('Engines up', 'vLLM engines answering /health.', { expr: `sum(gpufleet_engine_up{${H}}) or vector(0)` }),
      stat('Engines down', 'vLLM engines found but not answering /health.', { expr: `count(gpufleet_engine_up{${H}} == 0) or vector(0)` }, {
        thresholds: [[null, 'green'], [1, 'red']],
      }),
      topologyPanel(
        'Topology',
        'Engines → ranks → GPUs → MIG / vGPU instances, coloured by load. Click a GPU for its MIG and vGPU instances.',
        { host: '$host' },
      ),
      row('GPUs'),
      timeseries('GPU utilization', 'Share of time a kernel ran (absent for MIG-enabled GPUs: the driver reports N/A).', [
        { expr: `gpufleet_gpu_utilization_ratio{${H}}`, legend: gpuLegend },
      ], { unit: 'percentunit', min: 0, max: 1, links: [gpuLink] }),
      timeseries('GPU memory used', 'Framebuffer memory used / total.', [
        { expr: `gpufleet_gpu_memory_used_bytes{${H}} / gpufleet_gpu_memory_total_bytes{${H}}`, legend: gpuLegend },
      ], { unit: 'percentunit', min: 0, max: 1, links: [gpuLink] }),
      timeseries('GPU power', 'Power draw.', [{ expr: `gpufleet_gpu_power_watts{${H}}`, legend: gpuLegend }], { unit: 'watt', links: [gpuLink] }),
      timeseries('GPU temperature', 'Core temperature; data-centre GPUs throttle above about 87 °C.', [
        { expr: `gpufleet_gpu_temperature_celsius{${H}}`, legend: gpuLegend },
      ], { unit: 'celsius', links: [gpuLink] }),
      row('Engines'),
      timeseries('Engine throughput', 'Generated and prompt tokens per second per engine.', [
        { expr: `gpufleet_engine_generation_tokens_per_second{${H}}`, legend: '{{engine_id}} generation' },
        { expr: `gpufleet_engine_prompt_tokens_per_second{${H}}`, legend: '{{engine_id}} prompt' },
      ], { unit: 'short', links: [engineLink] }),
      timeseries('Engine queue', 'Requests waiting for a slot per engine (running ones on the Engine detail dashboard).', [
        { expr: `gpufleet_engine_requests_waiting{${H}}`, legend: '{{engine_id}}' },
      ], { unit: 'short', min: 0, links: [engineLink] }),
      timeseries('Engine KV-cache usage', 'Share of the KV cache in use; vLLM preempts requests near 100 %.', [
        { expr: `gpufleet_engine_kv_cache_usage_ratio{${H}}`, legend: '{{engine_id}}' },
      ], { unit: 'percentunit', min: 0, max: 1, links: [engineLink] }),
      timeseries('Engine requests running', 'Requests being processed per engine.', [
        { expr: `gpufleet_engine_requests_running{${H}}`, legend: '{{engine_id}}' },
      ], { unit: 'short', min: 0, links: [engineLink] }),
      alertList('Firing gpufleet alerts', 'Alert rules of the gpufleet folder that are firing or pending.'),
    ],
    [sidecarEvents('$host')],
  );
}

export function gpuDetail(): Dashboard {
  const G = 'host="$host", gpu_uuid="$gpu"';
  return dashboard(
    DASHBOARDS.gpu,
    'One GPU: its MIG instances and vGPU instances (with the VMs that own them), processes and events.',
    [
      queryVariable('host', 'Host', 'label_values(gpufleet_gpu_info, host)'),
      queryVariable('gpu', 'GPU (UUID)', 'label_values(gpufleet_gpu_info{host="$host"}, gpu_uuid)'),
    ],
    [
      stat('Utilization', 'GPU utilization now.', { expr: `gpufleet_gpu_utilization_ratio{${G}}` }, { unit: 'percentunit' }),
      stat('Memory used', 'Framebuffer used / total now.', { expr: `gpufleet_gpu_memory_used_bytes{${G}} / gpufleet_gpu_memory_total_bytes{${G}}` }, {
        unit: 'percentunit',
        thresholds: [[null, 'green'], [0.9, 'orange'], [0.95, 'red']],
      }),
      stat('Temperature', 'Core temperature now.', { expr: `gpufleet_gpu_temperature_celsius{${G}}` }, {
        unit: 'celsius',
        thresholds: [[null, 'green'], [80, 'orange'], [85, 'red']],
      }),
      stat('Power', 'Power draw now.', { expr: `gpufleet_gpu_power_watts{${G}}` }, { unit: 'watt' }),
      stat('Xid errors (1 h)', 'Xid errors the driver logged for this GPU in the last hour.', {
        expr: `sum(increase(gpufleet_gpu_xid_errors_total{${G}}[1h])) or vector(0)`,
      }, { thresholds: [[null, 'green'], [1, 'red']] }),
      stat('MIG instances', 'MIG instances on this GPU (0: MIG off).', { expr: `count(gpufleet_mig_instance_info{${G}}) or vector(0)` }),
      topologyPanel(
        'Drill-down',
        'This GPU with its MIG / vGPU instances and the engines on it. Click the GPU for instance details (profiles, VMs, bars).',
        { host: '$host', gpu: '$gpu' },
        // This dashboard is the GPU link's target already.
        { size: { w: 24, h: 10 }, gpuLink: '' },
      ),
      sidecarTable('MIG and vGPU instances', 'The instances of this GPU as the sidecar sees them now.', {
        kind: 'gpu',
        filters: { host: '$host', gpu: '$gpu' },
      }, { size: { w: 24, h: 8 } }),
      row('MIG instances'),
      timeseries('MIG instance memory used', 'Memory used per MIG instance (nvidia-smi reports no per-instance utilization).', [
        {
          expr: `gpufleet_mig_memory_used_bytes{${G}} * on (host, gpu_uuid, mig_uuid) group_left (profile, gi_id) gpufleet_mig_instance_info{${G}}`,
          legend: '{{profile}} GI {{gi_id}}',
        },
      ], { unit: 'bytes', min: 0 }),
      timeseries('MIG instance memory use', 'Memory used / total per MIG instance.', [
        {
          expr:
            `gpufleet_mig_memory_used_bytes{${G}} / gpufleet_mig_memory_total_bytes{${G}} ` +
            `* on (host, gpu_uuid, mig_uuid) group_left (profile, gi_id) gpufleet_mig_instance_info{${G}}`,
          legend: '{{profile}} GI {{gi_id}}',
        },
      ], { unit: 'percentunit', min: 0, max: 1 }),
      row('vGPU instances'),
      timeseries('vGPU utilization', 'GPU time each VM\'s vGPU gets.', [
        {
          expr: `gpufleet_vgpu_utilization_ratio{${G}} * on (host, gpu_uuid, vgpu_id) group_left (vm_name, vgpu_type) gpufleet_vgpu_instance_info{${G}}`,
          legend: '{{vm_name}} · {{vgpu_type}}',
        },
      ], { unit: 'percentunit', min: 0, max: 1 }),
      timeseries('vGPU framebuffer used', 'Framebuffer each VM uses of its vGPU.', [
        {
          expr: `gpufleet_vgpu_framebuffer_used_bytes{${G}} * on (host, gpu_uuid, vgpu_id) group_left (vm_name, vgpu_type) gpufleet_vgpu_instance_info{${G}}`,
          legend: '{{vm_name}} · {{vgpu_type}}',
        },
      ], { unit: 'bytes', min: 0 }),
      row('Processes and engines'),
      sidecarTable('Processes', 'Compute processes on this GPU and its MIG instances, now.', { kind: 'processes', filters: { host: '$host', gpu: '$gpu' } }),
      promTable('Engines on this GPU', 'vLLM engine ranks on this GPU or its MIG instances.', [
        { expr: `gpufleet_engine_gpu{${G}} * on (host, engine_id) group_left (model) gpufleet_engine_info{host="$host"}` },
      ], { links: [engineRowLink], exclude: ['Value'] }),
      row('History'),
      timeseries('Utilization and memory', 'GPU utilization and memory use over time.', [
        { expr: `gpufleet_gpu_utilization_ratio{${G}}`, legend: 'utilization' },
        { expr: `gpufleet_gpu_memory_used_bytes{${G}} / gpufleet_gpu_memory_total_bytes{${G}}`, legend: 'memory' },
      ], { unit: 'percentunit', min: 0, max: 1 }),
      timeseries('Temperature and power', 'Core temperature (°C) and power (W).', [
        { expr: `gpufleet_gpu_temperature_celsius{${G}}`, legend: 'temperature °C' },
        { expr: `gpufleet_gpu_power_watts{${G}}`, legend: 'power W' },
      ], { unit: 'short' }),
    ],
    [sidecarEvents('$host')],
  );
}

function quantiles(metric: string, sel: string, legend: string) {
  return [0.5, 0.95, 0.99].map((q) => ({
    expr: `histogram_quantile(${q}, sum by (le) (rate(${metric}{${sel}}[$__rate_interval])))`,
    legend: `${legend} p${Math.round(q * 100)}`,
  }));
}

export function engineDetail(): Dashboard {
  const E = 'host="$host", engine_id="$engine"';
  return dashboard(
    DASHBOARDS.engine,
    'One vLLM engine: latency quantiles from its own histograms (scraped through the sidecar\'s service discovery), load and its GPUs.',
    [
      queryVariable('host', 'Host', 'label_values(gpufleet_engine_info, host)'),
      queryVariable('engine', 'Engine', 'label_values(gpufleet_engine_info{host="$host"}, engine_id)'),
    ],
    [
      stat('Up', 'Whether the engine answers /health.', { expr: `gpufleet_engine_up{${E}}` }, { thresholds: [[null, 'red'], [1, 'green']] }),
      stat('KV cache', 'KV-cache usage now.', { expr: `gpufleet_engine_kv_cache_usage_ratio{${E}}` }, {
        unit: 'percentunit',
        thresholds: [[null, 'green'], [0.8, 'orange'], [0.9, 'red']],
      }),
      stat('Running', 'Requests being processed now.', { expr: `gpufleet_engine_requests_running{${E}}` }),
      stat('Waiting', 'Requests queued now.', { expr: `gpufleet_engine_requests_waiting{${E}}` }, { thresholds: [[null, 'green'], [1, 'orange'], [20, 'red']] }),
      promTable('Engine', 'Model, version and how it is deployed.', [{ expr: `gpufleet_engine_info{${E}}` }], {
        size: { w: 8, h: 4 },
        exclude: ['Value', 'type'],
      }),
      row('Latency'),
      timeseries('Time to first token', 'p50 / p95 / p99 of the time until the first generated token.', quantiles('vllm:time_to_first_token_seconds_bucket', E, 'TTFT'), {
        unit: 's',
        size: { w: 8, h: 8 },
      }),
      timeseries('Inter-token latency', 'p50 / p95 / p99 between generated tokens (older vLLM: time per output token).', [0.5, 0.95, 0.99].map((q) => ({
        expr:
          `histogram_quantile(${q}, sum by (le) (rate(vllm:inter_token_latency_seconds_bucket{${E}}[$__rate_interval])) ` +
          `or sum by (le) (rate(vllm:time_per_output_token_seconds_bucket{${E}}[$__rate_interval])))`,
        legend: `ITL p${Math.round(q * 100)}`,
      })), { unit: 's', size: { w: 8, h: 8 } }),
      timeseries('End-to-end latency', 'p50 / p95 / p99 of whole requests.', quantiles('vllm:e2e_request_latency_seconds_bucket', E, 'e2e'), {
        unit: 's',
        size: { w: 8, h: 8 },
      }),
      row('Load'),
      timeseries('Tokens per second', 'Prompt and generated tokens per second.', [
        { expr: `gpufleet_engine_prompt_tokens_per_second{${E}}`, legend: 'prompt' },
        { expr: `gpufleet_engine_generation_tokens_per_second{${E}}`, legend: 'generation' },
      ], { unit: 'short', min: 0, size: { w: 8, h: 8 } }),
      timeseries('Running vs waiting', 'Requests being processed and queued.', [
        { expr: `gpufleet_engine_requests_running{${E}}`, legend: 'running' },
        { expr: `gpufleet_engine_requests_waiting{${E}}`, legend: 'waiting' },
      ], { unit: 'short', min: 0, size: { w: 8, h: 8 } }),
      timeseries('KV-cache usage', 'Share of the KV cache in use.', [{ expr: `gpufleet_engine_kv_cache_usage_ratio{${E}}`, legend: 'KV cache' }], {
        unit: 'percentunit',
        min: 0,
        max: 1,
        size: { w: 8, h: 8 },
      }),
      timeseries('Preemptions', 'Requests preempted per second (the KV cache ran out).', [
        { expr: `sum(rate(vllm:num_preemptions_total{${E}}[$__rate_interval]))`, legend: 'preemptions/s' },
      ], { unit: 'short', min: 0, size: { w: 8, h: 8 } }),
      row('GPUs'),
      promTable('The engine\'s GPUs', 'Each rank and the GPU / MIG instance it runs on.', [
        { expr: `gpufleet_engine_gpu{${E}} * on (host, gpu_uuid) group_left (name, gpu_index) gpufleet_gpu_info{host="$host"}` },
      ], { links: [gpuRowLink], exclude: ['Value'], size: { w: 12, h: 8 } }),
      topologyPanel('Topology', 'The engine, its ranks and their GPUs / MIG instances.', { host: '$host', engine: '$engine' }, { size: { w: 12, h: 8 }, engineLink: '' }),
    ],
    [sidecarEvents('$host')],
  );
}

export const ALL_DASHBOARDS = { fleet: fleetOverview, gpu: gpuDetail, engine: engineDetail } as const;
