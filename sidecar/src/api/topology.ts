// The host as a graph: engines → workers (ranks) → GPUs → MIG / vGPU instances. Field names follow
// Grafana's Node Graph (id, title, subtitle, mainstat, secondarystat, color, arc__*, detail__*) so the
// same frames feed the stock Node Graph panel and the gpufleet topology panel.
import type { CapacityAnswer, GpuCapacity } from '../capacity/types.js';
import type { Engine, Gpu, MigInstance, Snapshot, VgpuInstance } from '../model.js';
import { tableFrame, type DataFrameJSON } from './frames.js';

export type NodeKind = 'engine' | 'worker' | 'gpu' | 'mig' | 'vgpu';

export interface TopologyNode {
  id: string;
  kind: NodeKind;
  title: string;
  subtitle: string;
  mainstat: string;
  secondarystat: string;
  /** Load 0..1 the node is coloured by (utilization, memory or KV-cache usage), null when unknown. */
  load: number | null;
  color: string;
  arc__used: number;
  arc__free: number;
  detail: Record<string, string | number | boolean | null>;
}

export interface TopologyEdge {
  id: string;
  source: string;
  target: string;
  mainstat?: string;
}

export interface Topology {
  nodes: TopologyNode[];
  edges: TopologyEdge[];
}

const GiB = 1024 ** 3;

function fmtBytes(b: number | null): string {
  if (b === null) return '?';
  if (b >= GiB) return `${(b / GiB).toFixed(1)} GiB`;
  return `${Math.round(b / 1024 ** 2)} MiB`;
}

function ratio(used: number | null, total: number | null): number | null {
  return used !== null && total !== null && total > 0 ? Math.min(1, Math.max(0, used / total)) : null;
}

/** Green below 70 %, amber to 90 %, red above: the default thresholds of the panel's colour scale. */
export function loadColor(load: number | null): string {
  if (load === null) return '#8e8e8e';
  if (load >= 0.9) return '#e02f44';
  if (load >= 0.7) return '#ff9830';
  return '#56a64b';
}

function node(
  n: Omit<TopologyNode, 'color' | 'arc__used' | 'arc__free'>,
): TopologyNode {
  const used = n.load ?? 0;
  return { ...n, color: loadColor(n.load), arc__used: used, arc__free: 1 - used };
}

/**
 * The GPU's state in the capacity model, beside its other details, so the topology panel draws the same
 * free / idle-held / busy / unavailable chip from the sidecar's frames as from Prometheus. `capacitySince` is
 * ms since the epoch (times in frames are), absent fields when the capacity model has no word on the GPU.
 */
function capacityDetail(c: GpuCapacity | undefined): Record<string, string | number> {
  if (!c) return {};
  const since = Date.parse(c.since);
  return {
    capacityState: c.state,
    ...(Number.isFinite(since) ? { capacitySince: since } : {}),
    ...(c.reason ? { capacityReason: c.reason } : {}),
  };
}

function gpuNode(host: string, g: Gpu, capacity: GpuCapacity | undefined): TopologyNode {
  const memLoad = ratio(g.memory.usedBytes, g.memory.totalBytes);
  const util = g.utilization.gpu;
  const load = util !== null ? util / 100 : memLoad;
  const mode = g.mig.mode === 'enabled' ? 'MIG' : g.vgpu.hostMode !== 'none' ? `vGPU ${g.vgpu.hostMode}` : 'whole';
  return node({
    id: `gpu:${g.uuid}`,
    kind: 'gpu',
    title: g.index === null ? g.name : `GPU ${g.index}`,
    subtitle: `${g.name} · ${mode}`,
    mainstat: util !== null ? `${Math.round(util)} % util` : `${fmtBytes(g.memory.usedBytes)} used`,
    secondarystat: `${fmtBytes(g.memory.usedBytes)} / ${fmtBytes(g.memory.totalBytes)}`,
    load,
    detail: {
      host,
      uuid: g.uuid,
      index: g.index,
      name: g.name,
      pciBusId: g.pciBusId,
      utilizationGpu: util,
      memoryUsedBytes: g.memory.usedBytes,
      memoryTotalBytes: g.memory.totalBytes,
      temperatureC: g.temperatureC,
      powerW: g.powerW,
      migMode: g.mig.mode,
      vgpuHostMode: g.vgpu.hostMode,
      migInstances: g.mig.instances.length,
      vgpuInstances: g.vgpu.instances.length,
      ...capacityDetail(capacity),
    },
  });
}

function migId(g: Gpu, m: MigInstance): string {
  return m.uuid ? `mig:${m.uuid}` : `mig:${g.uuid}/${m.gpuInstanceId}/${m.computeInstanceId}`;
}

function migNode(g: Gpu, m: MigInstance): TopologyNode {
  const load = ratio(m.memory.usedBytes, m.memory.totalBytes);
  return node({
    id: migId(g, m),
    kind: 'mig',
    title: m.profile ?? `GI ${m.gpuInstanceId} CI ${m.computeInstanceId}`,
    subtitle: `GI ${m.gpuInstanceId} · CI ${m.computeInstanceId}`,
    mainstat: `${fmtBytes(m.memory.usedBytes)} / ${fmtBytes(m.memory.totalBytes)}`,
    secondarystat: `${m.processes.length} process${m.processes.length === 1 ? '' : 'es'}`,
    load,
    detail: {
      uuid: m.uuid,
      gpuUuid: g.uuid,
      profile: m.profile,
      gpuInstanceId: m.gpuInstanceId,
      computeInstanceId: m.computeInstanceId,
      memoryUsedBytes: m.memory.usedBytes,
      memoryTotalBytes: m.memory.totalBytes,
      processes: m.processes.length,
    },
  });
}

function vgpuNode(g: Gpu, v: VgpuInstance): TopologyNode {
  const util = v.utilization.gpu;
  const load = util !== null ? util / 100 : ratio(v.framebuffer.usedBytes, v.framebuffer.totalBytes);
  return node({
    id: `vgpu:${v.id}`,
    kind: 'vgpu',
    title: v.vmName ?? v.vmId ?? `vGPU ${v.id}`,
    subtitle: v.type ?? 'vGPU',
    mainstat: util !== null ? `${Math.round(util)} % util` : 'util n/a',
    secondarystat: `${fmtBytes(v.framebuffer.usedBytes)} / ${fmtBytes(v.framebuffer.totalBytes)}`,
    load,
    detail: {
      vgpuId: v.id,
      uuid: v.uuid,
      gpuUuid: g.uuid,
      vmId: v.vmId,
      vmName: v.vmName,
      type: v.type,
      utilizationGpu: util,
      framebufferUsedBytes: v.framebuffer.usedBytes,
      framebufferTotalBytes: v.framebuffer.totalBytes,
      active: v.active,
      licensed: v.licensed,
    },
  });
}

function engineNode(e: Engine): TopologyNode {
  const p = e.parallel;
  return node({
    id: `engine:${e.id}`,
    kind: 'engine',
    title: e.model ?? e.id,
    subtitle: `vLLM ${e.version ?? ''} · ${e.endpoint}`.replace('  ', ' '),
    mainstat: e.load.kvCacheUsage !== null ? `KV ${Math.round(e.load.kvCacheUsage * 100)} %` : e.health,
    secondarystat: `TP${p.tensor} PP${p.pipeline} DP${p.data} · ${e.load.running ?? 0} run / ${e.load.waiting ?? 0} wait`,
    load: e.health === 'down' ? 1 : e.load.kvCacheUsage,
    detail: {
      host: e.host,
      engineId: e.id,
      health: e.health,
      endpoint: e.endpoint,
      deployment: e.deployment,
      model: e.model,
      kvCacheUsage: e.load.kvCacheUsage,
      busy: e.busy,
      running: e.load.running,
      waiting: e.load.waiting,
      generationTokensPerSec: e.load.generationTokensPerSec,
    },
  });
}

/** The host's graph; `capacity` (the tick's capacity answer) adds each GPU's capacity state to its node. */
export function buildTopology(snap: Snapshot, capacity?: CapacityAnswer | null): Topology {
  const nodes: TopologyNode[] = [];
  const edges: TopologyEdge[] = [];
  const migByUuid = new Map<string, string>();
  const capacityByUuid = new Map((capacity?.gpus ?? []).map((c) => [c.uuid, c]));
  for (const g of snap.gpus) {
    nodes.push(gpuNode(snap.host.hostname, g, capacityByUuid.get(g.uuid)));
    for (const m of g.mig.instances) {
      const n = migNode(g, m);
      nodes.push(n);
      if (m.uuid) migByUuid.set(m.uuid, n.id);
      edges.push({ id: `gpu:${g.uuid}->${n.id}`, source: `gpu:${g.uuid}`, target: n.id });
    }
    for (const v of g.vgpu.instances) {
      const n = vgpuNode(g, v);
      nodes.push(n);
      edges.push({ id: `gpu:${g.uuid}->${n.id}`, source: `gpu:${g.uuid}`, target: n.id });
    }
  }
  const gpuIds = new Set(snap.gpus.map((g) => `gpu:${g.uuid}`));
  for (const e of snap.engines) {
    const en = engineNode(e);
    nodes.push(en);
    for (const w of e.workers) {
      const wid = `worker:${e.id}/${w.rank}`;
      nodes.push(
        node({
          id: wid,
          kind: 'worker',
          title: `rank ${w.rank}`,
          subtitle: w.pid === null ? 'pid unknown' : `pid ${w.pid}`,
          mainstat: `${w.gpuUuids.length} GPU${w.gpuUuids.length === 1 ? '' : 's'}`,
          secondarystat: w.migUuids.length ? `${w.migUuids.length} MIG` : '',
          load: en.load,
          detail: { engineId: e.id, rank: w.rank, pid: w.pid },
        }),
      );
      edges.push({ id: `${en.id}->${wid}`, source: en.id, target: wid });
      // A worker on a MIG instance points at the instance; on a whole GPU at the GPU.
      const targets = w.migUuids.length
        ? w.migUuids.map((u) => migByUuid.get(u)).filter((x): x is string => x !== undefined)
        : w.gpuUuids.map((u) => `gpu:${u}`).filter((id) => gpuIds.has(id));
      for (const t of targets) edges.push({ id: `${wid}->${t}`, source: wid, target: t });
    }
  }
  return { nodes, edges };
}

/** The two Node Graph frames (nodes, edges) of a topology. */
export function topologyFrames(topo: Topology, refId: string): DataFrameJSON[] {
  const detailKeys = [...new Set(topo.nodes.flatMap((n) => Object.keys(n.detail)))];
  const meta = { preferredVisualisationType: 'nodeGraph' };
  const nodes = tableFrame(
    'nodes',
    refId,
    topo.nodes,
    [
      { name: 'id', type: 'string', get: (n) => n.id },
      { name: 'title', type: 'string', get: (n) => n.title },
      { name: 'subtitle', type: 'string', get: (n) => n.subtitle },
      { name: 'mainstat', type: 'string', get: (n) => n.mainstat },
      { name: 'secondarystat', type: 'string', get: (n) => n.secondarystat },
      { name: 'color', type: 'string', get: (n) => n.color },
      { name: 'arc__used', type: 'number', get: (n) => n.arc__used, config: { color: { mode: 'fixed', fixedColor: 'orange' }, displayName: 'used' } },
      { name: 'arc__free', type: 'number', get: (n) => n.arc__free, config: { color: { mode: 'fixed', fixedColor: 'green' }, displayName: 'free' } },
      { name: 'kind', type: 'string', get: (n) => n.kind },
      { name: 'load', type: 'number', get: (n) => n.load },
      ...detailKeys.map((k) => {
        const sample = topo.nodes.find((n) => n.detail[k] !== null && n.detail[k] !== undefined)?.detail[k];
        const type = typeof sample === 'number' ? 'number' : typeof sample === 'boolean' ? 'boolean' : 'string';
        return {
          name: `detail__${k}`,
          type: type as 'number' | 'boolean' | 'string',
          get: (n: TopologyNode) => n.detail[k] ?? null,
          config: { displayName: k },
        };
      }),
    ],
    meta,
  );
  const edges = tableFrame('edges', refId, topo.edges, [
    { name: 'id', type: 'string', get: (e) => e.id },
    { name: 'source', type: 'string', get: (e) => e.source },
    { name: 'target', type: 'string', get: (e) => e.target },
    { name: 'mainstat', type: 'string', get: (e) => e.mainstat ?? null },
  ], meta);
  return [nodes, edges];
}
