// Which numbers of a snapshot become history series, under which metric names and labels. The names
// are the `metric` of the timeseries query kind.
import type { Gpu, Snapshot } from '../model.js';
import type { Labels, Sample } from './history.js';

export interface MetricInfo {
  name: string;
  unit: string;
  description: string;
  entity: 'gpu' | 'mig' | 'vgpu' | 'engine';
}

export const TIMESERIES_METRICS: MetricInfo[] = [
  { name: 'gpu.utilization', unit: 'percent', description: 'GPU utilization (null with MIG on)', entity: 'gpu' },
  { name: 'gpu.memory.utilization', unit: 'percent', description: 'memory controller utilization', entity: 'gpu' },
  { name: 'gpu.memory.used', unit: 'bytes', description: 'framebuffer memory used', entity: 'gpu' },
  { name: 'gpu.memory.total', unit: 'bytes', description: 'framebuffer memory total', entity: 'gpu' },
  { name: 'gpu.temperature', unit: 'celsius', description: 'GPU temperature', entity: 'gpu' },
  { name: 'gpu.power', unit: 'watt', description: 'power draw', entity: 'gpu' },
  { name: 'gpu.power.limit', unit: 'watt', description: 'enforced power limit', entity: 'gpu' },
  { name: 'gpu.clocks.sm', unit: 'MHz', description: 'SM clock', entity: 'gpu' },
  { name: 'mig.memory.used', unit: 'bytes', description: 'MIG instance memory used', entity: 'mig' },
  { name: 'mig.memory.total', unit: 'bytes', description: 'MIG instance memory total', entity: 'mig' },
  { name: 'vgpu.utilization', unit: 'percent', description: 'vGPU instance GPU utilization', entity: 'vgpu' },
  { name: 'vgpu.memory.utilization', unit: 'percent', description: 'vGPU instance memory utilization', entity: 'vgpu' },
  { name: 'vgpu.framebuffer.used', unit: 'bytes', description: 'vGPU framebuffer used', entity: 'vgpu' },
  { name: 'vgpu.framebuffer.total', unit: 'bytes', description: 'vGPU framebuffer total', entity: 'vgpu' },
  { name: 'engine.kvCacheUsage', unit: 'percentunit', description: 'engine KV-cache usage 0..1', entity: 'engine' },
  { name: 'engine.running', unit: 'short', description: 'requests running', entity: 'engine' },
  { name: 'engine.waiting', unit: 'short', description: 'requests waiting', entity: 'engine' },
  { name: 'engine.promptTokensPerSec', unit: 'short', description: 'prompt tokens per second', entity: 'engine' },
  { name: 'engine.generationTokensPerSec', unit: 'short', description: 'generated tokens per second', entity: 'engine' },
  { name: 'engine.ttft.p95', unit: 's', description: 'time to first token, 95th percentile', entity: 'engine' },
  { name: 'engine.itl.p95', unit: 's', description: 'inter-token latency, 95th percentile', entity: 'engine' },
  { name: 'engine.e2e.p95', unit: 's', description: 'end-to-end request latency, 95th percentile', entity: 'engine' },
];

export const TIMESERIES_METRIC_NAMES = TIMESERIES_METRICS.map((m) => m.name);

function gpuLabels(host: string, g: Gpu): Labels {
  return { host, gpu: g.uuid, gpuIndex: g.index === null ? '' : String(g.index), gpuName: g.name };
}

export function snapshotSamples(snap: Snapshot): Sample[] {
  const host = snap.host.hostname;
  const out: Sample[] = [];
  const push = (metric: string, id: string, labels: Labels, value: number | null) =>
    out.push({ key: `${metric}|${id}`, metric, labels, value });
  for (const g of snap.gpus) {
    const l = gpuLabels(host, g);
    push('gpu.utilization', g.uuid, l, g.utilization.gpu);
    push('gpu.memory.utilization', g.uuid, l, g.utilization.memory);
    push('gpu.memory.used', g.uuid, l, g.memory.usedBytes);
    push('gpu.memory.total', g.uuid, l, g.memory.totalBytes);
    push('gpu.temperature', g.uuid, l, g.temperatureC);
    push('gpu.power', g.uuid, l, g.powerW);
    push('gpu.power.limit', g.uuid, l, g.powerLimitW);
    push('gpu.clocks.sm', g.uuid, l, g.clocks.smMHz);
    for (const m of g.mig.instances) {
      const id = m.uuid ?? `${g.uuid}/${m.gpuInstanceId}/${m.computeInstanceId}`;
      const ml = { ...l, mig: m.uuid ?? '', profile: m.profile ?? '', gi: String(m.gpuInstanceId), ci: String(m.computeInstanceId) };
      push('mig.memory.used', id, ml, m.memory.usedBytes);
      push('mig.memory.total', id, ml, m.memory.totalBytes);
    }
    for (const v of g.vgpu.instances) {
      const vl = { ...l, vgpu: v.id, vgpuUuid: v.uuid ?? '', vmId: v.vmId ?? '', vmName: v.vmName ?? '', vgpuType: v.type ?? '' };
      push('vgpu.utilization', v.id, vl, v.utilization.gpu);
      push('vgpu.memory.utilization', v.id, vl, v.utilization.memory);
      push('vgpu.framebuffer.used', v.id, vl, v.framebuffer.usedBytes);
      push('vgpu.framebuffer.total', v.id, vl, v.framebuffer.totalBytes);
    }
  }
  for (const e of snap.engines) {
    if (e.health !== 'up') continue;
    const l = { host, engine: e.id, model: e.model ?? '' };
    push('engine.kvCacheUsage', e.id, l, e.load.kvCacheUsage);
    push('engine.running', e.id, l, e.load.running);
    push('engine.waiting', e.id, l, e.load.waiting);
    push('engine.promptTokensPerSec', e.id, l, e.load.promptTokensPerSec);
    push('engine.generationTokensPerSec', e.id, l, e.load.generationTokensPerSec);
    push('engine.ttft.p95', e.id, l, e.load.ttftSeconds.p95);
    push('engine.itl.p95', e.id, l, e.load.itlSeconds.p95);
    push('engine.e2e.p95', e.id, l, e.load.e2eSeconds.p95);
  }
  return out;
}
