// The gate between discovery and the probes, with real unix sockets and file owners (the test runs
// as root, as the sidecar does) and an injected name lookup.
import { chownSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineCandidate } from './discovery.js';
import { EndpointGate, type GateOptions } from './endpointGate.js';
import { parseAllowList } from './endpointPolicy.js';

function cand(over: Partial<EngineCandidate>): EngineCandidate {
  return {
    id: 'h:8000', endpoint: 'http://127.0.0.1:8000', socketPath: null, source: 'proc', problem: null, deployment: 'native',
    container: null, image: null, launch: null, apiPid: 42, pids: [42], ...over,
  };
}

const NAMES: Record<string, string[]> = { 'gpu-box': ['203.0.113.9', '127.0.1.1'], evil: ['203.0.113.5'] };

function gate(over: Partial<GateOptions> = {}): EndpointGate {
  return new EndpointGate({
    hostname: 'h',
    allow: null,
    uids: () => ({ real: 0, effective: 0 }),
    interfaces: () => ({ eth0: [{ address: '192.0.2.10' }] }),
    lookup: async (name) => {
      const a = NAMES[name];
      if (!a) throw Object.assign(new Error('nope'), { code: 'ENOTFOUND' });
      return a;
    },
    ...over,
  });
}

describe('EndpointGate: discovered TCP endpoints', () => {
  it('lets loopback and this host\'s own addresses through as they are', async () => {
    const [a, b] = await gate().admit([cand({}), cand({ id: 'h:8001', endpoint: 'http://192.0.2.10:8001' })]);
    expect(a).toEqual(cand({}));
    expect(b?.endpoint).toBe('http://192.0.2.10:8001');
  });

  it('lists the host\'s addresses only when an address is neither loopback nor allowed, once a tick', async () => {
    let listed = 0;
    const interfaces = () => {
      listed++;
      return { eth0: [{ address: '192.0.2.10' }] };
    };
    const g = gate({ interfaces, allow: parseAllowList(['10.0.0.0/8']) });
    await g.admit([cand({}), cand({ id: 'h:8001', endpoint: 'http://[::1]:8001' }), cand({ id: 'h:8002', endpoint: 'http://10.0.0.1:8002' })]);
    expect(listed).toBe(0);
    const [a, b] = await g.admit([cand({ id: 'h:8001', endpoint: 'http://192.0.2.10:8001' }), cand({ id: 'h:8002', endpoint: 'http://192.0.2.11:8002' })]);
    expect([a?.endpoint, b?.endpoint, listed]).toEqual(['http://192.0.2.10:8001', '', 1]);
  });

  it('refuses another host\'s address, and keeps the engine listed with why', async () => {
    const [r] = await gate().admit([cand({ endpoint: 'http://169.254.169.254:8000' })]);
    expect(r).toMatchObject({ id: 'h:8000', endpoint: '', socketPath: null });
    expect(r?.problem).toMatch(/^--host is not a loopback address nor one of this host's/);
  });

  it('lets an operator-allowed network through', async () => {
    const [r] = await gate({ allow: parseAllowList(['10.0.0.0/8']) }).admit([cand({ endpoint: 'http://10.1.2.3:8000' })]);
    expect(r?.endpoint).toBe('http://10.1.2.3:8000');
  });

  it('probes a host name only on the local address it resolves to, and asks that address', async () => {
    const g = gate();
    const three = [
      cand({ endpoint: 'http://gpu-box:8000' }),
      cand({ id: 'h:8001', endpoint: 'http://evil:8001' }),
      cand({ id: 'h:8002', endpoint: 'http://nowhere:8002' }),
    ];
    const [ok, far, later] = await g.admit(three);
    expect(ok?.endpoint).toBe('http://127.0.1.1:8000');
    expect(far).toMatchObject({ endpoint: '', problem: expect.stringMatching(/^--host names no loopback or local address/) });
    // Lookups per tick are few (each holds a thread of the pool): the third name waits a tick.
    expect(later).toMatchObject({ endpoint: '', problem: '--host: host name lookup deferred (too many names at once)' });
    const [, , none] = await g.admit(three);
    expect(none).toMatchObject({ endpoint: '', problem: '--host: host name does not resolve (ENOTFOUND)' });
  });

  it('refuses an endpoint whose port is not the engine id\'s, or that holds a path', async () => {
    const [port, path] = await gate().admit([cand({ endpoint: 'http://127.0.0.1:9000' }), cand({ endpoint: 'http://127.0.0.1:8000/internal' })]);
    expect(port?.problem).toBe('endpoint port 9000 is not the engine\'s');
    expect(path?.problem).toMatch(/a path/);
  });

  it('takes --engine URLs as the operator configured them', async () => {
    const flag = cand({ id: '203.0.113.7:8000', endpoint: 'http://203.0.113.7:8000', source: 'flag', apiPid: null, pids: [] });
    expect(await gate().admit([flag])).toEqual([flag]);
  });
});

describe('EndpointGate: --uds sockets', () => {
  let dir: string;
  let server: Server;
  let sock: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gate-uds-'));
    sock = join(dir, 'engine.sock');
    server = createServer();
    await new Promise<void>((r) => server.listen(sock, r));
    chownSync(sock, 65534, 65534);
    symlinkSync(sock, join(dir, 'link.sock'));
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });
  const uds = (path: string) => cand({ id: `h:unix:${path}`, endpoint: 'http://localhost', socketPath: path });

  it('connects only to a socket owned by the engine process\'s user', async () => {
    const nobody = { real: 65534, effective: 65534 };
    const [mine] = await gate({ uids: () => nobody }).admit([uds(sock)]);
    expect(mine).toEqual(uds(sock));
    const [theirs] = await gate({ uids: () => ({ real: 1000, effective: 1000 }) }).admit([uds(sock)]);
    expect(theirs).toMatchObject({ endpoint: '', socketPath: null, problem: '--uds: the socket belongs to another user than the engine process' });
  });

  it('refuses a link to a socket, a relative path, a missing socket and an unreadable owner', async () => {
    const nobody = () => ({ real: 65534, effective: 65534 });
    const [link, rel, missing] = await gate({ uids: nobody }).admit([uds(join(dir, 'link.sock')), uds('engine.sock'), uds(join(dir, 'none.sock'))]);
    expect(link?.problem).toMatch(/is not a socket/);
    expect(rel?.problem).toMatch(/relative path/);
    expect(missing?.problem).toBe('--uds: socket not found (ENOENT)');
    const [gone] = await gate({ uids: () => null }).admit([uds(sock)]);
    expect(gone?.problem).toMatch(/owner of the engine process cannot be read/);
  });
});
