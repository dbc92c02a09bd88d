// GET with a deadline and a size cap, for talking to engines we do not control: one that hangs, or
// answers a 100 MB body, costs at most `timeoutMs` and `maxBytes`, and never more. Not fetch: fetch
// refuses "bad ports" (6000, 6665-6669, …) that an engine may well use, and cannot reach a server on
// a unix socket (vLLM's --uds). Plain http goes through plainHttp.ts (a kept connection per engine,
// a fraction of node:http's CPU per request); https through node:https.
import { type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { SourceError } from '../collectors/sourceError.js';
import { abortedError, plainGetBytes } from './plainHttp.js';

// Engines are asked every tick: keep their connections open rather than set one up per request.
const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 4, timeout: 60_000 });

export interface HttpAnswer {
  status: number;
  contentType: string;
  body: string;
}

/** An answer whose body is left as received: a caller that reads only part of it need not decode it all. */
export interface HttpBytesAnswer {
  status: number;
  contentType: string;
  bytes: Buffer;
}

export interface GetOptions {
  timeoutMs: number;
  maxBytes: number;
  headers?: Record<string, string>;
  /** Reach the server on this unix socket; the URL then gives only the path. */
  socketPath?: string;
  /** Aborts the request (the caller's time budget ran out); it then rejects with a 'timeout' SourceError. */
  signal?: AbortSignal;
  /** How error messages name the request; the URL when absent (a long query string reads badly in one). */
  shownUrl?: string;
  /** plainGetBytes: kept connections are per pool and address ('engines' when absent). */
  pool?: string;
  /** plainGetBytes: a kept connection idle this long is closed (60 s when absent); set by the request that opens it. */
  idleCloseMs?: number;
}


// The same few URLs are asked every tick: each parsed once. A URL parsed per request outlived young
// collections (the request is in flight across them) and was a sixteenth of what got promoted.
const MAX_PARSED_URLS = 256;
const parsedUrls = new Map<string, URL>();

/** `url` parsed (never changed afterwards: shared between requests); null when it is not a URL. */
function parsedUrl(url: string): URL | null {
  const known = parsedUrls.get(url);
  if (known) return known;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  // Endpoints that come and go must not grow the map for good.
  if (parsedUrls.size >= MAX_PARSED_URLS) parsedUrls.clear();
  parsedUrls.set(url, u);
  return u;
}

/** GET; the body decoded as UTF-8. */
export async function httpGet(url: string, opts: GetOptions): Promise<HttpAnswer> {
  const a = await httpGetBytes(url, opts);
  return { status: a.status, contentType: a.contentType, body: a.bytes.toString('utf8') };
}

/** GET; the body as received. */
export function httpGetBytes(url: string, opts: GetOptions): Promise<HttpBytesAnswer> {
  return new Promise((resolve, reject) => {
    const u = parsedUrl(url);
    if (u === null) {
      reject(new SourceError('http', `GET ${url}: not a URL`));
      return;
    }
    if (u.protocol === 'http:') {
      plainGetBytes(u, opts).then(resolve, reject);
      return;
    }
    if (u.protocol !== 'https:') {
      reject(new SourceError('http', `GET ${url}: only http:// and https:// are supported`));
      return;
    }
    const shown = opts.shownUrl ?? url;
    const onAbort = () => fail(abortedError(shown));
    const fail = (err: SourceError) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      req.destroy();
      reject(err);
    };
    if (opts.signal?.aborted) {
      reject(abortedError(shown));
      return;
    }
    const req = httpsRequest(
      u,
      {
        method: 'GET',
        headers: { accept: '*/*', ...opts.headers },
        socketPath: opts.socketPath,
        // A unix socket gets a connection of its own; TCP ones come from the keep-alive pool.
        agent: opts.socketPath ? false : httpsAgent,
      },
      (res: IncomingMessage) => {
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > opts.maxBytes) {
          fail(new SourceError('too-large', `GET ${shown}: body of ${declared} bytes is over the ${opts.maxBytes} byte limit`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > opts.maxBytes) fail(new SourceError('too-large', `GET ${shown}: body over the ${opts.maxBytes} byte limit`));
          else chunks.push(chunk);
        });
        res.on('end', () => {
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
          // Most answers come in one chunk: kept as it is rather than copied.
          const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), bytes });
        });
        res.on('error', (err) => fail(new SourceError('http', `GET ${shown}: ${err.message}`)));
      },
    );
    const timer = setTimeout(() => fail(new SourceError('timeout', `GET ${shown}: no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => fail(new SourceError('http', `GET ${shown}: ${err.code ?? err.message}`)));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    req.end();
  });
}
