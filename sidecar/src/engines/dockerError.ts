// What the Docker source reports when the Docker API fails: a fixed sentence per kind of failure,
// never the text that came back. Whatever answers on the socket (a socket proxy, a hostile
// process bound to the path, a Podman service) is untrusted, so only the error code, the HTTP
// status and the kind of client-side failure are read, whatever the error's message says.
import { SourceError, type FailureReason } from '../collectors/sourceError.js';

export type DockerFailureKind = 'timeout' | 'refused' | 'permission' | 'missing' | 'closed' | 'status' | 'bad-answer';

export interface DockerFailure {
  kind: DockerFailureKind;
  reason: FailureReason;
  message: string;
}

/** Thrown by the discovery when the API answers 2xx with something that is not what it asked for. */
export class DockerBadAnswer extends Error {
  constructor(what: string) {
    super(what);
    this.name = 'DockerBadAnswer';
  }
}

const CODES: Record<string, DockerFailureKind> = {
  ECONNREFUSED: 'refused',
  EACCES: 'permission',
  EPERM: 'permission',
  ENOENT: 'missing',
  ENOTSOCK: 'missing',
  ETIMEDOUT: 'timeout',
  ECONNRESET: 'closed',
  EPIPE: 'closed',
  ECONNABORTED: 'closed',
};

/**
 * Classifies a failed call to the Docker API at `socketPath`. `aborted` says the tick's deadline
 * (`budgetMs`) cut it short, which is a timeout whatever error the abort surfaced as.
 */
export function describeDockerFailure(err: unknown, socketPath: string, aborted: boolean, budgetMs?: number): DockerFailure {
  const at = `Docker API at ${socketPath}`;
  if (aborted) {
    return { kind: 'timeout', reason: 'timeout', message: `${at}: no full answer within ${budgetMs ?? 0} ms (aborted)` };
  }
  const e = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; statusCode?: unknown };
  const status = typeof e.statusCode === 'number' && Number.isInteger(e.statusCode) && e.statusCode >= 100 && e.statusCode <= 599 ? e.statusCode : null;
  if (status !== null) {
    return { kind: 'status', reason: 'http', message: `${at}: bad answer, HTTP status ${status}` };
  }
  if (err instanceof DockerBadAnswer) {
    return { kind: 'bad-answer', reason: 'parse', message: `${at}: bad answer, ${err.message}` };
  }
  if (err instanceof SourceError && err.reason === 'too-large') {
    return { kind: 'bad-answer', reason: 'too-large', message: `${at}: bad answer, larger than the sidecar reads` };
  }
  if (err instanceof SourceError && err.reason === 'timeout') {
    return { kind: 'timeout', reason: 'timeout', message: `${at}: no full answer in time` };
  }
  const kind = typeof e.code === 'string' ? CODES[e.code] : undefined;
  switch (kind) {
    case 'refused':
      return { kind, reason: 'http', message: `${at}: connection refused (is the Docker or Podman service running?)` };
    case 'permission':
      return { kind, reason: 'http', message: `${at}: permission denied (the sidecar's user cannot open the socket)` };
    case 'missing':
      return { kind, reason: 'http', message: `${at}: no socket at that path` };
    case 'timeout':
      return { kind, reason: 'timeout', message: `${at}: connection timed out` };
    case 'closed':
      return { kind, reason: 'http', message: `${at}: connection closed before a full answer` };
    default:
      // A client-side failure on an answer it could not use (unparseable, truncated, wrong shape).
      return { kind: 'bad-answer', reason: 'parse', message: `${at}: bad answer (not one the Docker API gives)` };
  }
}
