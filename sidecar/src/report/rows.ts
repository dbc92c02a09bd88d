// Pure: Prometheus' answers → the report's rows. Rows come from the discovery queries (engines and GPUs seen in
// the window); each column's answers fill the cells whose labels match a row's key.
import { COLUMNS, ENGINE_KEY, GPU_KEY, GROUP_BY, KEY_COLUMNS, type Level } from './catalogue.js';
import type { Sample } from './promClient.js';

export type Cell = string | number | null;
export type Row = Record<string, Cell>;

/** The answer of one (column, level) query: samples, or nothing when the query failed (see the warnings). */
export type Answers = Map<string, Partial<Record<Level, Sample[] | null>>>;

export function rowKey(level: Level, labels: Record<string, string | undefined>): string {
  return JSON.stringify(GROUP_BY[level].map((l) => labels[l] ?? ''));
}

/** A sample's value, or null for NaN / ±Inf (histogram_quantile of a window without observations is NaN). */
export function sampleValue(s: Sample): number | null {
  const n = Number(s.value[1]);
  return Number.isFinite(n) ? n : null;
}

function emptyRow(scope: Level, labels: Record<string, string>): Row {
  const row: Row = {};
  for (const k of KEY_COLUMNS) row[k] = k === 'scope' ? scope : (labels[k] ?? null);
  for (const c of COLUMNS) row[c.name] = null;
  row.energy_source = null;
  return row;
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Engines sorted by host and id, then models, then the total, then GPUs by host and index. */
export function buildRows(engineKeys: Sample[], gpuKeys: Sample[], answers: Answers, energyCounterGpus: Sample[] | null): Row[] {
  const engines = new Map<string, Row>();
  for (const s of engineKeys) {
    const labels = Object.fromEntries(ENGINE_KEY.map((k) => [k, s.metric[k] ?? '']));
    engines.set(rowKey('engine', labels), emptyRow('engine', labels));
  }
  const models = new Map<string, Row>();
  for (const e of engines.values()) {
    const model = String(e.model ?? '');
    if (!models.has(rowKey('model', { model }))) models.set(rowKey('model', { model }), emptyRow('model', { model }));
  }
  const gpus = new Map<string, Row>();
  for (const s of gpuKeys) {
    const labels = Object.fromEntries(GPU_KEY.map((k) => [k, s.metric[k] ?? '']));
    // The same GPU with and without an index in the window (it fell off the bus): one row, with the index.
    const key = rowKey('gpu', labels);
    if (!gpus.get(key)?.gpu_index) gpus.set(key, emptyRow('gpu', labels));
  }
  const total = emptyRow('total', {});
  const rowsAt: Record<Level, Map<string, Row>> = { engine: engines, model: models, gpu: gpus, total: new Map([[rowKey('total', {}), total]]) };

  for (const col of COLUMNS) {
    const perLevel = answers.get(col.name);
    if (!perLevel) continue;
    for (const level of Object.keys(perLevel) as Level[]) {
      for (const s of perLevel[level] ?? []) {
        const row = rowsAt[level].get(rowKey(level, s.metric));
        if (row) row[col.name] = sampleValue(s);
      }
    }
  }

  // Where a GPU's energy came from: its counter, else its power; the total says if it is a mix.
  if (energyCounterGpus) {
    const withCounter = new Set(energyCounterGpus.map((s) => rowKey('gpu', s.metric)));
    for (const [key, row] of gpus) if (row.gpu_energy_joules !== null) row.energy_source = withCounter.has(key) ? 'counter' : 'power';
    const sources = new Set([...gpus.values()].map((r) => r.energy_source).filter((s) => s !== null));
    if (total.gpu_energy_joules !== null) total.energy_source = sources.size === 1 ? [...sources][0] ?? null : sources.size > 1 ? 'mixed' : null;
  }

  const sortEngines = [...engines.values()].sort((a, b) => byText(String(a.host), String(b.host)) || byText(String(a.engine_id), String(b.engine_id)));
  const sortModels = [...models.values()].sort((a, b) => byText(String(a.model), String(b.model)));
  const sortGpus = [...gpus.values()].sort(
    (a, b) => byText(String(a.host), String(b.host)) || Number(a.gpu_index) - Number(b.gpu_index) || byText(String(a.gpu_uuid), String(b.gpu_uuid)),
  );
  return [...sortEngines, ...sortModels, total, ...sortGpus];
}

export function countRows(rows: Row[]): Record<string, number> {
  const out: Record<string, number> = { engine: 0, model: 0, total: 0, gpu: 0 };
  for (const r of rows) out[String(r.scope)] = (out[String(r.scope)] ?? 0) + 1;
  return out;
}
