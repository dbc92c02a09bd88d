import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpGet } from './httpGet.js';

let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/ok') res.end('hello');
    else if (req.url === '/hang') return; // never answers
    else if (req.url === '/big') {
      res.writeHead(200, { 'content-length': String(100 * 1024 * 1024) });
      res.write(Buffer.alloc(1024));
    } else if (req.url === '/stream') {
      // No content-length: a body that keeps coming.
      const timer = setInterval(() => res.write(Buffer.alloc(64 * 1024, 97)), 1);
      res.on('close', () => clearInterval(timer));
    } else {
      res.writeHead(404);
      res.end('nope');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe('httpGet', () => {
  it('reaches a port that fetch would refuse', async () => {
    const s6000 = createServer((_q, r) => r.end('x'));
    const ok = await new Promise<boolean>((r) => {
      s6000.once('error', () => r(false));
      s6000.listen(6666, '127.0.0.1', () => r(true));
    });
    if (ok) {
      try {
        expect((await httpGet('http://127.0.0.1:6666/', { timeoutMs: 1000, maxBytes: 10 })).body).toBe('x');
      } finally {
        s6000.close();
      }
    }
  });

  it('returns status and body', async () => {
    expect(await httpGet(`${base}/ok`, { timeoutMs: 1000, maxBytes: 100 })).toMatchObject({ status: 200, body: 'hello' });
    expect((await httpGet(`${base}/missing`, { timeoutMs: 1000, maxBytes: 100 })).status).toBe(404);
  });

  it('gives up on an engine that does not answer', async () => {
    await expect(httpGet(`${base}/hang`, { timeoutMs: 200, maxBytes: 100 })).rejects.toMatchObject({ reason: 'timeout' });
  });

  it('refuses a body over the limit, declared or streamed', async () => {
    await expect(httpGet(`${base}/big`, { timeoutMs: 1000, maxBytes: 1024 * 1024 })).rejects.toMatchObject({ reason: 'too-large' });
    await expect(httpGet(`${base}/stream`, { timeoutMs: 5000, maxBytes: 1024 * 1024 })).rejects.toMatchObject({ reason: 'too-large' });
  });

  it('reports a refused connection', async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const refusedUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}/`;
    await new Promise((r) => probe.close(r));
    const p = httpGet(refusedUrl, { timeoutMs: 1000, maxBytes: 10 });
    await expect(p).rejects.toMatchObject({ reason: 'http' });
    await expect(p).rejects.toThrow(/ECONNREFUSED/);
  });
});
