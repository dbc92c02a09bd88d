// Names shared by the data sources, dashboards, alert rules, Prometheus config and compose file. They are
// written out in the provisioning files too, so changing one here means regenerating
// (`npm run provisioning`) and checking the hand-written YAML (datasources, plugins).

export const PLUGIN_IDS = {
  app: 'gpufleet-observability-app',
  datasource: 'gpufleet-sidecar-datasource',
  panel: 'gpufleet-topology-panel',
} as const;

/** Data source uids, fixed so dashboards and rules can name them (provisioning/datasources/gpufleet.yaml). */
export const DS = {
  prometheus: { type: 'prometheus', uid: 'gpufleet-prometheus' },
  sidecar: { type: PLUGIN_IDS.datasource, uid: 'gpufleet-sidecar' },
} as const;

export const DASHBOARDS = {
  fleet: { uid: 'gpufleet-fleet', slug: 'gpu-fleet-overview', title: 'GPU fleet overview' },
  gpu: { uid: 'gpufleet-gpu', slug: 'gpu-detail', title: 'GPU detail' },
  engine: { uid: 'gpufleet-engine', slug: 'engine-detail', title: 'Engine detail' },
} as const;

/** Prometheus job names (prometheus/prometheus.yml). */
export const JOBS = {
  sidecar: 'gpufleet-sidecar',
  engines: 'vllm-engines',
} as const;

/** The Grafana folder the dashboards and rules land in, and the tag the dashboards share (for their links). */
export const FOLDER = 'gpufleet';
export const TAG = 'gpufleet';
