// Which text format a /metrics answer is in: Prometheus text 0.0.4 or OpenMetrics 1.0. Pure.
//
// vLLM's Python frontend answers 0.0.4 (or OpenMetrics when asked for it); its Rust frontend
// (VLLM_USE_RUST_FRONTEND=1, rust/src/server/src/routes/metrics.rs) always answers
// `application/openmetrics-text; version=1.0.0; charset=utf-8`, asked or not. The parser reads both
// (promText.ts), so what the format changes is the end: an OpenMetrics exposition ends with `# EOF`,
// and one without it was cut short (a proxy's buffer, a dropped connection) — its last family may be
// half there. A content type is only a claim (proxies relabel answers, and a gauge-only OpenMetrics
// body reads the same as 0.0.4), so the body's own marks decide: `# EOF`, a `# UNIT` line, a counter
// whose `# TYPE` names the family while its samples add `_total`, an exemplar. A body labelled
// OpenMetrics without any of them is read as 0.0.4 (nothing in it can tell it was cut).

export type ExpositionFormat = 'openmetrics' | 'prometheus-text';

export interface FormatVerdict {
  /** What the body is read as. */
  format: ExpositionFormat;
  /** What the Content-Type says; null when it names neither format. */
  declared: ExpositionFormat | null;
  /** The body ends with an OpenMetrics `# EOF` line. */
  eof: boolean;
  /** Read as OpenMetrics but without `# EOF`: the answer was cut short. */
  truncated: boolean;
}

/** The format a Content-Type names, by its media type. */
export function declaredFormat(contentType: string): ExpositionFormat | null {
  const media = contentType.split(';', 1)[0]?.trim().toLowerCase() ?? '';
  if (media === 'application/openmetrics-text') return 'openmetrics';
  if (media === 'text/plain') return 'prometheus-text';
  return null;
}

/** The last non-blank line is `# EOF` (OpenMetrics allows nothing after it, a final newline aside). */
function endsWithEof(body: string): boolean {
  let end = body.length;
  while (end > 0 && /\s/.test(body.charAt(end - 1))) end--;
  const start = body.lastIndexOf('\n', end - 1) + 1;
  return body.slice(start, end).trim() === '# EOF';
}

// Marks only OpenMetrics has. A 0.0.4 counter's `# TYPE` names the samples (`x_total`); an OpenMetrics
// one names the family (`x`) and its samples add `_total`. Looked for in the first 8 KiB only, with
// native scans: this runs on every scrape of every engine, and the first counter family comes early
// in what both frontends write (python_gc_* in 0.0.4, the prefix-cache counters in the Rust one).
const SNIFF_CHARS = 8 * 1024;

function hasOpenMetricsMarks(body: string): boolean {
  const head = body.length > SNIFF_CHARS ? body.slice(0, SNIFF_CHARS) : body;
  if (head.startsWith('# UNIT ') || head.includes('\n# UNIT ')) return true;
  // An exemplar: ` # {` after a sample's value, on a line that is not a comment.
  for (let at = head.indexOf(' # {'); at >= 0; at = head.indexOf(' # {', at + 4)) {
    if (head.charCodeAt(head.lastIndexOf('\n', at) + 1) !== 35 /* # */) return true;
  }
  for (let at = head.indexOf(' counter'); at >= 0; at = head.indexOf(' counter', at + 8)) {
    const lineStart = head.lastIndexOf('\n', at) + 1;
    const after = head.charCodeAt(at + 8);
    if (!head.startsWith('# TYPE ', lineStart) || !(Number.isNaN(after) || after === 10 || after === 13 || after === 32)) continue;
    // The first counter family decides.
    const name = head.slice(lineStart + 7, at);
    return !name.endsWith('_total') && (head.includes(`\n${name}_total{`, at) || head.includes(`\n${name}_total `, at));
  }
  return false;
}

/** How to read a /metrics answer: by the body's marks first, by its Content-Type when it has none. */
export function readFormat(contentType: string, body: string): FormatVerdict {
  return verdict(contentType, endsWithEof(body), () => hasOpenMetricsMarks(body));
}

function verdict(contentType: string, eof: boolean, marks: () => boolean): FormatVerdict {
  const declared = declaredFormat(contentType);
  const format: ExpositionFormat = eof || marks() ? 'openmetrics' : 'prometheus-text';
  return { format, declared, eof, truncated: format === 'openmetrics' && !eof };
}

/** Blanks as /\s/ has them in ASCII: tab, newline, vertical tab, form feed, carriage return, space. */
function asciiBlank(c: number): boolean {
  return (c >= 9 && c <= 13) || c === 32;
}

/**
 * readFormat of a body that is all ASCII (buffer.isAscii): its characters are its bytes, so only its
 * last line and its first SNIFF_CHARS are decoded, and read by the same tests as readFormat's.
 */
export function readFormatAscii(contentType: string, buf: Buffer): FormatVerdict {
  let end = buf.length;
  while (end > 0 && asciiBlank(buf[end - 1] as number)) end--;
  const start = end > 0 ? buf.lastIndexOf(10, end - 1) + 1 : 0;
  const eof = buf.toString('latin1', start, end).trim() === '# EOF';
  return verdict(contentType, eof, () => hasOpenMetricsMarks(buf.toString('latin1', 0, Math.min(buf.length, SNIFF_CHARS))));
}
