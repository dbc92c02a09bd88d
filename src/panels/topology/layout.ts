import { type Topology, type TopoNode, gpusOf, num } from './model';
import type { GroupBy } from './types';

/**
 * Layered layout: engines | ranks/workers | GPUs (with their MIG / vGPU instances as chips inside
 * the GPU row). Putting instances inside their GPU instead of in a fourth column is what keeps
 * 64 GPUs × 7 MIG readable: 448 instances become 64 rows of chips, and edges only run between
 * three columns. Rows are ordered so that edges run mostly straight across: GPUs by group, workers
 * next to the GPU they run on, engines next to their workers; overlaps are pushed down.
 */
export const SIZES = {
  pad: 8,
  gap: 36,
  groupHeader: 22,
  gpuRow: 54,
  gpuRowGap: 6,
  engine: 44,
  worker: 26,
  stackGap: 6,
  chipWidth: 88,
  chipHeight: 18,
  chipGap: 4,
};

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface PlacedNode {
  node: TopoNode;
  box: Box;
}

export interface GpuRow extends PlacedNode {
  chips: Array<{ node: TopoNode; box: Box }>;
  /** Instances not drawn for lack of room; the drill-down lists them all. */
  hiddenChips: number;
}

export interface Band {
  label: string;
  y: number;
  h: number;
}

export interface LaidEdge {
  id: string;
  source: string;
  target: string;
  d: string;
}

export interface Layout {
  width: number;
  height: number;
  columns: { engine: Box; worker?: Box; gpu: Box };
  engines: PlacedNode[];
  workers: PlacedNode[];
  gpuRows: GpuRow[];
  bands: Band[];
  edges: LaidEdge[];
  /** Where each drawn node is (chips included), for edges and tooltips. */
  boxes: Map<string, Box>;
}

function byText(a: string, b: string): number {
  return a.localeCompare(b, undefined, { numeric: true });
}

function gpuSort(a: TopoNode, b: TopoNode): number {
  const ia = num(a.detail.index);
  const ib = num(b.detail.index);
  if (ia !== undefined && ib !== undefined && ia !== ib) {
    return ia - ib;
  }
  return byText(a.title, b.title);
}

function hostOf(n: TopoNode): string {
  return String(n.detail.hostKey ?? n.detail.host ?? '') || 'unknown host';
}

/** Place boxes near their wanted centre, top to bottom, without overlap. */
function stack(items: Array<{ id: string; want: number; h: number }>, top: number, gap: number): Map<string, number> {
  const sorted = [...items].sort((a, b) => a.want - b.want);
  const ys = new Map<string, number>();
  let next = top;
  for (const it of sorted) {
    const y = Math.max(it.want - it.h / 2, next);
    ys.set(it.id, y);
    next = y + it.h + gap;
  }
  return ys;
}

/** engine → worker → target edges become engine → target (deduplicated); other edges stay. */
export function collapseWorkers(topo: Topology): Array<{ id: string; source: string; target: string }> {
  const out = new Map<string, { id: string; source: string; target: string }>();
  for (const e of topo.edges) {
    const target = topo.nodes.get(e.target);
    const source = topo.nodes.get(e.source);
    if (source?.kind === 'worker') {
      continue;
    }
    if (target?.kind === 'worker') {
      for (const t of topo.outgoing.get(target.id) ?? []) {
        const id = `${e.source}->${t}`;
        out.set(id, { id, source: e.source, target: t });
      }
    } else {
      out.set(e.id, e);
    }
  }
  return Array.from(out.values());
}

export function computeLayout(topo: Topology, opts: { groupBy: GroupBy; showWorkers: boolean; width: number }): Layout {
  const { pad, gap } = SIZES;
  const width = Math.max(opts.width, 360);
  const showWorkers = opts.showWorkers && topo.workers.length > 0;
  // A host without engines (a vGPU host, or before any engine is discovered) gives the GPUs the width.
  const showEngines = topo.engines.length > 0 || showWorkers;
  const inner = width - 2 * pad - gap * ((showWorkers ? 1 : 0) + (showEngines ? 1 : 0));
  const engineW = showEngines ? Math.round(inner * (showWorkers ? 0.27 : 0.32)) : 0;
  const workerW = showWorkers ? Math.round(inner * 0.15) : 0;
  const gpuW = inner - engineW - workerW;
  const engineCol: Box = { x: pad, y: 0, w: engineW, h: 0 };
  const workerCol: Box | undefined = showWorkers ? { x: pad + engineW + gap, y: 0, w: workerW, h: 0 } : undefined;
  const gpuCol: Box = { x: width - pad - gpuW, y: 0, w: gpuW, h: 0 };

  // Engine order (also the order of "by engine" groups): by title.
  const engines = [...topo.engines].sort((a, b) => byText(a.title, b.title));
  const engineRank = new Map(engines.map((e, i) => [e.id, i]));
  const enginesOfGpu = new Map<string, string[]>();
  for (const e of engines) {
    for (const g of gpusOf(topo, e.id)) {
      enginesOfGpu.set(g, [...(enginesOfGpu.get(g) ?? []), e.id]);
    }
  }

  // GPU rows in groups.
  const groups: Array<{ label: string; gpus: TopoNode[] }> = [];
  if (opts.groupBy === 'host') {
    const byHost = new Map<string, TopoNode[]>();
    for (const g of topo.gpus) {
      byHost.set(hostOf(g), [...(byHost.get(hostOf(g)) ?? []), g]);
    }
    for (const host of Array.from(byHost.keys()).sort(byText)) {
      groups.push({ label: host, gpus: byHost.get(host)!.sort(gpuSort) });
    }
  } else if (opts.groupBy === 'engine') {
    const byEngine = new Map<string, TopoNode[]>();
    const unused: TopoNode[] = [];
    for (const g of topo.gpus) {
      const users = enginesOfGpu.get(g.id);
      if (!users?.length) {
        unused.push(g);
        continue;
      }
      const first = users.reduce((a, b) => ((engineRank.get(a) ?? 0) <= (engineRank.get(b) ?? 0) ? a : b));
      byEngine.set(first, [...(byEngine.get(first) ?? []), g]);
    }
    for (const e of engines) {
      const list = byEngine.get(e.id);
      if (list) {
        groups.push({ label: e.title, gpus: list.sort(gpuSort) });
      }
    }
    if (unused.length) {
      groups.push({ label: 'No engine', gpus: unused.sort(gpuSort) });
    }
  } else {
    groups.push({ label: '', gpus: [...topo.gpus].sort((a, b) => byText(hostOf(a), hostOf(b)) || gpuSort(a, b)) });
  }

  const boxes = new Map<string, Box>();
  const bands: Band[] = [];
  const gpuRows: GpuRow[] = [];
  const chipsFit = Math.max(1, Math.floor((gpuW - 12 + SIZES.chipGap) / (SIZES.chipWidth + SIZES.chipGap)));
  let y = pad;
  for (const group of groups) {
    if (group.label) {
      bands.push({ label: group.label, y, h: SIZES.groupHeader });
      y += SIZES.groupHeader;
    }
    for (const g of group.gpus) {
      const box: Box = { x: gpuCol.x, y, w: gpuW, h: SIZES.gpuRow };
      boxes.set(g.id, box);
      const instances = topo.instancesByGpu.get(g.id) ?? [];
      const shown = instances.length > chipsFit ? chipsFit - 1 : instances.length;
      const chips = instances.slice(0, shown).map((node, i) => {
        const chip: Box = {
          x: box.x + 6 + i * (SIZES.chipWidth + SIZES.chipGap),
          y: box.y + SIZES.gpuRow - SIZES.chipHeight - 6,
          w: SIZES.chipWidth,
          h: SIZES.chipHeight,
        };
        boxes.set(node.id, chip);
        return { node, box: chip };
      });
      gpuRows.push({ node: g, box, chips, hiddenChips: instances.length - shown });
      y += SIZES.gpuRow + SIZES.gpuRowGap;
    }
  }
  const gpusBottom = y;

  const centre = (id: string): number | undefined => {
    const b = boxes.get(id);
    return b ? b.y + b.h / 2 : undefined;
  };
  const mean = (vals: Array<number | undefined>): number | undefined => {
    const ok = vals.filter((v): v is number => v !== undefined);
    return ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : undefined;
  };
  // Where a target is drawn: an instance hidden for lack of room sits at its GPU's row.
  const targetCentre = (id: string) => centre(id) ?? centre(topo.parentGpu.get(id) ?? '');

  // Workers next to what they run on.
  const workers: PlacedNode[] = [];
  if (showWorkers && workerCol) {
    const items = topo.workers.map((w) => ({
      id: w.id,
      want: mean((topo.outgoing.get(w.id) ?? []).map(targetCentre)) ?? gpusBottom,
      h: SIZES.worker,
    }));
    const ys = stack(items, pad, SIZES.stackGap);
    for (const w of topo.workers) {
      const box: Box = { x: workerCol.x, y: ys.get(w.id)!, w: workerW, h: SIZES.worker };
      boxes.set(w.id, box);
      workers.push({ node: w, box });
    }
  }

  // With the ranks column hidden, an engine's edges go straight to what its ranks run on.
  const drawnEdges = showWorkers ? topo.edges : collapseWorkers(topo);
  const engineTargets = new Map<string, string[]>();
  for (const e of drawnEdges) {
    engineTargets.set(e.source, [...(engineTargets.get(e.source) ?? []), e.target]);
  }

  // Engines next to their workers (or the GPUs they use directly); engines using nothing go last.
  const engineItems = engines.map((e, i) => ({
    id: e.id,
    want: mean((engineTargets.get(e.id) ?? []).map(targetCentre)) ?? gpusBottom + i,
    h: SIZES.engine,
  }));
  const engineYs = stack(engineItems, pad, SIZES.stackGap);
  const placedEngines: PlacedNode[] = engines.map((e) => {
    const box: Box = { x: engineCol.x, y: engineYs.get(e.id)!, w: engineW, h: SIZES.engine };
    boxes.set(e.id, box);
    return { node: e, box };
  });

  // Edges: right side of the source → left side of the target's column (instances: at their chip's height).
  const edges: LaidEdge[] = [];
  for (const e of drawnEdges) {
    const s = boxes.get(e.source);
    const targetNode = topo.nodes.get(e.target);
    if (!s || !targetNode) {
      continue;
    }
    let tb = boxes.get(e.target);
    let tx: number;
    if (targetNode.kind === 'mig' || targetNode.kind === 'vgpu') {
      const row = boxes.get(topo.parentGpu.get(e.target) ?? '');
      if (!row) {
        continue;
      }
      tb = tb ?? row;
      tx = row.x;
    } else if (tb) {
      tx = tb.x;
    } else {
      continue;
    }
    const x1 = s.x + s.w;
    const y1 = s.y + s.h / 2;
    const y2 = tb.y + tb.h / 2;
    const mx = (x1 + tx) / 2;
    edges.push({
      id: e.id,
      source: e.source,
      target: e.target,
      d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${tx},${y2}`,
    });
  }

  let height = gpusBottom;
  for (const b of boxes.values()) {
    height = Math.max(height, b.y + b.h + pad);
  }
  return {
    width,
    height,
    columns: { engine: engineCol, worker: workerCol, gpu: gpuCol },
    engines: placedEngines,
    workers,
    gpuRows,
    bands,
    edges,
    boxes,
  };
}
