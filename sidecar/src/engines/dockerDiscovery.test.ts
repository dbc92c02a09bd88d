import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerEndpoint, DockerDiscovery } from './dockerDiscovery.js';
import { titleWords, type ProcInfo } from './procScan.js';
import { parseVllmCmdline } from './vllmCmdline.js';

const launch = (...argv: string[]) => parseVllmCmdline(argv);

describe('where a containerized engine is reached', () => {
  it('takes the published port that maps to the port vLLM listens on inside', () => {
    const ports = [
      { PrivatePort: 22, PublicPort: 2222, IP: '0.0.0.0', Type: 'tcp' },
      { PrivatePort: 8000, PublicPort: 18004, IP: '127.0.0.1', Type: 'tcp' },
    ];
    expect(containerEndpoint(ports, 'bridge', launch('vllm', 'serve', 'm'))).toEqual({ endpoint: 'http://127.0.0.1:18004', problem: null });
  });

  it('reaches a wildcard-published port on loopback, and the only published port when the command is unknown', () => {
    expect(containerEndpoint([{ PrivatePort: 9000, PublicPort: 19000, IP: '0.0.0.0' }], 'bridge', null).endpoint).toBe('http://127.0.0.1:19000');
  });

  it('a port Docker lists twice (published on 0.0.0.0 and ::) is one port', () => {
    const dual = [
      { PrivatePort: 9000, PublicPort: 19000, IP: '0.0.0.0', Type: 'tcp' },
      { PrivatePort: 9000, PublicPort: 19000, IP: '::', Type: 'tcp' },
    ];
    expect(containerEndpoint(dual, 'bridge', null)).toEqual({ endpoint: 'http://127.0.0.1:19000', problem: null });
  });

  it('reads the port from the command line with host networking', () => {
    expect(containerEndpoint([], 'host', launch('python3', '-m', 'vllm.entrypoints.openai.api_server', '--port=8123')).endpoint).toBe('http://127.0.0.1:8123');
  });

  it('says why when there is no way in', () => {
    expect(containerEndpoint([], 'bridge', launch('vllm', 'serve', 'm')).problem).toMatch(/port 8000 is not published/);
    expect(containerEndpoint([], 'host', null).problem).toMatch(/no vLLM command line/);
    const two = [{ PrivatePort: 1, PublicPort: 11 }, { PrivatePort: 2, PublicPort: 12 }];
    expect(containerEndpoint(two, 'bridge', launch('vllm', 'serve', 'm')).problem).toMatch(/several published ports/);
  });
});

describe('titleWords', () => {
  it('splits a rewritten process title into words and leaves real argv alone', () => {
    expect(titleWords(['vllm serve org/m --port 8000'])).toEqual(['vllm', 'serve', 'org/m', '--port', '8000']);
    expect(titleWords(['VLLM::Worker_TP0'])).toEqual(['VLLM::Worker_TP0']);
    expect(titleWords(['python3', '-c', 'a b'])).toEqual(['python3', '-c', 'a b']);
  });
});

describe('DockerDiscovery.list against an untrusted API', () => {
  const id = (c: string) => c.repeat(64);
  let dir: string;
  let server: Server;
  let socket: string;
  const inspects: Record<string, { status: number; body: unknown }> = {
    [id('a')]: { status: 404, body: { message: 'No such container' } },
    [id('b')]: { status: 500, body: { message: 'secret-internal-text' } },
    [id('c')]: { status: 200, body: { State: { Pid: 1 }, Config: { Cmd: ['vllm', 'serve', 'm'] }, HostConfig: { NetworkMode: 'bridge' } } },
    [id('d')]: { status: 200, body: { State: { Pid: 300 }, Config: { Cmd: ['vllm', 'serve', 'm'] }, HostConfig: { NetworkMode: 'bridge' } } },
    [id('e')]: { status: 200, body: { State: { Pid: 400 }, Config: { Cmd: ['vllm', 'serve', 'm'] }, HostConfig: { NetworkMode: 'bridge' } } },
  };
  const listed = Object.keys(inspects).map((cid, i) => ({
    Id: cid, Names: [`/vllm-${cid[0]}`], Image: 'vllm/vllm-openai:v0.11.0', Command: 'vllm serve m',
    Ports: [{ IP: '0.0.0.0', PrivatePort: 8000, PublicPort: 18100 + i, Type: 'tcp' }],
  }));
  const proc = (pid: number, ppid: number, containerId: string | null): ProcInfo => ({ pid, ppid, startTime: pid, argv: ['vllm', 'serve', 'm'], containerId });
  // 300 belongs to container e, not d; 400 is e's, with a child.
  const procs = [proc(1, 0, null), proc(2, 1, null), proc(300, 1, id('e')), proc(400, 1, id('e')), proc(401, 400, id('e'))];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'docker-discovery-'));
    socket = join(dir, 'docker.sock');
    server = createServer((req, res) => {
      const m = /^\/containers\/([^/]+)\/json$/.exec(req.url ?? '');
      const a = req.url === '/containers/json' ? { status: 200, body: listed } : (m && inspects[m[1] as string]) || { status: 404, body: {} };
      res.writeHead(a.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(a.body));
    });
    await new Promise<void>((r) => server.listen(socket, r));
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('skips a container gone before inspect, lists one that cannot be inspected with why, and believes no pid /proc contradicts', async () => {
    const found = await new DockerDiscovery(socket, 2000).list(procs);
    const by = new Map(found.map((c) => [c.name, c]));
    expect([...by.keys()].sort()).toEqual(['vllm-b', 'vllm-c', 'vllm-d', 'vllm-e']);
    expect(by.get('vllm-b')).toMatchObject({
      endpoint: 'http://127.0.0.1:18101', hostPid: null, pids: [],
      problem: `the container could not be inspected: Docker API at ${socket}: bad answer, HTTP status 500`,
    });
    expect(JSON.stringify(found)).not.toContain('secret-internal-text');
    // Pid 1 would claim every process on the host; 300 is another container's.
    expect(by.get('vllm-c')).toMatchObject({ hostPid: null, pids: [] });
    expect(by.get('vllm-d')).toMatchObject({ hostPid: null, pids: [] });
    expect(by.get('vllm-e')).toMatchObject({ hostPid: 400, pids: [400, 401], endpoint: 'http://127.0.0.1:18104' });
  });
});
