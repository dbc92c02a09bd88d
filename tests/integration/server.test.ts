// The API server as an attacker and an operator meet it: slow-header floods, heavy-query floods, 401s that
// say how to authenticate, a token rotated without a restart, TLS and basic auth scraped by a real
// Prometheus, and web config mistakes refused at start. The built sidecar, real sockets, real openssl.
import bcrypt from 'bcryptjs';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, json, startSidecar, waitFor, type Running } from './harness.js';
import { startPrometheus, type Prometheus } from './prom.js';

const tmp = (prefix: string) => mkdtempSync(join(tmpdir(), `gpufleet-${prefix}-`));
const portOf = (s: Running) => Number(new URL(s.base).port);

/** Connections that send part of a request and then hang; counts those the server closes. */
function hangingConnections(port: number, n: number, partial: string) {
  const socks: Socket[] = [];
  let connected = 0;
  let closedByServer = 0;
  let ending = false;
  for (let i = 0; i < n; i++) {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => undefined);
    // Read what the server says (a 408 at the timeout), or its close would go unseen.
    s.resume();
    s.on('connect', () => {
      connected++;
      s.write(partial);
    });
    s.on('close', () => {
      if (!ending) closedByServer++;
    });
    socks.push(s);
  }
  return {
    connected: () => connected,
    closedByServer: () => closedByServer,
    end: () => {
      ending = true;
      for (const s of socks) s.destroy();
    },
  };
}

const bearer = (t: string) => ({ headers: { authorization: `Bearer ${t}` } });

describe('slow clients', () => {
  let s: Running;
  beforeAll(async () => {
    s = await startSidecar(['--simulate', 'small']);
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('1,000 connections that never finish their headers: /healthz and /metrics still answer, the excess and then the rest are closed', async () => {
    const flood = hangingConnections(portOf(s), 1000, 'GET /api/v1/snapshot HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    try {
      await waitFor('1,000 connections', async () => flood.connected() === 1000);
      // Generous for a loaded machine; unprotected, the answer waits behind the flood.
      const h = await fetch(`${s.base}/healthz`, { signal: AbortSignal.timeout(5000) });
      expect(h.status).toBe(200);
      expect((await fetch(`${s.base}/metrics`, { signal: AbortSignal.timeout(5000) })).status).toBe(200);
      // The default --web.max-connections is 512: the server holds no more than that.
      await waitFor('excess connections closed', async () => flood.closedByServer() >= 1000 - 512);
      // The rest go at --web.header-timeout (10 s by default).
      await waitFor('every hanging connection closed', async () => flood.closedByServer() === 1000, 25_000);
      expect(s.logs()).toMatch(/connection cap reached/);
    } finally {
      flood.end();
    }
  });
});

describe('heavy requests', () => {
  let s: Running;
  beforeAll(async () => {
    s = await startSidecar(['--simulate', 'small']);
    await waitFor('first collection', async () => (await fetch(`${s.base}/api/v1/snapshot`)).status === 200);
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('past --web.max-heavy-requests (32 by default): 503 with Retry-After and the JSON error; light routes still answer', async () => {
    // 32 queries whose bodies never finish hold every slot.
    const slow = hangingConnections(portOf(s), 32, 'POST /api/v1/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"q');
    try {
      const r = await waitFor('503 on a heavy route', async () => {
        const x = await fetch(`${s.base}/api/v1/snapshot`);
        return x.status === 503 ? x : undefined;
      });
      expect(r.headers.get('retry-after')).toBe('1');
      expect(await r.json()).toEqual({ error: { code: 'overloaded', message: expect.stringMatching(/--web\.max-heavy-requests/) } });
      for (const path of ['/api/v1/topology', '/api/v1/events']) expect((await fetch(`${s.base}${path}`)).status).toBe(503);
      const q = await fetch(`${s.base}/api/v1/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"queries":[]}' });
      expect(q.status).toBe(503);
      for (const path of ['/healthz', '/metrics', '/api/v1/health', '/api/v1/gpus']) expect((await fetch(`${s.base}${path}`)).status).toBe(200);
    } finally {
      slow.end();
    }
    await waitFor('slots free again', async () => (await fetch(`${s.base}/api/v1/snapshot`)).status === 200);
  });
});

describe('bearer token', () => {
  let s: Running;
  let dir: string;
  const tokenPath = () => join(dir, 'token');
  const status = async (token: string) => (await fetch(`${s.base}/api/v1/health`, bearer(token))).status;
  const rotated = (from: string, to: string) =>
    waitFor(`token ${to} in force`, async () => (await status(to)) === 200 && (await status(from)) === 401, 15_000);

  beforeAll(async () => {
    dir = tmp('tok');
    writeFileSync(tokenPath(), 'first-token\n');
    s = await startSidecar(['--simulate', 'small', '--token-file', tokenPath()]);
  });
  afterAll(async () => {
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('401 says how to authenticate (WWW-Authenticate: Bearer)', async () => {
    for (const init of [{}, bearer('wrong')]) {
      const r = await fetch(`${s.base}/api/v1/gpus`, init);
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toBe('Bearer realm="gpufleet"');
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    }
    expect(await status('first-token')).toBe(200);
  });

  it('picks up a token rewritten in place, then one renamed over the file, without a restart', async () => {
    writeFileSync(tokenPath(), 'second-token\n');
    await rotated('first-token', 'second-token');
    writeFileSync(join(dir, '.token.tmp'), 'third-token');
    renameSync(join(dir, '.token.tmp'), tokenPath());
    await rotated('second-token', 'third-token');
  });

  it('a token file that turns empty keeps the old token and logs why', async () => {
    writeFileSync(tokenPath(), '');
    await waitFor('error logged', async () => /is empty; the previous token stays in force/.test(s.logs()));
    expect(await status('third-token')).toBe(200);
    writeFileSync(tokenPath(), 'fourth-token');
    await rotated('third-token', 'fourth-token');
  });

  it('survives SIGHUP and still serves with the token in force', async () => {
    s.proc.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 300));
    expect(s.proc.exitCode).toBeNull();
    expect(await status('fourth-token')).toBe(200);
  });
});

describe('bearer token from a Kubernetes secret volume', () => {
  it('follows the ..data symlink swap a secret update makes', async () => {
    // The layout kubelet writes: token -> ..data/token, ..data -> ..<timestamp>/, swapped by a rename.
    const dir = tmp('k8s');
    mkdirSync(join(dir, '..v1'));
    writeFileSync(join(dir, '..v1', 'token'), 'k8s-one');
    symlinkSync('..v1', join(dir, '..data'));
    symlinkSync('..data/token', join(dir, 'token'));
    let s: Running | undefined;
    try {
      s = await startSidecar(['--simulate', 'small', '--token-file', join(dir, 'token')]);
      const base = s.base;
      expect((await fetch(`${base}/api/v1/health`, bearer('k8s-one'))).status).toBe(200);
      mkdirSync(join(dir, '..v2'));
      writeFileSync(join(dir, '..v2', 'token'), 'k8s-two');
      symlinkSync('..v2', join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
      rmSync(join(dir, '..v1'), { recursive: true });
      await waitFor('new secret in force', async () => (await fetch(`${base}/api/v1/health`, bearer('k8s-two'))).status === 200, 15_000);
      expect((await fetch(`${base}/api/v1/health`, bearer('k8s-one'))).status).toBe(401);
    } finally {
      await s?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl in `dir`. */
function makeCerts(dir: string): void {
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=gpufleet test CA');
  for (const [name, ext] of [['server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth'], ['client', 'subjectAltName=DNS:prometheus.test\nextendedKeyUsage=clientAuth']] as const) {
    ossl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
    ossl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
  }
}

/** GET over HTTPS trusting the test CA, with the client certificate unless told otherwise. */
function httpsGet(url: string, dir: string, headers: Record<string, string> = {}, clientCert = true): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        ca: readFileSync(join(dir, 'ca.crt')),
        ...(clientCert ? { cert: readFileSync(join(dir, 'client.crt')), key: readFileSync(join(dir, 'client.key')) } : {}),
        headers,
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const basic = (user: string, pass: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` });

describe('TLS, client certificates and basic auth from --web.config.file', () => {
  let dir: string;
  let s: Running;
  let prom: Prometheus;
  const webConfig = (password: string) =>
    [
      'tls_server_config:',
      '  cert_file: server.crt', // relative to the web config file, as in exporter-toolkit
      '  key_file: server.key',
      '  client_auth_type: RequireAndVerifyClientCert',
      `  client_ca_file: ${join(dir, 'ca.crt')}`,
      '  min_version: TLS12',
      'http_server_config:',
      '  headers:',
      '    X-Content-Type-Options: nosniff',
      'basic_auth_users:',
      `  prometheus: ${bcrypt.hashSync(password, 10)}`,
      '',
    ].join('\n');

  beforeAll(async () => {
    dir = tmp('tls');
    makeCerts(dir);
    writeFileSync(join(dir, 'web.yml'), webConfig('scrape-pass'));
    writeFileSync(join(dir, 'token'), 'tls-token');
    s = await startSidecar(['--simulate', 'small', '--interval', '1s', '--web.config.file', join(dir, 'web.yml'), '--token-file', join(dir, 'token')]);
    const target = s.base.replace('https://', '');
    const job = (name: string, extra: string[], clientCert = true) => [
      `  - job_name: ${name}`,
      '    scheme: https',
      '    tls_config:',
      `      ca_file: ${join(dir, 'ca.crt')}`,
      ...(clientCert ? [`      cert_file: ${join(dir, 'client.crt')}`, `      key_file: ${join(dir, 'client.key')}`] : []),
      ...extra.map((l) => `    ${l}`),
      `    static_configs: [{ targets: ['${target}'] }]`,
    ];
    prom = await startPrometheus(
      [
        'global: { scrape_interval: 1s, scrape_timeout: 1s }',
        'scrape_configs:',
        ...job('basic-auth', ['basic_auth: { username: prometheus, password: scrape-pass }']),
        ...job('bearer', [`authorization: { credentials_file: ${join(dir, 'token')} }`]),
        ...job('wrong-password', ['basic_auth: { username: prometheus, password: nope }']),
        ...job('no-client-cert', ['basic_auth: { username: prometheus, password: scrape-pass }'], false),
        '',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await prom?.stop();
    await s?.stop();
    if (prom) rmSync(prom.dir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('a real Prometheus scrapes it over TLS with basic auth or the bearer token, and only with a client certificate and the right password', async () => {
    const want = { 'basic-auth': '1', bearer: '1', 'wrong-password': '0', 'no-client-cert': '0' };
    const up = await waitFor('all four jobs scraped', async () => {
      const r = await prom.query('up');
      const got = Object.fromEntries(r.map((x) => [x.metric.job, x.value[1]]));
      return JSON.stringify(got, Object.keys(want).sort()) === JSON.stringify(want, Object.keys(want).sort()) ? got : undefined;
    }, 40_000);
    expect(up).toEqual(want);
    const gpus = await waitFor('GPU series scraped', async () => {
      const r = await prom.query('gpufleet_gpu_info{job="basic-auth"}');
      return r.length > 0 ? r : undefined;
    }, 20_000);
    expect(gpus[0]?.metric.host).toBe('sim-small');
  });

  it('401 offers both schemes; configured headers are sent; /healthz needs TLS but no password', async () => {
    const r = await httpsGet(`${s.base}/api/v1/health`, dir);
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toBe('Basic realm="gpufleet", charset="UTF-8", Bearer realm="gpufleet"');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect((await httpsGet(`${s.base}/healthz`, dir)).status).toBe(200);
    await expect(httpsGet(`${s.base}/healthz`, dir, {}, false)).rejects.toThrow();
  });

  it('SIGHUP reloads the web config: the old password is refused, the new one accepted', async () => {
    expect((await httpsGet(`${s.base}/api/v1/health`, dir, basic('prometheus', 'scrape-pass'))).status).toBe(200);
    writeFileSync(join(dir, 'web.yml'), webConfig('rotated-pass'));
    s.proc.kill('SIGHUP');
    await waitFor('web config reloaded', async () => /web config reloaded/.test(s.logs()));
    expect((await httpsGet(`${s.base}/api/v1/health`, dir, basic('prometheus', 'scrape-pass'))).status).toBe(401);
    expect((await httpsGet(`${s.base}/api/v1/health`, dir, basic('prometheus', 'rotated-pass'))).status).toBe(200);
    // A broken file on the next SIGHUP keeps what is in force.
    writeFileSync(join(dir, 'web.yml'), 'basic_auth_users:\n  prometheus: plain-text\n');
    s.proc.kill('SIGHUP');
    await waitFor('bad reload logged', async () => /kept the previous web config/.test(s.logs()));
    expect((await httpsGet(`${s.base}/api/v1/health`, dir, basic('prometheus', 'rotated-pass'))).status).toBe(200);
  });
});

describe('web config mistakes are refused at start', () => {
  let dir: string;
  beforeAll(() => {
    dir = tmp('webcfg');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const start = (text: string) => {
    writeFileSync(join(dir, 'web.yml'), text);
    return spawnSync(process.execPath, [CLI, '--simulate', 'small', '--listen', '127.0.0.1:0', '--web.config.file', join(dir, 'web.yml')], {
      encoding: 'utf8',
      timeout: 15_000,
    });
  };

  it.each([
    ['an unknown key', 'tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  ca_file: ca.crt\n', /unknown key tls_server_config\.ca_file/],
    ['a password that is not a bcrypt hash', 'basic_auth_users:\n  alice: hunter2\n', /basic_auth_users\.alice: is not a bcrypt hash/],
    ['a certificate file that is not there', 'tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n', /cert_file: cannot read .*missing\.crt/],
    ['an unknown TLS version', 'tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  min_version: TLS14\n', /tls_server_config\.min_version: unknown TLS version/],
  ])('%s: exit 2 naming the option, the file and the key', (_what, text, re) => {
    const r = start(text);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--web\.config\.file: /);
    expect(r.stderr).toMatch(re);
  });
});

describe('exposure warning', () => {
  it('warns loudly when the API listens beyond loopback without authentication', async () => {
    const open = await startSidecar(['--simulate', 'small', '--listen', '0.0.0.0:0']);
    try {
      await waitFor('warning', async () => /SECURITY: .*WITHOUT AUTHENTICATION/.test(open.logs()));
    } finally {
      await open.stop();
    }
  });

  it('does not warn with a token', async () => {
    const dir = tmp('warn');
    writeFileSync(join(dir, 'token'), 't');
    try {
      const guarded = await startSidecar(['--simulate', 'small', '--listen', '0.0.0.0:0', '--token-file', join(dir, 'token')]);
      await guarded.stop();
      expect(guarded.logs()).toMatch(/listening on/);
      expect(guarded.logs()).not.toMatch(/WITHOUT AUTHENTICATION/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
