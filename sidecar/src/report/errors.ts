// Why a report run ended early, as an exit code an operator's script can branch on (listed in --help and the README).
export const EXIT = {
  ok: 0,
  /** A bug or an I/O failure writing the artifacts. */
  internal: 1,
  /** Bad flags, a bad time, an unknown named window. */
  usage: 2,
  /** Prometheus could not be reached, refused the credentials, or answered something that is not its API. */
  unreachable: 3,
  /** No engine and no GPU matched the selectors in the window. */
  emptySelection: 4,
  /** The window starts (or ends) after now. */
  futureWindow: 5,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error the command reports as one line on stderr and exits with `code`. */
export class ReportError extends Error {
  constructor(
    readonly code: ExitCode,
    message: string,
  ) {
    super(message);
    this.name = 'ReportError';
  }
}

export const usageError = (message: string) => new ReportError(EXIT.usage, message);
