// A small HTTP/1.1 GET client for plain-http engines: one keep-alive connection per engine, one
// request at a time on it, the answer parsed straight off the socket (content-length, chunked, or
// up to the close). Why not node:http: the engines are asked every tick, and node:http's request
// and response objects, streams and agent bookkeeping cost several times the CPU of the request
// itself (measured: 16 engines × /health + /metrics took ~18 ms of CPU per tick through node:http,
// ~7 ms this way, parse included). Same contract as httpGet: a deadline, a size cap, SourceErrors.
import { connect, type Socket } from 'node:net';
import { SourceError } from '../collectors/sourceError.js';
import type { GetOptions, HttpBytesAnswer } from './httpGet.js';

/** Status line and headers of one answer, at most. */
const MAX_HEAD_BYTES = 64 * 1024;
/** An idle connection is closed after this long (an engine that went away leaves no socket behind). */
const IDLE_CLOSE_MS = 60_000;
/**
 * What each piece of a body costs besides its bytes (a Buffer view and its slot). The pieces' cost is
 * held to the size cap as well (a thousand pieces are always allowed): an answer of one-byte chunks
 * would otherwise take ~100 times its size in memory.
 */
const PIECE_COST = 64;
const FREE_PIECES = 1024;

export interface PlainGet {
  /** For messages: the URL as given. */
  url: string;
  /** `host[:port]` for the Host header. */
  hostHeader: string;
  path: string;
  /** Header lines after Host, each ending in CRLF. */
  headerLines: string;
  timeoutMs: number;
  maxBytes: number;
  signal?: AbortSignal;
}

/** What a request aborted by its caller (a spent time budget) rejects with. */
export function abortedError(url: string): SourceError {
  return new SourceError('timeout', `GET ${url}: aborted, the collection's time budget ran out`);
}

type Target = { socketPath: string } | { host: string; port: number };

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

/** Reads one answer from bytes as they come. */
class AnswerParser {
  private head: { status: number; headers: Map<string, string> } | null = null;
  private pending: Buffer = Buffer.alloc(0);
  private readonly body: Buffer[] = [];
  private size = 0;
  /** PIECE_COST per piece kept. */
  private overhead = 0;
  private mode: 'length' | 'chunked' | 'close' = 'close';
  private left = 0;
  /** Chunked: 'size' line expected, 'data' (left bytes), 'crlf' after data, 'trailer' lines until an empty one. */
  private chunkState: 'size' | 'data' | 'crlf' | 'trailer' = 'size';
  done = false;
  /** Bytes after the end of the answer: a server that talks out of turn (the connection is not reused). */
  extra = false;

  constructor(
    private readonly req: PlainGet,
    private readonly fail: (e: SourceError) => void,
  ) {}

  get status(): number {
    return this.head?.status ?? 0;
  }

  get reusable(): boolean {
    return this.done && !this.extra && this.mode !== 'close' && this.head?.headers.get('connection')?.toLowerCase() !== 'close';
  }

  answer(): HttpBytesAnswer {
    // Most answers come in one chunk: kept as it is rather than copied.
    const bytes = this.body.length === 1 ? (this.body[0] as Buffer) : Buffer.concat(this.body);
    return { status: this.status, contentType: this.head?.headers.get('content-type') ?? '', bytes };
  }

  /** Feeds bytes; false when the answer is broken (fail was called). */
  feed(chunk: Buffer): boolean {
    let data = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (!this.head) {
      const end = data.indexOf(HEAD_END);
      if (end < 0) {
        if (data.length > MAX_HEAD_BYTES) return this.broken(`status line and headers over ${MAX_HEAD_BYTES} bytes`);
        this.pending = data;
        return true;
      }
      const lines = data.toString('latin1', 0, end).split('\r\n');
      data = data.subarray(end + 4);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
      if (!m) return this.broken('not an HTTP/1.x answer');
      const status = Number(m[1]);
      if (status >= 100 && status < 200) continue; // 100 Continue and the like: the real answer follows
      const headers = new Map<string, string>();
      for (let i = 1; i < lines.length; i++) {
        const line = lines[i] as string;
        const colon = line.indexOf(':');
        if (colon <= 0) continue;
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
      }
      this.head = { status, headers };
      if (status === 204 || status === 304) {
        // No body by definition, whatever the headers say.
        this.mode = 'length';
        this.done = true;
      } else if (/\bchunked\b/i.test(headers.get('transfer-encoding') ?? '')) this.mode = 'chunked';
      else if (headers.has('content-length')) {
        const declared = headers.get('content-length') as string;
        if (!/^\d{1,15}$/.test(declared)) return this.broken('content-length header is not a number');
        this.left = Number(declared);
        if (this.left > this.req.maxBytes) {
          this.fail(new SourceError('too-large', `GET ${this.req.url}: body of ${this.left} bytes is over the ${this.req.maxBytes} byte limit`));
          return false;
        }
        this.mode = 'length';
        if (this.left === 0) this.done = true;
      } else this.mode = 'close';
    }
    if (this.mode === 'length') return this.takeLength(data);
    if (this.mode === 'chunked') return this.takeChunked(data);
    return this.add(data);
  }

  /** The connection ended: the end of a close-delimited answer, or of an unfinished one. */
  end(): boolean {
    if (this.head && this.mode === 'close') {
      this.done = true;
      return true;
    }
    return false;
  }

  private broken(why: string): false {
    this.fail(new SourceError('http', `GET ${this.req.url}: ${why}`));
    return false;
  }

  private add(b: Buffer): boolean {
    if (b.length === 0) return true;
    this.size += b.length;
    this.overhead += PIECE_COST;
    if (this.size > this.req.maxBytes) {
      this.fail(new SourceError('too-large', `GET ${this.req.url}: body over the ${this.req.maxBytes} byte limit`));
      return false;
    }
    if (this.overhead > Math.max(this.req.maxBytes, FREE_PIECES * PIECE_COST)) {
      this.fail(new SourceError('too-large', `GET ${this.req.url}: body in ${this.overhead / PIECE_COST} pieces, more than the ${this.req.maxBytes} byte limit allows`));
      return false;
    }
    this.body.push(b);
    return true;
  }

  private takeLength(data: Buffer): boolean {
    if (this.done) {
      if (data.length) this.extra = true;
      return true;
    }
    const take = Math.min(this.left, data.length);
    if (!this.add(data.subarray(0, take))) return false;
    this.left -= take;
    if (this.left === 0) {
      this.done = true;
      if (data.length > take) this.extra = true;
    }
    return true;
  }

  private takeChunked(data: Buffer): boolean {
    let d = data;
    while (d.length > 0 && !this.done) {
      if (this.chunkState === 'data') {
        const take = Math.min(this.left, d.length);
        if (!this.add(d.subarray(0, take))) return false;
        this.left -= take;
        d = d.subarray(take);
        if (this.left === 0) this.chunkState = 'crlf';
        continue;
      }
      const eol = d.indexOf(CRLF);
      if (eol < 0) {
        if (d.length > 4096) return this.broken('chunk header line too long');
        this.pending = d;
        return true;
      }
      const line = d.toString('latin1', 0, eol);
      d = d.subarray(eol + 2);
      if (this.chunkState === 'crlf') {
        if (line !== '') return this.broken('chunk not followed by CRLF');
        this.chunkState = 'size';
      } else if (this.chunkState === 'size') {
        const m = /^([0-9a-fA-F]{1,12})(?:;.*)?$/.exec(line.trim());
        if (!m) return this.broken('bad chunk size');
        this.left = parseInt(m[1] as string, 16);
        if (this.size + this.left > this.req.maxBytes) {
          this.fail(new SourceError('too-large', `GET ${this.req.url}: body over the ${this.req.maxBytes} byte limit`));
          return false;
        }
        this.chunkState = this.left === 0 ? 'trailer' : 'data';
      } else if (line === '') this.done = true; // the empty line after the last chunk's trailers
    }
    if (this.done && d.length) this.extra = true;
    return true;
  }
}

interface Job {
  req: PlainGet;
  resolve: (a: HttpBytesAnswer) => void;
  reject: (e: SourceError) => void;
  timer: NodeJS.Timeout;
  settled: boolean;
  onAbort: (() => void) | null;
}

/** One engine's keep-alive connection and its queue of requests, answered in turn. */
class Connection {
  private socket: Socket | null = null;
  /** Answers read on the current socket: a reused one may have been closed by the server meanwhile. */
  private answered = 0;
  private readonly queue: Job[] = [];
  private busy = false;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly target: Target,
    private readonly idleCloseMs: number,
    private readonly onIdleClose: () => void,
  ) {}

  get(req: PlainGet): Promise<HttpBytesAnswer> {
    return new Promise((resolve, reject) => {
      if (req.signal?.aborted) {
        reject(abortedError(req.url));
        return;
      }
      const job: Job = {
        req, resolve, reject, settled: false, onAbort: null,
        timer: setTimeout(() => this.expire(job, new SourceError('timeout', `GET ${job.req.url}: no answer within ${job.req.timeoutMs} ms`)), req.timeoutMs),
      };
      if (req.signal) {
        job.onAbort = () => this.expire(job, abortedError(req.url));
        req.signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.queue.push(job);
      this.next();
    });
  }

  private settle(job: Job, outcome: { answer?: HttpBytesAnswer; error?: SourceError }): void {
    if (job.settled) return;
    job.settled = true;
    clearTimeout(job.timer);
    if (job.onAbort) job.req.signal?.removeEventListener('abort', job.onAbort);
    if (outcome.error) job.reject(outcome.error);
    else job.resolve(outcome.answer as HttpBytesAnswer);
  }

  /** Its deadline passed or its caller gave up: a job on the wire takes the connection down with it. */
  private expire(job: Job, error: SourceError): void {
    if (job.settled) return;
    const i = this.queue.indexOf(job);
    if (i > 0) this.queue.splice(i, 1); // still waiting its turn
    else if (i === 0) this.drop(); // on the wire: this connection cannot be trusted with another answer
    this.settle(job, { error });
    if (i === 0) {
      this.queue.shift();
      this.busy = false;
      this.next();
    }
  }

  private drop(): void {
    this.socket?.destroy();
    this.socket = null;
    this.answered = 0;
  }

  private open(): Socket {
    const s = 'socketPath' in this.target ? connect(this.target.socketPath) : connect(this.target.port, this.target.host);
    s.setNoDelay(true);
    // Between requests nobody else listens: an error is only the way to a close, and a connection the
    // server closes while idle is forgotten (the request in flight, if any, has its own listeners).
    s.on('error', () => undefined);
    s.on('close', () => {
      if (this.socket === s && !this.busy) this.drop();
    });
    this.answered = 0;
    this.socket = s;
    return s;
  }

  private next(): void {
    if (this.busy) return;
    const job = this.queue[0];
    if (!job) {
      this.idle();
      return;
    }
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    this.busy = true;
    this.send(job, true);
  }

  private send(job: Job, mayRetry: boolean): void {
    const reused = this.socket !== null && this.answered > 0;
    const socket = this.socket ?? this.open();
    socket.ref();
    let gotBytes = false;
    const finish = (outcome: { answer?: HttpBytesAnswer; error?: SourceError }, keep: boolean) => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onClose);
      socket.off('error', onError);
      if (keep) this.answered++;
      else if (this.socket === socket) this.drop();
      if (this.queue[0] === job) this.queue.shift();
      this.settle(job, outcome);
      this.busy = false;
      this.next();
    };
    const parser = new AnswerParser(job.req, (error) => finish({ error }, false));
    const onData = (chunk: Buffer) => {
      gotBytes = true;
      if (job.settled) return;
      if (!parser.feed(chunk)) return;
      if (parser.done) finish({ answer: parser.answer() }, parser.reusable);
    };
    const lost = (what: string, code: string | undefined) => {
      if (job.settled) return;
      if (parser.end()) return finish({ answer: parser.answer() }, false);
      // A keep-alive connection the server closed while idle: the request never reached it, ask again once.
      if (reused && !gotBytes && mayRetry) {
        socket.off('data', onData);
        socket.off('end', onEnd);
        socket.off('close', onClose);
        socket.off('error', onError);
        if (this.socket === socket) this.drop();
        this.send(job, false);
        return;
      }
      finish({ error: new SourceError('http', `GET ${job.req.url}: ${what}`, code) }, false);
    };
    const onEnd = () => lost(gotBytes ? 'connection closed in the middle of the answer' : 'ECONNRESET (closed without an answer)', 'ECONNRESET');
    const onClose = () => lost('ECONNRESET (closed without an answer)', 'ECONNRESET');
    const onError = (err: NodeJS.ErrnoException) => lost(err.code ?? err.message, err.code);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onClose);
    socket.on('error', onError);
    socket.write(`GET ${job.req.path} HTTP/1.1\r\nHost: ${job.req.hostHeader}\r\n${job.req.headerLines}\r\n`, 'latin1');
  }

  private idle(): void {
    const s = this.socket;
    // Nothing open (the engine refused or failed): forgotten now, so endpoints that never answer,
    // however many and however distinct, leave no entry in the pool.
    if (!s) {
      this.onIdleClose();
      return;
    }
    // An idle connection does not keep the process alive.
    s.unref();
    if (!this.idleTimer) {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = null;
        if (!this.busy && this.queue.length === 0) {
          this.drop();
          this.onIdleClose();
        }
      }, this.idleCloseMs);
      this.idleTimer.unref();
    }
  }
}

const connections = new Map<string, Connection>();

const DEFAULT_HEADERS: Readonly<Record<string, string>> = { accept: '*/*', 'user-agent': 'gpufleet-sidecar' };

function headerLines(headers: Readonly<Record<string, string>>): string {
  return Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
}

// Engines are asked without headers of their own: the lines are the same every time.
const DEFAULT_HEADER_LINES = headerLines(DEFAULT_HEADERS);

/** Connections kept in the pool (for tests: it must not grow with endpoints that fail). */
export function pooledConnections(): number {
  return connections.size;
}

/** GET over plain http (TCP or a unix socket) on the engine's kept connection; the body as received. */
export function plainGetBytes(url: URL, opts: GetOptions): Promise<HttpBytesAnswer> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(url.port || 80);
  const key = `${opts.pool ?? 'engines'} ${opts.socketPath ? `unix:${opts.socketPath}` : `${host}:${port}`}`;
  let c = connections.get(key);
  if (!c) {
    const made: Connection = new Connection(opts.socketPath ? { socketPath: opts.socketPath } : { host, port }, opts.idleCloseMs ?? IDLE_CLOSE_MS, () => {
      if (connections.get(key) === made) connections.delete(key);
    });
    connections.set(key, made);
    c = made;
  }
  return c.get({
    url: opts.shownUrl ?? url.href,
    hostHeader: opts.socketPath ? 'localhost' : url.host,
    path: `${url.pathname}${url.search}`,
    headerLines: opts.headers ? headerLines({ ...DEFAULT_HEADERS, ...opts.headers }) : DEFAULT_HEADER_LINES,
    timeoutMs: opts.timeoutMs,
    maxBytes: opts.maxBytes,
    signal: opts.signal,
  });
}
