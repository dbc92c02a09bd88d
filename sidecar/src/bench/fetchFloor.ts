// What fetching the engines' answers costs before any of the sidecar's own work: the floor under
// section 8's CPU share. Two clients ask every stand-in what the sidecar asks (/metrics with its name[]
// filter every second, /health every fifth) for a while, in this process, and their CPU share is
// measured:
//   - raw sockets: one kept-open connection per engine, a request written, the answer read to its
//     Content-Length and dropped (the least a Node program can do to get the bytes);
//   - node:http with a keep-alive agent, bodies read and dropped (what most Node clients build on).
// Neither parses anything; the stand-ins answer with Content-Length (http.ServerResponse.end(text)).
import http from 'node:http';
import net from 'node:net';
import { READ_METRICS_PATH } from '../engines/engineCollector.js';

export type FloorClient = 'socket' | 'http';

type Get = (paths: string[]) => Promise<void>;

/** Answers read off one socket in order; `paths` are written in one write and resolve when all are read. */
function socketClient(port: number): { get: Get; close: () => void } {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => {});
  let pending: Buffer = Buffer.alloc(0);
  let want = -1;
  let left = 0;
  let done: (() => void) | null = null;
  s.on('data', (d: Buffer) => {
    let data = pending.length ? Buffer.concat([pending, d]) : d;
    pending = Buffer.alloc(0);
    for (;;) {
      if (want < 0) {
        const end = data.indexOf('\r\n\r\n');
        if (end < 0) {
          pending = data;
          return;
        }
        const m = /content-length: *(\d+)/i.exec(data.toString('latin1', 0, end));
        want = m ? Number(m[1]) : 0;
        data = data.subarray(end + 4);
      }
      const take = Math.min(want, data.length);
      want -= take;
      data = data.subarray(take);
      if (want > 0) return;
      want = -1;
      if (--left === 0 && done) {
        const f = done;
        done = null;
        f();
      }
      if (data.length === 0) return;
    }
  });
  return {
    get: (paths) =>
      new Promise<void>((resolve) => {
        done = resolve;
        left = paths.length;
        s.write(paths.map((path) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`).join(''));
      }),
    close: () => s.destroy(),
  };
}

function httpClient(port: number, agent: http.Agent): { get: Get; close: () => void } {
  return {
    get: async (paths) => {
      for (const path of paths) {
        await new Promise<void>((resolve, reject) => {
          const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
            res.on('data', () => {});
            res.on('end', () => resolve());
          });
          req.on('error', reject);
        });
      }
    },
    close: () => {},
  };
}

/** CPU share of one core (%) for asking every port what the sidecar asks, once a second. */
export async function fetchFloorShare(ports: number[], client: FloorClient, seconds: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const clients = ports.map((p) => (client === 'http' ? httpClient(p, agent) : socketClient(p)));
  // The sidecar asks /health every 5 s while /metrics reads (HEALTH_EVERY_MS in engineCollector.ts).
  let ticks = 0;
  const tick = () => {
    const health = ticks++ % 5 === 0;
    return Promise.all(
      clients.map(async (c) => {
        if (health) await c.get(['/health']);
        await c.get([READ_METRICS_PATH]);
      }),
    );
  };
  try {
    for (let i = 0; i < 3; i++) await tick(); // connections open, code warm
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    for (let i = 0; i < seconds; i++) {
      const next = w0 + (i + 1) * 1000;
      await tick();
      await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
    }
    const c = process.cpuUsage(c0);
    return ((c.user + c.system) / 1000 / (performance.now() - w0)) * 100;
  } finally {
    for (const c of clients) c.close();
    agent.destroy();
  }
}
