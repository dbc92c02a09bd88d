import { DEFAULT_ENGINE_LINK, DEFAULT_GPU_LINK } from './links';

export type GroupBy = 'host' | 'engine' | 'none';
export type ColorBy = 'load' | 'memory' | 'none';

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
}

export const DEFAULT_OPTIONS: TopologyOptions = {
  groupBy: 'host',
  colorBy: 'load',
  showWorkers: true,
  gpuLink: DEFAULT_GPU_LINK,
  engineLink: DEFAULT_ENGINE_LINK,
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
