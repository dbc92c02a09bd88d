export type GroupBy = 'host' | 'engine' | 'none';
export type ColorBy = 'load' | 'memory' | 'none';

export interface TopologyOptions {
  /** How GPU rows are grouped into bands: by host, by the engine that uses them, or not at all. */
  groupBy: GroupBy;
  /** Which figure colours the nodes; thresholds (field config) are in percent of it. */
  colorBy: ColorBy;
  /** Show the ranks / workers column between engines and GPUs. */
  showWorkers: boolean;
}

export const DEFAULT_OPTIONS: TopologyOptions = {
  groupBy: 'host',
  colorBy: 'load',
  showWorkers: true,
};

export const COLOR_BY_TEXT: Record<ColorBy, string> = {
  load: 'Load: GPU and vGPU utilization, MIG memory use, engine KV-cache use',
  memory: 'Memory: GPU memory, MIG memory, vGPU framebuffer, engine KV-cache use',
  none: 'Kind colours only',
};
