// Prometheus text exposition as vLLM's Python prometheus_client writes it: floats in Python's repr passed
// through client_python's floatToGoString ("6.0", "0.24629998207092285", "1.7710424574207425e+09",
// "1.372014592e+010" — that last quirk is in the 0.10.1 fixture), labels in name order, escaped values.

/** Python's repr() of a float. */
export function pyRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const m = /^(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(Math.abs(x).toExponential());
  if (!m) return String(x);
  const digits = (m[1] as string) + (m[2] ?? '');
  const exp = Number(m[3]);
  if (exp < -4 || exp >= 16) {
    const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp) < 10 ? `0${Math.abs(exp)}` : String(Math.abs(exp));
    return `${sign}${mant}e${exp < 0 ? '-' : '+'}${e}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const intLen = exp + 1;
  if (digits.length <= intLen) return `${sign}${digits}${'0'.repeat(intLen - digits.length)}.0`;
  return `${sign}${digits.slice(0, intLen)}.${digits.slice(intLen)}`;
}

/** client_python's floatToGoString: Python repr, with an exponent once the integer part has 7+ digits. */
export function promFloat(d: number): string {
  if (d === Infinity) return '+Inf';
  if (d === -Infinity) return '-Inf';
  if (Number.isNaN(d)) return 'NaN';
  const s = pyRepr(d);
  const dot = s.indexOf('.');
  if (d > 0 && dot > 6) {
    const mantissa = `${s[0]}.${s.slice(1, dot)}${s.slice(dot + 1)}`.replace(/[0.]+$/, '');
    return `${mantissa}e+0${dot - 1}`;
  }
  return s;
}

export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

export type Labels = Record<string, string>;

export function labelText(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabel(labels[k] ?? '')}"`).join(',')}}`;
}

/** Builds an exposition line by line. */
export class PromWriter {
  private readonly lines: string[] = [];

  family(name: string, type: 'counter' | 'gauge' | 'histogram' | 'summary', help: string): this {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    return this;
  }

  sample(name: string, labels: Labels, value: number): this {
    this.lines.push(`${name}${labelText(labels)} ${promFloat(value)}`);
    return this;
  }

  /** Histogram samples: cumulative buckets (last +Inf), _count, _sum. */
  histogram(name: string, labels: Labels, bounds: readonly number[], cumulative: readonly number[], sum: number): this {
    bounds.forEach((le, i) => this.sample(`${name}_bucket`, { ...labels, le: promFloat(le) }, cumulative[i] ?? 0));
    this.sample(`${name}_bucket`, { ...labels, le: '+Inf' }, cumulative[bounds.length] ?? 0);
    this.sample(`${name}_count`, labels, cumulative[bounds.length] ?? 0);
    this.sample(`${name}_sum`, labels, sum);
    return this;
  }

  raw(line: string): this {
    this.lines.push(line);
    return this;
  }

  /** The text; prometheus_client ends it with a newline. */
  text(): string {
    return this.lines.length ? `${this.lines.join('\n')}\n` : '';
  }
}

/**
 * What prometheus_client answers to /metrics?name[]=… (its RestrictedRegistry): only the samples
 * named, each family's HELP and TYPE lines before its first one, families with none left out.
 */
export function restrictToSamples(text: string, names: ReadonlySet<string>): string {
  const out: string[] = [];
  let header: string[] = [];
  let headerFamily = '';
  let headerShown = false;
  for (const line of text.split('\n')) {
    const comment = /^# (?:HELP|TYPE) (\S+)/.exec(line);
    if (comment) {
      if (comment[1] !== headerFamily) {
        header = [];
        headerFamily = comment[1] as string;
        headerShown = false;
      }
      header.push(line);
    } else if (line !== '' && !line.startsWith('#') && names.has(line.slice(0, line.search(/[{ ]|$/)))) {
      if (!headerShown) out.push(...header);
      headerShown = true;
      out.push(line);
    }
  }
  return out.length ? `${out.join('\n')}\n` : '';
}
