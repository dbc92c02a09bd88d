import { type InterpolateFunction, locationUtil, textUtil } from '@grafana/data';

import type { Topology, TopoNode } from './model';

/**
 * Data links from a clicked node to a dashboard: the panel options "GPU link" and "Engine link" are
 * URL templates. `${host}`, `${gpu}`, … are the clicked node's fields (below); everything else in the
 * template (`$var`, `${var:format}`, `${__url_time_range}`) is left to the panel's replaceVariables,
 * i.e. to Grafana's dashboard variables and macros.
 *
 * The defaults point at the provisioned GPU and engine dashboards, whose `host`, `gpu` and `engine`
 * variables are the Prometheus labels `host`, `gpu_uuid` and `engine_id`: the same strings the
 * sidecar puts in the topology's `detail__host`, `detail__uuid` and `detail__engineId`.
 */
export const DEFAULT_GPU_LINK = '/d/gpufleet-gpu/gpu-detail?var-host=${host}&var-gpu=${gpu}&${__url_time_range}';
export const DEFAULT_ENGINE_LINK =
  '/d/gpufleet-engine/engine-detail?var-host=${host}&var-engine=${engine}&${__url_time_range}';

/** Node fields a GPU link can use. `mig` is the clicked MIG instance's UUID, empty when a GPU row or a vGPU was clicked. */
export const GPU_LINK_FIELDS = ['host', 'gpu', 'gpuIndex', 'mig'] as const;
/** Node fields an engine link can use. */
export const ENGINE_LINK_FIELDS = ['host', 'engine', 'model'] as const;

export type GpuLinkFields = Record<(typeof GPU_LINK_FIELDS)[number], string>;
export type EngineLinkFields = Record<(typeof ENGINE_LINK_FIELDS)[number], string>;

function str(v: unknown): string {
  return v === null || v === undefined ? '' : String(v);
}

/** The part of a node id after its kind prefix ("gpu:GPU-…" → "GPU-…"), for frames without detail fields. */
function idTail(id: string): string {
  const i = id.indexOf(':');
  return i < 0 ? id : id.slice(i + 1);
}

/**
 * Fields of a GPU, and of the instance that was clicked in its row (if any). MIG and vGPU nodes carry
 * no host in the sidecar's frames: the host is always the GPU's.
 */
export function gpuLinkFields(gpu: TopoNode, instance?: TopoNode): GpuLinkFields {
  return {
    host: str(gpu.detail.host),
    gpu: str(gpu.detail.uuid) || idTail(gpu.id),
    gpuIndex: str(gpu.detail.index),
    mig: instance?.kind === 'mig' ? str(instance.detail.uuid) || idTail(instance.id) : '',
  };
}

export function engineLinkFields(engine: TopoNode): EngineLinkFields {
  return {
    host: str(engine.detail.host),
    engine: str(engine.detail.engineId) || idTail(engine.id),
    model: str(engine.detail.model),
  };
}

/** The engine a node belongs to: itself, or for a rank the engine with an edge to it. */
export function engineOf(topo: Topology, id: string): TopoNode | undefined {
  const n = topo.nodes.get(id);
  if (n?.kind === 'engine') {
    return n;
  }
  if (n?.kind === 'worker') {
    return (topo.incoming.get(id) ?? []).map((s) => topo.nodes.get(s)).find((s) => s?.kind === 'engine');
  }
  return undefined;
}

// ${name}, ${name:format} and $name, the forms Grafana's own variables take.
const PLACEHOLDER = /\$\{(\w+)(?::\w+)?\}|\$(\w+)/g;

/**
 * The link for one node, or undefined when the template is empty (the option cleared: no link).
 *
 * The node's fields are put in first, each URL-encoded (encodeURIComponent also encodes `$`, `{` and
 * `[`, so a value can never be read as a variable by the second step); a node field wins over a
 * dashboard variable of the same name. Then replaceVariables fills dashboard variables and macros.
 * The result goes through Grafana's URL sanitizer (no `javascript:` from a variable) and gets the
 * sub-path Grafana may be served under.
 */
export function buildLink(
  template: string | undefined,
  fields: Record<string, string>,
  replaceVariables: InterpolateFunction
): string | undefined {
  const t = (template ?? '').trim();
  if (!t) {
    return undefined;
  }
  const withNode = t.replace(PLACEHOLDER, (match, braced?: string, bare?: string) => {
    const name = braced ?? bare ?? '';
    return Object.prototype.hasOwnProperty.call(fields, name) ? encodeURIComponent(fields[name]) : match;
  });
  const href = textUtil.sanitizeUrl(replaceVariables(withNode));
  if (!href || href === 'about:blank') {
    return undefined;
  }
  return locationUtil.assureBaseUrl(href);
}
