import { type DataFrame, type DataQueryError, type Field, FieldType } from '@grafana/data';

/**
 * Prometheus answers as rows: the shape of the frames Grafana's Prometheus data source hands a panel.
 *
 * For an instant query with Format "Table", `@grafana/prometheus` (transformDFToTable) turns the
 * backend's one-frame-per-series answer into ONE frame per refId: `Time`, one string field per label
 * (missing labels are ''), and the number field `Value`, or `Value #<refId>` when the request had more
 * than one table query. The panel also takes the time-series shape (Format "Time series": one frame
 * per series, labels on the number field) and a merged table with several `Value #<refId>` columns
 * (Grafana's "Merge" transformation), so a query's format is not one more thing to get right.
 * NaN and ±Inf (Prometheus' "no value") become undefined: shown as no data, never as a number.
 */
export interface PromRow {
  refId: string;
  labels: Record<string, string>;
  value: number | undefined;
  /** Sample time in ms, when the frame has one. */
  time: number | undefined;
}

function finite(v: unknown): number | undefined {
  if (typeof v === 'number') {
    return Number.isFinite(v) ? v : undefined;
  }
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

/** The refId a value field belongs to: `Value #gpu_util` → gpu_util; else the frame's. */
function refIdOfValueField(field: Field, frame: DataFrame): string {
  const m = /^Value #(.+)$/.exec(field.name);
  return m ? m[1] : (frame.refId ?? '');
}

function isLabelField(f: Field): boolean {
  return f.type === FieldType.string || f.type === FieldType.enum || f.type === FieldType.other;
}

/**
 * Every row of every frame, in frame order. One pass over each column, one labels object per table
 * row (shared by that row's value columns): an all-MIG fleet's half a million rows are read in one go.
 */
export function readRows(series: DataFrame[]): PromRow[] {
  const rows: PromRow[] = [];
  for (const frame of series) {
    const time = frame.fields.find((f) => f.type === FieldType.time);
    const values = frame.fields.filter((f) => f.type === FieldType.number);
    const labels = frame.fields.filter(isLabelField);
    if (values.length === 0) {
      continue;
    }
    if (labels.length > 0) {
      // Table: one row per index, label columns shared by every value column.
      const names = labels.map((f) => f.name);
      const columns: unknown[][] = labels.map((f) => f.values);
      const refIds = values.map((vf) => refIdOfValueField(vf, frame));
      const valueColumns: unknown[][] = values.map((vf) => vf.values);
      const times: unknown[] | undefined = time?.values;
      const length = frame.length ?? valueColumns[0].length;
      for (let i = 0; i < length; i++) {
        const l: Record<string, string> = {};
        for (let j = 0; j < columns.length; j++) {
          const v = columns[j][i];
          if (typeof v === 'string') {
            if (v !== '') {
              l[names[j]] = v;
            }
          } else if (v !== null && v !== undefined) {
            l[names[j]] = String(v);
          }
        }
        const t = times ? finite(times[i]) : undefined;
        for (let k = 0; k < valueColumns.length; k++) {
          rows.push({ refId: refIds[k], labels: l, value: finite(valueColumns[k][i]), time: t });
        }
      }
      continue;
    }
    // Time series: the labels sit on the value field; an instant answer has one sample, a range the last counts.
    for (const vf of values) {
      const n = vf.values.length;
      if (n === 0) {
        continue;
      }
      const l: Record<string, string> = {};
      for (const [k, v] of Object.entries(vf.labels ?? {})) {
        if (v !== '') {
          l[k] = v;
        }
      }
      rows.push({
        refId: refIdOfValueField(vf, frame),
        labels: l,
        value: finite(vf.values[n - 1]),
        time: finite(time?.values[n - 1]),
      });
    }
  }
  return rows;
}

/** A query's failure, worded for an operator, with what to do for the usual Prometheus limits. */
export function describeQueryError(e: DataQueryError): string {
  const msg = String(e.message ?? e.data?.message ?? e.data?.error ?? 'the query failed');
  const ref = e.refId ? `Query ${e.refId}` : 'A query';
  let hint = '';
  if (/too many samples|max-samples|series limit|limit exceeded|exceeded.*limit|too many series/i.test(msg)) {
    hint = " Narrow it (pick a host, a model or a cluster) or raise the store's limit (--query.max-samples).";
  } else if (/timeout|timed out|deadline exceeded|context canceled/i.test(msg)) {
    hint = ' Prometheus ran out of time: narrow the query or raise --query.timeout and the data source timeout.';
  } else if (/duplicate series|many-to-many|many-to-one/i.test(msg)) {
    hint = ' A join matched several series: join on identifying labels only (README, "Topology panel on Prometheus").';
  }
  return `${ref} failed: ${msg}.${hint}`.replace('..', '.');
}
