// The HTTP(S) server under the API: header, request and keep-alive timeouts, a cap on open connections
// that sheds the slowest instead of refusing newcomers, and TLS from the web config file.
import { createServer as createHttp, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps, type Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { TlsServerConfig } from './webConfig.js';
import { clientCertProblem, secureContextOptions, tlsServerOptions } from './webTls.js';

export interface ServerLimits {
  maxConnections: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

export interface ServerLogger {
  warn: (obj: object, msg: string) => void;
  debug: (obj: object, msg: string) => void;
}

type ConnState = 'new' | 'busy' | 'idle';

interface Conn {
  state: ConnState;
  inFlight: number;
}

/**
 * At most `max` connections. When a new one would pass the cap, the oldest connection that has not sent a
 * whole request yet gives way (a client that needs seconds for its headers is a slow or hostile one), then
 * the longest-idle keep-alive connection; a connection with a request in progress is never cut. So
 * slow-header floods cannot lock out /healthz or a scrape, which a plain refusal at the cap would.
 */
class ConnectionCap {
  // Insertion order is age: 'new' ones by arrival, 'idle' ones are moved to the end when they turn idle.
  private readonly conns = new Map<Socket, Conn>();
  private shed = 0;
  private lastWarnAt = 0;

  constructor(
    private readonly max: number,
    private readonly logger: ServerLogger,
  ) {}

  get open(): number {
    return this.conns.size;
  }

  attach(server: Server): void {
    server.on('connection', (socket: Socket) => this.add(socket));
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.request(req, res));
  }

  private add(socket: Socket): void {
    this.conns.set(socket, { state: 'new', inFlight: 0 });
    socket.once('close', () => this.conns.delete(socket));
    if (this.conns.size <= this.max) return;
    const victim = this.pick('new') ?? this.pick('idle') ?? socket;
    this.conns.delete(victim);
    victim.destroy();
    this.shed++;
    const now = Date.now();
    if (now - this.lastWarnAt >= 60_000) {
      this.logger.warn(
        { shed: this.shed, maxConnections: this.max },
        `connection cap reached: closed ${this.shed} unfinished or idle connection(s) (--web.max-connections ${this.max})`,
      );
      this.lastWarnAt = now;
      this.shed = 0;
    }
  }

  private pick(state: ConnState): Socket | undefined {
    for (const [s, c] of this.conns) if (c.state === state) return s;
    return undefined;
  }

  private request(req: IncomingMessage, res: ServerResponse): void {
    // Under TLS the request's socket wraps the TCP socket the cap counts (Node keeps it as _parent).
    const s = req.socket as Socket & { _parent?: Socket };
    const raw = this.conns.has(s) ? s : s._parent;
    const c = raw ? this.conns.get(raw) : undefined;
    if (!raw || !c) return;
    c.state = 'busy';
    c.inFlight++;
    res.once('close', () => {
      c.inFlight--;
      if (c.inFlight > 0 || !this.conns.has(raw)) return;
      c.state = 'idle';
      this.conns.delete(raw);
      this.conns.set(raw, c);
    });
  }
}

/** Whether a listen address is reachable from this host only. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || /^::ffff:127\./.test(h);
}

export interface ApiServer {
  server: Server | HttpsServer;
  /** Applies a reloaded TLS section; returns why it cannot be applied without a restart, or null. */
  reloadTls: (tls: TlsServerConfig | null) => string | null;
  openConnections: () => number;
}

export function createApiServer(handler: RequestListener, limits: ServerLimits, tls: TlsServerConfig | null, logger: ServerLogger): ApiServer {
  const common = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Node checks the two timeouts above this often (30 s by default, far longer than the timeouts).
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
  };
  let current = tls;
  const server: Server | HttpsServer = tls
    ? createHttps({ ...tlsServerOptions(tls), ...common, handshakeTimeout: limits.headersTimeoutMs }, handler)
    : createHttp(common, handler);
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  const cap = new ConnectionCap(limits.maxConnections, logger);
  cap.attach(server);
  if (tls) {
    server.on('secureConnection', (socket: TLSSocket) => {
      const problem = current ? clientCertProblem(current, socket) : null;
      if (problem) {
        logger.debug({ remote: socket.remoteAddress }, `TLS connection refused: ${problem}`);
        socket.destroy();
      }
    });
    // A failed handshake is the client's business; without a listener Node only drops the socket.
    server.on('tlsClientError', (err, socket) => logger.debug({ err: err.message, remote: socket.remoteAddress }, 'TLS handshake failed'));
  }
  return {
    server,
    openConnections: () => cap.open,
    reloadTls: (next) => {
      if (!tls && !next) return null;
      if (!tls || !next) return `turning TLS ${tls ? 'off' : 'on'} needs a restart`;
      if (next.clientAuth !== tls.clientAuth) return 'a new client_auth_type needs a restart';
      (server as HttpsServer).setSecureContext(secureContextOptions(next));
      current = next;
      return null;
    },
  };
}
