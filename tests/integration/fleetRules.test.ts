// The fleet recording rules (prometheus/rules/gpufleet-fleet.rules.yml) on a small hand-made fleet, with
// Debian's promtool evaluating them: one series per host for every rule, the operator's labels (job,
// instance, cluster, rack) kept, counts zero-filled so no host goes missing, and utilization absent, not 0,
// where no GPU reports one.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ROOT } from './harness.js';
import { promtool, promtoolTestRules } from './promtool.js';

const RULE_FILE = join(ROOT, 'prometheus/rules/gpufleet-fleet.rules.yml');
const records: string[] = parse(readFileSync(RULE_FILE, 'utf8')).groups.flatMap((g: any) => g.rules.map((r: any) => r.record));

// What an operator's relabeling attaches to every series of a host.
const HOSTS: Record<string, Record<string, string>> = {
  'gpu-whole': { cluster: 'east', rack: 'r1' },
  'gpu-mig': { cluster: 'east', rack: 'r2' },
  'gpu-vgpu': { cluster: 'west', rack: 'r1' },
  'no-gpus': { cluster: 'west', rack: 'r3' },
};

const hostLabels = (host: string) => ({ host, job: 'gpufleet-sidecar', instance: `${host}:9740`, ...HOSTS[host] });

const selector = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}}`;

/** A series of `host` with the operator's labels, constant over the test. */
const s = (host: string, name: string, labels: Record<string, string>, value: number | string = 1): [string, string] =>
  [selector(name, { ...hostLabels(host), ...labels }), `${value}x5`];

const gpu = (host: string, uuid: string, index: number, mig: 'enabled' | 'disabled', vgpu: 'none' | 'sriov') =>
  s(host, 'gpufleet_gpu_info', { gpu_uuid: uuid, gpu_index: String(index), name: 'NVIDIA H100 80GB HBM3', pci_bus_id: `0000:0${index}:00.0`, mig_mode: mig, vgpu_mode: vgpu });
const gpuValue = (host: string, name: string, uuid: string, index: number, value: number) =>
  s(host, name, { gpu_uuid: uuid, gpu_index: String(index) }, value);
const GB = 1e9;

const SERIES: Array<[string, string]> = [
  ...Object.keys(HOSTS).map((h) => s(h, 'gpufleet_host_info', { version: '0.1.0', driver_version: '550.54.15', cuda_version: '12.4' })),

  // Whole GPUs: w0 runs an engine rank, w1 a process outside any engine, w2 nothing (free).
  ...[0, 1, 2].map((i) => gpu('gpu-whole', `GPU-w${i}`, i, 'disabled', 'none')),
  ...([[0, 0.5, 40], [1, 0.25, 20], [2, 0, 0]] as const).flatMap(([i, util, mem]) => [
    gpuValue('gpu-whole', 'gpufleet_gpu_utilization_ratio', `GPU-w${i}`, i, util),
    gpuValue('gpu-whole', 'gpufleet_gpu_memory_used_bytes', `GPU-w${i}`, i, mem * GB),
    gpuValue('gpu-whole', 'gpufleet_gpu_memory_total_bytes', `GPU-w${i}`, i, 80 * GB),
    gpuValue('gpu-whole', 'gpufleet_gpu_processes', `GPU-w${i}`, i, i < 2 ? 1 : 0),
  ]),
  s('gpu-whole', 'gpufleet_engine_info', { engine_id: 'gpu-whole:8000', type: 'vllm', model: 'm', endpoint: 'http://127.0.0.1:8000', deployment: 'process', version: '0.9' }),
  s('gpu-whole', 'gpufleet_engine_up', { engine_id: 'gpu-whole:8000' }),
  s('gpu-whole', 'gpufleet_engine_busy', { engine_id: 'gpu-whole:8000' }),
  s('gpu-whole', 'gpufleet_engine_gpu', { engine_id: 'gpu-whole:8000', rank: '0', gpu_uuid: 'GPU-w0' }),
  // A second engine that stopped answering: found, not up, and no load series.
  s('gpu-whole', 'gpufleet_engine_info', { engine_id: 'gpu-whole:8001', type: 'vllm', model: 'm', endpoint: 'http://127.0.0.1:8001', deployment: 'process', version: '0.9' }),
  s('gpu-whole', 'gpufleet_engine_up', { engine_id: 'gpu-whole:8001' }, 0),

  // One MIG GPU in two slices, an engine on slice a; the driver reports no utilization under MIG.
  gpu('gpu-mig', 'GPU-m0', 0, 'enabled', 'none'),
  gpuValue('gpu-mig', 'gpufleet_gpu_memory_used_bytes', 'GPU-m0', 0, 10 * GB),
  gpuValue('gpu-mig', 'gpufleet_gpu_memory_total_bytes', 'GPU-m0', 0, 80 * GB),
  gpuValue('gpu-mig', 'gpufleet_gpu_processes', 'GPU-m0', 0, 1),
  ...['a', 'b'].map((m, i) => s('gpu-mig', 'gpufleet_mig_instance_info', { gpu_uuid: 'GPU-m0', mig_uuid: `MIG-${m}`, gi_id: String(i + 1), ci_id: '0', profile: '3g.40gb' })),
  s('gpu-mig', 'gpufleet_engine_info', { engine_id: 'gpu-mig:8000', type: 'vllm', model: 'm', endpoint: 'http://127.0.0.1:8000', deployment: 'process', version: '0.9' }),
  s('gpu-mig', 'gpufleet_engine_up', { engine_id: 'gpu-mig:8000' }),
  s('gpu-mig', 'gpufleet_engine_busy', { engine_id: 'gpu-mig:8000' }, 0),
  s('gpu-mig', 'gpufleet_engine_gpu', { engine_id: 'gpu-mig:8000', rank: '0', gpu_uuid: 'GPU-m0' }),
  s('gpu-mig', 'gpufleet_engine_mig', { engine_id: 'gpu-mig:8000', rank: '0', gpu_uuid: 'GPU-m0', mig_uuid: 'MIG-a' }),

  // vGPU host: v0 hands a vGPU to a VM (held), v1 has none (free).
  ...[0, 1].map((i) => gpu('gpu-vgpu', `GPU-v${i}`, i, 'disabled', 'sriov')),
  ...([[0, 0.8], [1, 0]] as const).flatMap(([i, util]) => [
    gpuValue('gpu-vgpu', 'gpufleet_gpu_utilization_ratio', `GPU-v${i}`, i, util),
    gpuValue('gpu-vgpu', 'gpufleet_gpu_memory_used_bytes', `GPU-v${i}`, i, i === 0 ? 80 * GB : 0),
    gpuValue('gpu-vgpu', 'gpufleet_gpu_memory_total_bytes', `GPU-v${i}`, i, 80 * GB),
    gpuValue('gpu-vgpu', 'gpufleet_gpu_processes', `GPU-v${i}`, i, 0),
  ]),
  s('gpu-vgpu', 'gpufleet_vgpu_instance_info', { gpu_uuid: 'GPU-v0', vgpu_id: '1', vgpu_uuid: 'u-1', vgpu_type: 'H100XM-80C', vm_id: 'vm-1', vm_name: 'tenant' }),

  // Capacity (what the sidecar's capacity model exports): w0 busy, w1 idle-held, w2 free; m0 busy; the vGPU
  // host's GPUs busy. A series per state, 1 for the current one.
  ...([['gpu-whole', 'GPU-w0', 0, 'busy'], ['gpu-whole', 'GPU-w1', 1, 'idle-held'], ['gpu-whole', 'GPU-w2', 2, 'free'], ['gpu-mig', 'GPU-m0', 0, 'busy'],
    ['gpu-vgpu', 'GPU-v0', 0, 'busy'], ['gpu-vgpu', 'GPU-v1', 1, 'free']] as const).flatMap(([host, uuid, index, state]) =>
    ['free', 'idle-held', 'busy', 'unavailable'].map((st) =>
      s(host, 'gpufleet_gpu_capacity_state', { gpu_uuid: uuid, gpu_index: String(index), state: st }, st === state ? 1 : 0))),
  // MIG slices by profile on a second MIG GPU of the MIG host's model: 3g.40gb one free one used; 1g.10gb all used.
  ...([['3g.40gb', 'free', 1], ['3g.40gb', 'used', 1], ['1g.10gb', 'free', 0], ['1g.10gb', 'used', 2]] as const).map(([profile, state, n]) =>
    s('gpu-mig', 'gpufleet_mig_profile_instances', { gpu_uuid: 'GPU-m0', profile, state }, n)),
  s('gpu-mig', 'gpufleet_mig_profile_instances', { gpu_uuid: 'GPU-m1', profile: '3g.40gb', state: 'free' }, 2),
  // Models: on gpu-whole, m's one up engine is busy (all busy) and n has no engine up (not "all busy");
  // on gpu-mig, m has one engine, not busy.
  s('gpu-whole', 'gpufleet_model_engines', { model: 'm' }, 1),
  s('gpu-whole', 'gpufleet_model_engines_busy', { model: 'm' }, 1),
  s('gpu-whole', 'gpufleet_model_engines', { model: 'n' }, 0),
  s('gpu-whole', 'gpufleet_model_engines_busy', { model: 'n' }, 0),
  s('gpu-mig', 'gpufleet_model_engines', { model: 'm' }, 1),
  s('gpu-mig', 'gpufleet_model_engines_busy', { model: 'm' }, 0),

  // Alerts as Prometheus records them: firing ones about a host count, pending ones and host-less ones not.
  [selector('ALERTS', { alertname: 'GpuTemperatureHigh', alertstate: 'firing', severity: 'warning', source: 'gpufleet', ...hostLabels('gpu-whole'), gpu_uuid: 'GPU-w0', gpu_index: '0' }), '1x5'],
  // The TTFT rule aggregates vLLM's series: only host, engine_id and model are left on its alerts.
  [selector('ALERTS', { alertname: 'EngineTimeToFirstTokenHigh', alertstate: 'firing', severity: 'warning', source: 'gpufleet', host: 'gpu-mig', engine_id: 'gpu-mig:8000', model: 'm' }), '1x5'],
  [selector('ALERTS', { alertname: 'EngineKvCacheHigh', alertstate: 'pending', severity: 'warning', source: 'gpufleet', ...hostLabels('gpu-vgpu'), engine_id: 'x' }), '1x5'],
  [selector('ALERTS', { alertname: 'GpufleetSidecarDown', alertstate: 'firing', severity: 'critical', source: 'gpufleet', job: 'gpufleet-sidecar', instance: 'gone:9740' }), '1x5'],
];

// Per rule, per host: the value, or null where the host must have no series.
const EXPECTED: Record<string, Record<string, number | null>> = {
  'gpufleet:host_gpus:count': { 'gpu-whole': 3, 'gpu-mig': 1, 'gpu-vgpu': 2, 'no-gpus': 0 },
  'gpufleet:host_gpus_free:count': { 'gpu-whole': 1, 'gpu-mig': 0, 'gpu-vgpu': 1, 'no-gpus': 0 },
  'gpufleet:host_mig_instances:count': { 'gpu-whole': 0, 'gpu-mig': 2, 'gpu-vgpu': 0, 'no-gpus': 0 },
  'gpufleet:host_mig_instances_free:count': { 'gpu-whole': 0, 'gpu-mig': 1, 'gpu-vgpu': 0, 'no-gpus': 0 },
  'gpufleet:host_vgpu_instances:count': { 'gpu-whole': 0, 'gpu-mig': 0, 'gpu-vgpu': 1, 'no-gpus': 0 },
  'gpufleet:host_engines:count': { 'gpu-whole': 2, 'gpu-mig': 1, 'gpu-vgpu': 0, 'no-gpus': 0 },
  'gpufleet:host_engines_up:count': { 'gpu-whole': 1, 'gpu-mig': 1, 'gpu-vgpu': 0, 'no-gpus': 0 },
  'gpufleet:host_engines_busy:count': { 'gpu-whole': 1, 'gpu-mig': 0, 'gpu-vgpu': 0, 'no-gpus': 0 },
  'gpufleet:host_gpus_idle_held:count': { 'gpu-whole': 1, 'gpu-mig': 0, 'gpu-vgpu': 0, 'no-gpus': 0 },
  'gpufleet:host_models_all_busy:count': { 'gpu-whole': 1, 'gpu-mig': 0, 'gpu-vgpu': 0, 'no-gpus': 0 },
  'gpufleet:host_gpu_utilization:avg': { 'gpu-whole': 0.25, 'gpu-mig': null, 'gpu-vgpu': 0.4, 'no-gpus': null },
  'gpufleet:host_gpu_memory_used:ratio': { 'gpu-whole': 0.25, 'gpu-mig': 0.125, 'gpu-vgpu': 0.5, 'no-gpus': null },
  'gpufleet:host_alerts_firing:count': { 'gpu-whole': 1, 'gpu-mig': 1, 'gpu-vgpu': 0, 'no-gpus': 0 },
};

// Per host and profile (the profile label is kept; hosts without MIG instances have no row).
const EXPECTED_BY_PROFILE: Record<string, Record<string, Record<string, number>>> = {
  'gpufleet:host_mig_profile_free:count': { 'gpu-mig': { '3g.40gb': 3, '1g.10gb': 0 } },
};

function testFile(): string {
  return stringify({
    rule_files: [RULE_FILE],
    evaluation_interval: '1m',
    tests: [{
      name: 'fleet recording rules',
      interval: '1m',
      input_series: SERIES.map(([series, values]) => ({ series, values })),
      promql_expr_test: Object.entries(EXPECTED).map(([record, perHost]) => ({
        expr: record,
        eval_time: '2m',
        exp_samples: Object.entries(perHost)
          .filter(([, v]) => v !== null)
          .map(([host, value]) => ({ labels: selector(record, hostLabels(host)), value })),
      })).concat(Object.entries(EXPECTED_BY_PROFILE).map(([record, perHost]) => ({
        expr: record,
        eval_time: '2m',
        exp_samples: Object.entries(perHost).flatMap(([host, perProfile]) =>
          Object.entries(perProfile).map(([profile, value]) => ({ labels: selector(record, { ...hostLabels(host), profile }), value }))),
      }))),
    }],
  });
}

describe('fleet recording rules (promtool)', () => {
  it('the rule file is valid and holds exactly the contract\'s rules', () => {
    expect(promtool(['check', 'rules', RULE_FILE])).toMatch(new RegExp(`SUCCESS: ${records.length} rules found`));
    expect([...records].sort()).toEqual([...Object.keys(EXPECTED), ...Object.keys(EXPECTED_BY_PROFILE)].sort());
  });

  it('give one series per host with its operator labels: whole-GPU, MIG, vGPU and GPU-less hosts, free and held GPUs and slices', () => {
    expect(promtoolTestRules(testFile())).toMatch(/SUCCESS/);
  });
});
