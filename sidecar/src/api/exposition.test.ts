// The text-format writer of the gpufleet families: prom-client's layout (HELP, TYPE, a blank line between
// families, series in the order first set), escaping, and every family's labels as the README names them.
import { Counter, Gauge, Registry } from 'prom-client';
import { CapacityTracker } from '../capacity/tracker.js';
import { parsePromText } from '../engines/promText.js';
import { buildFleet } from '../fleet/fleetModel.js';
import { BUSY_THRESHOLD, hostSnapshotAt, prepareHost } from '../fleet/hostSnapshot.js';
import type { Snapshot } from '../model.js';
import { Family, escapeLabelValue, formatValue, labelText, labelValue, renderFamilies, sanitizeLabel } from './exposition.js';
import { SidecarMetrics } from './metrics.js';

describe('Family', () => {
  it('writes HELP, TYPE and one line per series in the order first set; setting again keeps the place', () => {
    const f = new Family('x_bytes', 'Some\\thing\nhere', 'gauge', ['a', 'b']);
    f.set('a="1",b="2"', 5);
    f.set('a="0",b="2"', 1.5);
    f.set('a="1",b="2"', 7);
    expect(f.render()).toBe('# HELP x_bytes Some\\\\thing\\nhere\n# TYPE x_bytes gauge\nx_bytes{a="1",b="2"} 7\nx_bytes{a="0",b="2"} 1.5');
    f.reset();
    expect(f.render()).toBe('# HELP x_bytes Some\\\\thing\\nhere\n# TYPE x_bytes gauge');
  });

  it('a family without labels always has its one series; counters add', () => {
    const c = new Family('y_total', 'h', 'counter', []);
    expect(c.render()).toBe('# HELP y_total h\n# TYPE y_total counter\ny_total 0');
    c.add('', 2);
    c.add('', 3);
    expect(c.render()).toBe('# HELP y_total h\n# TYPE y_total counter\ny_total 5');
  });

  it('families apart by a blank line, no final newline', () => {
    const a = new Family('a', 'h', 'gauge', []);
    const b = new Family('b', 'h', 'gauge', []);
    expect(renderFamilies([a, b])).toBe('# HELP a h\n# TYPE a gauge\na 0\n\n# HELP b h\n# TYPE b gauge\nb 0');
  });

  it('label values: control characters and ANSI escapes dropped, capped at 128, then quote and backslash escaped', () => {
    expect(sanitizeLabel('\x1b[31mred\x1b[0m\x07 x\n')).toBe('red x');
    expect(sanitizeLabel(null)).toBe('');
    expect(sanitizeLabel(3)).toBe('3');
    expect(sanitizeLabel('x'.repeat(300))).toHaveLength(128);
    expect(escapeLabelValue('a"b\\c')).toBe('a\\"b\\\\c');
    expect(labelValue('say "hi"\n')).toBe('say \\"hi\\"');
    expect(labelText(['a', 'b'], ['1', '2'])).toBe('a="1",b="2"');
  });

  it('the same bytes as prom-client for the same families, labels and values', async () => {
    const reg = new Registry();
    const g = new Gauge({ name: 'x_ratio', help: 'Help with \\ and\nnewline', labelNames: ['host', 'model'], registers: [reg] });
    const c = new Counter({ name: 'y_total', help: 'h', registers: [reg] });
    const ours = new Family('x_ratio', 'Help with \\ and\nnewline', 'gauge', ['host', 'model']);
    const oursC = new Family('y_total', 'h', 'counter', []);
    const rows: Array<[string, string, number]> = [
      ['h1', 'Qwen/Qwen3-4B', 0.1 + 0.2],
      ['h"2', 'a\\b', 1e21],
      ['h1', 'say "hi"', -0],
      ['h3', 'x'.repeat(40), NaN],
      ['h4', 'm', Infinity],
      ['h5', 'm', -Infinity],
      ['h1', 'Qwen/Qwen3-4B', 7],
    ];
    for (const [host, model, v] of rows) {
      g.set({ host, model }, v);
      ours.set(labelText(['host', 'model'], [labelValue(host), labelValue(model)]), v);
    }
    c.inc(2);
    c.inc(3);
    oursC.add('', 2);
    oursC.add('', 3);
    expect(renderFamilies([ours, oursC])).toBe((await reg.metrics()).trimEnd());
  });

  it('values as prom-client writes them', () => {
    expect([0.1 + 0.2, 1e21, -0, NaN, Infinity, -Infinity].map(formatValue)).toEqual(['0.30000000000000004', '1e+21', '0', 'Nan', '+Inf', '-Inf']);
  });
});

// The README's Metrics table: the labels of every gpufleet family, in order; families in the order of the text.
const GPU = ['host', 'gpu_uuid', 'gpu_index'];
const LABELS: Record<string, string[]> = {
  gpufleet_host_info: ['host', 'version', 'driver_version', 'cuda_version'],
  gpufleet_gpu_info: [...GPU, 'name', 'pci_bus_id', 'mig_mode', 'vgpu_mode'],
  gpufleet_gpu_utilization_ratio: GPU,
  gpufleet_gpu_memory_used_bytes: GPU,
  gpufleet_gpu_memory_total_bytes: GPU,
  gpufleet_gpu_temperature_celsius: GPU,
  gpufleet_gpu_power_watts: GPU,
  gpufleet_gpu_power_limit_watts: GPU,
  gpufleet_gpu_processes: GPU,
  gpufleet_gpu_lost: [...GPU, 'name'],
  gpufleet_mig_instance_info: ['host', 'gpu_uuid', 'mig_uuid', 'gi_id', 'ci_id', 'profile'],
  gpufleet_mig_memory_used_bytes: ['host', 'gpu_uuid', 'mig_uuid'],
  gpufleet_mig_memory_total_bytes: ['host', 'gpu_uuid', 'mig_uuid'],
  gpufleet_vgpu_instance_info: ['host', 'gpu_uuid', 'vgpu_id', 'vgpu_uuid', 'vgpu_type', 'vm_id', 'vm_name'],
  gpufleet_vgpu_utilization_ratio: ['host', 'gpu_uuid', 'vgpu_id'],
  gpufleet_vgpu_framebuffer_used_bytes: ['host', 'gpu_uuid', 'vgpu_id'],
  gpufleet_vgpu_framebuffer_total_bytes: ['host', 'gpu_uuid', 'vgpu_id'],
  gpufleet_vgpu_active: ['host', 'gpu_uuid', 'vgpu_id'],
  gpufleet_engine_info: ['host', 'engine_id', 'type', 'model', 'endpoint', 'deployment', 'version'],
  gpufleet_engine_up: ['host', 'engine_id'],
  gpufleet_engine_gpu: ['host', 'engine_id', 'rank', 'gpu_uuid'],
  gpufleet_engine_mig: ['host', 'engine_id', 'rank', 'gpu_uuid', 'mig_uuid'],
  gpufleet_engine_kv_cache_usage_ratio: ['host', 'engine_id'],
  gpufleet_engine_requests_running: ['host', 'engine_id'],
  gpufleet_engine_requests_waiting: ['host', 'engine_id'],
  gpufleet_engine_busy: ['host', 'engine_id'],
  gpufleet_engine_rank_kv_cache_usage_ratio: ['host', 'engine_id', 'rank'],
  gpufleet_engine_rank_requests_running: ['host', 'engine_id', 'rank'],
  gpufleet_engine_rank_requests_waiting: ['host', 'engine_id', 'rank'],
  gpufleet_engine_rank_busy: ['host', 'engine_id', 'rank'],
  gpufleet_engine_generation_tokens_per_second: ['host', 'engine_id'],
  gpufleet_engine_prompt_tokens_per_second: ['host', 'engine_id'],
  gpufleet_collector_duration_seconds: ['host', 'collector'],
  gpufleet_collector_up: ['host', 'collector'],
  gpufleet_collector_last_success_timestamp_seconds: ['host', 'collector'],
  gpufleet_collector_errors_total: ['host', 'collector', 'reason'],
  gpufleet_gpu_xid_errors_total: [...GPU, 'xid'],
  gpufleet_gpu_duplicate_uuid_total: ['host'],
  gpufleet_metrics_dropped_series_total: [],
  gpufleet_gpu_capacity_state: [...GPU, 'state'],
  gpufleet_gpu_capacity_state_since_timestamp_seconds: GPU,
  gpufleet_mig_profile_instances: ['host', 'gpu_uuid', 'profile', 'state'],
  gpufleet_mig_profile_creatable: ['host', 'gpu_uuid', 'profile'],
  gpufleet_model_engines: ['host', 'model'],
  gpufleet_model_engines_busy: ['host', 'model'],
  gpufleet_engine_power_share_ratio: ['host', 'engine_id', 'gpu_uuid'],
  gpufleet_gpu_energy_joules_total: GPU,
  gpufleet_engine_energy_joules_total: ['host', 'engine_id'],
};

const MISSING = ['gpufleet_mig_profile_creatable'];

describe('SidecarMetrics text', () => {
  it('every family with its README labels, in order, on simulated hosts of every kind', async () => {
    const hosts = [...buildFleet({ hosts: 12, seed: 1, mix: 'typical' }), ...buildFleet({ hosts: 4, seed: 2, mix: 'all-mig' })];
    const seen = new Set<string>();
    for (const h of hosts) {
      const snap: Snapshot = hostSnapshotAt(prepareHost(h), 100, 1_700_000_000_000);
      const m = new SidecarMetrics({ maxSeries: 5000, host: h.name, version: '1.0.0', defaultMetrics: false });
      const capacity = new CapacityTracker({ idleHeldAfterMs: 0, idleUtilization: 0.05, unavailableAfterXidMs: 600_000 }, { wallMs: () => 1e12, monoMs: () => 1e12 })
        .update({ snap, lost: [], busyThreshold: BUSY_THRESHOLD });
      const energy = {
        gpus: snap.gpus.map((g) => ({ uuid: g.uuid, index: g.index, joules: 12.5 })),
        engines: snap.engines.map((e) => ({ id: e.id, joules: 3, shares: e.workers.flatMap((w) => w.gpuUuids.map((gpuUuid) => ({ gpuUuid, ratio: 0.5 }))) })),
        skippedSeconds: 0,
      };
      const lost = snap.gpus.slice(0, 1).map((g) => ({ uuid: `${g.uuid}-gone`, index: 9, name: g.name, since: '' }));
      m.update(snap, lost, { capacity, energy });
      m.recordCollector('gpu', false, 0.5, 'timeout');
      m.recordCollector('engines', true, 0.1);
      m.recordXid(h.name, snap.gpus[0]?.uuid ?? 'GPU-x', 0, 79);
      m.recordDuplicateUuids(1);
      const text = await m.render();
      expect(text.endsWith('\n') && !text.endsWith('\n\n')).toBe(true);
      const expo = parsePromText(text);
      expect(expo.problems).toEqual([]);
      expect([...expo.families.keys()]).toEqual(Object.keys(LABELS));
      for (const [name, samples] of expo.byName) {
        for (const s of samples) expect([name, Object.keys(s.labels)]).toEqual([name, LABELS[name]]);
        if (samples.length > 0) seen.add(name);
        // One series per label set.
        expect(new Set(samples.map((s) => JSON.stringify(s.labels))).size).toBe(samples.length);
      }
    }
    // Creatable MIG profiles need `nvidia-smi mig -lgip`, which the simulated fleet does not answer; every
    // other family has rows here.
    expect(Object.keys(LABELS).filter((n) => !seen.has(n))).toEqual(MISSING);
  });
});
