import type { QueryResultMetaNotice } from '@grafana/data';

import { type Capped, capTopology } from '../cap';
import { type TopoEdge, type TopoNode, type Topology, assembleTopology } from '../model';
import { formatBytes } from '../format';
import { type Entity, type Fleet, type FleetHost, valueOf } from './fleet';

/**
 * The fleet's hosts as the panel's one topology model: the same node kinds, titles and detail keys
 * the sidecar's topology frames carry (see model.ts DETAIL_KEYS), so layout, colours, tooltips,
 * drill-down and links work unchanged. Ids are scoped by the host key (`gpu:<host>/<uuid>`): a host
 * name used in two clusters stays two hosts.
 */

function ratio(used: number | undefined, total: number | undefined): number | undefined {
  return used === undefined || total === undefined || total <= 0 ? undefined : used / total;
}

function gpuNode(host: FleetHost, uuid: string, e: Entity): TopoNode {
  const l = e.labels;
  const util = valueOf(e, 'gpu_util');
  const used = valueOf(e, 'gpu_mem_used');
  const total = valueOf(e, 'gpu_mem_total');
  const mode =
    l.mig_mode === 'enabled' ? 'MIG' : l.vgpu_mode && l.vgpu_mode !== 'none' ? `vGPU ${l.vgpu_mode}` : 'whole';
  const index = l.gpu_index;
  return {
    id: `gpu:${host.key}/${uuid}`,
    kind: 'gpu',
    title: index !== undefined ? `GPU ${index}` : (l.name ?? uuid),
    subtitle: l.name ? `${l.name} · ${mode}` : mode,
    mainstat:
      util !== undefined
        ? `${Math.round(util * 100)} % util`
        : used !== undefined
          ? `${formatBytes(used)} used`
          : undefined,
    secondarystat:
      used !== undefined || total !== undefined ? `${formatBytes(used)} / ${formatBytes(total)}` : undefined,
    // As the sidecar does: utilization, else (MIG mode: the driver reports none) memory use.
    load: util ?? ratio(used, total),
    detail: {
      host: host.host,
      hostKey: host.key,
      uuid,
      index: index === undefined ? undefined : Number(index),
      name: l.name,
      pciBusId: l.pci_bus_id,
      utilizationGpu: util === undefined ? undefined : util * 100,
      memoryUsedBytes: used,
      memoryTotalBytes: total,
      temperatureC: valueOf(e, 'gpu_temp'),
      powerW: valueOf(e, 'gpu_power'),
      processes: valueOf(e, 'gpu_procs'),
      migMode: l.mig_mode,
      vgpuHostMode: l.vgpu_mode,
      capacityState: e.values?.get('gpu_capacity')?.labels.state,
      // The family is in seconds; the model (as the sidecar's frames) holds ms since the epoch.
      capacitySince: msOf(valueOf(e, 'gpu_capacity_since')),
    },
  };
}

function migNode(host: FleetHost, uuid: string, e: Entity): TopoNode {
  const l = e.labels;
  const used = valueOf(e, 'mig_mem_used');
  const total = valueOf(e, 'mig_mem_total');
  const gi = l.gi_id;
  const ci = l.ci_id;
  return {
    id: `mig:${host.key}/${uuid}`,
    kind: 'mig',
    title: l.profile ?? (gi !== undefined ? `GI ${gi} CI ${ci ?? '?'}` : uuid),
    subtitle: gi !== undefined ? `GI ${gi} · CI ${ci ?? '?'}` : '',
    mainstat: `${formatBytes(used)} / ${formatBytes(total)}`,
    load: ratio(used, total),
    detail: {
      host: host.host,
      hostKey: host.key,
      uuid,
      gpuUuid: l.gpu_uuid,
      profile: l.profile,
      gpuInstanceId: gi === undefined ? undefined : Number(gi),
      computeInstanceId: ci === undefined ? undefined : Number(ci),
      memoryUsedBytes: used,
      memoryTotalBytes: total,
    },
  };
}

function vgpuNode(host: FleetHost, e: Entity): TopoNode {
  const l = e.labels;
  const util = valueOf(e, 'vgpu_util');
  const used = valueOf(e, 'vgpu_fb_used');
  const total = valueOf(e, 'vgpu_fb_total');
  const active = valueOf(e, 'vgpu_active');
  return {
    id: `vgpu:${host.key}/${l.gpu_uuid ?? ''}/${l.vgpu_id}`,
    kind: 'vgpu',
    title: l.vm_name ?? l.vm_id ?? `vGPU ${l.vgpu_id}`,
    subtitle: l.vgpu_type ?? 'vGPU',
    mainstat: util !== undefined ? `${Math.round(util * 100)} % util` : 'util n/a',
    load: util ?? ratio(used, total),
    detail: {
      host: host.host,
      hostKey: host.key,
      vgpuId: l.vgpu_id,
      uuid: l.vgpu_uuid,
      gpuUuid: l.gpu_uuid,
      vmId: l.vm_id,
      vmName: l.vm_name,
      type: l.vgpu_type,
      utilizationGpu: util === undefined ? undefined : util * 100,
      framebufferUsedBytes: used,
      framebufferTotalBytes: total,
      active: active === undefined ? undefined : active > 0,
      // No family carries the licence state: the drill-down says "licence ?".
      licensed: undefined,
    },
  };
}

function engineNode(host: FleetHost, id: string, e: Entity): TopoNode {
  const l = e.labels;
  const up = valueOf(e, 'engine_up');
  const kv = valueOf(e, 'engine_kv');
  const health = up === undefined ? undefined : up > 0 ? 'healthy' : 'down';
  const busy = valueOf(e, 'engine_busy');
  return {
    id: `engine:${host.key}/${id}`,
    kind: 'engine',
    title: l.model ?? id,
    subtitle: [l.type, l.version].filter(Boolean).join(' ') + (l.endpoint ? ` · ${l.endpoint}` : ''),
    mainstat: kv !== undefined ? `KV ${Math.round(kv * 100)} %` : health,
    load: health === 'down' ? 1 : kv,
    detail: {
      host: host.host,
      hostKey: host.key,
      engineId: id,
      model: l.model,
      endpoint: l.endpoint,
      deployment: l.deployment,
      health,
      kvCacheUsage: kv,
      running: valueOf(e, 'engine_running'),
      waiting: valueOf(e, 'engine_waiting'),
      busy: busy === undefined ? undefined : busy > 0,
    },
  };
}

/** Adds one host's nodes and edges. Instances, engines and edges that name a GPU or engine no query returned get a bare node. */
function addHost(host: FleetHost, nodes: Map<string, TopoNode>, edges: TopoEdge[]) {
  const d = host.detail;
  const gpuId = (uuid: string) => `gpu:${host.key}/${uuid}`;
  const bare: Entity = { labels: {}, values: new Map() };
  const ensureGpu = (uuid: string) => {
    if (!nodes.has(gpuId(uuid))) {
      nodes.set(gpuId(uuid), gpuNode(host, uuid, d.gpus.get(uuid) ?? bare));
    }
  };
  for (const [uuid, e] of d.gpus) {
    nodes.set(gpuId(uuid), gpuNode(host, uuid, e));
  }
  for (const [uuid, e] of d.migs) {
    const n = migNode(host, uuid, e);
    nodes.set(n.id, n);
    if (e.labels.gpu_uuid) {
      ensureGpu(e.labels.gpu_uuid);
      edges.push({ id: `${gpuId(e.labels.gpu_uuid)}->${n.id}`, source: gpuId(e.labels.gpu_uuid), target: n.id });
    }
  }
  for (const e of d.vgpus.values()) {
    const n = vgpuNode(host, e);
    nodes.set(n.id, n);
    if (e.labels.gpu_uuid) {
      ensureGpu(e.labels.gpu_uuid);
      edges.push({ id: `${gpuId(e.labels.gpu_uuid)}->${n.id}`, source: gpuId(e.labels.gpu_uuid), target: n.id });
    }
  }
  for (const [id, e] of d.engines) {
    nodes.set(`engine:${host.key}/${id}`, engineNode(host, id, e));
  }

  // A rank on a MIG instance has an edge to the instance (gpufleet_engine_mig) and one to the parent
  // GPU (gpufleet_engine_gpu): the instance is the more exact, the GPU edge is dropped.
  const onMig = new Set<string>();
  for (const e of d.edges.values()) {
    const l = e.labels;
    if (l.mig_uuid && l.gpu_uuid) {
      onMig.add(`${l.engine_id}/${l.rank ?? ''}/${l.gpu_uuid}`);
    }
  }
  for (const e of d.edges.values()) {
    const l = e.labels;
    if (!l.mig_uuid && onMig.has(`${l.engine_id}/${l.rank ?? ''}/${l.gpu_uuid}`)) {
      continue;
    }
    const engine = `engine:${host.key}/${l.engine_id}`;
    if (!nodes.has(engine)) {
      nodes.set(engine, engineNode(host, l.engine_id, d.engines.get(l.engine_id) ?? bare));
    }
    let target: string;
    if (l.mig_uuid) {
      target = `mig:${host.key}/${l.mig_uuid}`;
      if (!nodes.has(target)) {
        const n = migNode(host, l.mig_uuid, { labels: { gpu_uuid: l.gpu_uuid ?? '' }, values: new Map() });
        nodes.set(target, n);
        if (l.gpu_uuid) {
          ensureGpu(l.gpu_uuid);
          edges.push({ id: `${gpuId(l.gpu_uuid)}->${target}`, source: gpuId(l.gpu_uuid), target });
        }
      }
    } else {
      ensureGpu(l.gpu_uuid);
      target = gpuId(l.gpu_uuid);
    }
    if (l.rank === undefined) {
      edges.push({ id: `${engine}->${target}`, source: engine, target });
      continue;
    }
    const worker = `worker:${host.key}/${l.engine_id}/${l.rank}`;
    if (!nodes.has(worker)) {
      nodes.set(worker, {
        id: worker,
        kind: 'worker',
        title: `rank ${l.rank}`,
        subtitle: '',
        detail: { host: host.host, hostKey: host.key, engineId: l.engine_id, rank: l.rank },
      });
      edges.push({ id: `${engine}->${worker}`, source: engine, target: worker });
    }
    edges.push({ id: `${worker}->${target}`, source: worker, target });
  }
}

/** The topology of some hosts of the fleet (all when `keys` is undefined), with the notices to show over it. */
export function fleetTopology(fleet: Fleet, keys: string[] | undefined, notices: QueryResultMetaNotice[]): Topology {
  const nodes = new Map<string, TopoNode>();
  const edges: TopoEdge[] = [];
  const hosts = keys
    ? keys.map((k) => fleet.hosts.get(k)).filter((h): h is FleetHost => Boolean(h))
    : fleet.hosts.values();
  for (const host of hosts) {
    addHost(host, nodes, edges);
  }
  return assembleTopology(nodes, edges, notices);
}

/** What a host would add to the graph, counted from its rows without building a node. */
function hostCounts(h: FleetHost) {
  const ranks = new Set<string>();
  const engines = new Set<string>(h.detail.engines.keys());
  const gpus = new Set<string>(h.detail.gpus.keys());
  for (const e of h.detail.edges.values()) {
    engines.add(e.labels.engine_id);
    ranks.add(`${e.labels.engine_id}/${e.labels.rank ?? ''}`);
  }
  for (const m of [...h.detail.migs.values(), ...h.detail.vgpus.values()]) {
    if (m.labels.gpu_uuid) {
      gpus.add(m.labels.gpu_uuid);
    }
  }
  return {
    gpus: gpus.size,
    instances: h.detail.migs.size + h.detail.vgpus.size,
    engines: engines.size,
    ranks: ranks.size,
  };
}

/**
 * The topology across hosts under the node cap, built only as far as the cap reaches: hosts in key
 * order, each counted from its rows first, nodes built for the hosts up to the first that crosses the
 * cap (capTopology then cuts inside it); the hosts after it are counted, not built. So 56,000 MIG rows
 * cost one pass over the rows and `cap` nodes, not 176,000 nodes and their edges.
 */
export function fleetTopologyCapped(fleet: Fleet, cap: number, notices: QueryResultMetaNotice[]): Capped {
  const hosts = Array.from(fleet.hosts.values()).sort((a, b) =>
    a.key.localeCompare(b.key, undefined, { numeric: true })
  );
  const build: string[] = [];
  let budget = 0;
  let i = 0;
  for (; i < hosts.length && (budget <= cap || !(cap > 0)); i++) {
    const c = hostCounts(hosts[i]);
    budget += c.gpus + c.instances + c.engines + c.ranks;
    build.push(hosts[i].key);
  }
  const capped = capTopology(fleetTopology(fleet, build, notices), cap);
  if (i >= hosts.length) {
    return capped;
  }
  const omitted = capped.omitted ?? { total: 0, byHost: new Map() };
  for (const h of hosts.slice(i)) {
    const c = hostCounts(h);
    const n = c.gpus + c.instances + c.engines + c.ranks;
    if (n > 0) {
      omitted.total += n;
      omitted.byHost.set(h.key, c);
    }
  }
  return { topo: capped.topo, omitted };
}

/**
 * Families a host should have answered but did not, while other hosts did: an older sidecar, a family
 * turned off, or a scrape that failed. Only families every such host has (GPU memory, not utilization,
 * which MIG GPUs never report).
 */
export function missingFamilies(fleet: Fleet, host: FleetHost): string[] {
  const expected = ['hosts'];
  if (host.detail.gpus.size > 0) {
    expected.push('gpus', 'gpu_mem_used', 'gpu_mem_total');
  }
  if (host.detail.migs.size > 0) {
    expected.push('mig', 'mig_mem_used', 'mig_mem_total');
  }
  if (host.detail.engines.size > 0) {
    expected.push('engines', 'engine_up', 'edges_gpu');
  }
  return expected.filter((r) => fleet.seen.has(r) && !host.seen.has(r));
}

function msOf(seconds: number | undefined): number | undefined {
  return seconds === undefined ? undefined : seconds * 1000;
}
