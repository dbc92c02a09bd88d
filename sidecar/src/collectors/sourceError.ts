// A failed collection, with a reason that becomes the `reason` label of gpufleet_collector_errors_total
// and a message an operator can act on (shown in /api/v1/health).
export type FailureReason = 'timeout' | 'spawn' | 'exit' | 'parse' | 'too-large' | 'http' | 'other';

export class SourceError extends Error {
  constructor(
    readonly reason: FailureReason,
    message: string,
    /** The system error code (ECONNREFUSED, ENOENT, …) when a connection failed: callers classify by it, not by the text. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'SourceError';
  }
}

/** One line, no control characters, bounded: command output quoted in errors may be hostile. */
export function sanitizeForMessage(text: string, max = 160): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
