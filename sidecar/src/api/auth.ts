// Who may read the API: a bearer token (--token-file) and/or basic-auth users with bcrypt hashes (the web
// config file). Either one accepted; the credentials are read per request, so a reload applies at once.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ApiError } from './errors.js';

export interface Credentials {
  token: string | null;
  /** user → bcrypt hash; empty: no basic auth. */
  basicUsers: ReadonlyMap<string, string>;
}

export const REALM = 'gpufleet';

// Compared against when the user is unknown, so a wrong user name costs as much as a wrong password and
// timing does not tell which names exist (exporter-toolkit does the same).
const UNKNOWN_USER_HASH = '$2b$10$.2HT.Oge.04WrdXJaCfbLOjfkERujfyaN9QEc5qbx5TEkYlKyfXO6';

// bcrypt is slow by design (~100 ms at cost 10): verified credentials are remembered, one verification
// runs at a time, and a queue longer than this is answered 503 rather than growing.
const CACHE_SIZE = 256;
const MAX_PENDING = 16;

// bcryptjs loads at the first basic-auth check: without basic_auth_users it is never needed.
let bcrypt: Promise<typeof import('bcryptjs')> | null = null;
const compare = (pass: string, hash: string): Promise<boolean> => (bcrypt ??= import('bcryptjs')).then((b) => b.compare(pass, hash));

const digest = (s: string | Buffer) => createHash('sha256').update(s).digest();

/** Equal strings in time independent of where (or whether, by length) they differ. */
export function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** user and password of an `Authorization: Basic …` header, or null. */
export function parseBasic(header: string): { user: string; pass: string } | null {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return null;
  const text = Buffer.from(m[1] as string, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return null;
  return { user: text.slice(0, colon), pass: text.slice(colon + 1) };
}

export class Authenticator {
  // Keys are digests of (user, hash, password): a changed hash misses, and no password is kept in memory.
  private readonly verified = new Map<string, true>();
  private queue: Promise<unknown> = Promise.resolve();
  private pending = 0;

  constructor(private readonly credentials: () => Credentials) {}

  /** Whether any credential is configured now. */
  get enabled(): boolean {
    const c = this.credentials();
    return c.token !== null || c.basicUsers.size > 0;
  }

  /** The schemes a 401 offers, as WWW-Authenticate values. */
  challenges(c: Credentials = this.credentials()): string[] {
    return [
      ...(c.basicUsers.size > 0 ? [`Basic realm="${REALM}", charset="UTF-8"`] : []),
      ...(c.token !== null ? [`Bearer realm="${REALM}"`] : []),
    ];
  }

  /**
   * Whether a request with this Authorization header is let in without waiting: no credentials configured,
   * the right bearer token, or basic credentials already verified. false means "ask middleware()", which
   * also answers the refusals; it never lets in what middleware() would refuse.
   */
  allowsAtOnce(header: string | undefined): boolean {
    const c = this.credentials();
    if (c.token === null && c.basicUsers.size === 0) return true;
    const h = header ?? '';
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(h);
    if (bearer) return c.token !== null && sameSecret(bearer[1] as string, c.token);
    const basic = c.basicUsers.size > 0 ? parseBasic(h) : null;
    if (!basic) return false;
    const hash = c.basicUsers.get(basic.user);
    return hash !== undefined && this.verified.has(digest(`${basic.user}\0${hash}\0${basic.pass}`).toString('base64'));
  }

  middleware(): RequestHandler {
    return (req: Request, res: Response, next: NextFunction) => {
      const c = this.credentials();
      if (c.token === null && c.basicUsers.size === 0) return next();
      const header = req.get('authorization') ?? '';
      const refuse = () => {
        for (const ch of this.challenges(c)) res.append('WWW-Authenticate', ch);
        const how = [...(c.token !== null ? ['Authorization: Bearer <token>'] : []), ...(c.basicUsers.size > 0 ? ['HTTP basic auth'] : [])];
        next(new ApiError(401, 'unauthorized', `missing or wrong credentials (${how.join(' or ')})`));
      };
      const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (bearer) {
        if (c.token !== null && sameSecret(bearer[1] as string, c.token)) return next();
        return refuse();
      }
      const basic = c.basicUsers.size > 0 ? parseBasic(header) : null;
      if (!basic) return refuse();
      const hash = c.basicUsers.get(basic.user);
      const key = digest(`${basic.user}\0${hash ?? ''}\0${basic.pass}`).toString('base64');
      if (hash !== undefined && this.verified.has(key)) return next();
      if (this.pending >= MAX_PENDING) {
        res.set('Retry-After', '1');
        return next(new ApiError(503, 'overloaded', 'too many password checks in progress; retry in a second'));
      }
      this.verify(basic.pass, hash ?? UNKNOWN_USER_HASH).then(
        (ok) => {
          if (!ok || hash === undefined) return refuse();
          if (this.verified.size >= CACHE_SIZE) this.verified.delete(this.verified.keys().next().value as string);
          this.verified.set(key, true);
          next();
        },
        (err: unknown) => next(err),
      );
    };
  }

  private verify(pass: string, hash: string): Promise<boolean> {
    this.pending++;
    const run = this.queue.then(() => compare(pass, hash));
    this.queue = run.catch(() => undefined);
    return run.finally(() => this.pending--);
  }
}
