// The plain-http client against servers that answer byte by byte as written here (node:net), and
// against node:http: framing (content-length, chunked, up to the close, 1xx, 204), the kept
// connection (reused, re-opened after the server closed it, dropped after a bad answer or a
// timeout), a unix socket, and requests queued on one engine.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpGet, type GetOptions } from './httpGet.js';
import { plainGetBytes, pooledConnections } from './plainHttp.js';

// An http:// URL goes through plainHttp's kept connection (plainGetBytes), then is decoded.
const plainGet = (url: URL, opts: GetOptions) => httpGet(url.href, opts);

interface RawServer {
  server: Server;
  port: number;
  connections: number;
  sockets: Set<Socket>;
}

/** A server that, for each request it reads, writes what `answer` returns (or nothing, for null). */
async function rawServer(answer: (path: string, n: number) => string | Buffer | null, opts: { closeAfter?: boolean } = {}): Promise<RawServer> {
  const r: RawServer = { server: createServer(), port: 0, connections: 0, sockets: new Set() };
  let n = 0;
  r.server.on('connection', (s) => {
    r.connections++;
    r.sockets.add(s);
    s.on('close', () => r.sockets.delete(s));
    s.on('error', () => undefined);
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('latin1');
      let end: number;
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        const path = head.split(' ')[1] ?? '';
        const a = answer(path, n++);
        if (a !== null) s.write(a);
        if (opts.closeAfter) s.end();
      }
    });
  });
  await new Promise<void>((res) => r.server.listen(0, '127.0.0.1', res));
  r.port = (r.server.address() as { port: number }).port;
  return r;
}

async function waitUntil(cond: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond() && Date.now() < until) await new Promise((res) => setTimeout(res, 20));
}

function close(r: RawServer) {
  for (const s of r.sockets) s.destroy();
  r.server.close();
}

const get = (port: number, path: string, over: { timeoutMs?: number; maxBytes?: number } = {}) =>
  plainGet(new URL(`http://127.0.0.1:${port}${path}`), { timeoutMs: over.timeoutMs ?? 2000, maxBytes: over.maxBytes ?? 1024 * 1024 });

const ok = (body: string, extra = '') => `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

describe('plainGet: framing', () => {
  it('reads content-length answers and keeps one connection for many requests', async () => {
    const r = await rawServer((path) => ok(`you asked ${path} ✓`));
    try {
      for (let i = 0; i < 5; i++) expect(await get(r.port, `/x${i}?q=1`)).toEqual({ status: 200, contentType: 'text/plain', body: `you asked /x${i}?q=1 ✓` });
      expect(r.connections).toBe(1);
    } finally {
      close(r);
    }
  });

  it('decodes chunked answers, chunk extensions and trailers included, split anywhere', async () => {
    const chunked = 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\ntrailer: x\r\n\r\n';
    const r = await rawServer(() => null);
    r.server.removeAllListeners('connection');
    r.server.on('connection', (s) => {
      r.connections++;
      r.sockets.add(s);
      s.on('data', async () => {
        // One byte at a time: every state of the parser meets a chunk boundary.
        for (const ch of chunked) {
          s.write(ch);
          await new Promise((res) => setImmediate(res));
        }
      });
    });
    try {
      expect((await get(r.port, '/c')).body).toBe('hello, world');
      expect((await get(r.port, '/c')).body).toBe('hello, world');
      expect(r.connections).toBe(1);
    } finally {
      close(r);
    }
  });

  it('reads an answer without length up to the close, skips 1xx answers, ends 204 at its head', async () => {
    const r = await rawServer((path) =>
      path === '/old'
        ? 'HTTP/1.0 200 OK\r\n\r\nuntil the end'
        : path === '/continue'
          ? `HTTP/1.1 100 Continue\r\n\r\n${ok('after 100')}`
          : 'HTTP/1.1 204 No Content\r\n\r\n',
      { closeAfter: false },
    );
    r.server.on('connection', (s) => s.on('data', (d) => d.toString().startsWith('GET /old') && setImmediate(() => s.end())));
    try {
      expect((await get(r.port, '/old')).body).toBe('until the end');
      expect((await get(r.port, '/continue')).body).toBe('after 100');
      expect(await get(r.port, '/none')).toMatchObject({ status: 204, body: '' });
    } finally {
      close(r);
    }
  });

  it('says what is wrong with an answer that is not HTTP, or whose head never ends', async () => {
    const r = await rawServer((path) => (path === '/garbage' ? 'SSH-2.0-OpenSSH_9.6\r\n\r\n' : `HTTP/1.1 200 OK\r\n${'x-pad: y\r\n'.repeat(8000)}`));
    try {
      await expect(get(r.port, '/garbage')).rejects.toThrow(/GET http:\/\/127\.0\.0\.1:\d+\/garbage: not an HTTP\/1\.x answer/);
      await expect(get(r.port, '/endless')).rejects.toThrow(/status line and headers over 65536 bytes/);
      // Each bad answer cost its connection: the second request came on a fresh one.
      expect(r.connections).toBe(2);
    } finally {
      close(r);
    }
  });

  it('refuses bodies over the cap, declared or chunked', async () => {
    const r = await rawServer((path) =>
      path === '/declared'
        ? 'HTTP/1.1 200 OK\r\ncontent-length: 99999999\r\n\r\nabc'
        : `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${'400\r\n'.concat('a'.repeat(1024), '\r\n').repeat(5)}0\r\n\r\n`,
    );
    try {
      await expect(get(r.port, '/declared', { maxBytes: 4096 })).rejects.toMatchObject({ reason: 'too-large' });
      await expect(get(r.port, '/chunked', { maxBytes: 4096 })).rejects.toMatchObject({ reason: 'too-large' });
      expect((await get(r.port, '/chunked', { maxBytes: 8192 })).body).toHaveLength(5120);
    } finally {
      close(r);
    }
  });

  it('refuses an answer in more tiny chunks than the cap can hold, though its bytes are under it', async () => {
    // 3,000 one-byte chunks: 3 KB of body, but each piece kept costs far more than its byte.
    const r = await rawServer((path) =>
      `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${'1\r\na\r\n'.repeat(path === '/many' ? 3000 : 900)}0\r\n\r\n`,
    );
    try {
      await expect(get(r.port, '/many', { maxBytes: 100_000 })).rejects.toMatchObject({ reason: 'too-large', message: expect.stringMatching(/pieces/) });
      // A thousand pieces are always allowed, whatever the cap.
      expect((await get(r.port, '/some', { maxBytes: 1000 })).body).toBe('a'.repeat(900));
    } finally {
      close(r);
    }
  });
});

describe('plainGet: the kept connection', () => {
  it('asks again on a new connection when the server closed the idle one (keep-alive timeout)', async () => {
    const r = await rawServer(() => ok('fine'));
    try {
      expect((await get(r.port, '/a')).body).toBe('fine');
      // The server closes idle connections, as uvicorn does after its keep-alive timeout.
      for (const s of r.sockets) s.end();
      await new Promise((res) => setTimeout(res, 50));
      expect((await get(r.port, '/b')).body).toBe('fine');
      expect(r.connections).toBe(2);
    } finally {
      close(r);
    }
  });

  it('does not reuse a connection after Connection: close, or after a server spoke out of turn', async () => {
    const r = await rawServer((path) => (path === '/bye' ? ok('bye', 'connection: close\r\n') : `${ok('one')}${ok('unasked')}`));
    try {
      await get(r.port, '/bye');
      await get(r.port, '/two');
      expect((await get(r.port, '/three')).body).toBe('one');
      expect(r.connections).toBe(3);
    } finally {
      close(r);
    }
  });

  it('after a timeout the late answer is never taken for the next request\'s', async () => {
    const r = await rawServer((path, n) => (n === 0 ? null : ok(`answer to ${path}`)));
    // The first request is never answered on its connection; answer it late, out of turn, to catch mix-ups.
    try {
      await expect(get(r.port, '/slow', { timeoutMs: 200 })).rejects.toMatchObject({ reason: 'timeout', message: expect.stringMatching(/\/slow: no answer within 200 ms/) });
      for (const s of r.sockets) s.write(ok('late answer to /slow'));
      expect((await get(r.port, '/next')).body).toBe('answer to /next');
      expect(r.connections).toBe(2);
    } finally {
      close(r);
    }
  });

  it('answers requests made at once to one engine in turn, each with its own answer', async () => {
    const r = await rawServer((path) => ok(path));
    try {
      const answers = await Promise.all(['/1', '/2', '/3', '/4'].map((p) => get(r.port, p)));
      expect(answers.map((a) => a.body)).toEqual(['/1', '/2', '/3', '/4']);
      expect(r.connections).toBe(1);
    } finally {
      close(r);
    }
  });

  it('reaches a node:http server on a unix socket (vLLM --uds), chunked or not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plainhttp-'));
    const socketPath = join(dir, 'engine.sock');
    const srv = createHttpServer((req, res) => {
      if (req.url === '/stream') {
        res.write('part 1, ');
        res.end('part 2');
      } else res.end(`host ${req.headers.host}`);
    });
    await new Promise<void>((res) => srv.listen(socketPath, res));
    try {
      const u = (p: string) => new URL(`http://localhost${p}`);
      expect((await plainGet(u('/health'), { timeoutMs: 1000, maxBytes: 1000, socketPath })).body).toBe('host localhost');
      expect((await plainGet(u('/stream'), { timeoutMs: 1000, maxBytes: 1000, socketPath })).body).toBe('part 1, part 2');
    } finally {
      srv.closeAllConnections();
      srv.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('plainGet: the pool', () => {
  it('closes a connection idle for idleCloseMs, and keeps pools apart on one address', async () => {
    const r = await rawServer(() => ok('x'));
    const url = new URL(`http://127.0.0.1:${r.port}/`);
    try {
      await plainGetBytes(url, { timeoutMs: 2000, maxBytes: 1024, pool: 'short', idleCloseMs: 100 });
      await plainGetBytes(url, { timeoutMs: 2000, maxBytes: 1024 });
      expect(r.connections).toBe(2); // one per pool
      await waitUntil(() => r.sockets.size === 1);
      expect(r.sockets.size).toBe(1); // the short pool's closed, the engines' kept
    } finally {
      close(r);
    }
  });


  it('keeps nothing for endpoints that refuse, however many distinct ones fail', async () => {
    const before = pooledConnections();
    // Ports nobody listens on: each one refused at once.
    const ports: number[] = [];
    for (let i = 0; i < 40; i++) {
      const srv = createServer();
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
      ports.push((srv.address() as { port: number }).port);
      await new Promise((r) => srv.close(r));
    }
    for (const port of ports) {
      await expect(plainGet(new URL(`http://127.0.0.1:${port}/health`), { timeoutMs: 2000, maxBytes: 1024 })).rejects.toThrow(/ECONNREFUSED/);
    }
    expect(pooledConnections()).toBe(before);
  });
});
