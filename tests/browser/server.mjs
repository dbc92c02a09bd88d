// The browser tests' web server, shaped like the parts of Grafana's server the plugin meets:
//   GET  /?set=grafana12|grafana13&view=…      the host page (boot data, host bundle, then SystemJS)
//   GET  /host/<set>/…                          the host bundle, SystemJS, CSS (tests/browser/hosts/<set>/dist)
//   GET  /public/plugins/gpufleet-observability-app/…   the built plugin (dist/, or the folder named by
//        GPUFLEET_BROWSER_PLUGIN_DIR, e.g. the plugin archive unpacked), nested module.js files included
//   GET  /public/build/img/icons/…              @grafana/ui's icons
//   GET  /api/datasources/uid/:uid              data source settings (secureJsonData never returned,
//   PUT  /api/datasources/uid/:uid              only secureJsonFields), saved on PUT as Grafana does
//   ANY  /api/datasources/proxy/uid/:uid/<route path>/…   the data proxy: the route of the data source's
//        plugin.json (dist/datasource/plugin.json) whose path matches, its url and headers templated
//        from the saved settings ({{ .URL }}, {{ .SecureJsonData.token }}); an unreachable upstream is a
//        502 with an empty body and a timeout a 504, as in Grafana's proxyutil error handler.
//   POST /api/ds/query                          backend queries of Prometheus data sources (type
//        `prometheus`): Grafana's server side of `@grafana/prometheus` (promBackend.mjs)
//   ANY  /api/datasources/uid/:uid/resources/…  a Prometheus data source's resource calls (label names and
//        values, series, rules…), passed to its Prometheus as GET with the form body moved into the URL
//   GET  /api/dashboards/uid/:uid               a provisioned dashboard (provisioning/dashboards/gpufleet)
import { createReadStream, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import { dsQuery } from './promBackend.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, '../..');
export const APP_ID = 'gpufleet-observability-app';
export const DS_TYPE = 'gpufleet-sidecar-datasource';
/**
 * The plugin folder served as /public/plugins/<app id>/: dist/ by default; GPUFLEET_BROWSER_PLUGIN_DIR
 * names another (the archive from `npm run package` unpacked into a plugins folder, as Grafana has it).
 */
export const PLUGIN_DIR = process.env.GPUFLEET_BROWSER_PLUGIN_DIR
  ? resolve(process.env.GPUFLEET_BROWSER_PLUGIN_DIR)
  : join(ROOT, 'dist');
const HOSTS = join(HERE, 'hosts');
const DASHBOARDS = join(ROOT, 'provisioning/dashboards/gpufleet');

const TYPES = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json; charset=utf-8',
  '.ttf': 'font/ttf',
  '.png': 'image/png',
  '.html': 'text/html; charset=utf-8',
};

/**
 * Static files. `cacheable` ones (the host bundles, rebuilt only with a new key) may be kept by the
 * browser, which lets Chromium reuse its compiled code between the tests' pages; the plugin's dist/
 * is always re-read, so a rebuilt plugin is what gets tested.
 */
function sendFile(req, res, base, rel, cacheable = false) {
  const file = normalize(join(base, rel));
  if (!file.startsWith(base + sep) || !existsSync(file) || !statSync(file).isFile()) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    return;
  }
  const st = statSync(file);
  const etag = `"${st.size}-${Math.round(st.mtimeMs)}"`;
  const headers = {
    'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
    'cache-control': cacheable ? 'public, max-age=600' : 'no-store',
    ...(cacheable ? { etag } : {}),
  };
  if (cacheable && req.headers['if-none-match'] === etag) {
    res.writeHead(304, headers).end();
    return;
  }
  res.writeHead(200, headers);
  createReadStream(file).pipe(res);
}

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) {
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

function page(set) {
  const bootData = {
    settings: {
      buildInfo: { version: set === 'grafana13' ? '13.2.2' : '12.4.10', env: 'production', edition: 'Open Source' },
      appSubUrl: '',
      appUrl: 'http://localhost/',
      featureToggles: {},
      datasources: {},
      panels: {},
      apps: {},
      bootData: {},
    },
    user: { theme: 'dark', timezone: 'browser', locale: 'en-US', language: 'en-US', orgId: 1, isSignedIn: true },
    navTree: [],
    assets: { dark: '', light: '' },
  };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>gpufleet plugin host (${set})</title>
<link rel="stylesheet" href="/host/${set}/host.css">
<script>
  window.grafanaBootData = ${JSON.stringify(bootData)};
  window.__grafana_public_path__ = '/public/';
</script>
</head>
<body>
<div id="root"></div>
<script>performance.mark('host-start');</script>
<script src="/host/${set}/host.js"></script>
<script>performance.mark('host-evaluated');</script>
<script src="/host/${set}/systemjs/system.min.js"></script>
<script src="/host/${set}/systemjs/extras/amd.min.js"></script>
<script src="/host/${set}/systemjs/extras/named-register.min.js"></script>
<script>window.gpufleetHost.start();</script>
</body>
</html>`;
}

/** {{ .URL }}, {{ .SecureJsonData.x }}, {{ .JsonData.x }} as Grafana's route templates use them. */
function interpolate(template, ds) {
  return template.replace(/\{\{\s*\.(\w+)(?:\.(\w+))?\s*\}\}/g, (_m, a, b) => {
    if (a === 'URL') {
      return ds.url ?? '';
    }
    if (a === 'SecureJsonData') {
      return ds.secureJsonData?.[b] ?? '';
    }
    if (a === 'JsonData') {
      return String(ds.jsonData?.[b] ?? '');
    }
    return '';
  });
}

/**
 * Starts the server. `datasources` are the saved data sources ({uid, name, url, secureJsonData?});
 * `pluginDir` the plugin folder it serves (PLUGIN_DIR unless given).
 * Returns {url, close, datasources, proxyLog}: proxyLog records what went upstream (path and whether
 * an Authorization header was added), for the tests that check the token stays on the server.
 */
export async function startHarnessServer({
  port = 0,
  datasources = [],
  upstreamTimeoutMs = 30_000,
  pluginDir = PLUGIN_DIR,
} = {}) {
  /** Every Prometheus request /api/ds/query made: {refId, path, expr, status, bytes, ms}. */
  const queryLog = [];
  const manifest = JSON.parse(readFileSync(join(pluginDir, 'datasource/plugin.json'), 'utf8'));
  const routes = manifest.routes ?? [];
  const store = new Map();
  let nextId = 1;
  const save = (d) => {
    const prev = store.get(d.uid);
    const next = {
      id: prev?.id ?? nextId++,
      uid: d.uid,
      name: d.name ?? prev?.name ?? d.uid,
      type: d.type ?? prev?.type ?? DS_TYPE,
      access: 'proxy',
      url: d.url ?? prev?.url ?? '',
      jsonData: d.jsonData ?? prev?.jsonData ?? {},
      // Grafana keeps a secret unless the form sends a new value; an empty string clears it.
      secureJsonData: { ...prev?.secureJsonData },
      readOnly: false,
    };
    for (const [k, v] of Object.entries(d.secureJsonData ?? {})) {
      if (v === '') {
        delete next.secureJsonData[k];
      } else if (v !== undefined && v !== null) {
        next.secureJsonData[k] = v;
      }
    }
    for (const [k, v] of Object.entries(d.secureJsonFields ?? {})) {
      if (v === false && !(d.secureJsonData && k in d.secureJsonData)) {
        delete next.secureJsonData[k];
      }
    }
    store.set(d.uid, next);
    return next;
  };
  for (const d of datasources) {
    save(d);
  }
  const publicView = (d) => {
    const { secureJsonData, ...rest } = d;
    return { ...rest, secureJsonFields: Object.fromEntries(Object.keys(secureJsonData ?? {}).map((k) => [k, true])) };
  };
  const proxyLog = [];

  async function proxy(req, res, uid, rest, search) {
    const ds = store.get(uid);
    if (!ds) {
      json(res, 404, { message: 'Data source not found' });
      return;
    }
    const route = routes.find((r) => rest === r.path || rest.startsWith(`${r.path}/`));
    if (!route) {
      json(res, 404, { message: 'no route matched' });
      return;
    }
    const target = interpolate(route.url, ds).replace(/\/$/, '') + rest.slice(route.path.length) + search;
    const headers = { accept: req.headers.accept ?? 'application/json' };
    if (req.headers['content-type']) {
      headers['content-type'] = req.headers['content-type'];
    }
    for (const h of route.headers ?? []) {
      headers[h.name.toLowerCase()] = interpolate(h.content, ds);
    }
    proxyLog.push({
      uid,
      method: req.method,
      path: rest + search,
      authorization: Boolean(headers.authorization?.trim()),
    });
    const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await readBody(req);
    let upstream;
    try {
      upstream = await fetch(target, {
        method: req.method,
        headers,
        body,
        signal: AbortSignal.timeout(upstreamTimeoutMs),
      });
    } catch (err) {
      // Grafana: timeout → 504, anything else (refused, reset, DNS) → 502, both with no body.
      const timeout = err?.name === 'TimeoutError';
      res.writeHead(timeout ? 504 : 502).end();
      return;
    }
    const buf = Buffer.from(await upstream.arrayBuffer());
    const out = { 'content-type': upstream.headers.get('content-type') ?? 'application/octet-stream' };
    res.writeHead(upstream.status, out).end(buf);
  }

  /** A Prometheus data source's resource call, as Grafana's backend forwards it (GET, body params in the URL). */
  async function resource(req, res, uid, rest, search) {
    const ds = store.get(uid);
    if (!ds || ds.type !== 'prometheus') {
      json(res, 404, { message: 'Data source not found' });
      return;
    }
    const params = new URLSearchParams(search);
    if (req.method !== 'GET') {
      for (const [k, v] of new URLSearchParams((await readBody(req)).toString('utf8'))) {
        params.append(k, v);
      }
    }
    const qs = params.toString();
    let upstream;
    try {
      upstream = await fetch(`${ds.url.replace(/\/$/, '')}/${rest}${qs ? `?${qs}` : ''}`, {
        signal: AbortSignal.timeout(upstreamTimeoutMs),
      });
    } catch {
      res.writeHead(502).end();
      return;
    }
    res
      .writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' })
      .end(Buffer.from(await upstream.arrayBuffer()));
  }

  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://localhost');
      const p = decodeURIComponent(url.pathname);
      let m;
      if (p === '/' || p === '/index.html') {
        const set = url.searchParams.get('set') ?? 'grafana12';
        if (!existsSync(join(HOSTS, set, 'dist/host.js'))) {
          res
            .writeHead(404, { 'content-type': 'text/plain' })
            .end(`host set ${set} is not built (tests/browser/setup.sh)`);
          return;
        }
        res.writeHead(200, { 'content-type': TYPES['.html'], 'cache-control': 'no-store' }).end(page(set));
      } else if ((m = /^\/host\/([\w-]+)\/(.+)$/.exec(p))) {
        sendFile(req, res, join(HOSTS, m[1], 'dist'), m[2], true);
      } else if ((m = /^\/public\/plugins\/([\w-]+)\/(.+)$/.exec(p)) && m[1] === APP_ID) {
        sendFile(req, res, pluginDir, m[2]);
      } else if ((m = /^\/public\/build\/img\/icons\/(.+)$/.exec(p))) {
        // Icons are the same in both sets; grafana12's copy serves either page.
        const set = existsSync(join(HOSTS, 'grafana12/dist/icons')) ? 'grafana12' : 'grafana13';
        sendFile(req, res, join(HOSTS, set, 'dist/icons'), m[1], true);
      } else if ((m = /^\/api\/datasources\/proxy\/uid\/([^/]+)\/(.*)$/.exec(p))) {
        await proxy(req, res, m[1], m[2], url.search);
      } else if (p === '/api/ds/query' && req.method === 'POST') {
        const body = JSON.parse((await readBody(req)).toString('utf8') || '{}');
        const resolve = (uid) => {
          const d = store.get(uid);
          return d?.type === 'prometheus' ? d : undefined;
        };
        const out = await dsQuery(body, resolve, { log: (e) => queryLog.push(e) });
        json(res, out.status, out.body);
      } else if ((m = /^\/api\/datasources\/uid\/([^/]+)\/resources\/(.*)$/.exec(p))) {
        await resource(req, res, m[1], m[2], url.search);
      } else if ((m = /^\/api\/dashboards\/uid\/([\w-]+)$/.exec(p))) {
        const uid = m[1];
        const found = readdirSync(DASHBOARDS)
          .filter((f) => f.endsWith('.json'))
          .map((f) => JSON.parse(readFileSync(join(DASHBOARDS, f), 'utf8')))
          .find((d) => d.uid === uid);
        found ? json(res, 200, { dashboard: found, meta: { slug: uid } }) : json(res, 404, { message: 'Dashboard not found' });
      } else if ((m = /^\/api\/datasources\/uid\/([^/]+)$/.exec(p))) {
        const uid = m[1];
        if (req.method === 'GET') {
          const d = store.get(uid);
          d ? json(res, 200, publicView(d)) : json(res, 404, { message: 'Data source not found' });
        } else if (req.method === 'PUT') {
          const body = JSON.parse((await readBody(req)).toString('utf8') || '{}');
          const saved = save({ ...body, uid });
          json(res, 200, {
            id: saved.id,
            message: 'Datasource updated',
            name: saved.name,
            datasource: publicView(saved),
          });
        } else {
          json(res, 405, { message: 'method not allowed' });
        }
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      }
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err?.stack ?? err));
    }
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  const { port: actual } = server.address();
  return {
    url: `http://127.0.0.1:${actual}`,
    proxyLog,
    queryLog,
    datasources: store,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections?.();
        server.close(() => r());
      }),
  };
}
