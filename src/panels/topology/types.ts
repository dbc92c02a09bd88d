import { DEFAULT_ENGINE_LINK, DEFAULT_GPU_LINK } from './links';

export type GroupBy = 'host' | 'engine' | 'none';
export type ColorBy = 'load' | 'memory' | 'none';
/** What colours a host tile at fleet level. */
export type TileColorBy = 'load' | 'memory' | 'free' | 'alerts';

export interface TopologyOptions {
  /** How GPU rows are grouped into bands: by host, by the engine that uses them, or not at all. */
  groupBy: GroupBy;
  /** Which figure colours the nodes; thresholds (field config) are in percent of it. */
  colorBy: ColorBy;
  /** Show the ranks / workers column between engines and GPUs. */
  showWorkers: boolean;
  /** URL template of the GPU drill-down's dashboard link; empty: no link (see links.ts). */
  gpuLink: string;
  /** URL template of an engine's dashboard link; empty: no link. */
  engineLink: string;
  /** Fleet level: the label that groups host tiles (cluster, rack, datacenter); dashboard variables work. */
  fleetGroupBy: string;
  /** Fleet level: the figure that colours a host tile. */
  tileColorBy: TileColorBy;
  /** The dashboard variable a host tile click sets (and whose single value opens that host). Empty: none. */
  hostVariable: string;
  /** Dashboard variables (comma-separated) that, set to anything but All, show the topology across hosts instead of tiles. */
  filterVariables: string;
  /** Most nodes drawn (engines, ranks, GPUs, instances); past it the first are drawn and the rest listed. */
  nodeCap: number;
}

export const DEFAULT_OPTIONS: TopologyOptions = {
  groupBy: 'host',
  colorBy: 'load',
  showWorkers: true,
  gpuLink: DEFAULT_GPU_LINK,
  engineLink: DEFAULT_ENGINE_LINK,
  fleetGroupBy: 'cluster',
  tileColorBy: 'load',
  hostVariable: 'host',
  filterVariables: 'model,engine',
  nodeCap: 800,
};

/**
 * The panel's options over the defaults. An option that is undefined gets its default (as Grafana's own
 * merge does); an empty link template stays empty (no link).
 */
export function withDefaults(options: Partial<TopologyOptions> | undefined): TopologyOptions {
  const out = { ...DEFAULT_OPTIONS };
  for (const [k, v] of Object.entries(options ?? {})) {
    if (v !== undefined && v !== null) {
      (out as Record<string, unknown>)[k] = v;
    }
  }
  return out;
}

export const COLOR_BY_TEXT: Record<ColorBy, string> = {
  load: 'Load: GPU and vGPU utilization, MIG memory use, engine KV-cache use',
  memory: 'Memory: GPU memory, MIG memory, vGPU framebuffer, engine KV-cache use',
  none: 'Kind colours only',
};

export const TILE_COLOR_BY_TEXT: Record<TileColorBy, string> = {
  load: 'Load: mean GPU utilization of the host, else (MIG hosts report none) its GPU memory use',
  memory: 'Memory: GPU memory used of the host',
  free: 'Capacity: share of GPUs in use (no free GPUs: 100%)',
  alerts: 'Alerts: red when an alert fires on the host',
};
