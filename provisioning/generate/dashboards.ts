// The three provisioned dashboards. The fleet overview reads Prometheus only (the fleet recording rules for
// per-host figures, instant table queries for the topology), so it works for any number of hosts and on
// anything that speaks Prometheus' API. The GPU and Engine detail dashboards take several hosts too; the
// gpufleet sidecar data source stays for what only a live sidecar has (processes, events, the instance
// drill-down) and for installs without Prometheus. Links carry host / gpu / engine between them.
import type { AnnotationQuery, Dashboard, DashboardLink, VariableModel } from '@grafana/schema';
import { fleetCapacityRow, gpuCapacityRow } from './capacityPanels.js';
import { DASHBOARDS, DS, TAG } from './ids.js';
import {
  alertList,
  fleetTopologyPanel,
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
import { efficiencyRow, sloRow, sloVariables } from './sloPanels.js';

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
  o: { multi?: boolean; includeAll?: boolean; allValue?: string } = {},
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
    ...(o.includeAll ? { allValue: o.allValue ?? '.+' } : {}),
    options: [],
    // Empty: Grafana selects the first value it finds (or All) when the dashboard opens.
    current: o.includeAll ? { text: 'All', value: '$__all' } : { text: '', value: '' },
    hide: 0 as never,
  };
}

/** A fixed list of choices (the label hosts are grouped by: whichever ones the operator's relabeling sets). */
function customVariable(name: string, label: string, values: string[]): VariableModel {
  return {
    type: 'custom',
    name,
    label,
    query: values.join(','),
    multi: false,
    includeAll: false,
    options: values.map((v, i) => ({ text: v, value: v, selected: i === 0 })),
    current: { text: values[0] as string, value: values[0] as string },
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

/** Per-host rows from the recording rules: each rule one column, merged on the host's labels. */
const HOST_COLUMNS: Array<[string, string, string?]> = [
  ['gpufleet:host_gpus:count', 'GPUs'],
  ['gpufleet:host_gpus_free:count', 'Free GPUs'],
  ['gpufleet:host_mig_instances:count', 'MIG slices'],
  ['gpufleet:host_mig_instances_free:count', 'Free MIG slices'],
  ['gpufleet:host_vgpu_instances:count', 'vGPUs'],
  ['gpufleet:host_engines:count', 'Engines'],
  ['gpufleet:host_engines_up:count', 'Engines up'],
  ['gpufleet:host_engines_busy:count', 'Engines busy'],
  ['gpufleet:host_gpu_utilization:avg', 'Load', 'percentunit'],
  ['gpufleet:host_gpu_memory_used:ratio', 'Memory used', 'percentunit'],
  ['gpufleet:host_alerts_firing:count', 'Firing alerts'],
];

// Every label the operator may group hosts by; the fleet dashboard's `group` variable offers them.
const GROUP_LABELS = ['cluster', 'rack', 'datacenter', 'region', 'job'];

/**
 * The topology panel's queries: instant, Format Table (src/panels/topology/prometheus/contract.ts; README,
 * "Topology panel on Prometheus"). Few queries, because each costs about the same whatever it returns: the host
 * level after a click waited mostly on the answer to 37 small queries (one per family, 10 at a time like
 * Grafana's backend). The per-GPU and per-engine families share one query per join key (GPU and vGPU, MIG,
 * engine and edges), the panel reading each row's family from its `__name__`. The tiles keep one query per
 * family named by its refId: their rows carry no `__name__`, which would be half their bytes again at the
 * fleet level (1.0 → 1.5 MB on 1,000 hosts `typical`, over the 1 MB goal). Three levels, so no browser
 * receives the whole fleet's per-GPU rows:
 * - fleet: the per-host recording rules and gpufleet_host_info, `host=~"$host"`, one row per host and family
 *   with only the labels a tile uses;
 * - host: every family `{host="${host:raw}"}`; equality, so with All (or several hosts) it matches nothing;
 * - filtered: with $model or $engine set, the engines of that filter, their ranks and the GPUs and MIG
 *   instances they sit on, across the selected hosts.
 * A query is the host branch `or` the filtered branch: the same refId whichever level answers.
 * The level switch sits in every selector, not in a join: Prometheus evaluates both sides of `and` / `unless`,
 * so a switch joined on after the fact still costs the filtered branch's joins over the whole fleet (seconds
 * at 1,000 hosts). A selector that matches no series costs an index lookup, and a join with it nothing.
 * `or` keeps every row of its left side (it matches without `__name__`, but one side is always empty) and
 * `and` keeps its left side's rows, names included.
 */
// Raw: Grafana regex-escapes a multi-value variable's value, and `gpu1\\.example\\.com` would never equal a host
// name. With All (`.*`) or several hosts (`a,b`) the raw value names no host either.
const HOST_ONE = 'host="${host:raw}"';
// The level switch, a matcher on a label no series has (so its value is ""): `(?:$model)(?:$engine)` matches ""
// exactly when both are All (`.*`; a model or engine value never matches ""). `=~` keeps every series then and
// none under a filter; `!~` the reverse.
const FILTER_LABEL = 'gpufleet_filter';
const FILTER_VALUE = '(?:$model)(?:$engine)';
const NO_FILTER = `${FILTER_LABEL}=~"${FILTER_VALUE}"`;
const UNDER_FILTER = `${FILTER_LABEL}!~"${FILTER_VALUE}"`;
const F = `${H}, ${UNDER_FILTER}`;
const ENGINES_OF_FILTER = `gpufleet_engine_info{${F}, model=~"$model", engine_id=~"$engine"}`;
const RANKS_OF_FILTER = `(gpufleet_engine_gpu{${F}} and on (host, engine_id) ${ENGINES_OF_FILTER})`;
const MIG_RANKS_OF_FILTER = `(gpufleet_engine_mig{${F}} and on (host, engine_id) ${ENGINES_OF_FILTER})`;

/** How a family's filtered branch narrows it to the filter's engines: by engine, by the GPUs or MIG instances they use. */
type Scope = 'engine' | 'gpu' | 'mig';
const FILTERED: Record<Scope, (selector: string) => string> = {
  engine: (s) => `${s} and on (host, engine_id) ${ENGINES_OF_FILTER}`,
  gpu: (s) => `${s} and on (host, gpu_uuid) ${RANKS_OF_FILTER}`,
  mig: (s) => `${s} and on (host, mig_uuid) ${MIG_RANKS_OF_FILTER}`,
};

/** Fleet level: the contract's refId → recording rule (or the host info family). */
export const FLEET_TARGETS: Array<[string, string]> = [
  ['hosts', 'gpufleet_host_info'],
  ['host_gpus', 'gpufleet:host_gpus:count'],
  ['host_gpus_free', 'gpufleet:host_gpus_free:count'],
  ['host_mig', 'gpufleet:host_mig_instances:count'],
  ['host_mig_free', 'gpufleet:host_mig_instances_free:count'],
  ['host_vgpu', 'gpufleet:host_vgpu_instances:count'],
  ['host_engines', 'gpufleet:host_engines:count'],
  ['host_engines_up', 'gpufleet:host_engines_up:count'],
  ['host_engines_busy', 'gpufleet:host_engines_busy:count'],
  ['host_util', 'gpufleet:host_gpu_utilization:avg'],
  ['host_mem', 'gpufleet:host_gpu_memory_used:ratio'],
  ['host_alerts', 'gpufleet:host_alerts_firing:count'],
];

/** Host and filtered level: the contract's refId → family, and how the filter narrows it. */
export const DETAIL_TARGETS: Array<[string, string, Scope]> = [
  ['gpus', 'gpufleet_gpu_info', 'gpu'],
  ['gpu_util', 'gpufleet_gpu_utilization_ratio', 'gpu'],
  ['gpu_mem_used', 'gpufleet_gpu_memory_used_bytes', 'gpu'],
  ['gpu_mem_total', 'gpufleet_gpu_memory_total_bytes', 'gpu'],
  ['gpu_temp', 'gpufleet_gpu_temperature_celsius', 'gpu'],
  ['gpu_power', 'gpufleet_gpu_power_watts', 'gpu'],
  ['gpu_procs', 'gpufleet_gpu_processes', 'gpu'],
  // The capacity model's state per GPU (one series per state, the current one 1): the GPU's chip.
  ['gpu_capacity', 'gpufleet_gpu_capacity_state', 'gpu'],
  ['gpu_capacity_since', 'gpufleet_gpu_capacity_state_since_timestamp_seconds', 'gpu'],
  ['mig', 'gpufleet_mig_instance_info', 'mig'],
  ['mig_mem_used', 'gpufleet_mig_memory_used_bytes', 'mig'],
  ['mig_mem_total', 'gpufleet_mig_memory_total_bytes', 'mig'],
  // Engines do not run on vGPU instances: the filtered view keeps those of the filter's GPUs.
  ['vgpu', 'gpufleet_vgpu_instance_info', 'gpu'],
  ['vgpu_util', 'gpufleet_vgpu_utilization_ratio', 'gpu'],
  ['vgpu_fb_used', 'gpufleet_vgpu_framebuffer_used_bytes', 'gpu'],
  ['vgpu_fb_total', 'gpufleet_vgpu_framebuffer_total_bytes', 'gpu'],
  ['vgpu_active', 'gpufleet_vgpu_active', 'gpu'],
  ['engines', 'gpufleet_engine_info', 'engine'],
  ['engine_up', 'gpufleet_engine_up', 'engine'],
  ['engine_kv', 'gpufleet_engine_kv_cache_usage_ratio', 'engine'],
  ['engine_running', 'gpufleet_engine_requests_running', 'engine'],
  ['engine_waiting', 'gpufleet_engine_requests_waiting', 'engine'],
  ['engine_busy', 'gpufleet_engine_busy', 'engine'],
  ['edges_gpu', 'gpufleet_engine_gpu', 'engine'],
  ['edges_mig', 'gpufleet_engine_mig', 'engine'],
];

/**
 * The multi-family queries' refIds: none is a refId of the contract, so a row that lost its `__name__` is named
 * in a notice instead of being read as the family that refId means.
 */
const SCOPE_REFIDS: Record<Scope, string> = { gpu: 'gpu_families', mig: 'mig_families', engine: 'engine_families' };

/** `{__name__=~"a|b", …}`: the families' names hold only [a-z0-9_:], nothing to escape in a regex. */
const families = (names: string[], matchers: string) => `{__name__=~"${names.join('|')}", ${matchers}}`;

function topologyTargets(): Array<{ refId: string; expr: string }> {
  const scopes: Scope[] = ['gpu', 'mig', 'engine'];
  return [
    // Only the labels a tile uses (host, the grouping label, the sidecar's version): a third of the bytes of
    // the whole series on a large fleet. Without __name__ the refId says what each value is.
    ...FLEET_TARGETS.map(([refId, metric]) => ({
      refId,
      expr: `max by (host, $group${refId === 'hosts' ? ', version' : ''}) (${metric}{${H}})`,
    })),
    ...scopes.map((scope) => {
      const names = DETAIL_TARGETS.filter(([, , s]) => s === scope).map(([, metric]) => metric);
      return {
        refId: SCOPE_REFIDS[scope],
        expr: `${families(names, `${HOST_ONE}, ${NO_FILTER}`)} or (${FILTERED[scope](families(names, F))})`,
      };
    }),
  ];
}

const hostGpusLink: DataLinkSpec = {
  title: 'GPUs of ${__data.fields.host}',
  url: `/d/${DASHBOARDS.gpu.uid}/${DASHBOARDS.gpu.slug}?var-host=\${__data.fields.host}&var-gpu=$__all&\${__url_time_range}`,
};
const hostEnginesLink: DataLinkSpec = {
  title: 'Engines of ${__data.fields.host}',
  url: `/d/${DASHBOARDS.engine.uid}/${DASHBOARDS.engine.slug}?var-host=\${__data.fields.host}&var-engine=$__all&\${__url_time_range}`,
};

export function fleetOverview(): Dashboard {
  const total = (rule: string) => `sum(${rule}{${H}}) or vector(0)`;
  const perGroup = (agg: string, rule: string) => `${agg} by ($group) (${rule}{${H}})`;
  return dashboard(
    DASHBOARDS.fleet,
    'Every GPU host of the fleet, from Prometheus only (the recording rules of prometheus/rules/gpufleet-fleet.rules.yml): ' +
      'counts, free capacity, load and alerts per host and per group, and the engines → GPUs topology.',
    [
      customVariable('group', 'Group by', GROUP_LABELS),
      // All is `.*`, as for model and engine: the engine list below tells "every host" from a pick by it.
      queryVariable('host', 'Host', 'label_values(gpufleet_host_info, host)', { multi: true, includeAll: true, allValue: '.*' }),
      // `.*`: an engine whose model is unknown has no model label, and `.+` would leave it out.
      queryVariable('model', 'Model', 'label_values(gpufleet_engine_info{host=~"$host"}, model)', { multi: true, includeAll: true, allValue: '.*' }),
      // Model and engine at All (`.*`) is the fleet level: the topology panel shows host tiles only then.
      // The list is empty until a host or a model narrows it: a whole fleet's engine ids (56,000 on all-mig)
      // took seconds to list at every page open. The switch is FILTER_VALUE's: "" matches `(?:$host)(?:$model)`
      // only while both are All, and a picked name never matches "".
      queryVariable('engine', 'Engine', `label_values(gpufleet_engine_info{host=~"$host", model=~"$model", ${FILTER_LABEL}!~"(?:$host)(?:$model)"}, engine_id)`, {
        multi: true,
        includeAll: true,
        allValue: '.*',
      }),
      ...sloVariables(),
    ],
    [
      stat('GPUs', 'Physical GPUs of the selected hosts.', { expr: total('gpufleet:host_gpus:count') }, { size: { w: 3, h: 4 } }),
      stat('Free GPUs', 'GPUs with MIG off and no engine rank, compute process or vGPU instance.', { expr: total('gpufleet:host_gpus_free:count') }, {
        size: { w: 3, h: 4 },
      }),
      stat('MIG slices', 'MIG instances.', { expr: total('gpufleet:host_mig_instances:count') }, { size: { w: 3, h: 4 } }),
      stat('Free MIG slices', 'MIG instances no engine rank runs on.', { expr: total('gpufleet:host_mig_instances_free:count') }, { size: { w: 3, h: 4 } }),
      stat('vGPUs', 'vGPU instances attached to VMs.', { expr: total('gpufleet:host_vgpu_instances:count') }, { size: { w: 3, h: 4 } }),
      stat('Engines up', 'LLM engines answering /health.', { expr: total('gpufleet:host_engines_up:count') }, { size: { w: 3, h: 4 } }),
      stat('Load', 'Mean of the hosts\' mean GPU utilization (GPUs in MIG mode report none and are left out; no data when no GPU reports one).', {
        expr: `avg(gpufleet:host_gpu_utilization:avg{${H}})`,
      }, { unit: 'percentunit', size: { w: 3, h: 4 }, thresholds: [[null, 'green'], [0.6, 'orange'], [0.85, 'red']] }),
      stat('Firing alerts', 'gpufleet alerts firing about the selected hosts.', { expr: total('gpufleet:host_alerts_firing:count') }, {
        size: { w: 3, h: 4 },
        thresholds: [[null, 'green'], [1, 'red']],
      }),
      fleetTopologyPanel(
        'Topology',
        'Hosts as tiles from the recording rules; engines → ranks → GPUs → MIG / vGPU instances of the selected hosts and models. ' +
          'Every family is an instant table query on Prometheus.',
        topologyTargets(),
      ),
      promTable('Hosts', 'One row per host from the recording rules, with the labels your relabeling attached (cluster, rack, …).', HOST_COLUMNS.map(([rule]) => ({
        expr: `${rule}{${H}}`,
      })), {
        size: { w: 24, h: 10 },
        links: [hostGpusLink, hostEnginesLink],
        rename: Object.fromEntries(HOST_COLUMNS.map(([, name], i) => [`Value #${'ABCDEFGHIJ'[i] ?? `Q${i}`}`, name])),
        unit: Object.fromEntries(HOST_COLUMNS.filter(([, , unit]) => unit).map(([, name, unit]) => [name, unit as string])),
      }),
      row('Per group'),
      timeseries('Load per $group', 'Mean GPU utilization of the hosts of each group (hosts whose GPUs are all in MIG mode report none).', [
        { expr: perGroup('avg', 'gpufleet:host_gpu_utilization:avg'), legend: `{{$group}}` },
      ], { unit: 'percentunit', min: 0, max: 1, size: { w: 8, h: 8 } }),
      timeseries('Free GPUs per $group', 'Whole GPUs nothing runs on, per group.', [
        { expr: perGroup('sum', 'gpufleet:host_gpus_free:count'), legend: `{{$group}} GPUs` },
        { expr: perGroup('sum', 'gpufleet:host_mig_instances_free:count'), legend: `{{$group}} MIG slices` },
      ], { unit: 'short', min: 0, size: { w: 8, h: 8 } }),
      timeseries('Busy engines and firing alerts per $group', 'Engines above the KV-cache busy threshold, and firing gpufleet alerts.', [
        { expr: perGroup('sum', 'gpufleet:host_engines_busy:count'), legend: `{{$group}} busy engines` },
        { expr: perGroup('sum', 'gpufleet:host_alerts_firing:count'), legend: `{{$group}} alerts` },
      ], { unit: 'short', min: 0, size: { w: 8, h: 8 } }),
      ...fleetCapacityRow(),
      ...sloRow(),
      ...efficiencyRow(),
      row('Engines'),
      promTable('Engines', 'The engines of the selected hosts and models; Up is 1 when /health answers.', [
        { expr: `gpufleet_engine_up{${H}} * on (host, engine_id) group_left (model, type, deployment) gpufleet_engine_info{${H}, model=~"$model", engine_id=~"$engine"}` },
      ], { links: [engineRowLink], rename: { Value: 'Up' }, exclude: ['endpoint', 'version'], size: { w: 24, h: 8 } }),
      alertList('Firing gpufleet alerts', 'Alert rules of the gpufleet folder that are firing or pending.'),
    ],
    [],
  );
}

export function gpuDetail(): Dashboard {
  const G = 'host=~"$host", gpu_uuid=~"$gpu"';
  const gpuLegend = '{{host}} GPU {{gpu_index}}';
  return dashboard(
    DASHBOARDS.gpu,
    'GPUs of one or more hosts: figures, MIG instances and vGPU instances (with the VMs that own them) from Prometheus; ' +
      'the live drill-down, processes and events from the gpufleet sidecar data source (one host).',
    [
      queryVariable('host', 'Host', 'label_values(gpufleet_gpu_info, host)', { multi: true }),
      queryVariable('gpu', 'GPU (UUID)', 'label_values(gpufleet_gpu_info{host=~"$host"}, gpu_uuid)', { multi: true, includeAll: true }),
    ],
    [
      stat('Utilization', 'GPU utilization now (no data for GPUs in MIG mode: the driver reports none).', { expr: `gpufleet_gpu_utilization_ratio{${G}}`, legend: gpuLegend }, {
        unit: 'percentunit',
      }),
      stat('Memory used', 'Framebuffer used / total now.', { expr: `gpufleet_gpu_memory_used_bytes{${G}} / gpufleet_gpu_memory_total_bytes{${G}}`, legend: gpuLegend }, {
        unit: 'percentunit',
        thresholds: [[null, 'green'], [0.9, 'orange'], [0.95, 'red']],
      }),
      stat('Temperature', 'Core temperature now.', { expr: `gpufleet_gpu_temperature_celsius{${G}}`, legend: gpuLegend }, {
        unit: 'celsius',
        thresholds: [[null, 'green'], [80, 'orange'], [85, 'red']],
      }),
      stat('Power', 'Power draw now.', { expr: `gpufleet_gpu_power_watts{${G}}`, legend: gpuLegend }, { unit: 'watt' }),
      stat('Xid errors (1 h)', 'Xid errors the driver logged for these GPUs in the last hour.', {
        expr: `sum(increase(gpufleet_gpu_xid_errors_total{${G}}[1h])) or vector(0)`,
      }, { thresholds: [[null, 'green'], [1, 'red']] }),
      stat('MIG instances', 'MIG instances on these GPUs (0: MIG off).', { expr: `count(gpufleet_mig_instance_info{${G}}) or vector(0)` }),
      promTable('GPUs', 'The selected GPUs now. A GPU in MIG mode keeps its row with an empty utilization: the driver reports none.', [
        { expr: `gpufleet_gpu_info{${G}}` },
        { expr: `gpufleet_gpu_utilization_ratio{${G}}` },
        { expr: `gpufleet_gpu_memory_used_bytes{${G}} / gpufleet_gpu_memory_total_bytes{${G}}` },
        { expr: `gpufleet_gpu_processes{${G}}` },
      ], {
        size: { w: 24, h: 6 },
        exclude: ['Value #A', 'pci_bus_id'],
        rename: { 'Value #B': 'Utilization', 'Value #C': 'Memory used', 'Value #D': 'Processes' },
        unit: { Utilization: 'percentunit', 'Memory used': 'percentunit' },
      }),
      topologyPanel(
        'Drill-down',
        'The GPU with its MIG / vGPU instances and the engines on it, live from the gpufleet sidecar data source (the host it points at). ' +
          'Click the GPU for instance details (profiles, VMs, bars).',
        { host: '$host', gpu: '$gpu' },
        // This dashboard is the GPU link's target already.
        { size: { w: 24, h: 10 }, gpuLink: '' },
      ),
      sidecarTable('MIG and vGPU instances', 'The instances of the GPU as the sidecar sees them now.', {
        kind: 'gpu',
        filters: { host: '$host', gpu: '$gpu' },
      }, { size: { w: 24, h: 8 } }),
      ...gpuCapacityRow(G, 'host=~"$host"'),
      row('MIG instances'),
      timeseries('MIG instance memory used', 'Memory used per MIG instance (nvidia-smi reports no per-instance utilization).', [
        {
          expr: `gpufleet_mig_memory_used_bytes{${G}} * on (host, mig_uuid) group_left (profile, gi_id) gpufleet_mig_instance_info{${G}}`,
          legend: '{{host}} {{profile}} GI {{gi_id}}',
        },
      ], { unit: 'bytes', min: 0 }),
      timeseries('MIG instance memory use', 'Memory used / total per MIG instance.', [
        {
          expr:
            `gpufleet_mig_memory_used_bytes{${G}} / gpufleet_mig_memory_total_bytes{${G}} ` +
            `* on (host, mig_uuid) group_left (profile, gi_id) gpufleet_mig_instance_info{${G}}`,
          legend: '{{host}} {{profile}} GI {{gi_id}}',
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
      sidecarTable('Processes', 'Compute processes on the GPU and its MIG instances, now, from the sidecar data source.', {
        kind: 'processes',
        filters: { host: '$host', gpu: '$gpu' },
      }),
      promTable('Engines on these GPUs', 'vLLM engine ranks on these GPUs (a rank on a MIG instance counts on its GPU).', [
        { expr: `gpufleet_engine_gpu{${G}} * on (host, engine_id) group_left (model) gpufleet_engine_info{host=~"$host"}` },
      ], { links: [engineRowLink], exclude: ['Value'] }),
      promTable('Engines on MIG instances', 'vLLM engine ranks on the MIG instances of these GPUs, with the instance\'s profile.', [
        {
          expr:
            `gpufleet_engine_mig{${G}} * on (host, mig_uuid) group_left (profile, gi_id) gpufleet_mig_instance_info{${G}} ` +
            `* on (host, engine_id) group_left (model) gpufleet_engine_info{host=~"$host"}`,
        },
      ], { links: [engineRowLink], exclude: ['Value'], size: { w: 24, h: 6 } }),
      row('History'),
      timeseries('Utilization and memory', 'GPU utilization and memory use over time.', [
        { expr: `gpufleet_gpu_utilization_ratio{${G}}`, legend: `${gpuLegend} utilization` },
        { expr: `gpufleet_gpu_memory_used_bytes{${G}} / gpufleet_gpu_memory_total_bytes{${G}}`, legend: `${gpuLegend} memory` },
      ], { unit: 'percentunit', min: 0, max: 1, links: [gpuLink] }),
      timeseries('Temperature and power', 'Core temperature (°C) and power (W).', [
        { expr: `gpufleet_gpu_temperature_celsius{${G}}`, legend: `${gpuLegend} °C` },
        { expr: `gpufleet_gpu_power_watts{${G}}`, legend: `${gpuLegend} W` },
      ], { unit: 'short', links: [gpuLink] }),
    ],
    [sidecarEvents('$host')],
  );
}

function quantiles(metric: string, sel: string, legend: string) {
  return [0.5, 0.95, 0.99].map((q) => ({
    expr: `histogram_quantile(${q}, sum by (le, host, engine_id) (rate(${metric}{${sel}}[$__rate_interval])))`,
    legend: `{{engine_id}} ${legend} p${Math.round(q * 100)}`,
  }));
}

export function engineDetail(): Dashboard {
  const E = 'host=~"$host", engine_id=~"$engine"';
  return dashboard(
    DASHBOARDS.engine,
    'vLLM engines of one or more hosts: latency quantiles from their own histograms (scraped through the sidecar\'s service ' +
      'discovery), load and their GPUs / MIG instances.',
    [
      queryVariable('host', 'Host', 'label_values(gpufleet_engine_info, host)', { multi: true }),
      queryVariable('engine', 'Engine', 'label_values(gpufleet_engine_info{host=~"$host"}, engine_id)', { multi: true, includeAll: true }),
    ],
    [
      stat('Up', 'Whether the engine answers /health.', { expr: `gpufleet_engine_up{${E}}`, legend: '{{engine_id}}' }, { thresholds: [[null, 'red'], [1, 'green']] }),
      stat('KV cache', 'KV-cache usage now.', { expr: `gpufleet_engine_kv_cache_usage_ratio{${E}}`, legend: '{{engine_id}}' }, {
        unit: 'percentunit',
        thresholds: [[null, 'green'], [0.8, 'orange'], [0.9, 'red']],
      }),
      stat('Running', 'Requests being processed now.', { expr: `gpufleet_engine_requests_running{${E}}`, legend: '{{engine_id}}' }),
      stat('Waiting', 'Requests queued now.', { expr: `gpufleet_engine_requests_waiting{${E}}`, legend: '{{engine_id}}' }, { thresholds: [[null, 'green'], [1, 'orange'], [20, 'red']] }),
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
          `histogram_quantile(${q}, sum by (le, host, engine_id) (rate(vllm:inter_token_latency_seconds_bucket{${E}}[$__rate_interval])) ` +
          `or sum by (le, host, engine_id) (rate(vllm:time_per_output_token_seconds_bucket{${E}}[$__rate_interval])))`,
        legend: `{{engine_id}} ITL p${Math.round(q * 100)}`,
      })), { unit: 's', size: { w: 8, h: 8 } }),
      timeseries('End-to-end latency', 'p50 / p95 / p99 of whole requests.', quantiles('vllm:e2e_request_latency_seconds_bucket', E, 'e2e'), {
        unit: 's',
        size: { w: 8, h: 8 },
      }),
      row('Load'),
      timeseries('Tokens per second', 'Prompt and generated tokens per second.', [
        { expr: `gpufleet_engine_prompt_tokens_per_second{${E}}`, legend: '{{engine_id}} prompt' },
        { expr: `gpufleet_engine_generation_tokens_per_second{${E}}`, legend: '{{engine_id}} generation' },
      ], { unit: 'short', min: 0, size: { w: 8, h: 8 } }),
      timeseries('Running vs waiting', 'Requests being processed and queued.', [
        { expr: `gpufleet_engine_requests_running{${E}}`, legend: '{{engine_id}} running' },
        { expr: `gpufleet_engine_requests_waiting{${E}}`, legend: '{{engine_id}} waiting' },
      ], { unit: 'short', min: 0, size: { w: 8, h: 8 } }),
      timeseries('KV-cache usage', 'Share of the KV cache in use: the engine (its fullest data-parallel rank) and each rank by its global DP rank.', [
        { expr: `gpufleet_engine_kv_cache_usage_ratio{${E}}`, legend: '{{engine_id}}' },
        { expr: `gpufleet_engine_rank_kv_cache_usage_ratio{${E}} and on (host, engine_id) (count by (host, engine_id) (gpufleet_engine_rank_kv_cache_usage_ratio{${E}}) > 1)`, legend: '{{engine_id}} rank {{rank}}' },
      ], {
        unit: 'percentunit',
        min: 0,
        max: 1,
        size: { w: 8, h: 8 },
      }),
      timeseries('Preemptions', 'Requests preempted per second (the KV cache ran out).', [
        { expr: `sum by (host, engine_id) (rate(vllm:num_preemptions_total{${E}}[$__rate_interval]))`, legend: '{{engine_id}}' },
      ], { unit: 'short', min: 0, size: { w: 8, h: 8 } }),
      row('GPUs'),
      promTable('GPUs', 'Each rank and the physical GPU it runs on (for a rank on a MIG instance: the instance\'s GPU).', [
        { expr: `gpufleet_engine_gpu{${E}} * on (host, gpu_uuid) group_left (name, gpu_index) gpufleet_gpu_info{host=~"$host"}` },
      ], { links: [gpuRowLink], exclude: ['Value'], size: { w: 12, h: 8 } }),
      promTable('MIG instances', 'Each rank on a MIG instance, with the instance\'s profile.', [
        { expr: `gpufleet_engine_mig{${E}} * on (host, mig_uuid) group_left (profile, gi_id) gpufleet_mig_instance_info{host=~"$host"}` },
      ], { links: [gpuRowLink], exclude: ['Value'], size: { w: 12, h: 8 } }),
      topologyPanel('Topology', 'The engine, its ranks and their GPUs / MIG instances.', { host: '$host', engine: '$engine' }, { size: { w: 24, h: 8 }, engineLink: '' }),
    ],
    [sidecarEvents('$host')],
  );
}

export const ALL_DASHBOARDS = { fleet: fleetOverview, gpu: gpuDetail, engine: engineDetail } as const;
