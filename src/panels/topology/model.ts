import type { DataFrame, Field, QueryResultMetaNotice } from '@grafana/data';

/**
 * The topology the panel draws, read from the data source's `nodes` and `edges` frames.
 *
 * Field names follow Grafana's Node Graph frames (id, title, subtitle, mainstat, secondarystat,
 * color, arc__*, detail__*; edges id, source, target) plus `kind`. The drill-down reads the
 * `detail__*` fields of the MIG and vGPU nodes themselves (decision: no second `gpu` query — the
 * topology answer already carries every instance, so a click opens instantly and shows exactly the
 * state the graph was drawn from). The detail keys used are listed in DETAIL_KEYS below and in
 * tests/fixtures/sidecar-api/README.md.
 */
export type NodeKind = 'engine' | 'worker' | 'gpu' | 'mig' | 'vgpu';
const KINDS = new Set<NodeKind>(['engine', 'worker', 'gpu', 'mig', 'vgpu']);

/** detail__<key> fields the panel understands, per kind. Missing ones show as "—". */
export const DETAIL_KEYS = {
  gpu: [
    'host',
    'uuid',
    'index',
    'name',
    'utilizationGpu',
    'memoryUsedBytes',
    'memoryTotalBytes',
    'temperatureC',
    'powerW',
    'migMode',
    'vgpuHostMode',
    'capacityState',
    'capacitySince',
    'capacityReason',
  ],
  mig: ['uuid', 'gpuUuid', 'profile', 'gpuInstanceId', 'computeInstanceId', 'memoryUsedBytes', 'memoryTotalBytes'],
  vgpu: [
    'uuid',
    'gpuUuid',
    'vgpuId',
    'type',
    'vmId',
    'vmName',
    'utilizationGpu',
    'framebufferUsedBytes',
    'framebufferTotalBytes',
    'active',
    'licensed',
  ],
  engine: [
    'host',
    'engineId',
    'model',
    'endpoint',
    'deployment',
    'health',
    'kvCacheUsage',
    'running',
    'waiting',
    'busy',
  ],
  worker: ['engineId', 'rank', 'pid'],
} as const;

export interface TopoNode {
  id: string;
  kind: NodeKind;
  title: string;
  subtitle: string;
  mainstat?: string;
  secondarystat?: string;
  /** The sidecar's own load figure, 0..1 (utilization, else memory use; KV-cache use for engines), when sent. */
  load?: number;
  detail: Record<string, unknown>;
}

export interface TopoEdge {
  id: string;
  source: string;
  target: string;
}

export interface Topology {
  nodes: Map<string, TopoNode>;
  engines: TopoNode[];
  workers: TopoNode[];
  gpus: TopoNode[];
  /** MIG and vGPU instances of each GPU (by GPU node id), in frame order. */
  instancesByGpu: Map<string, TopoNode[]>;
  /** Instance node id → GPU node id. */
  parentGpu: Map<string, string>;
  /** Drawn edges only: engine → worker, worker → gpu/mig/vgpu, engine → gpu/mig/vgpu (containment is not drawn). */
  edges: TopoEdge[];
  outgoing: Map<string, string[]>;
  incoming: Map<string, string[]>;
  notices: QueryResultMetaNotice[];
}

function fieldByName(frame: DataFrame, name: string): Field | undefined {
  return frame.fields.find((f) => f.name === name);
}

function isEdgesFrame(frame: DataFrame): boolean {
  return frame.name === 'edges' || (Boolean(fieldByName(frame, 'source')) && Boolean(fieldByName(frame, 'target')));
}

function isNodesFrame(frame: DataFrame): boolean {
  return (
    frame.name === 'nodes' ||
    (!isEdgesFrame(frame) && Boolean(fieldByName(frame, 'id')) && Boolean(fieldByName(frame, 'kind')))
  );
}

function str(v: unknown): string {
  return v === null || v === undefined ? '' : String(v);
}

/** Display text of a stat field value, with its unit when the field config has one. */
function statText(field: Field | undefined, i: number): string | undefined {
  if (!field) {
    return undefined;
  }
  const v = field.values[i];
  if (v === null || v === undefined || v === '') {
    return undefined;
  }
  if (field.display) {
    const d = field.display(v);
    return `${d.prefix ?? ''}${d.text}${d.suffix ?? ''}`;
  }
  return String(v);
}

export function hasTopology(series: DataFrame[]): boolean {
  return series.some(isNodesFrame);
}

/** Parses the frames; undefined when there is no nodes frame (wrong query kind). */
export function parseTopology(series: DataFrame[]): Topology | undefined {
  const nodesFrames = series.filter(isNodesFrame);
  if (nodesFrames.length === 0) {
    return undefined;
  }
  const nodes = new Map<string, TopoNode>();
  for (const frame of nodesFrames) {
    const id = fieldByName(frame, 'id');
    const kind = fieldByName(frame, 'kind');
    if (!id || !kind) {
      continue;
    }
    const title = fieldByName(frame, 'title');
    const subtitle = fieldByName(frame, 'subtitle');
    const mainstat = fieldByName(frame, 'mainstat');
    const secondarystat = fieldByName(frame, 'secondarystat');
    const load = fieldByName(frame, 'load');
    const details = frame.fields.filter((f) => f.name.startsWith('detail__'));
    for (let i = 0; i < frame.length; i++) {
      const k = str(kind.values[i]) as NodeKind;
      const nodeId = str(id.values[i]);
      if (!nodeId || !KINDS.has(k)) {
        continue;
      }
      const detail: Record<string, unknown> = {};
      for (const f of details) {
        detail[f.name.slice('detail__'.length)] = f.values[i];
      }
      nodes.set(nodeId, {
        id: nodeId,
        kind: k,
        title: str(title?.values[i]) || nodeId,
        subtitle: str(subtitle?.values[i]),
        mainstat: statText(mainstat, i),
        secondarystat: statText(secondarystat, i),
        load: num(load?.values[i]),
        detail,
      });
    }
  }

  const rawEdges: TopoEdge[] = [];
  for (const frame of series.filter(isEdgesFrame)) {
    const id = fieldByName(frame, 'id');
    const source = fieldByName(frame, 'source');
    const target = fieldByName(frame, 'target');
    if (!source || !target) {
      continue;
    }
    for (let i = 0; i < frame.length; i++) {
      const s = str(source.values[i]);
      const t = str(target.values[i]);
      if (nodes.has(s) && nodes.has(t)) {
        rawEdges.push({ id: str(id?.values[i]) || `${s}->${t}`, source: s, target: t });
      }
    }
  }

  return assembleTopology(
    nodes,
    rawEdges,
    series.flatMap((f) => f.meta?.notices ?? [])
  );
}

/**
 * The one model both sources end in (the sidecar's node-graph frames, Prometheus' table frames, see
 * prometheus/): drawn edges split from containment (GPU → instance), instances attached to their GPU,
 * adjacency. Edges whose ends are not both nodes are dropped.
 */
export function assembleTopology(
  nodes: Map<string, TopoNode>,
  rawEdges: TopoEdge[],
  notices: QueryResultMetaNotice[]
): Topology {
  const all = Array.from(nodes.values());
  const gpus = all.filter((n) => n.kind === 'gpu');
  const parentGpu = new Map<string, string>();
  const edges: TopoEdge[] = [];
  for (const e of rawEdges) {
    const s = nodes.get(e.source);
    const t = nodes.get(e.target);
    if (!s || !t) {
      continue;
    }
    if (s.kind === 'gpu' && (t.kind === 'mig' || t.kind === 'vgpu')) {
      parentGpu.set(t.id, s.id);
    } else {
      edges.push(e);
    }
  }
  // Instances without a containment edge: fall back to detail__gpuUuid, matched to a GPU's uuid or id.
  const gpuByUuid = new Map<string, string>();
  for (const g of gpus) {
    gpuByUuid.set(str(g.detail.uuid) || g.id, g.id);
    gpuByUuid.set(g.id, g.id);
  }
  const instancesByGpu = new Map<string, TopoNode[]>();
  for (const n of all) {
    if (n.kind !== 'mig' && n.kind !== 'vgpu') {
      continue;
    }
    let gpuId = parentGpu.get(n.id);
    if (!gpuId) {
      gpuId = gpuByUuid.get(str(n.detail.gpuUuid));
      if (gpuId) {
        parentGpu.set(n.id, gpuId);
      }
    }
    if (gpuId) {
      const list = instancesByGpu.get(gpuId) ?? [];
      list.push(n);
      instancesByGpu.set(gpuId, list);
    }
  }

  const outgoing = new Map<string, string[]>();
  const incoming = new Map<string, string[]>();
  const push = (m: Map<string, string[]>, k: string, v: string) => {
    const list = m.get(k);
    if (list) {
      list.push(v);
    } else {
      m.set(k, [v]);
    }
  };
  for (const e of edges) {
    push(outgoing, e.source, e.target);
    push(incoming, e.target, e.source);
  }

  return {
    nodes,
    engines: all.filter((n) => n.kind === 'engine'),
    workers: all.filter((n) => n.kind === 'worker'),
    gpus,
    instancesByGpu,
    parentGpu,
    edges,
    outgoing,
    incoming,
    notices,
  };
}

export function num(v: unknown): number | undefined {
  if (typeof v === 'number') {
    return Number.isFinite(v) ? v : undefined;
  }
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) {
    return Number(v);
  }
  return undefined;
}

export function bool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') {
    return v;
  }
  if (v === 'true' || v === 1) {
    return true;
  }
  if (v === 'false' || v === 0) {
    return false;
  }
  return undefined;
}

/** used / total in percent, or undefined when either is missing (never 0 for "unknown"). */
export function ratioPercent(used: unknown, total: unknown): number | undefined {
  const u = num(used);
  const t = num(total);
  if (u === undefined || t === undefined || t <= 0) {
    return undefined;
  }
  return (u / t) * 100;
}

/** The GPU node a node sits on: itself, its parent (instances), or, for workers/engines, what they point at. */
export function gpusOf(topo: Topology, id: string): string[] {
  const n = topo.nodes.get(id);
  if (!n) {
    return [];
  }
  if (n.kind === 'gpu') {
    return [id];
  }
  if (n.kind === 'mig' || n.kind === 'vgpu') {
    const p = topo.parentGpu.get(id);
    return p ? [p] : [];
  }
  const out = new Set<string>();
  for (const t of topo.outgoing.get(id) ?? []) {
    for (const g of gpusOf(topo, t)) {
      out.add(g);
    }
  }
  return Array.from(out);
}

/**
 * The colour figure of a node in percent (0..100), or undefined when the sidecar has no value.
 * Workers take their GPU's (or MIG/vGPU instance's) figure, so a rank is as hot as what it runs on.
 */
export function figureOf(topo: Topology, node: TopoNode, colorBy: 'load' | 'memory'): number | undefined {
  const d = node.detail;
  // The sidecar's `load` (0..1) stands in where the panel's own figure is missing, e.g. a MIG-mode
  // GPU, whose utilization nvidia-smi does not report: the sidecar then uses its memory use.
  const sidecarLoad = node.load === undefined ? undefined : node.load * 100;
  switch (node.kind) {
    case 'gpu':
      return colorBy === 'load'
        ? (num(d.utilizationGpu) ?? sidecarLoad)
        : ratioPercent(d.memoryUsedBytes, d.memoryTotalBytes);
    case 'mig':
      // nvidia-smi reports no per-MIG-instance utilization; memory use is the load figure there.
      return ratioPercent(d.memoryUsedBytes, d.memoryTotalBytes);
    case 'vgpu':
      return colorBy === 'load'
        ? (num(d.utilizationGpu) ?? sidecarLoad)
        : ratioPercent(d.framebufferUsedBytes, d.framebufferTotalBytes);
    case 'engine': {
      const kv = num(d.kvCacheUsage);
      return kv === undefined ? undefined : kv * 100;
    }
    case 'worker': {
      let best: number | undefined;
      for (const t of topo.outgoing.get(node.id) ?? []) {
        const target = topo.nodes.get(t);
        const v = target ? figureOf(topo, target, colorBy) : undefined;
        if (v !== undefined && (best === undefined || v > best)) {
          best = v;
        }
      }
      return best;
    }
  }
}
