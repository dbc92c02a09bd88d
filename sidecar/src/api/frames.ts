// Grafana DataFrameJSON (schema.fields + data.values, column-major), the shape the gpufleet data source
// turns into data frames with @grafana/data's dataFrameFromJSON.
export type FieldType = 'time' | 'number' | 'string' | 'boolean' | 'other';

export interface FieldJSON {
  name: string;
  type: FieldType;
  labels?: Record<string, string>;
  config?: Record<string, unknown>;
}

export interface DataFrameJSON {
  schema: { name?: string; refId?: string; meta?: Record<string, unknown>; fields: FieldJSON[] };
  data: { values: unknown[][] };
}

export interface Column<Row> {
  name: string;
  type: FieldType;
  get: (row: Row) => unknown;
  config?: Record<string, unknown>;
}

/** A table frame from rows and column definitions. */
export function tableFrame<Row>(
  name: string,
  refId: string,
  rows: readonly Row[],
  columns: Column<Row>[],
  meta?: Record<string, unknown>,
): DataFrameJSON {
  return {
    schema: {
      name,
      refId,
      ...(meta ? { meta } : {}),
      fields: columns.map((c) => ({ name: c.name, type: c.type, ...(c.config ? { config: c.config } : {}) })),
    },
    data: { values: columns.map((c) => rows.map((r) => c.get(r) ?? null)) },
  };
}
