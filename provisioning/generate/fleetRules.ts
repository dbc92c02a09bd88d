// Fleet recording rules (prometheus/rules/gpufleet-fleet.rules.yml): one series per host for the fleet
// dashboard's tiles, so a 1,000-host fleet answers with 1,000 rows per figure instead of every GPU, MIG
// slice and engine. Each rule aggregates `without` our own per-object labels, never `by (host)`: the
// labels an operator attaches by relabeling or external labels (cluster, rack, datacenter, job, instance)
// stay on the result, and the dashboard can group by any of them. Counts are zero-filled from
// gpufleet_host_info, so a host with no MIG slice (or no GPU at all) shows 0 instead of going missing.

/** Our labels on each family, the ones a per-host aggregation drops (contract in docs/ARCHITECTURE.md). */
export const OBJECT_LABELS = {
  hostInfo: ['version', 'driver_version', 'cuda_version'],
  gpu: ['gpu_uuid', 'gpu_index', 'name', 'pci_bus_id', 'mig_mode', 'vgpu_mode'],
  gpuValue: ['gpu_uuid', 'gpu_index'],
  mig: ['gpu_uuid', 'mig_uuid', 'gi_id', 'ci_id', 'profile'],
  vgpu: ['gpu_uuid', 'vgpu_id', 'vgpu_uuid', 'vgpu_type', 'vm_id', 'vm_name'],
  engine: ['engine_id', 'type', 'model', 'endpoint', 'deployment', 'version'],
  engineValue: ['engine_id'],
  capacityState: ['gpu_uuid', 'gpu_index', 'state'],
  migProfile: ['gpu_uuid', 'state'],
  model: ['model'],
} as const;

const without = (labels: readonly string[]) => `without (${labels.join(', ')})`;

/** Every host the fleet has, value 0, with the operator's labels: the zero fill. */
export const HOSTS_ZERO = `max ${without(OBJECT_LABELS.hostInfo)} (gpufleet_host_info) * 0`;

const zeroFilled = (expr: string) => `${expr}\nor\n${HOSTS_ZERO}`;

export interface RecordingRuleSpec {
  record: `gpufleet:host_${string}`;
  expr: string;
  /** One line for the README / ARCHITECTURE table. */
  what: string;
}

export const FLEET_RULES: readonly RecordingRuleSpec[] = [
  {
    record: 'gpufleet:host_gpus:count',
    expr: zeroFilled(`count ${without(OBJECT_LABELS.gpu)} (gpufleet_gpu_info)`),
    what: 'physical GPUs',
  },
  {
    record: 'gpufleet:host_gpus_free:count',
    // Free: MIG off, and nothing on it: no engine rank, no compute process, no vGPU instance. A GPU whose
    // sidecar predates gpufleet_gpu_processes counts as free when no engine or VM holds it.
    expr: zeroFilled(
      `count ${without(OBJECT_LABELS.gpu)} (\n` +
        '  gpufleet_gpu_info{mig_mode!="enabled"}\n' +
        '  unless on (host, gpu_uuid) gpufleet_engine_gpu\n' +
        '  unless on (host, gpu_uuid) (gpufleet_gpu_processes > 0)\n' +
        '  unless on (host, gpu_uuid) gpufleet_vgpu_instance_info\n' +
        ')',
    ),
    what: 'GPUs with MIG off and no engine rank, compute process or vGPU instance',
  },
  {
    record: 'gpufleet:host_mig_instances:count',
    expr: zeroFilled(`count ${without(OBJECT_LABELS.mig)} (gpufleet_mig_instance_info)`),
    what: 'MIG instances',
  },
  {
    record: 'gpufleet:host_mig_instances_free:count',
    expr: zeroFilled(`count ${without(OBJECT_LABELS.mig)} (gpufleet_mig_instance_info unless on (host, mig_uuid) gpufleet_engine_mig)`),
    what: 'MIG instances no engine rank runs on',
  },
  {
    record: 'gpufleet:host_vgpu_instances:count',
    expr: zeroFilled(`count ${without(OBJECT_LABELS.vgpu)} (gpufleet_vgpu_instance_info)`),
    what: 'vGPU instances (VMs)',
  },
  {
    record: 'gpufleet:host_engines:count',
    expr: zeroFilled(`count ${without(OBJECT_LABELS.engine)} (gpufleet_engine_info)`),
    what: 'LLM engines found',
  },
  {
    record: 'gpufleet:host_engines_up:count',
    expr: zeroFilled(`count ${without(OBJECT_LABELS.engineValue)} (gpufleet_engine_up == 1)`),
    what: 'engines answering /health',
  },
  {
    record: 'gpufleet:host_engines_busy:count',
    expr: zeroFilled(`count ${without(OBJECT_LABELS.engineValue)} (gpufleet_engine_busy == 1)`),
    what: 'engines above --busy-threshold KV-cache use',
  },
  {
    record: 'gpufleet:host_gpus_idle_held:count',
    expr: zeroFilled(`count ${without(OBJECT_LABELS.capacityState)} (gpufleet_gpu_capacity_state{state="idle-held"} == 1)`),
    what: 'GPUs held by an engine or process but idle for --idle-held-after (capacity model)',
  },
  {
    record: 'gpufleet:host_mig_profile_free:count',
    // Per profile, so not zero-filled from gpufleet_host_info (that series would have no profile): a host has a
    // row for each profile it has instances of (0 when all are used) and none without MIG instances.
    expr: `sum ${without(OBJECT_LABELS.migProfile)} (gpufleet_mig_profile_instances{state="free"})`,
    what: 'MIG instances with no compute process or engine rank, by `profile` (kept); no row for a host without MIG',
  },
  {
    record: 'gpufleet:host_models_all_busy:count',
    expr: zeroFilled(
      `count ${without(OBJECT_LABELS.model)} (\n  (gpufleet_model_engines_busy == gpufleet_model_engines)\n  and (gpufleet_model_engines > 0)\n)`,
    ),
    what: 'models every one of whose engines on the host is busy (a router would refuse them)',
  },
  {
    record: 'gpufleet:host_gpu_utilization:avg',
    // Not zero-filled: MIG GPUs report no utilization, and a host of MIG GPUs must read "no data", not idle.
    expr: `avg ${without(OBJECT_LABELS.gpuValue)} (gpufleet_gpu_utilization_ratio)`,
    what: 'mean utilization (0..1) of the GPUs that report one; absent when none does (MIG)',
  },
  {
    record: 'gpufleet:host_gpu_memory_used:ratio',
    // Not zero-filled either: a host without GPU memory has no ratio, and 0 would read as "empty".
    expr:
      `sum ${without(OBJECT_LABELS.gpuValue)} (gpufleet_gpu_memory_used_bytes)\n` +
      `/\n(sum ${without(OBJECT_LABELS.gpuValue)} (gpufleet_gpu_memory_total_bytes) > 0)`,
    what: 'framebuffer used / total over the host\'s GPUs; absent when the host reports none',
  },
  {
    record: 'gpufleet:host_alerts_firing:count',
    // Alerts carry different labels per rule (the TTFT rule's come from vLLM's series, the sidecar-down
    // rule has no host), so they are counted by host and joined back onto the host's own labels.
    expr: zeroFilled(
      `(${HOSTS_ZERO})\n+ on (host) group_left ()\ncount by (host) (ALERTS{alertstate="firing", source="gpufleet", host!=""})`,
    ),
    what: 'firing gpufleet alerts about the host',
  },
];

export const FLEET_GROUP = 'gpufleet fleet';

export function fleetRules(rules: readonly RecordingRuleSpec[] = FLEET_RULES) {
  return { groups: [{ name: FLEET_GROUP, rules: rules.map((r) => ({ record: r.record, expr: r.expr })) }] };
}
