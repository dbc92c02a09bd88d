import { type Meaning, type RowKind, meaningOf, rowKind } from './contract';
import type { PromRow } from './rows';

/**
 * Prometheus rows → the fleet: hosts (keyed by host + grouping label), and per host its GPUs, MIG and
 * vGPU instances, engines and rank edges, each with the values the contract gives it. Pure and linear
 * in the number of rows (56,000 MIG rows of an all-MIG fleet included); nothing is drawn from here.
 */

/** One series' sample, with what decides between two series for the same thing. */
interface Sample {
  value: number | undefined;
  /** ms; undefined when the frame had no time column (counts as oldest). */
  time: number | undefined;
  /** The row's labels: the tie-break between two series with the same time. */
  labels: Record<string, string>;
}

export interface Entity {
  /** Labels of the row that made it (the chosen info row when there is one). */
  labels: Record<string, string>;
  /** Value by meaning (refId of the contract); absent until a value row came (edges have none). */
  values?: Map<string, Sample>;
  /** The chosen info row, when its info family answered. */
  info?: Sample;
}

export interface HostDetail {
  gpus: Map<string, Entity>;
  migs: Map<string, Entity>;
  vgpus: Map<string, Entity>;
  engines: Map<string, Entity>;
  edges: Map<string, Entity>;
}

export interface FleetHost {
  /** Unique: the host name, or "host (group)" when that name is used in two groups. */
  key: string;
  host: string;
  /** The grouping label's value; '' when the host's rows have none. */
  group: string;
  /** The host-level figures (refIds host_gpus, host_util, …) and the host info series. */
  entity: Entity;
  /** Whether a host-level row (recording rule or host info) named this host: it gets a tile. */
  tile: boolean;
  detail: HostDetail;
  /** Meanings (refIds) with at least one row for this host. */
  seen: Set<string>;
}

export interface Fleet {
  groupLabel: string;
  hosts: Map<string, FleetHost>;
  /** Rows that went into the fleet. */
  used: number;
  /** Meanings with rows for at least one host. */
  seen: Set<string>;
  /** What was ignored or chosen, for the operator. */
  warnings: string[];
}

const emptyDetail = (): HostDetail => ({
  gpus: new Map(),
  migs: new Map(),
  vgpus: new Map(),
  engines: new Map(),
  edges: new Map(),
});

function signature(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
}

/** Of two series for the same thing, the newer sample; at the same time, the larger label set (deterministic). */
function newer(a: Sample, b: Sample): boolean {
  const at = a.time ?? 0;
  const bt = b.time ?? 0;
  return at !== bt ? at > bt : signature(a.labels) > signature(b.labels);
}

function entityId(kind: RowKind, l: Record<string, string>): string {
  switch (kind) {
    case 'gpu':
      return l.gpu_uuid;
    case 'mig':
      return l.mig_uuid;
    case 'vgpu':
      return `${l.gpu_uuid ?? ''}/${l.vgpu_id}`;
    case 'engine':
      return l.engine_id;
    case 'edge':
      return `${l.engine_id}/${l.rank ?? ''}/${l.mig_uuid ?? ''}/${l.gpu_uuid ?? ''}`;
    case 'host':
      return '';
  }
}

function detailMap(d: HostDetail, kind: Exclude<RowKind, 'host'>): Map<string, Entity> {
  switch (kind) {
    case 'gpu':
      return d.gpus;
    case 'mig':
      return d.migs;
    case 'vgpu':
      return d.vgpus;
    case 'engine':
      return d.engines;
    case 'edge':
      return d.edges;
  }
}

const KIND_WORDS: Record<RowKind, string> = {
  host: 'hosts',
  gpu: 'GPUs',
  mig: 'MIG instances',
  vgpu: 'vGPU instances',
  engine: 'engines',
  edge: 'engine → GPU edges',
};

class Counter {
  private readonly counts = new Map<string, { n: number; example: string }>();
  add(key: string, example: string) {
    const c = this.counts.get(key);
    if (c) {
      c.n++;
    } else {
      this.counts.set(key, { n: 1, example });
    }
  }
  entries() {
    return Array.from(this.counts.entries());
  }
}

function isGroupLabel(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
}

export function buildFleet(rows: PromRow[], groupLabelIn: string): Fleet {
  const warnings: string[] = [];
  const groupLabel = groupLabelIn.trim();
  if (groupLabel && !isGroupLabel(groupLabel)) {
    warnings.push(`"${groupLabel}" is not a Prometheus label name: hosts are not grouped.`);
  }
  const group = groupLabel && isGroupLabel(groupLabel) ? groupLabel : '';

  // Pass 1: what each row is, and the groups each host name is seen in.
  const noHost = new Counter();
  const unknownMeaning = new Counter();
  const wrongKind = new Counter();
  // The rows kept, with what they are (three parallel arrays: no object per row).
  const keptRows: PromRow[] = [];
  const keptKinds: RowKind[] = [];
  const keptMeanings: Meaning[] = [];
  const groupsOf = new Map<string, Set<string>>();
  for (const row of rows) {
    const l = row.labels;
    const kind = rowKind(l);
    if (!kind || !l.host) {
      noHost.add(row.refId, '');
      continue;
    }
    const meaning = meaningOf(l.__name__ ?? '', row.refId);
    if (!meaning) {
      unknownMeaning.add(row.refId, KIND_WORDS[kind]);
      continue;
    }
    if (meaning.kind !== kind) {
      wrongKind.add(row.refId, `${meaning.what} (${meaning.refId}) on rows labelled as ${KIND_WORDS[kind]}`);
      continue;
    }
    keptRows.push(row);
    keptKinds.push(kind);
    keptMeanings.push(meaning);
    const g = group ? (l[group] ?? '') : '';
    let set = groupsOf.get(l.host);
    if (!set) {
      set = new Set();
      groupsOf.set(l.host, set);
    }
    if (g) {
      set.add(g);
    }
  }

  const ambiguous = new Map<string, string[]>();
  for (const [host, set] of groupsOf) {
    if (set.size > 1) {
      ambiguous.set(host, Array.from(set).sort());
    }
  }
  const unlabelledAmbiguous = new Counter();

  // Pass 2: key each row by host (+ group when the name is ambiguous), keep one series per thing.
  const hosts = new Map<string, FleetHost>();
  const seen = new Set<string>();
  const duplicates = new Counter();
  for (let i = 0; i < keptRows.length; i++) {
    const row = keptRows[i];
    const kind = keptKinds[i];
    const meaning = keptMeanings[i];
    const l = row.labels;
    const groups = groupsOf.get(l.host)!;
    let g = group ? (l[group] ?? '') : '';
    const choices = ambiguous.get(l.host);
    if (!g && groups.size === 1) {
      g = Array.from(groups)[0];
    } else if (!g && choices) {
      g = choices[0];
      unlabelledAmbiguous.add(row.refId, l.host);
    }
    const key = choices ? `${l.host} (${g})` : l.host;
    let host = hosts.get(key);
    if (!host) {
      host = {
        key,
        host: l.host,
        group: g,
        entity: { labels: {} },
        tile: false,
        detail: emptyDetail(),
        seen: new Set(),
      };
      hosts.set(key, host);
    }
    host.seen.add(meaning.refId);
    seen.add(meaning.refId);

    let entity: Entity;
    if (kind === 'host') {
      host.tile = true;
      entity = host.entity;
    } else {
      const map = detailMap(host.detail, kind);
      const id = entityId(kind, l);
      let e = map.get(id);
      if (!e) {
        e = { labels: l };
        map.set(id, e);
      }
      entity = e;
    }
    if (meaning.oneHot && row.value !== 1) {
      // Another state's series (0): not a second value for the same thing.
      continue;
    }
    // The row is its own sample (same fields): no second object per row.
    const sample: Sample = row;
    if (meaning.info) {
      if (entity.info) {
        duplicates.add(meaning.refId, `${kind === 'host' ? '' : `${entityId(kind, l)} on `}${key}`);
        if (!newer(sample, entity.info)) {
          continue;
        }
      }
      entity.info = sample;
      entity.labels = l;
      continue;
    }
    entity.values ??= new Map();
    const old = entity.values.get(meaning.refId);
    if (old) {
      duplicates.add(meaning.refId, `${kind === 'host' ? '' : `${entityId(kind, l)} on `}${key}`);
      if (!newer(sample, old)) {
        continue;
      }
    }
    entity.values.set(meaning.refId, sample);
  }

  for (const [refId, { n }] of noHost.entries()) {
    warnings.push(
      `Query ${refId}: ${n} row${n === 1 ? '' : 's'} without a host label (or without any label the panel reads): ignored. Keep host in by (…).`
    );
  }
  for (const [refId, { n, example }] of unknownMeaning.entries()) {
    warnings.push(
      `Query ${refId}: ${n} row${n === 1 ? '' : 's'} of ${example}, but neither their __name__ nor the refId "${refId}" is in the panel's contract: ignored (README, "Topology panel on Prometheus").`
    );
  }
  for (const [refId, { n, example }] of wrongKind.entries()) {
    warnings.push(`Query ${refId}: ${n} row${n === 1 ? '' : 's'} of ${example}: ignored.`);
  }
  for (const [refId, { n, example }] of duplicates.entries()) {
    warnings.push(
      `Query ${refId}: ${n} extra series for the same thing (e.g. ${example}); their labels changed within the lookback or two targets scrape one host. Showing the newest of each.`
    );
  }
  for (const [host, groups] of ambiguous) {
    warnings.push(
      `Host name ${host} is used in ${group} ${groups.join(' and ')}: shown apart as ${groups.map((g) => `"${host} (${g})"`).join(', ')}.`
    );
  }
  for (const [refId, { n, example }] of unlabelledAmbiguous.entries()) {
    warnings.push(
      `Query ${refId}: ${n} row${n === 1 ? '' : 's'} for ${example} carry no ${group} label, and that host name is in several: attached to the first. Keep ${group} in by (…).`
    );
  }
  return { groupLabel: group, hosts, used: keptRows.length, seen, warnings };
}

/** A value of an entity, undefined when its family did not answer (never 0 for "unknown"). */
export function valueOf(e: Entity | undefined, refId: string): number | undefined {
  return e?.values?.get(refId)?.value;
}
