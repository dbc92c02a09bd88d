import type { TileColorBy } from '../types';
import { type Fleet, type FleetHost, valueOf } from './fleet';

/** One host tile of the fleet level: the gpufleet:host_* figures, undefined where no series answered. */
export interface Tile {
  key: string;
  host: string;
  group: string;
  gpus?: number;
  gpusFree?: number;
  mig?: number;
  migFree?: number;
  vgpu?: number;
  engines?: number;
  enginesUp?: number;
  enginesBusy?: number;
  /** 0..1 */
  util?: number;
  /** 0..1 */
  mem?: number;
  alerts?: number;
  version?: string;
}

function tileOf(h: FleetHost): Tile {
  const e = h.entity;
  return {
    key: h.key,
    host: h.host,
    group: h.group,
    gpus: valueOf(e, 'host_gpus'),
    gpusFree: valueOf(e, 'host_gpus_free'),
    mig: valueOf(e, 'host_mig'),
    migFree: valueOf(e, 'host_mig_free'),
    vgpu: valueOf(e, 'host_vgpu'),
    engines: valueOf(e, 'host_engines'),
    enginesUp: valueOf(e, 'host_engines_up'),
    enginesBusy: valueOf(e, 'host_engines_busy'),
    util: valueOf(e, 'host_util'),
    mem: valueOf(e, 'host_mem'),
    alerts: valueOf(e, 'host_alerts'),
    version: e.info ? e.labels.version : undefined,
  };
}

const byText = (a: string, b: string) => a.localeCompare(b, undefined, { numeric: true });

/** The tiles in groups (by the grouping label's value, hosts without one last), hosts sorted within. */
export function tileGroups(fleet: Fleet): Array<{ group: string; tiles: Tile[] }> {
  const groups = new Map<string, Tile[]>();
  for (const h of fleet.hosts.values()) {
    if (!h.tile) {
      continue;
    }
    const list = groups.get(h.group);
    if (list) {
      list.push(tileOf(h));
    } else {
      groups.set(h.group, [tileOf(h)]);
    }
  }
  return Array.from(groups.keys())
    .sort((a, b) => (a === '' ? 1 : b === '' ? -1 : byText(a, b)))
    .map((group) => ({ group, tiles: groups.get(group)!.sort((a, b) => byText(a.host, b.host)) }));
}

/** The tile's colour figure in percent; undefined (no data) when its series did not answer. */
export function tileFigure(t: Tile, by: TileColorBy): number | undefined {
  switch (by) {
    case 'load': {
      const v = t.util ?? t.mem;
      return v === undefined ? undefined : v * 100;
    }
    case 'memory':
      return t.mem === undefined ? undefined : t.mem * 100;
    case 'free':
      return t.gpus === undefined || t.gpusFree === undefined || t.gpus <= 0
        ? undefined
        : ((t.gpus - t.gpusFree) / t.gpus) * 100;
    case 'alerts':
      return t.alerts === undefined ? undefined : t.alerts > 0 ? 100 : 0;
  }
}

function examples(keys: string[]): string {
  return keys.slice(0, 5).join(', ') + (keys.length > 5 ? `, … (${keys.length - 5} more)` : '');
}

/** What the fleet level cannot show, per host, and what to do about it. */
export function fleetWarnings(fleet: Fleet): string[] {
  const out: string[] = [];
  const tiles = Array.from(fleet.hosts.values()).filter((h) => h.tile);
  if (tiles.length === 0) {
    return out;
  }
  if (fleet.seen.has('hosts')) {
    const noInfo = tiles.filter((h) => !h.seen.has('hosts')).map((h) => h.key);
    if (noInfo.length) {
      out.push(
        `${noInfo.length} host${noInfo.length === 1 ? ' has' : 's have'} no gpufleet_host_info (${examples(noInfo)}): their sidecars are older than the fleet families; upgrade them, until then their counts may be missing.`
      );
    }
  }
  const counted = tiles.filter((h) => h.seen.has('host_gpus'));
  if (counted.length === 0) {
    out.push(
      'No gpufleet:host_gpus:count series: the tiles have no counts. Load prometheus/rules/gpufleet-fleet.rules.yml into Prometheus (or the store behind it) and give it one evaluation interval.'
    );
  } else if (counted.length < tiles.length) {
    const missing = tiles.filter((h) => !h.seen.has('host_gpus')).map((h) => h.key);
    out.push(
      `${missing.length} host${missing.length === 1 ? ' has' : 's have'} no gpufleet:host_* counts (${examples(missing)}): shown as "no data". The recording rules have not evaluated for them yet, or they are missing gpufleet_host_info.`
    );
  }
  return out;
}
