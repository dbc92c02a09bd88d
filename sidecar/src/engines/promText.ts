// A Prometheus text-exposition parser (format 0.0.4, plus the parts of OpenMetrics that exporters
// such as prometheus_client emit: `# EOF`, `# UNIT`, `_created` series, exemplars, quoted names).
// Pure: text in, samples out.
//
// Why our own and not an npm package: the one maintained candidate, parse-prometheus-text-format
// (1.1.1, last published 2024-12), returns values as strings, has no size or sample limits and no
// count of malformed lines, which is what a scraper of other people's servers needs. This one is a
// single pass over the text with charCodeAt (no regular expressions on the hot path).
//
// Behaviour on bad input (documented contract, tested in promText.test.ts):
// - Malformed lines (bad name, unterminated quote, unknown escape, missing or non-numeric value,
//   trailing garbage, duplicate label, a line/name/label value/label count over its limit) are
//   skipped and counted in `skipped`; the first few are described in `problems`. Never fatal.
// - Whole-input limits (`maxBytes`, `maxSamples`, `maxFamilies`) throw a PromLimitError (a
//   ParseError): like Prometheus's body_size_limit/sample_limit, an over-limit scrape is rejected
//   whole rather than half-read, so a truncated histogram can never pass for a complete one.
// - A raw newline always ends a line, as the format says; the escaped `\n` inside a label value is
//   a newline character of that value. Label values never leak from one sample into another.
// - Values are numbers: finite, NaN or ±Inf exactly as the text says (`NaN`, `+Inf`, `-Inf`).

import { ParseError, quoteOutput } from '../parsers/errors.js';
import { ownCopy } from '../util/ownCopy.js';

export type PromType =
  | 'counter'
  | 'gauge'
  | 'histogram'
  | 'summary'
  | 'untyped'
  | 'info'
  | 'stateset'
  | 'gaugehistogram';

export type PromLabels = Readonly<Record<string, string>>;

export interface PromSample {
  /** The sample's own name, e.g. `vllm:e2e_request_latency_seconds_bucket`. */
  name: string;
  /**
   * Own properties only: the prototype chain is one empty null-prototype object, so nothing is
   * inherited (no `constructor`, `toString`, `__proto__` accessor) and a label called `__proto__`
   * is an ordinary label.
   */
  labels: PromLabels;
  value: number;
  /** As written: milliseconds in the Prometheus format, seconds in OpenMetrics; null when absent. */
  timestamp: number | null;
}

export interface PromFamily {
  /** The family name: for a histogram `x`, its samples are `x_bucket`, `x_sum`, `x_count`. */
  name: string;
  /** From `# TYPE`; `untyped` when never declared. */
  type: PromType;
  help: string | null;
  unit: string | null;
  samples: PromSample[];
}

export interface PromProblem {
  /** 1-based line number. */
  line: number;
  reason: string;
}

export interface PromExposition {
  /** Families by name, in order of first appearance. */
  families: Map<string, PromFamily>;
  /** Every sample in input order. */
  samples: PromSample[];
  /** Samples by their own name (`x_bucket` etc.), each list in input order. */
  byName: Map<string, PromSample[]>;
  /** Lines read (up to `# EOF` when present). */
  lines: number;
  /** Malformed lines skipped. */
  skipped: number;
  /** The first few skipped lines, with the reason. */
  problems: PromProblem[];
  /** An OpenMetrics `# EOF` line was seen (anything after it is ignored). */
  eof: boolean;
}

export interface PromLimits {
  /** Whole input, UTF-8 bytes. Over it: PromLimitError before any parsing. */
  maxBytes: number;
  /** Samples kept. Over it: PromLimitError. */
  maxSamples: number;
  /** Families (declared or implied). Over it: PromLimitError. */
  maxFamilies: number;
  /** One line, characters. Longer lines are skipped. */
  maxLineLength: number;
  /** Metric and label names, characters. Longer: line skipped. */
  maxNameLength: number;
  /** Labels on one sample. More: line skipped. */
  maxLabels: number;
  /** One label value after unescaping, characters. Longer: line skipped. */
  maxLabelValueLength: number;
  /** HELP text is cut to this many characters (it is only ever shown). */
  maxHelpLength: number;
  /** How many skipped lines are described in `problems`. */
  maxProblems: number;
}

export const DEFAULT_PROM_LIMITS: Readonly<PromLimits> = Object.freeze({
  maxBytes: 32 * 1024 * 1024,
  maxSamples: 200_000,
  maxFamilies: 50_000,
  maxLineLength: 65_536,
  maxNameLength: 512,
  maxLabels: 64,
  maxLabelValueLength: 4096,
  maxHelpLength: 1024,
  maxProblems: 20,
});

export interface PromParseOptions {
  limits?: Partial<PromLimits>;
  /** Names the input in error messages, e.g. "http://127.0.0.1:8000/metrics". */
  source?: string;
}

/** A whole-input limit was exceeded; the exposition is rejected whole. */
export class PromLimitError extends ParseError {
  readonly limit: 'maxBytes' | 'maxSamples' | 'maxFamilies';
  constructor(source: string, limit: PromLimitError['limit'], problem: string) {
    super(source, problem);
    this.limit = limit;
  }
}

/** Label values up to this long are shared between samples; at most MAX_INTERNED of them. */
const MAX_INTERNED_LENGTH = 128;
const MAX_INTERNED = 20_000;
/** Label values seen across inputs (the same engines answer the same values every tick), as copies of their own. */
const SHARED_VALUES_MAX = 4096;
const sharedValues = new Map<string, string>();

function sharedValue(v: string): string {
  let own = sharedValues.get(v);
  if (own === undefined) {
    own = ownCopy(v);
    // Bounded by starting over: a server that makes up new values every scrape cannot grow it.
    if (sharedValues.size >= SHARED_VALUES_MAX) sharedValues.clear();
    sharedValues.set(own, own);
  }
  return own;
}

/**
 * Label names remembered per input for reading in place. vLLM's samples use four or five, but its
 * `cache_config_info` line alone has 10 to 24 of its own, and when those filled a list of 16 the
 * names every bucket line repeats (`model_name`, `le`) were never recognised.
 */
const MAX_SEEN_LABELS = 256;
/**
 * Where a bare label name was last found: slot + 1 in this input's list, by a hash of the name's
 * length and three of its characters. Shared by every parse and never cleared: a hit is always
 * checked against the text, so what another input left here only costs a miss.
 */
const LABEL_SLOT_BITS = 9;
const labelSlotByHash = new Uint16Array(1 << LABEL_SLOT_BITS);

const TYPES: ReadonlySet<string> = new Set([
  'counter',
  'gauge',
  'histogram',
  'summary',
  'untyped',
  'unknown',
  'info',
  'stateset',
  'gaugehistogram',
]);

// Character codes.
const TAB = 9;
const SPACE = 32;
const QUOTE = 34;
const HASH = 35;
const COMMA = 44;
const EQUALS = 61;
const BACKSLASH = 92;
const LBRACE = 123;
const RBRACE = 125;
const CR = 13;

// Character classes as lookup tables (ASCII only; everything else is not a name character).
const NAME_START = new Uint8Array(128); // [a-zA-Z_:]
const NAME_CHAR = new Uint8Array(128); // [a-zA-Z0-9_:]
const LABEL_START = new Uint8Array(128); // [a-zA-Z_]
const LABEL_CHAR = new Uint8Array(128); // [a-zA-Z0-9_]
for (let c = 0; c < 128; c++) {
  const alpha = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
  const digit = c >= 48 && c <= 57;
  LABEL_START[c] = alpha ? 1 : 0;
  LABEL_CHAR[c] = alpha || digit ? 1 : 0;
  NAME_START[c] = alpha || c === 58 ? 1 : 0;
  NAME_CHAR[c] = alpha || digit || c === 58 ? 1 : 0;
}

/** Prometheus float syntax: Go's ParseFloat accepts NaN and Inf spellings that Number() does not. */
export function parsePromNumber(token: string): number | null {
  if (token.length === 0) return null;
  const v = Number(token);
  if (!Number.isNaN(v)) {
    // Number() accepts surrounding whitespace and "" (→ 0); the tokenizer never passes either.
    return v;
  }
  switch (token.toLowerCase()) {
    case 'nan':
    case '+nan':
    case '-nan':
      return NaN;
    case 'inf':
    case '+inf':
      return Infinity;
    case '-inf':
      return -Infinity;
    default:
      return null;
  }
}

/** Escapes a label value for the text format (`\` → `\\`, `"` → `\"`, newline → `\n`). */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\\' ? '\\\\' : c === '"' ? '\\"' : '\\n'));
}

/** Formats a value as the text format writes it. */
export function formatPromNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** One sample line, e.g. `x{a="b"} 1`. Names are not checked: pass valid ones. */
export function formatPromSample(s: { name: string; labels?: Record<string, string>; value: number }): string {
  const labels = s.labels ? Object.entries(s.labels) : [];
  const body = labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',');
  return `${s.name}${labels.length > 0 ? `{${body}}` : ''} ${formatPromNumber(s.value)}`;
}

// Label records inherit from this empty null-prototype object instead of having a null prototype
// themselves: V8 keeps such objects in fast (hidden-class) mode, where Object.create(null) makes a
// dictionary — several times larger, and the garbage collector's main cost on big expositions.
const LABELS_PROTO: object = Object.create(null) as object;

class LineError {
  constructor(readonly reason: string) {}
}

/** The family a sample belongs to, by the suffix rules of the two formats. */
function familyFor(families: Map<string, PromFamily>, name: string): PromFamily | undefined {
  const direct = families.get(name);
  if (direct) return direct;
  const us = name.lastIndexOf('_');
  if (us <= 0) return undefined;
  const base = families.get(name.slice(0, us));
  if (!base) return undefined;
  switch (name.slice(us + 1)) {
    case 'bucket':
      return base.type === 'histogram' || base.type === 'gaugehistogram' ? base : undefined;
    case 'sum':
    case 'count':
      return base.type === 'histogram' || base.type === 'summary' ? base : undefined;
    case 'gsum':
    case 'gcount':
      return base.type === 'gaugehistogram' ? base : undefined;
    case 'total':
      return base.type === 'counter' ? base : undefined;
    case 'created':
      return base.type === 'counter' || base.type === 'histogram' || base.type === 'summary' ? base : undefined;
    case 'info':
      return base.type === 'info' ? base : undefined;
    default:
      return undefined;
  }
}

/**
 * Parses Prometheus text exposition. Throws PromLimitError only for the whole-input limits; every
 * other problem skips one line.
 */
export function parsePromText(text: string, options: PromParseOptions = {}): PromExposition {
  const lim: PromLimits = { ...DEFAULT_PROM_LIMITS, ...options.limits };
  const source = options.source ?? 'prometheus text';

  // UTF-8 bytes >= UTF-16 code units, so the length alone can prove an input too big; the exact
  // byte count is only computed when it could matter.
  if (text.length > lim.maxBytes || (text.length * 3 > lim.maxBytes && Buffer.byteLength(text, 'utf8') > lim.maxBytes)) {
    throw new PromLimitError(source, 'maxBytes', `exposition is larger than ${lim.maxBytes} bytes`);
  }
  return new TextParser(text, lim, source).run();
}

/** One name's entry: the sample list and the family it resolved to. */
interface NameEntry {
  /** The first copy of the name: every sample of that name shares it. */
  name: string;
  list: PromSample[];
  fam: PromFamily | null;
  epoch: number;
}

/**
 * One parse: the input, a cursor over [i, end) of the current line, and what was read so far. The
 * steps are methods, not closures made anew at each parse: V8 optimised such closures again after
 * most garbage collections (each parse made new ones), a few times a second in a sidecar reading 16
 * engines, on background threads that cost more CPU than the parses themselves.
 */
class TextParser {
  readonly families = new Map<string, PromFamily>();
  readonly samples: PromSample[] = [];
  readonly problems: PromProblem[] = [];
  eof = false;
  readonly n: number;
  /** End of the current line (before any CR). */
  end = 0;
  tokenEnd = 0;
  /** The last readQuoted read no escape: its value holds no quote, backslash or newline. */
  quotedPlain = false;
  // Positions of the next quote and backslash at or after some point, found with indexOf and
  // reused until passed: the scan of every quoted string is native, and the whole input is
  // searched at most once for each character however the lines are broken (no quadratic rescans
  // on lines with an unterminated quote).
  nextQuote = -1;
  nextBackslash = -1;
  readonly typed = new Set<PromFamily>();
  // One lookup per sample: its name's entry holds the sample list and the family it resolved to.
  // `epoch` moves whenever a family is added or typed, which can change what a name resolves to.
  readonly names = new Map<string, NameEntry>();
  epoch = 0;
  // Label values repeat (engine="0", model_name, le...): keeping one copy of each keeps what the
  // result holds small, which is most of the cost on large inputs (the collector copies it).
  readonly interned = new Map<string, string>();
  // Lines repeat their metric name (a histogram's buckets), label names and most label values
  // (engine="0", model_name): a name or value that reads the same as one seen before on this input
  // is recognised in place (one native comparison) and the first copy reused, with no slice and no
  // hash lookup of a new string. Only plain text is recognised so: a value with an escape, or one
  // not seen yet, goes through readName/readQuoted as always, so what is read never differs.
  lastName = '';
  /** Label names seen (at most MAX_SEEN_LABELS), each with the last value it had unescaped. */
  readonly seenLabels: string[] = [];
  readonly seenValues: (string | null)[] = [];

  constructor(
    readonly text: string,
    readonly lim: PromLimits,
    readonly source: string,
  ) {
    this.n = text.length;
  }

  run(): PromExposition {
    const { text, n, lim, problems } = this;
    let skipped = 0;
    let lineNo = 0;
    let pos = 0;
    while (pos < n && !this.eof) {
      let nl = text.indexOf('\n', pos);
      if (nl < 0) nl = n;
      lineNo++;
      let end = nl;
      if (end > pos && text.charCodeAt(end - 1) === CR) end--;
      this.end = end;
      const lineStart = pos;
      pos = nl + 1;
      if (end - lineStart > lim.maxLineLength) {
        skipped++;
        if (problems.length < lim.maxProblems) {
          problems.push({ line: lineNo, reason: `line longer than ${lim.maxLineLength} characters` });
        }
        continue;
      }
      const i = this.skipBlank(lineStart);
      if (i >= end) continue; // blank line
      try {
        if (text.charCodeAt(i) === HASH) this.parseComment(i + 1);
        else this.parseSample(i);
      } catch (e) {
        if (!(e instanceof LineError)) throw e;
        skipped++;
        if (problems.length < lim.maxProblems) {
          problems.push({ line: lineNo, reason: `${e.reason}: ${quoteOutput(text.slice(lineStart, end), 60)}` });
        }
      }
    }
    const byName = new Map<string, PromSample[]>();
    for (const [name, entry] of this.names) byName.set(name, entry.list);
    return { families: this.families, samples: this.samples, byName, lines: lineNo, skipped, problems, eof: this.eof };
  }

  skipBlank(i: number): number {
    const text = this.text;
    const end = this.end;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c !== SPACE && c !== TAB) break;
      i++;
    }
    return i;
  }

  /** Reads a quoted string starting at the opening quote; sets tokenEnd past the closing quote. */
  readQuoted(i: number, maxLen: number, what: string): string {
    const text = this.text;
    const end = this.end;
    i++; // opening quote
    let out = '';
    for (;;) {
      if (this.nextQuote < i) {
        this.nextQuote = text.indexOf('"', i);
        if (this.nextQuote < 0) this.nextQuote = this.n;
      }
      if (this.nextBackslash < i) {
        this.nextBackslash = text.indexOf('\\', i);
        if (this.nextBackslash < 0) this.nextBackslash = this.n;
      }
      if (this.nextQuote < this.nextBackslash) {
        if (this.nextQuote >= end) throw new LineError(`unterminated ${what}`);
        if (out.length + (this.nextQuote - i) > maxLen) throw new LineError(`${what} longer than ${maxLen} characters`);
        this.tokenEnd = this.nextQuote + 1;
        // Every escape adds a character to out, so an empty out means none was read.
        this.quotedPlain = out.length === 0;
        return this.quotedPlain ? text.slice(i, this.nextQuote) : out + text.slice(i, this.nextQuote);
      }
      if (this.nextBackslash >= end) throw new LineError(`unterminated ${what}`);
      const e = this.nextBackslash + 1 < end ? text.charCodeAt(this.nextBackslash + 1) : -1;
      out += text.slice(i, this.nextBackslash);
      if (e === BACKSLASH) out += '\\';
      else if (e === QUOTE) out += '"';
      else if (e === 110 /* n */) out += '\n';
      else throw new LineError(`invalid escape in ${what}`);
      if (out.length > maxLen) throw new LineError(`${what} longer than ${maxLen} characters`);
      i = this.nextBackslash + 2;
    }
  }

  /** Reads a bare metric (or label) name at i; sets tokenEnd. Empty string when none. */
  readName(i: number, label: boolean): string {
    const text = this.text;
    const end = this.end;
    const lim = this.lim;
    const start = i;
    const first = label ? LABEL_START : NAME_START;
    const rest = label ? LABEL_CHAR : NAME_CHAR;
    let c = i < end ? text.charCodeAt(i) : 128;
    if (c < 128 && first[c] === 1) {
      i++;
      while (i < end && (c = text.charCodeAt(i)) < 128 && rest[c] === 1) i++;
    }
    if (i - start > lim.maxNameLength) throw new LineError(`name longer than ${lim.maxNameLength} characters`);
    this.tokenEnd = i;
    return text.slice(start, i);
  }

  /** A name in `# HELP/TYPE/UNIT` lines: bare or quoted. */
  readMetaName(i: number): string {
    const text = this.text;
    const end = this.end;
    const lim = this.lim;
    if (i < end && text.charCodeAt(i) === QUOTE) return this.readQuoted(i, lim.maxNameLength, 'quoted name');
    return this.readName(i, false);
  }

  getFamily(name: string, create: boolean): PromFamily | undefined {
    const lim = this.lim;
    const source = this.source;
    const families = this.families;
    let f = families.get(name);
    if (!f && create) {
      if (families.size >= lim.maxFamilies) {
        throw new PromLimitError(source, 'maxFamilies', `exposition has more than ${lim.maxFamilies} metric families`);
      }
      f = { name, type: 'untyped', help: null, unit: null, samples: [] };
      families.set(name, f);
      this.epoch++;
    }
    return f;
  }

  intern(v: string): string {
    const interned = this.interned;
    const hit = interned.get(v);
    if (hit !== undefined) return hit;
    const own = sharedValue(v);
    if (interned.size < MAX_INTERNED) interned.set(own, own);
    return own;
  }

  parseComment(i: number): void {
    const text = this.text;
    const end = this.end;
    const lim = this.lim;
    const typed = this.typed;
    // i is just past '#'
    i = this.skipBlank(i);
    const kwStart = i;
    while (i < end && text.charCodeAt(i) !== SPACE && text.charCodeAt(i) !== TAB) i++;
    const kw = text.slice(kwStart, i);
    if (kw === 'EOF') {
      if (this.skipBlank(i) === end) this.eof = true;
      return;
    }
    if (kw !== 'HELP' && kw !== 'TYPE' && kw !== 'UNIT') return; // an ordinary comment
    i = this.skipBlank(i);
    const name = this.readMetaName(i);
    if (name.length === 0) throw new LineError(`# ${kw} without a metric name`);
    i = this.tokenEnd;
    if (i < end && text.charCodeAt(i) !== SPACE && text.charCodeAt(i) !== TAB) {
      throw new LineError(`invalid metric name in # ${kw}`);
    }
    i = this.skipBlank(i);
    if (kw === 'HELP') {
      // Escapes in HELP: `\\` and `\n`; any other backslash is kept as written.
      let help = '';
      let start = i;
      for (;;) {
        if (this.nextBackslash < i) {
          this.nextBackslash = text.indexOf('\\', i);
          if (this.nextBackslash < 0) this.nextBackslash = this.n;
        }
        if (this.nextBackslash >= end - 1) break;
        const e = text.charCodeAt(this.nextBackslash + 1);
        if (e === BACKSLASH || e === 110) {
          help += text.slice(start, this.nextBackslash) + (e === BACKSLASH ? '\\' : '\n');
          start = this.nextBackslash + 2;
        }
        i = this.nextBackslash + (e === BACKSLASH || e === 110 ? 2 : 1);
      }
      help += text.slice(start, end);
      const fam = this.getFamily(name, true) as PromFamily;
      if (fam.help === null) fam.help = help.length > lim.maxHelpLength ? help.slice(0, lim.maxHelpLength) : help;
      return;
    }
    const wordStart = i;
    while (i < end && text.charCodeAt(i) !== SPACE && text.charCodeAt(i) !== TAB) i++;
    const word = text.slice(wordStart, i);
    if (this.skipBlank(i) !== end) throw new LineError(`trailing text after # ${kw}`);
    if (kw === 'UNIT') {
      const fam = this.getFamily(name, true) as PromFamily;
      fam.unit = word;
      return;
    }
    if (!TYPES.has(word)) throw new LineError(`unknown metric type "${quoteOutput(word, 30)}"`);
    const fam = this.getFamily(name, true) as PromFamily;
    if (typed.has(fam)) throw new LineError(`second # TYPE for ${quoteOutput(name, 60)}`);
    typed.add(fam);
    fam.type = word === 'unknown' ? 'untyped' : (word as PromType);
    this.epoch++;
  }

  /** The text at i is `known` followed by a character that cannot continue a name of that kind. */
  nameAt(known: string, i: number, rest: Uint8Array): boolean {
    const text = this.text;
    const end = this.end;
    if (!text.startsWith(known, i)) return false;
    const j = i + known.length;
    if (j >= end) return true;
    const c = text.charCodeAt(j);
    return !(c < 128 && rest[c] === 1);
  }

  /**
  * The value of text[start, stop) when it is a whole number written plainly: up to 15 digits,
  * optionally followed by a point and zeros (`1739.0`, how counters are written). Read digit by
  * digit, exactly what Number() reads (below 2^53); null for anything else.
  */
  plainInteger(start: number, stop: number): number | null {
    const text = this.text;
    let v = 0;
    let k = start;
    for (; k < stop; k++) {
      const d = text.charCodeAt(k) - 48;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
    }
    if (k === start || k - start > 15) return null;
    if (k < stop) {
      if (text.charCodeAt(k) !== 46 /* . */) return null;
      for (k++; k < stop; k++) if (text.charCodeAt(k) !== 48) return null;
    }
    return v;
  }

  parseSample(i: number): void {
    const text = this.text;
    const end = this.end;
    const lim = this.lim;
    const source = this.source;
    const families = this.families;
    const names = this.names;
    const seenLabels = this.seenLabels;
    const seenValues = this.seenValues;
    const samples = this.samples;
    let name = '';
    const c0 = text.charCodeAt(i);
    if (c0 !== LBRACE) {
      if (this.lastName.length > 0 && this.nameAt(this.lastName, i, NAME_CHAR)) {
        name = this.lastName;
        this.tokenEnd = i + this.lastName.length;
      } else {
        name = this.readName(i, false);
        if (name.length === 0) throw new LineError('invalid metric name');
        this.lastName = name;
      }
      i = this.tokenEnd;
    }
    const labels = Object.create(LABELS_PROTO) as Record<string, string>;
    let labelCount = 0;
    i = this.skipBlank(i);
    if (i < end && text.charCodeAt(i) === LBRACE) {
      i++;
      let first = true;
      for (;;) {
        i = this.skipBlank(i);
        if (i >= end) throw new LineError('unterminated label set');
        let c = text.charCodeAt(i);
        if (c === RBRACE) {
          i++;
          break;
        }
        let lname: string;
        /** The name's place in seenLabels; -1 for a quoted name or one past MAX_SEEN_LABELS. */
        let slot = -1;
        if (c === QUOTE) {
          lname = this.readQuoted(i, lim.maxNameLength, 'quoted name');
          i = this.skipBlank(this.tokenEnd);
          c = i < end ? text.charCodeAt(i) : -1;
          if (first && name.length === 0 && (c === COMMA || c === RBRACE)) {
            // OpenMetrics 2 / Prometheus 3 quoted metric name: {"my.metric", a="b"}
            if (lname.length === 0) throw new LineError('empty metric name');
            name = lname;
            first = false;
            if (c === COMMA) i++;
            continue;
          }
        } else {
          // The name's extent, as readName finds it, then the name last seen with the same hash:
          // the same length and characters there is the same name, read without a slice.
          let j = i;
          if (c < 128 && LABEL_START[c] === 1) {
            j++;
            while (j < end && (c = text.charCodeAt(j)) < 128 && LABEL_CHAR[c] === 1) j++;
          }
          const len = j - i;
          let hash = 0;
          if (len > 0) {
            hash = (len * 31 + text.charCodeAt(i) * 7 + text.charCodeAt(j - 1) * 3 + text.charCodeAt(i + (len >> 1))) & ((1 << LABEL_SLOT_BITS) - 1);
            const at = (labelSlotByHash[hash] as number) - 1;
            const cand = at >= 0 && at < seenLabels.length ? (seenLabels[at] as string) : '';
            if (cand.length === len && text.startsWith(cand, i)) slot = at;
          }
          if (slot >= 0) {
            lname = seenLabels[slot] as string;
            this.tokenEnd = j;
          } else {
            lname = this.readName(i, true);
            if (lname.length === 0) throw new LineError('invalid label name');
            // Only names read bare are recognised bare: a quoted name may hold any character.
            // Once the list is full a miss is not looked for in it: a body of ever new names would
            // otherwise scan all of them on every one (a name read afresh costs only its string).
            slot = seenLabels.length < MAX_SEEN_LABELS ? seenLabels.indexOf(lname) : -1;
            if (slot < 0 && seenLabels.length < MAX_SEEN_LABELS) {
              slot = seenLabels.length;
              seenLabels.push(lname);
              seenValues.push(null);
            }
            if (slot >= 0) labelSlotByHash[hash] = slot + 1;
          }
          i = this.skipBlank(this.tokenEnd);
          c = i < end ? text.charCodeAt(i) : -1;
        }
        first = false;
        if (c !== EQUALS) throw new LineError('expected "=" after label name');
        i = this.skipBlank(i + 1);
        if (i >= end || text.charCodeAt(i) !== QUOTE) throw new LineError('label value is not quoted');
        const known = slot >= 0 ? seenValues[slot] : null;
        let value: string;
        // A remembered value holds no quote, backslash or newline: the same characters between the
        // quotes, closed by a quote, are that value unescaped.
        if (known != null && text.startsWith(known, i + 1) && i + 1 + known.length < end && text.charCodeAt(i + 1 + known.length) === QUOTE) {
          value = known;
          this.tokenEnd = i + 2 + known.length;
        } else {
          value = this.readQuoted(i, lim.maxLabelValueLength, 'label value');
          if (value.length <= MAX_INTERNED_LENGTH) value = this.intern(value);
          if (slot >= 0) seenValues[slot] = this.quotedPlain && value.length <= MAX_INTERNED_LENGTH ? value : null;
        }
        if (lname in labels) throw new LineError(`duplicate label "${quoteOutput(lname, 40)}"`);
        if (++labelCount > lim.maxLabels) throw new LineError(`more than ${lim.maxLabels} labels`);
        labels[lname] = value;
        i = this.skipBlank(this.tokenEnd);
        c = i < end ? text.charCodeAt(i) : -1;
        if (c === COMMA) {
          i++;
          continue;
        }
        if (c === RBRACE) {
          i++;
          break;
        }
        throw new LineError('expected "," or "}" after label value');
      }
    }
    if (name.length === 0) throw new LineError('sample without a metric name');
    i = this.skipBlank(i);
    // value
    let start = i;
    while (i < end && text.charCodeAt(i) !== SPACE && text.charCodeAt(i) !== TAB) i++;
    const value = this.plainInteger(start, i) ?? parsePromNumber(text.slice(start, i));
    if (value === null) throw new LineError(i === start ? 'missing value' : 'value is not a number');
    // optional timestamp, then optional exemplar ("# {...} v [ts]"), which we do not keep
    let timestamp: number | null = null;
    i = this.skipBlank(i);
    if (i < end && text.charCodeAt(i) !== HASH) {
      start = i;
      while (i < end && text.charCodeAt(i) !== SPACE && text.charCodeAt(i) !== TAB) i++;
      const ts = parsePromNumber(text.slice(start, i));
      if (ts === null || !Number.isFinite(ts)) throw new LineError('timestamp is not a number');
      timestamp = ts;
      i = this.skipBlank(i);
    }
    if (i < end && text.charCodeAt(i) !== HASH) throw new LineError('trailing text after value');

    if (samples.length >= lim.maxSamples) {
      throw new PromLimitError(source, 'maxSamples', `exposition has more than ${lim.maxSamples} samples`);
    }
    let entry = names.get(name);
    if (!entry) {
      entry = { name, list: [], fam: null, epoch: -1 };
      names.set(name, entry);
    }
    const sample: PromSample = { name: entry.name, labels, value, timestamp };
    if (entry.epoch !== this.epoch || entry.fam === null) {
      entry.fam = familyFor(families, name) ?? (this.getFamily(name, true) as PromFamily);
      entry.epoch = this.epoch;
    }
    entry.fam.samples.push(sample);
    entry.list.push(sample);
    samples.push(sample);
  }
}
