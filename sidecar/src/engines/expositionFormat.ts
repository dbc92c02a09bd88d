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
// one names the family (`x`) and its samples add `_total`. Looked for in the first 64 KiB only: the
// families' headers come first in every exposition vLLM writes, and a scrape can be megabytes.
const OM_COUNTER_TYPE = /^# TYPE (\S+) counter[ \t]*$/gm;
const OM_ONLY = /^# UNIT \S+ \S|^[^#\n][^\n]* # \{/m;
const SNIFF_CHARS = 64 * 1024;

function hasOpenMetricsMarks(body: string): boolean {
  const head = body.length > SNIFF_CHARS ? body.slice(0, SNIFF_CHARS) : body;
  if (OM_ONLY.test(head)) return true;
  OM_COUNTER_TYPE.lastIndex = 0;
  for (let m = OM_COUNTER_TYPE.exec(head); m !== null; m = OM_COUNTER_TYPE.exec(head)) {
    const name = m[1] as string;
    if (!name.endsWith('_total') && (head.includes(`\n${name}_total{`) || head.includes(`\n${name}_total `))) return true;
  }
  return false;
}

/** How to read a /metrics answer: by the body's marks first, by its Content-Type when it has none. */
export function readFormat(contentType: string, body: string): FormatVerdict {
  const declared = declaredFormat(contentType);
  const eof = endsWithEof(body);
  const format: ExpositionFormat = eof || hasOpenMetricsMarks(body) ? 'openmetrics' : 'prometheus-text';
  return { format, declared, eof, truncated: format === 'openmetrics' && !eof };
}
