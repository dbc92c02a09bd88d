// Prometheus text format 0.0.4 for the gpufleet_* families, written straight from a publication. It
// replaces prom-client's Gauge/Counter for them: prom-client hashes a label object on every set (sorting
// its keys) and builds the line from that object again at each rendering, which was about 40 % of the
// sidecar's allocations per tick. Here a series is its label text (`k="v",…`, escaped once, shared by
// the families with the same labels) and its value; the text is the same byte for byte: `# HELP`,
// `# TYPE`, one line per series in the order first set, families apart by a blank line.

export type FamilyType = 'gauge' | 'counter';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\x00-\x1f\x7f]/g;
const MAX_LABEL_LENGTH = 128;

/** No control characters or ANSI escapes, bounded length (the escaping for the text format is apart). */
export function sanitizeLabel(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  let s = String(value);
  // Most values are clean: no new string for them.
  if (CONTROL.test(s)) s = s.replace(ANSI, '').replace(CONTROLS, '');
  return s.length > MAX_LABEL_LENGTH ? s.slice(0, MAX_LABEL_LENGTH) : s;
}

const NEEDS_ESCAPE = /[\\\n"]/;

/** A label value between its quotes: backslash, newline and double quote escaped, as the format says. */
export function escapeLabelValue(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : s;
}

/** A label value from an untrusted string: sanitised, then escaped. */
export function labelValue(value: string | number | null | undefined): string {
  return escapeLabelValue(sanitizeLabel(value));
}

/** `name="value",…` for names and already escaped values in the same order. */
export function labelText(names: readonly string[], escapedValues: readonly string[]): string {
  let out = '';
  for (let i = 0; i < names.length; i++) out += `${i === 0 ? '' : ','}${names[i]}="${escapedValues[i] ?? ''}"`;
  return out;
}

function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** As prom-client writes a value (its spelling of NaN included). */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'Nan';
  if (!Number.isFinite(v)) return v < 0 ? '-Inf' : '+Inf';
  return String(v);
}

/**
 * One metric family: its series keyed by label text. A series set again keeps its place (and the text
 * never holds the same series twice); a family without labels always has its one series, from 0.
 */
export class Family {
  private readonly head: string;
  private readonly series = new Map<string, number>();

  constructor(
    readonly name: string,
    help: string,
    readonly type: FamilyType,
    readonly labelNames: readonly string[],
  ) {
    this.head = `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}`;
    this.reset();
  }

  get size(): number {
    return this.series.size;
  }

  /** `labels`: the label text between the braces, values escaped (labelText / labelValue). */
  set(labels: string, value: number): void {
    this.series.set(labels, value);
  }

  add(labels: string, delta: number): void {
    this.series.set(labels, (this.series.get(labels) ?? 0) + delta);
  }

  has(labels: string): boolean {
    return this.series.has(labels);
  }

  reset(): void {
    this.series.clear();
    if (this.labelNames.length === 0) this.series.set('', 0);
  }

  render(): string {
    let out = this.head;
    const name = this.name;
    for (const [labels, value] of this.series) out += labels === '' ? `\n${name} ${formatValue(value)}` : `\n${name}{${labels}} ${formatValue(value)}`;
    return out;
  }
}

/** The families in the order they were made, rendered as prom-client renders a registry (no final newline). */
export function renderFamilies(families: readonly Family[]): string {
  let out = '';
  for (let i = 0; i < families.length; i++) out += i === 0 ? (families[i] as Family).render() : `\n\n${(families[i] as Family).render()}`;
  return out;
}
