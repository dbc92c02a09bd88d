// Errors raised by the nvidia-smi parsers. One class, one message a person can act on:
// "<source>: <what is wrong> (<short, sanitised quote of the output>)".

/** Longest quote of command output put into an error message. */
export const MAX_QUOTE_CHARS = 80;

// C0/C1 control characters, DEL, Unicode line/paragraph separators and bidi overrides: none of
// them belong in a one-line log message (they can forge log lines or reorder the text shown).
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]+/g;

/**
 * A short, printable quote of untrusted output for an error message: control characters become
 * spaces, runs of whitespace collapse, and anything past `max` characters becomes "…".
 */
export function quoteOutput(text: string, max: number = MAX_QUOTE_CHARS): string {
  // Look at a bounded prefix only: the input may be megabytes of garbage.
  const head = text.slice(0, max * 4);
  const clean = head.replace(UNPRINTABLE, ' ').replace(/\s+/g, ' ').trim();
  const chars = Array.from(clean); // do not cut a surrogate pair in half
  if (chars.length <= max && head.length === text.length) return clean;
  if (chars.length <= max) return `${clean}…`;
  return `${chars.slice(0, max).join('').trimEnd()}…`;
}

export class ParseError extends Error {
  override readonly name = 'ParseError';
  /** The command whose output could not be parsed, e.g. "nvidia-smi -q -x". */
  readonly source: string;
  /** The problem without the source prefix, e.g. "output is empty". */
  readonly problem: string;

  constructor(source: string, problem: string, options?: { cause?: unknown }) {
    super(`${source}: ${problem}`, options);
    this.source = source;
    this.problem = problem;
  }
}
