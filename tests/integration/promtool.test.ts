// The Prometheus side with Debian's promtool: prometheus.yml and the rule file are valid, and every rule
// fires on series that cross its threshold long enough and stays quiet on ones that don't
// (`promtool test rules`, its own rule evaluator with `for` and templates).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ROOT } from './harness.js';
import { promtool, promtoolTestRules } from './promtool.js';

const RULE_FILE = join(ROOT, 'prometheus/rules/gpufleet.rules.yml');
// The SLO alert reads the SLO recording rules, so the unit tests load both files.
const SLO_FILE = join(ROOT, 'prometheus/rules/gpufleet-slo.rules.yml');

interface Expected {
  labels: Record<string, string>;
  /** `{{ $value | … }}` as the rule's template prints it. */
  value: string;
}

interface Case {
  alert: string;
  series: Array<[string, string]>;
  /** [eval time, alerts firing then]; [] = quiet. */
  checks: Array<[string, Expected[]]>;
}

const H = 'host="h1"';
/** vLLM's labels as scraped through the sidecar's service discovery (`engine` is vLLM's DP rank). */
const VLLM = 'job="vllm-engines",host="h1",model="m",engine="0",model_name="m"';
const CASES: Case[] = [
  {
    alert: 'GpuTemperatureHigh',
    series: [
      [`gpufleet_gpu_temperature_celsius{${H},gpu_uuid="GPU-a",gpu_index="0"}`, '70 70 90x12'],
      [`gpufleet_gpu_temperature_celsius{${H},gpu_uuid="GPU-b",gpu_index="1"}`, '60x14'],
    ],
    // Hot from minute 2: pending at 4, firing from 7.
    checks: [['4m', []], ['8m', [{ labels: { host: 'h1', gpu_uuid: 'GPU-a', gpu_index: '0' }, value: '90' }]]],
  },
  {
    alert: 'GpuMemoryNearlyFull',
    series: [
      [`gpufleet_gpu_memory_used_bytes{${H},gpu_uuid="GPU-a",gpu_index="0"}`, '78000000000x15'],
      [`gpufleet_gpu_memory_total_bytes{${H},gpu_uuid="GPU-a",gpu_index="0"}`, '80000000000x15'],
      [`gpufleet_gpu_info{${H},gpu_uuid="GPU-a",gpu_index="0",name="H100",pci_bus_id="0",mig_mode="disabled",vgpu_mode="none"}`, '1x15'],
      // A vGPU host hands all its framebuffer to VMs: full, and not an alert.
      [`gpufleet_gpu_memory_used_bytes{${H},gpu_uuid="GPU-v",gpu_index="1"}`, '79900000000x15'],
      [`gpufleet_gpu_memory_total_bytes{${H},gpu_uuid="GPU-v",gpu_index="1"}`, '80000000000x15'],
      [`gpufleet_gpu_info{${H},gpu_uuid="GPU-v",gpu_index="1",name="H100",pci_bus_id="1",mig_mode="disabled",vgpu_mode="sriov"}`, '1x15'],
      [`gpufleet_gpu_memory_used_bytes{${H},gpu_uuid="GPU-b",gpu_index="2"}`, '40000000000x15'],
      [`gpufleet_gpu_memory_total_bytes{${H},gpu_uuid="GPU-b",gpu_index="2"}`, '80000000000x15'],
      [`gpufleet_gpu_info{${H},gpu_uuid="GPU-b",gpu_index="2",name="H100",pci_bus_id="2",mig_mode="disabled",vgpu_mode="none"}`, '1x15'],
    ],
    checks: [['5m', []], ['12m', [{ labels: { host: 'h1', gpu_uuid: 'GPU-a', gpu_index: '0' }, value: '97.5%' }]]],
  },
  {
    alert: 'GpuXidErrors',
    series: [
      // A new series (first Xid 79 of this GPU) appears at minute 15 already at 1.
      [`gpufleet_gpu_xid_errors_total{${H},gpu_uuid="GPU-a",gpu_index="0",xid="79"}`, '_x15 1x20'],
      // A known series whose count grows at minute 20.
      [`gpufleet_gpu_xid_errors_total{${H},gpu_uuid="GPU-b",gpu_index="1",xid="48"}`, '2x19 3x16'],
    ],
    checks: [
      ['10m', []],
      ['16m', [{ labels: { host: 'h1', gpu_uuid: 'GPU-a', gpu_index: '0', xid: '79' }, value: '1' }]],
      // GPU-a's Xid is still within the ten minutes.
      ['22m', [
        { labels: { host: 'h1', gpu_uuid: 'GPU-a', gpu_index: '0', xid: '79' }, value: '1' },
        { labels: { host: 'h1', gpu_uuid: 'GPU-b', gpu_index: '1', xid: '48' }, value: '1' },
      ]],
      // Ten minutes on, nothing new: quiet again.
      ['34m', []],
    ],
  },
  {
    alert: 'GpuLost',
    series: [
      [`gpufleet_gpu_lost{${H},gpu_uuid="GPU-a",gpu_index="2",name="H100"}`, '_x3 1x5'],
      [`gpufleet_gpu_lost{${H},gpu_uuid="GPU-b",gpu_index="3",name="H100"}`, '0x8'],
    ],
    checks: [['2m', []], ['4m', [{ labels: { host: 'h1', gpu_uuid: 'GPU-a', gpu_index: '2', name: 'H100' }, value: '1' }]]],
  },
  {
    alert: 'VgpuInstanceSaturated',
    series: [
      [`gpufleet_vgpu_utilization_ratio{${H},gpu_uuid="GPU-a",vgpu_id="1"}`, '0.99x15'],
      [`gpufleet_vgpu_instance_info{${H},gpu_uuid="GPU-a",vgpu_id="1",vgpu_uuid="u1",vgpu_type="H100XM-40C",vm_id="vm-1",vm_name="tenant-hog"}`, '1x15'],
      [`gpufleet_vgpu_utilization_ratio{${H},gpu_uuid="GPU-a",vgpu_id="2"}`, '0.4x15'],
      [`gpufleet_vgpu_instance_info{${H},gpu_uuid="GPU-a",vgpu_id="2",vgpu_uuid="u2",vgpu_type="H100XM-40C",vm_id="vm-2",vm_name="tenant-quiet"}`, '1x15'],
    ],
    checks: [
      ['5m', []],
      ['12m', [{ labels: { host: 'h1', gpu_uuid: 'GPU-a', vgpu_id: '1', vgpu_type: 'H100XM-40C', vm_id: 'vm-1', vm_name: 'tenant-hog' }, value: '99%' }]],
    ],
  },
  {
    alert: 'MigInstanceMemoryNearlyFull',
    series: [
      [`gpufleet_mig_memory_used_bytes{${H},gpu_uuid="GPU-a",mig_uuid="MIG-1"}`, '9900000000x15'],
      [`gpufleet_mig_memory_total_bytes{${H},gpu_uuid="GPU-a",mig_uuid="MIG-1"}`, '10000000000x15'],
      [`gpufleet_mig_instance_info{${H},gpu_uuid="GPU-a",mig_uuid="MIG-1",gi_id="9",ci_id="0",profile="1g.10gb"}`, '1x15'],
      [`gpufleet_mig_memory_used_bytes{${H},gpu_uuid="GPU-a",mig_uuid="MIG-2"}`, '9000000000x15'],
      [`gpufleet_mig_memory_total_bytes{${H},gpu_uuid="GPU-a",mig_uuid="MIG-2"}`, '10000000000x15'],
      [`gpufleet_mig_instance_info{${H},gpu_uuid="GPU-a",mig_uuid="MIG-2",gi_id="10",ci_id="0",profile="1g.10gb"}`, '1x15'],
    ],
    checks: [['12m', [{ labels: { host: 'h1', gpu_uuid: 'GPU-a', mig_uuid: 'MIG-1', gi_id: '9', profile: '1g.10gb' }, value: '99%' }]]],
  },
  {
    alert: 'EngineDown',
    series: [
      [`gpufleet_engine_up{${H},engine_id="h1:8001"}`, '1 1 0x10'],
      [`gpufleet_engine_up{${H},engine_id="h1:8002"}`, '1x12'],
    ],
    // A one-minute blip (a restart) does not page.
    checks: [['3m', []], ['5m', [{ labels: { host: 'h1', engine_id: 'h1:8001' }, value: '0' }]]],
  },
  {
    alert: 'EngineKvCacheHigh',
    series: [
      [`gpufleet_engine_kv_cache_usage_ratio{${H},engine_id="h1:8001"}`, '0.95x15'],
      [`gpufleet_engine_kv_cache_usage_ratio{${H},engine_id="h1:8002"}`, '0.85x15'],
    ],
    checks: [['3m', []], ['7m', [{ labels: { host: 'h1', engine_id: 'h1:8001' }, value: '95%' }]]],
  },
  {
    alert: 'EngineRequestsWaiting',
    series: [
      [`gpufleet_engine_requests_waiting{${H},engine_id="h1:8001"}`, '30x15'],
      [`gpufleet_engine_requests_waiting{${H},engine_id="h1:8002"}`, '5x15'],
    ],
    checks: [['5m', []], ['11m', [{ labels: { host: 'h1', engine_id: 'h1:8001' }, value: '30' }]]],
  },
  {
    alert: 'EngineTimeToFirstTokenHigh',
    series: [
      // Ten requests a minute, all with a first token between 2.5 and 5 s: p95 interpolates to 4.875 s.
      ...['1', '2.5'].map((le): [string, string] => [`vllm:time_to_first_token_seconds_bucket{job="vllm-engines",${H},engine_id="h1:8001",model="m",engine="0",le="${le}"}`, '0x20']),
      ...['5', '+Inf'].map((le): [string, string] => [`vllm:time_to_first_token_seconds_bucket{job="vllm-engines",${H},engine_id="h1:8001",model="m",engine="0",le="${le}"}`, '0+10x20']),
      // A healthy engine: everything under 0.5 s.
      ...['0.5', '1', '2.5', '5', '+Inf'].map((le): [string, string] => [`vllm:time_to_first_token_seconds_bucket{job="vllm-engines",${H},engine_id="h1:8002",model="m",engine="0",le="${le}"}`, '0+10x20']),
    ],
    checks: [['12m', [{ labels: { host: 'h1', engine_id: 'h1:8001', model: 'm' }, value: '4.875s' }]]],
  },
  {
    alert: 'EngineSloAttainmentLow',
    series: [
      // Through the SLO recording rules: thirty requests a minute, half of them with a first token within
      // 2.5 s (the default threshold): 50 % against a 90 % target.
      ...['1.0', '2.5'].map((le): [string, string] => [`vllm:time_to_first_token_seconds_bucket{${VLLM},engine_id="h1:8001",le="${le}"}`, '0+15x30']),
      ...['5.0', '+Inf'].map((le): [string, string] => [`vllm:time_to_first_token_seconds_bucket{${VLLM},engine_id="h1:8001",le="${le}"}`, '0+30x30']),
      [`vllm:e2e_request_latency_seconds_count{${VLLM},engine_id="h1:8001"}`, '0+30x30'],
      // Healthy: 19 of 20 within (95 %).
      ...['2.5'].map((le): [string, string] => [`vllm:time_to_first_token_seconds_bucket{${VLLM},engine_id="h1:8002",le="${le}"}`, '0+57x30']),
      ...['5.0', '+Inf'].map((le): [string, string] => [`vllm:time_to_first_token_seconds_bucket{${VLLM},engine_id="h1:8002",le="${le}"}`, '0+60x30']),
      [`vllm:e2e_request_latency_seconds_count{${VLLM},engine_id="h1:8002"}`, '0+60x30'],
      // Idle: no requests, no attainment, no alert.
      ...['2.5', '+Inf'].map((le): [string, string] => [`vllm:time_to_first_token_seconds_bucket{${VLLM},engine_id="h1:8003",le="${le}"}`, '7x30']),
      [`vllm:e2e_request_latency_seconds_count{${VLLM},engine_id="h1:8003"}`, '7x30'],
      // Two requests a minute, none within: 0 %, but ten requests in five minutes are no trend.
      ...['2.5'].map((le): [string, string] => [`vllm:time_to_first_token_seconds_bucket{${VLLM},engine_id="h1:8004",le="${le}"}`, '0x30']),
      ...['5.0', '+Inf'].map((le): [string, string] => [`vllm:time_to_first_token_seconds_bucket{${VLLM},engine_id="h1:8004",le="${le}"}`, '0+2x30']),
      [`vllm:e2e_request_latency_seconds_count{${VLLM},engine_id="h1:8004"}`, '0+2x30'],
      // Broken buckets (counts falling as le grows, +Inf below the others): no share, no alert.
      ...([['1.0', '0+40x30'], ['2.5', '0+35x30'], ['+Inf', '0+20x30']] as const).map(([le, v]): [string, string] => [`vllm:time_to_first_token_seconds_bucket{${VLLM},engine_id="h1:8005",le="${le}"}`, v]),
      [`vllm:e2e_request_latency_seconds_count{${VLLM},engine_id="h1:8005"}`, '0+40x30'],
    ],
    // Below target from the first rate: pending for 10 minutes, then firing.
    checks: [['6m', []], ['16m', [{ labels: { job: 'vllm-engines', host: 'h1', engine_id: 'h1:8001', model: 'm', le: '2.5', slo: 'ttft' }, value: '50%' }]]],
  },
  {
    alert: 'ModelAllEnginesBusy',
    series: [
      // Model a: both engines busy from minute 2.
      [`gpufleet_model_engines{${H},model="a"}`, '2x12'],
      [`gpufleet_model_engines_busy{${H},model="a"}`, '0 1 2x10'],
      // Model b: one of two busy; model c: no engine at all (0 == 0 is not "all busy").
      [`gpufleet_model_engines{${H},model="b"}`, '2x12'],
      [`gpufleet_model_engines_busy{${H},model="b"}`, '1x12'],
      [`gpufleet_model_engines{${H},model="c"}`, '0x12'],
      [`gpufleet_model_engines_busy{${H},model="c"}`, '0x12'],
    ],
    checks: [['5m', []], ['8m', [{ labels: { host: 'h1', model: 'a' }, value: '2' }]]],
  },
  {
    alert: 'GpuIdleHeld',
    series: [
      // GPU-a: idle-held by an engine since the epoch (eval time 0); GPU-b: by a process that is no engine since
      // minute 10; GPU-c: busy since the epoch.
      [`gpufleet_gpu_capacity_state{${H},gpu_uuid="GPU-a",gpu_index="0",state="idle-held"}`, '1x90'],
      [`gpufleet_gpu_capacity_state_since_timestamp_seconds{${H},gpu_uuid="GPU-a",gpu_index="0"}`, '0x90'],
      [`gpufleet_engine_gpu{${H},engine_id="h1:8001",rank="0",gpu_uuid="GPU-a"}`, '1x90'],
      [`gpufleet_engine_info{${H},engine_id="h1:8001",type="vllm",model="m",endpoint="http://127.0.0.1:8001",deployment="native",version="0.11.0"}`, '1x90'],
      [`gpufleet_gpu_capacity_state{${H},gpu_uuid="GPU-b",gpu_index="1",state="idle-held"}`, '1x90'],
      [`gpufleet_gpu_capacity_state_since_timestamp_seconds{${H},gpu_uuid="GPU-b",gpu_index="1"}`, '600x90'],
      [`gpufleet_gpu_capacity_state{${H},gpu_uuid="GPU-c",gpu_index="2",state="idle-held"}`, '0x90'],
      [`gpufleet_gpu_capacity_state{${H},gpu_uuid="GPU-c",gpu_index="2",state="busy"}`, '1x90'],
      [`gpufleet_gpu_capacity_state_since_timestamp_seconds{${H},gpu_uuid="GPU-c",gpu_index="2"}`, '0x90'],
    ],
    checks: [
      ['50m', []],
      ['65m', [{ labels: { host: 'h1', gpu_uuid: 'GPU-a', gpu_index: '0', engine_id: 'h1:8001', model: 'm', holder: 'engine h1:8001 (m)', state: 'idle-held' }, value: '1h 5m 0s' }]],
      ['75m', [
        { labels: { host: 'h1', gpu_uuid: 'GPU-a', gpu_index: '0', engine_id: 'h1:8001', model: 'm', holder: 'engine h1:8001 (m)', state: 'idle-held' }, value: '1h 15m 0s' },
        { labels: { host: 'h1', gpu_uuid: 'GPU-b', gpu_index: '1', holder: 'a process that is no engine', state: 'idle-held' }, value: '1h 5m 0s' },
      ]],
    ],
  },
  {
    alert: 'GpufleetCollectorFailing',
    series: [
      ['gpufleet_collector_up{collector="gpu",instance="h1:9740",job="gpufleet-sidecar"}', '1 0x10'],
      ['gpufleet_collector_up{collector="engines",instance="h1:9740",job="gpufleet-sidecar"}', '1x11'],
    ],
    checks: [['2m', []], ['5m', [{ labels: { collector: 'gpu', instance: 'h1:9740', job: 'gpufleet-sidecar' }, value: '0' }]]],
  },
  {
    alert: 'GpufleetSidecarDown',
    series: [
      ['up{instance="h1:9740",job="gpufleet-sidecar"}', '1 1 0x10'],
      ['up{instance="h2:9740",job="gpufleet-sidecar"}', '1x12'],
      // Another job's target being down is not the sidecar's business.
      ['up{instance="h1:8001",job="vllm-engines"}', '0x12'],
    ],
    checks: [['3m', []], ['6m', [{ labels: { instance: 'h1:9740', job: 'gpufleet-sidecar' }, value: '0' }]]],
  },
];

const ruleFile = parse(readFileSync(RULE_FILE, 'utf8'));
const rulesByName = new Map<string, any>(ruleFile.groups.flatMap((g: any) => g.rules).map((r: any) => [r.alert, r]));

/** The annotations a firing alert has: label references and the value filled in as the template would. */
function expand(template: string, labels: Record<string, string>, value: string): string {
  return template.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_m, k: string) => labels[k] ?? '').replace(/\{\{ \$value \| \w+ \}\}/g, value);
}

function testFile(): string {
  return stringify({
    rule_files: [RULE_FILE, SLO_FILE],
    evaluation_interval: '1m',
    tests: CASES.map((c) => {
      const rule = rulesByName.get(c.alert);
      return {
        name: c.alert,
        interval: '1m',
        input_series: c.series.map(([series, values]) => ({ series, values })),
        alert_rule_test: c.checks.map(([evalTime, alerts]) => ({
          eval_time: evalTime,
          alertname: c.alert,
          exp_alerts: alerts.map((a) => ({
            exp_labels: { ...a.labels, ...rule.labels },
            exp_annotations: Object.fromEntries(Object.entries(rule.annotations as Record<string, string>).map(([k, t]) => [k, expand(t, a.labels, a.value)])),
          })),
        })),
      };
    }),
  });
}

describe('Prometheus config and rule file (promtool)', () => {
  it('prometheus.yml is valid and loads the alert and the fleet rule files', () => {
    const out = promtool(['check', 'config', join(ROOT, 'prometheus/prometheus.yml')]);
    expect(out).toMatch(/SUCCESS: 3 rule files found/);
    expect(out).toMatch(/is valid prometheus config file/);
  });

  it('the rule file is valid', () => {
    expect(promtool(['check', 'rules', RULE_FILE])).toMatch(new RegExp(`SUCCESS: ${rulesByName.size} rules found`));
  });

  it('has a firing and a quiet case here for every rule', () => {
    expect(CASES.map((c) => c.alert).sort()).toEqual([...rulesByName.keys()].sort());
    for (const c of CASES) {
      expect(c.checks.some(([, a]) => a.length > 0)).toBe(true);
      // Quiet: an eval with no alert, or series that are in the case but never in an alert.
      const alerting = new Set(c.checks.flatMap(([, a]) => a.map((x) => JSON.stringify(x.labels))));
      expect(c.checks.some(([, a]) => a.length === 0) || c.series.length > alerting.size).toBe(true);
    }
  });

  it('every rule fires when it should and not otherwise (promtool test rules)', () => {
    expect(promtoolTestRules(testFile())).toMatch(/SUCCESS/);
  });
});
