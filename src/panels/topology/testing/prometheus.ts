import { type DataFrame, FieldType } from '@grafana/data';

/**
 * Prometheus answers in the frame shape Grafana's Prometheus data source hands a panel for instant
 * queries with Format "Table" (@grafana/prometheus 12.4, result_transformer.ts transformDFToTable,
 * applied to the backend's one-frame-per-series answer):
 * - one frame per refId, `refId` set, meta of the first series frame (`custom.resultType: 'vector'`,
 *   `type: 'numeric-multi'`) plus `preferredVisualisationType: 'rawPrometheus'`;
 * - fields: `Time` (time, ms), then one string field per label in the order first seen (each series'
 *   labels sorted by name, `__name__` included when the query was a plain selector), a label a series
 *   lacks is ''; then the number field `Value`, or `Value #<refId>` when the request had several table
 *   queries;
 * - NaN / ±Inf samples arrive as NaN / ±Infinity (the backend's entities, decoded by dataFrameFromJSON).
 * A refId whose answer is empty gives `Time` and the value field with no rows.
 */
export interface Sample {
  metric: Record<string, string>;
  /** Prometheus sends sample values as strings ("1", "NaN", "+Inf"). */
  value: string;
}

export const T0 = 1_764_700_000_000;

function parseSample(v: string): number {
  if (/^[+-]?inf(inity)?$/i.test(v)) {
    return v.startsWith('-') ? -Infinity : Infinity;
  }
  return parseFloat(v);
}

export function tableFrames(answers: Record<string, Sample[]>, time = T0): DataFrame[] {
  const refIds = Object.keys(answers);
  return refIds.map((refId) => {
    const series = answers[refId];
    const names: string[] = [];
    for (const s of series) {
      for (const k of Object.keys(s.metric).sort()) {
        if (!names.includes(k)) {
          names.push(k);
        }
      }
    }
    const fields = [
      { name: 'Time', type: FieldType.time, config: {}, values: series.map(() => time) },
      ...names.map((name) => ({
        name,
        type: FieldType.string,
        config: { filterable: true },
        values: series.map((s) => s.metric[name] ?? ''),
      })),
      {
        name: refIds.length > 1 ? `Value #${refId}` : 'Value',
        type: FieldType.number,
        config: {},
        values: series.map((s) => parseSample(s.value)),
      },
    ];
    return {
      refId,
      fields,
      length: series.length,
      meta: {
        type: 'numeric-multi',
        typeVersion: [0, 1],
        custom: { resultType: 'vector' },
        preferredVisualisationType: 'rawPrometheus',
      },
    } as DataFrame;
  });
}

/** The same answers in Format "Time series": one frame per series, its labels on the `Value` field. */
export function seriesFrames(answers: Record<string, Sample[]>, time = T0): DataFrame[] {
  return Object.entries(answers).flatMap(([refId, series]) =>
    series.map(
      (s) =>
        ({
          refId,
          length: 1,
          meta: { type: 'numeric-multi', typeVersion: [0, 1], custom: { resultType: 'vector' } },
          fields: [
            { name: 'Time', type: FieldType.time, config: {}, values: [time] },
            { name: 'Value', type: FieldType.number, config: {}, labels: s.metric, values: [parseSample(s.value)] },
          ],
        }) as DataFrame
    )
  );
}

const GiB = 1024 ** 3;

export interface FleetSpec {
  hosts: number;
  gpusPerHost?: number;
  /** 'typical': every 10th host MIG (7 × 1g.10gb, an engine per slice), every 10th + 1 vGPU; else one engine per 2 GPUs (TP2). 'all-mig': every GPU MIG. */
  mix?: 'typical' | 'all-mig';
  /** Labels an operator's relabeling attaches to every series of a host. */
  extra?: (host: number) => Record<string, string>;
  /** Plain selectors (`__name__` kept) or `by (...)` aggregations (no `__name__`). */
  names?: boolean;
}

/**
 * A synthetic fleet's answers to the dashboard's queries (the contract's refIds), as Prometheus would
 * return them for the sidecars' families and the fleet recording rules.
 */
export function fleetAnswers({
  hosts,
  gpusPerHost = 8,
  mix = 'typical',
  extra,
  names = true,
}: FleetSpec): Record<string, Sample[]> {
  const out: Record<string, Sample[]> = {};
  const add = (refId: string, metric: string, labels: Record<string, string>, value: number | string) => {
    (out[refId] ??= []).push({ metric: names ? { __name__: metric, ...labels } : labels, value: String(value) });
  };
  for (let h = 0; h < hosts; h++) {
    const host = `sim-${String(h).padStart(4, '0')}`;
    const base = { host, ...(extra?.(h) ?? {}) };
    const isMig = mix === 'all-mig' || h % 10 === 0;
    const isVgpu = !isMig && h % 10 === 1;
    let engines = 0;
    let free = 0;
    let migCount = 0;
    add(
      'hosts',
      'gpufleet_host_info',
      { ...base, version: '0.2.0', driver_version: '570.86', cuda_version: '12.8' },
      1
    );
    for (let g = 0; g < gpusPerHost; g++) {
      const uuid = `GPU-${h}-${g}`;
      const gl = { ...base, gpu_uuid: uuid, gpu_index: String(g) };
      add(
        'gpus',
        'gpufleet_gpu_info',
        {
          ...gl,
          name: 'NVIDIA H100 80GB HBM3',
          pci_bus_id: `0000:${(g + 0x10).toString(16)}:00.0`,
          mig_mode: isMig ? 'enabled' : 'disabled',
          vgpu_mode: isVgpu ? 'sriov' : 'none',
        },
        1
      );
      if (!isMig) {
        add('gpu_util', 'gpufleet_gpu_utilization_ratio', gl, ((h * 7 + g * 13) % 100) / 100);
      }
      add('gpu_mem_used', 'gpufleet_gpu_memory_used_bytes', gl, ((h + g * 11) % 80) * GiB);
      add('gpu_mem_total', 'gpufleet_gpu_memory_total_bytes', gl, 80 * GiB);
      if (isMig) {
        for (let m = 0; m < 7; m++) {
          const mig = `MIG-${h}-${g}-${m}`;
          const ml = { ...base, gpu_uuid: uuid, mig_uuid: mig };
          add('mig', 'gpufleet_mig_instance_info', { ...ml, gi_id: String(7 + m), ci_id: '0', profile: '1g.10gb' }, 1);
          add('mig_mem_used', 'gpufleet_mig_memory_used_bytes', ml, ((g + m) % 10) * GiB);
          add('mig_mem_total', 'gpufleet_mig_memory_total_bytes', ml, 10 * GiB);
          const engine = `${host}:${8000 + g * 7 + m}`;
          add(
            'engines',
            'gpufleet_engine_info',
            {
              ...base,
              engine_id: engine,
              type: 'vllm',
              model: `model-${m}`,
              endpoint: `http://127.0.0.1:${8000 + g * 7 + m}`,
              deployment: 'process',
              version: '0.11.0',
            },
            1
          );
          add('engine_up', 'gpufleet_engine_up', { ...base, engine_id: engine }, 1);
          add('engine_kv', 'gpufleet_engine_kv_cache_usage_ratio', { ...base, engine_id: engine }, ((g + m) % 10) / 10);
          add('edges_gpu', 'gpufleet_engine_gpu', { ...base, engine_id: engine, rank: '0', gpu_uuid: uuid }, 1);
          add(
            'edges_mig',
            'gpufleet_engine_mig',
            { ...base, engine_id: engine, rank: '0', gpu_uuid: uuid, mig_uuid: mig },
            1
          );
          engines++;
          migCount++;
        }
      } else if (isVgpu) {
        for (let v = 0; v < 2; v++) {
          const vl = { ...base, gpu_uuid: uuid, vgpu_id: String(3251634000 + g * 2 + v) };
          add(
            'vgpu',
            'gpufleet_vgpu_instance_info',
            {
              ...vl,
              vgpu_uuid: `VGPU-${h}-${g}-${v}`,
              vgpu_type: 'NVIDIA H100XM-40C',
              vm_id: `vm-${h}-${g}-${v}`,
              vm_name: `tenant-${g}-${v}`,
            },
            1
          );
          add('vgpu_util', 'gpufleet_vgpu_utilization_ratio', vl, ((g * 3 + v * 40) % 100) / 100);
          add('vgpu_fb_used', 'gpufleet_vgpu_framebuffer_used_bytes', vl, (10 + v) * GiB);
          add('vgpu_fb_total', 'gpufleet_vgpu_framebuffer_total_bytes', vl, 40 * GiB);
        }
      } else if (g % 2 === 0 && g + 1 < gpusPerHost && (g / 2) % 2 === 0) {
        // TP2 engines on GPUs 0-1, 4-5; 2-3 and 6-7 are free.
        const engine = `${host}:${9000 + g}`;
        add(
          'engines',
          'gpufleet_engine_info',
          {
            ...base,
            engine_id: engine,
            type: 'vllm',
            model: 'meta-llama/Llama-3.1-70B-Instruct',
            endpoint: `http://127.0.0.1:${9000 + g}`,
            deployment: 'process',
            version: '0.11.0',
          },
          1
        );
        add('engine_up', 'gpufleet_engine_up', { ...base, engine_id: engine }, 1);
        add('engine_kv', 'gpufleet_engine_kv_cache_usage_ratio', { ...base, engine_id: engine }, 0.62);
        for (let r = 0; r < 2; r++) {
          add(
            'edges_gpu',
            'gpufleet_engine_gpu',
            { ...base, engine_id: engine, rank: String(r), gpu_uuid: `GPU-${h}-${g + r}` },
            1
          );
        }
        engines++;
      } else if ((g >> 1) % 2 === 1) {
        free++;
      }
    }
    add('host_gpus', 'gpufleet:host_gpus:count', base, gpusPerHost);
    add('host_gpus_free', 'gpufleet:host_gpus_free:count', base, free);
    add('host_mig', 'gpufleet:host_mig_instances:count', base, migCount);
    add('host_mig_free', 'gpufleet:host_mig_instances_free:count', base, 0);
    add('host_vgpu', 'gpufleet:host_vgpu_instances:count', base, isVgpu ? gpusPerHost * 2 : 0);
    add('host_engines', 'gpufleet:host_engines:count', base, engines);
    add('host_engines_up', 'gpufleet:host_engines_up:count', base, engines);
    add('host_engines_busy', 'gpufleet:host_engines_busy:count', base, 0);
    if (!isMig) {
      add('host_util', 'gpufleet:host_gpu_utilization:avg', base, ((h * 7) % 100) / 100);
    }
    add('host_mem', 'gpufleet:host_gpu_memory_used:ratio', base, ((h * 3) % 100) / 100);
    add('host_alerts', 'gpufleet:host_alerts_firing:count', base, h % 17 === 5 ? 2 : 0);
  }
  return out;
}

/** Only the refIds given (the fleet dashboard's fleet-level or host-level queries). */
export function pick(answers: Record<string, Sample[]>, refIds: string[]): Record<string, Sample[]> {
  return Object.fromEntries(refIds.map((r) => [r, answers[r] ?? []]));
}

/**
 * The same answers with several families per query (`{__name__=~"a|b"}` selectors, as the provisioned fleet
 * dashboard sends them): each query's rows are its families' rows, one after the other, `__name__` on each.
 */
export function combine(
  answers: Record<string, Sample[]>,
  queries: Record<string, string[]>
): Record<string, Sample[]> {
  return Object.fromEntries(
    Object.entries(queries).map(([query, refIds]) => [query, refIds.flatMap((r) => answers[r] ?? [])])
  );
}

/** Only the rows of some hosts (what `{host="$host"}` does to each query). */
export function onlyHosts(answers: Record<string, Sample[]>, hosts: string[]): Record<string, Sample[]> {
  return Object.fromEntries(
    Object.entries(answers).map(([r, rows]) => [r, rows.filter((s) => hosts.includes(s.metric.host))])
  );
}

export const FLEET_REFIDS = [
  'hosts',
  'host_gpus',
  'host_gpus_free',
  'host_mig',
  'host_mig_free',
  'host_vgpu',
  'host_engines',
  'host_engines_up',
  'host_engines_busy',
  'host_util',
  'host_mem',
  'host_alerts',
];
export const HOST_REFIDS = [
  'gpus',
  'gpu_util',
  'gpu_mem_used',
  'gpu_mem_total',
  'mig',
  'mig_mem_used',
  'mig_mem_total',
  'vgpu',
  'vgpu_util',
  'vgpu_fb_used',
  'vgpu_fb_total',
  'engines',
  'engine_up',
  'engine_kv',
  'edges_gpu',
  'edges_mig',
];
