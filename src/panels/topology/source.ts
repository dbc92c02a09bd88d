import type { DataFrame, DataQueryError, InterpolateFunction, QueryResultMetaNotice } from '@grafana/data';

import { type Topology, hasTopology, parseTopology } from './model';
import { type Fleet, buildFleet } from './prometheus/fleet';
import { describeQueryError, readRows } from './prometheus/rows';

/**
 * What the panel was given: the sidecar's node-graph frames (one host's topology), or Prometheus table
 * frames (a fleet), or neither. Both end in the same Topology model; only the fleet has a tile level.
 */
export type PanelInput =
  | { source: 'sidecar'; topo: Topology }
  | { source: 'prometheus'; fleet: Fleet; notices: QueryResultMetaNotice[] }
  | { source: 'none'; warnings: string[] };

export function readPanelInput(series: DataFrame[], groupLabel: string): PanelInput {
  if (hasTopology(series)) {
    return { source: 'sidecar', topo: parseTopology(series)! };
  }
  const fleet = buildFleet(readRows(series), groupLabel);
  if (fleet.used === 0) {
    return { source: 'none', warnings: fleet.warnings };
  }
  // Prometheus' own warnings (and Grafana's) ride on every frame of a query: once each.
  const seen = new Set<string>();
  const notices: QueryResultMetaNotice[] = [];
  for (const n of series.flatMap((f) => f.meta?.notices ?? [])) {
    if (n.severity !== 'info' && !seen.has(n.text)) {
      seen.add(n.text);
      notices.push(n);
    }
  }
  return { source: 'prometheus', fleet, notices };
}

/** One line per failed query, in refId order. */
export function errorMessages(errors: DataQueryError[] | undefined): string[] {
  return Array.from(new Set((errors ?? []).map(describeQueryError)));
}

/**
 * A dashboard variable's value when it holds exactly one concrete value (not All, not several, not a
 * regex), else undefined. A variable the dashboard does not have comes back uninterpolated: undefined.
 */
export function singleValue(replaceVariables: InterpolateFunction, name: string): string | undefined {
  const v = name.trim().replace(/^\$/, '');
  if (!v) {
    return undefined;
  }
  const text = replaceVariables(`\${${v}:text}`);
  const raw = replaceVariables(`\${${v}:raw}`);
  if (text.includes(`\${${v}`) || raw.includes(`\${${v}`) || text === 'All' || !raw) {
    return undefined;
  }
  if (raw === '$__all' || /[,|*+?()[\]{}\\]/.test(raw)) {
    return undefined;
  }
  return raw;
}

/** Whether a dashboard variable exists (interpolates to something else than its own reference). */
export function hasVariable(replaceVariables: InterpolateFunction, name: string): boolean {
  const v = name.trim().replace(/^\$/, '');
  return Boolean(v) && !replaceVariables(`\${${v}:raw}`).includes(`\${${v}`);
}

/** Whether any of the comma-separated variables is set to something other than All (a filter is on). */
export function filterIsSet(replaceVariables: InterpolateFunction, names: string): boolean {
  return names
    .split(',')
    .map((n) => n.trim().replace(/^\$/, ''))
    .filter(Boolean)
    .some((n) => {
      const text = replaceVariables(`\${${n}:text}`);
      return (
        !text.includes(`\${${n}`) && text !== 'All' && text !== '' && replaceVariables(`\${${n}:raw}`) !== '$__all'
      );
    });
}
