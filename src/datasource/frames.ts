import { type DataFrame, type DataFrameJSON, dataFrameFromJSON } from '@grafana/data';

import type { FrameJSON } from './types';

/** Frame names the sidecar gives the topology answer; Grafana's Node Graph panel reads them by these names too. */
export const NODES_FRAME = 'nodes';
export const EDGES_FRAME = 'edges';

/**
 * One sidecar DataFrameJSON → a Grafana DataFrame.
 *
 * The refId is forced to the query's: Grafana routes frames to the query that asked by refId, and a
 * sidecar that omits or mistypes it would otherwise make the frames vanish from the panel. Topology
 * frames get `preferredVisualisationType: nodeGraph` when the sidecar did not set it, so Explore and
 * the stock Node Graph panel draw them without configuration.
 */
export function toDataFrame(json: FrameJSON, refId: string): DataFrame {
  if (!json || !json.schema || !Array.isArray(json.schema.fields)) {
    throw new Error('the sidecar answered a frame without schema.fields');
  }
  const frame = dataFrameFromJSON(json as DataFrameJSON);
  frame.refId = refId;
  if ((frame.name === NODES_FRAME || frame.name === EDGES_FRAME) && !frame.meta?.preferredVisualisationType) {
    frame.meta = { ...frame.meta, preferredVisualisationType: 'nodeGraph' };
  }
  return frame;
}
