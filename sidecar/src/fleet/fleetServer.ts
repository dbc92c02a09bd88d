// HTTP front of the fleet simulator: GET /sd (Prometheus HTTP SD), GET /hosts/<host>/metrics[?cluster=],
// GET /healthz. Everything else is a JSON error, as the sidecar's API answers.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { FleetExposition } from './fleetExposition.js';

const HOST_HEADER = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

function error(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { code, message } }));
}

export interface FleetServerOptions {
  /** host:port Prometheus should scrape when the SD request's Host header is unusable. */
  advertise: string;
  onError?: (err: Error, path: string) => void;
}

export function createFleetServer(fleet: FleetExposition, opts: FleetServerOptions): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://fleet.invalid');
    } catch {
      return error(res, 400, 'bad-request', 'unreadable request URL');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return error(res, 405, 'method-not-allowed', `${req.method ?? '?'} is not allowed; use GET`);
    }
    const path = url.pathname;
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end('ok\n');
    }
    if (path === '/sd') {
      // The address Prometheus used to reach /sd reaches the metrics too; a strange Host is not echoed back.
      const given = req.headers.host;
      const address = given && HOST_HEADER.test(given) ? given : opts.advertise;
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(fleet.sd(address)));
    }
    const m = /^\/hosts\/([^/]+)\/metrics$/.exec(path);
    if (!m) return error(res, 404, 'not-found', `no route ${path.slice(0, 200)}: try /sd or /hosts/<host>/metrics`);
    let name: string;
    try {
      name = decodeURIComponent(m[1] as string);
    } catch {
      return error(res, 400, 'bad-request', 'the host name is not valid percent-encoding');
    }
    const found = fleet.find(name.slice(0, 256), url.searchParams.get('cluster'));
    if ('error' in found) return error(res, 404, 'not-found', found.error);
    fleet.metrics(found.host).then(
      (text) => {
        res.writeHead(200, { 'content-type': fleet.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: Error) => {
        opts.onError?.(err, path);
        error(res, 500, 'internal', `rendering ${found.host.name} failed: ${err.message}`);
      },
    );
  });
}
