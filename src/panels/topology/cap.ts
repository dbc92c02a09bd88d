import { type TopoEdge, type TopoNode, type Topology, assembleTopology, num } from './model';

/**
 * The node cap: past `cap` nodes (engines, ranks, GPUs and their MIG / vGPU instances), the panel
 * draws the first GPUs (by host, then index) with their instances and the engines and ranks on them,
 * and says what it left out, per host. Applied before the layout, in time linear in the topology.
 */
export interface Omitted {
  total: number;
  /** Per host (its band label): how many of each kind were not drawn. */
  byHost: Map<string, { gpus: number; instances: number; engines: number; ranks: number }>;
}

export interface Capped {
  topo: Topology;
  omitted?: Omitted;
}

function hostOf(n: TopoNode): string {
  return String(n.detail.hostKey ?? n.detail.host ?? '') || 'unknown host';
}

function byHostThenIndex(a: TopoNode, b: TopoNode): number {
  const h = hostOf(a).localeCompare(hostOf(b), undefined, { numeric: true });
  if (h !== 0) {
    return h;
  }
  const ia = num(a.detail.index);
  const ib = num(b.detail.index);
  return ia !== undefined && ib !== undefined && ia !== ib ? ia - ib : a.id.localeCompare(b.id);
}

export function capTopology(topo: Topology, cap: number): Capped {
  if (!(cap > 0) || topo.nodes.size <= cap) {
    return { topo };
  }
  const keep = new Set<string>();
  /** What using a target (GPU or instance) brings in: the ranks pointing at it and their engines. */
  const users = (target: string): string[] => {
    const out: string[] = [];
    for (const s of topo.incoming.get(target) ?? []) {
      const n = topo.nodes.get(s);
      if (n?.kind === 'worker') {
        out.push(s);
        for (const e of topo.incoming.get(s) ?? []) {
          out.push(e);
          // An engine comes with all its ranks (its card counts them).
          for (const w of topo.outgoing.get(e) ?? []) {
            out.push(w);
          }
        }
      } else if (n) {
        out.push(s);
      }
    }
    return out;
  };

  let full = false;
  for (const gpu of [...topo.gpus].sort(byHostThenIndex)) {
    const group = [gpu.id, ...(topo.instancesByGpu.get(gpu.id) ?? []).map((n) => n.id)];
    const add = new Set<string>();
    for (const id of group) {
      add.add(id);
      for (const u of users(id)) {
        add.add(u);
      }
    }
    const fresh = Array.from(add).filter((id) => !keep.has(id));
    if (keep.size + fresh.length > cap) {
      full = true;
      break;
    }
    fresh.forEach((id) => keep.add(id));
  }
  if (!full) {
    // Engines on no GPU (still starting, or their GPUs not returned), with their ranks, while there is room.
    for (const e of topo.engines) {
      const group = [e.id, ...(topo.outgoing.get(e.id) ?? [])].filter((id) => !keep.has(id));
      if (keep.size + group.length > cap) {
        break;
      }
      group.forEach((id) => keep.add(id));
    }
  }

  const nodes = new Map<string, TopoNode>();
  const byHost: Omitted['byHost'] = new Map();
  for (const [id, n] of topo.nodes) {
    if (keep.has(id)) {
      nodes.set(id, n);
      continue;
    }
    const h = hostOf(n.kind === 'mig' || n.kind === 'vgpu' ? (topo.nodes.get(topo.parentGpu.get(id) ?? '') ?? n) : n);
    const c = byHost.get(h) ?? { gpus: 0, instances: 0, engines: 0, ranks: 0 };
    if (n.kind === 'gpu') {
      c.gpus++;
    } else if (n.kind === 'engine') {
      c.engines++;
    } else if (n.kind === 'worker') {
      c.ranks++;
    } else {
      c.instances++;
    }
    byHost.set(h, c);
  }
  const edges: TopoEdge[] = [];
  // Containment (GPU → instance) and drawn edges, between kept nodes only.
  for (const [inst, gpu] of topo.parentGpu) {
    if (keep.has(inst) && keep.has(gpu)) {
      edges.push({ id: `${gpu}->${inst}`, source: gpu, target: inst });
    }
  }
  for (const e of topo.edges) {
    if (keep.has(e.source) && keep.has(e.target)) {
      edges.push(e);
    }
  }
  return {
    topo: assembleTopology(nodes, edges, topo.notices),
    omitted: { total: topo.nodes.size - nodes.size, byHost },
  };
}

/** "sim-0042: 12 GPUs, 84 instances, 3 engines, 24 ranks; sim-0043: …" for the first few hosts. */
export function omittedText(o: Omitted, hosts = 5): string {
  const parts: string[] = [];
  const entries = Array.from(o.byHost.entries()).sort(([a], [b]) => a.localeCompare(b, undefined, { numeric: true }));
  for (const [host, c] of entries.slice(0, hosts)) {
    const what = [
      c.gpus && `${c.gpus} GPU${c.gpus === 1 ? '' : 's'}`,
      c.instances && `${c.instances} instance${c.instances === 1 ? '' : 's'}`,
      c.engines && `${c.engines} engine${c.engines === 1 ? '' : 's'}`,
      c.ranks && `${c.ranks} rank${c.ranks === 1 ? '' : 's'}`,
    ].filter(Boolean);
    parts.push(`${host}: ${what.join(', ')}`);
  }
  const more = entries.length - hosts;
  return parts.join('; ') + (more > 0 ? `; and ${more} more host${more === 1 ? '' : 's'}` : '');
}
