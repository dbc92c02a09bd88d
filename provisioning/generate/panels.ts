// Panel builders for the provisioned dashboards, typed by @grafana/schema. Prometheus targets keep their
// PromQL in `expr`, gpufleet targets their query kind and filters: tests/integration read both back out.
import type { DataSourceRef, Panel } from '@grafana/schema';
import { DS, PLUGIN_IDS } from './ids.js';

export interface PromTarget {
  expr: string;
  legend?: string;
  /** Instant query (tables, stats of "now"). */
  instant?: boolean;
  format?: 'time_series' | 'table';
  /** A name for what the query holds (the fleet topology panel finds its families by refId); default A, B, … */
  refId?: string;
}

export interface SidecarTarget {
  kind: 'topology' | 'gpus' | 'gpu' | 'engines' | 'processes' | 'timeseries';
  filters?: Record<string, string>;
  metric?: string;
}

export interface DataLinkSpec {
  title: string;
  url: string;
}

interface Size {
  w: number;
  h: number;
}

const prometheus: DataSourceRef = { type: DS.prometheus.type, uid: DS.prometheus.uid };
const sidecar: DataSourceRef = { type: DS.sidecar.type, uid: DS.sidecar.uid };

const REF_IDS = 'ABCDEFGHIJ';

function promTargets(targets: PromTarget[]) {
  return targets.map((t, i) => ({
    refId: t.refId ?? REF_IDS[i] ?? `Q${i}`,
    datasource: prometheus,
    expr: t.expr,
    legendFormat: t.legend ?? '__auto',
    range: !t.instant,
    instant: t.instant ?? false,
    ...(t.format ? { format: t.format } : {}),
  }));
}

function sidecarTargets(targets: SidecarTarget[]) {
  return targets.map((t, i) => ({
    refId: REF_IDS[i] ?? `Q${i}`,
    datasource: sidecar,
    kind: t.kind,
    filters: t.filters ?? {},
    ...(t.metric ? { metric: t.metric } : {}),
  }));
}

function links(list: DataLinkSpec[] | undefined) {
  return (list ?? []).map((l) => ({ title: l.title, url: l.url, targetBlank: false }));
}

/** A panel without its position: `layout` places it. */
export type Unplaced = Omit<Panel, 'gridPos' | 'id'> & { size: Size };

export function timeseries(
  title: string,
  description: string,
  targets: PromTarget[],
  o: { unit: string; min?: number; max?: number; links?: DataLinkSpec[]; size?: Size; stack?: boolean },
): Unplaced {
  return {
    type: 'timeseries',
    title,
    description,
    datasource: prometheus,
    targets: promTargets(targets),
    fieldConfig: {
      defaults: {
        unit: o.unit,
        ...(o.min !== undefined ? { min: o.min } : {}),
        ...(o.max !== undefined ? { max: o.max } : {}),
        links: links(o.links),
        custom: { lineWidth: 1, fillOpacity: o.stack ? 40 : 10, stacking: { mode: o.stack ? 'normal' : 'none', group: 'A' } },
      },
      overrides: [],
    },
    options: { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } },
    size: o.size ?? { w: 12, h: 8 },
  };
}

export function stat(title: string, description: string, target: PromTarget, o: { unit?: string; size?: Size; thresholds?: Array<[number | null, string]> } = {}): Unplaced {
  return {
    type: 'stat',
    title,
    description,
    datasource: prometheus,
    targets: promTargets([{ ...target, instant: true }]),
    fieldConfig: {
      defaults: {
        unit: o.unit ?? 'none',
        thresholds: {
          mode: 'absolute' as never,
          steps: (o.thresholds ?? [[null, 'green']]).map(([value, color]) => ({ value: value as number, color })),
        },
      },
      overrides: [],
    },
    options: { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'none', textMode: 'auto' },
    size: o.size ?? { w: 4, h: 4 },
  };
}

export function promTable(
  title: string,
  description: string,
  targets: PromTarget[],
  o: { size?: Size; links?: DataLinkSpec[]; exclude?: string[]; rename?: Record<string, string>; unit?: Record<string, string> } = {},
): Unplaced {
  const hide = ['Time', '__name__', 'job', 'instance', ...(o.exclude ?? [])];
  return {
    type: 'table',
    title,
    description,
    datasource: prometheus,
    targets: promTargets(targets.map((t) => ({ ...t, instant: true, format: 'table' }))),
    fieldConfig: {
      defaults: { links: links(o.links) },
      // Units by the column's name after renaming.
      overrides: Object.entries(o.unit ?? {}).map(([name, unit]) => ({
        matcher: { id: 'byName', options: name },
        properties: [{ id: 'unit', value: unit }],
      })),
    },
    // Merge joins the queries' rows on their common label columns and keeps a row that one query lacks
    // (a MIG GPU without utilization keeps its row, with an empty cell).
    transformations: [
      { id: 'merge', options: {} },
      { id: 'organize', options: { excludeByName: Object.fromEntries(hide.map((n) => [n, true])), renameByName: o.rename ?? {} } },
    ],
    options: { showHeader: true },
    size: o.size ?? { w: 12, h: 8 },
  };
}

export function sidecarTable(title: string, description: string, target: SidecarTarget, o: { size?: Size } = {}): Unplaced {
  return {
    type: 'table',
    title,
    description,
    datasource: sidecar,
    targets: sidecarTargets([target]),
    fieldConfig: { defaults: {}, overrides: [] },
    options: { showHeader: true },
    size: o.size ?? { w: 12, h: 8 },
  };
}

export function topologyPanel(
  title: string,
  description: string,
  filters: Record<string, string>,
  o: { size?: Size; showWorkers?: boolean; gpuLink?: string; engineLink?: string } = {},
): Unplaced {
  return {
    type: PLUGIN_IDS.panel,
    title,
    description,
    datasource: sidecar,
    targets: sidecarTargets([{ kind: 'topology', filters }]),
    fieldConfig: { defaults: {}, overrides: [] },
    // Link options left out keep the panel's defaults (the GPU and Engine detail dashboards); '' hides one.
    options: {
      colorBy: 'load',
      groupBy: 'host',
      showWorkers: o.showWorkers ?? true,
      ...(o.gpuLink !== undefined ? { gpuLink: o.gpuLink } : {}),
      ...(o.engineLink !== undefined ? { engineLink: o.engineLink } : {}),
    },
    size: o.size ?? { w: 24, h: 14 },
  };
}

/**
 * The topology panel on Prometheus: one instant, table-format query per family, each named by its refId
 * (hosts, gpus, mig, edges_gpu, …), which the panel recognises by their label and value columns.
 */
export function fleetTopologyPanel(title: string, description: string, targets: Array<PromTarget & { refId: string }>, o: { size?: Size } = {}): Unplaced {
  return {
    type: PLUGIN_IDS.panel,
    title,
    description,
    datasource: prometheus,
    targets: promTargets(targets.map((t) => ({ ...t, instant: true, format: 'table', legend: '' }))),
    fieldConfig: { defaults: {}, overrides: [] },
    // The dashboard's variables: tiles grouped by $group, a tile click sets $host, $model / $engine filter.
    options: { colorBy: 'load', groupBy: 'host', showWorkers: true, fleetGroupBy: '$group', hostVariable: 'host', filterVariables: 'model,engine' },
    size: o.size ?? { w: 24, h: 14 },
  };
}

export function alertList(title: string, description: string, o: { size?: Size } = {}): Unplaced {
  return {
    type: 'alertlist',
    title,
    description,
    options: {
      viewMode: 'list',
      groupMode: 'default',
      maxItems: 20,
      sortOrder: 1,
      dashboardAlerts: false,
      alertName: '',
      alertInstanceLabelFilter: '{source="gpufleet"}',
      // Grafana-managed rules only: Prometheus evaluates the same rules from its rule file, and listing both
      // would show every alert twice.
      datasource: '-- Grafana --',
      stateFilter: { firing: true, pending: true, noData: true, error: true, normal: false },
    },
    size: o.size ?? { w: 24, h: 6 },
  };
}

export function row(title: string): Unplaced {
  return { type: 'row', title, collapsed: false, panels: [], size: { w: 24, h: 1 } } as Unplaced;
}

/** Places panels left to right, wrapping at Grafana's 24 columns; a row always starts a new line. */
export function layout(list: Unplaced[]): Panel[] {
  let x = 0;
  let y = 0;
  let lineHeight = 0;
  return list.map((p, i) => {
    const { size, ...rest } = p;
    if (p.type === 'row' || x + size.w > 24) {
      y += lineHeight;
      x = 0;
      lineHeight = 0;
    }
    const placed = { ...rest, id: i + 1, gridPos: { x, y, w: size.w, h: size.h } } as Panel;
    x += size.w;
    lineHeight = Math.max(lineHeight, size.h);
    if (p.type === 'row') {
      y += size.h;
      x = 0;
      lineHeight = 0;
    }
    return placed;
  });
}
