// The simulator's Docker Engine API, read by the sidecar's own container discovery over a real unix
// socket, and by node:http for the answers discovery does not ask for.
import { mkdtempSync, rmSync } from 'node:fs';
import { request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerDiscovery } from '../engines/dockerDiscovery.js';
import type { ProcInfo } from '../engines/procScan.js';
import { containerId, startFakeDockerApi, type FakeContainer } from './fakeDocker.js';

function get(socketPath: string, path: string, method = 'GET'): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

const API_ARGV = ['/usr/bin/python3', '/usr/local/bin/vllm', 'serve', 'ibm-granite/granite-3.3-2b-instruct', '--port', '18023'];

describe('the fake Docker Engine API', () => {
  let dir: string;
  let socket: string;
  let server: Server;
  let containers: FakeContainer[];
  const container = (pid: number, startedAt: number): FakeContainer => ({
    name: 'vllm-granite',
    image: 'vllm/vllm-openai:v0.11.0',
    entrypoint: ['vllm', 'serve'],
    cmd: API_ARGV.slice(3),
    pid,
    startedAt,
    port: 18023,
    env: ['CUDA_VISIBLE_DEVICES=MIG-1234'],
    processes: [
      { pid, ppid: 1, argv: API_ARGV },
      { pid: pid + 1, ppid: pid, argv: ['VLLM::EngineCore'] },
    ],
  });
  const procs = (pid: number): ProcInfo[] => [
    { pid: 1, ppid: 0, startTime: 1, argv: ['/sbin/init'], containerId: null },
    { pid, ppid: 1, startTime: 100, argv: API_ARGV, containerId: null },
    { pid: pid + 1, ppid: pid, startTime: 101, argv: ['VLLM::EngineCore'], containerId: null },
    { pid: 900, ppid: 1, startTime: 50, argv: ['vllm', 'serve', 'other', '--port', '18001'], containerId: null },
  ];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fake-docker-'));
    socket = join(dir, 'docker.sock');
    containers = [container(4242, 1_700_000_000_000)];
    server = await startFakeDockerApi(socket, () => containers);
  });
  afterAll(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is found by the sidecar\'s container discovery: name, image, published port, the API server as State.Pid', async () => {
    const d = new DockerDiscovery(socket, 2000);
    const [c, ...rest] = await d.list(procs(4242));
    expect(rest).toEqual([]);
    expect(c).toMatchObject({
      containerId: containerId(containers[0] as FakeContainer),
      name: 'vllm-granite',
      image: 'vllm/vllm-openai:v0.11.0',
      networkMode: 'bridge',
      hostPid: 4242,
      endpoint: 'http://127.0.0.1:18023',
      problem: null,
      launch: expect.objectContaining({ model: 'ibm-granite/granite-3.3-2b-instruct', port: 18023 }),
    });
    expect(c?.pids).toEqual([4242, 4243]);
  });

  it('a container that restarted is inspected again (new first process, new pid)', async () => {
    const d = new DockerDiscovery(socket, 2000);
    expect((await d.list(procs(4242)))[0]?.hostPid).toBe(4242);
    containers = [{ ...container(5252, 1_700_000_000_000) }]; // same id (same start time), the old pid gone
    expect((await d.list(procs(5252)))[0]?.hostPid).toBe(5252);
    containers = [container(4242, 1_700_000_000_000)];
  });

  it('answers /_ping, /version and versioned paths like Docker, 404 for an unknown container, 501 for what it does not simulate', async () => {
    expect(await get(socket, '/_ping')).toMatchObject({ status: 200, body: 'OK' });
    const v = await get(socket, '/version');
    expect(JSON.parse(v.body)).toMatchObject({ ApiVersion: '1.48', Os: 'linux' });
    expect(v.headers['api-version']).toBe('1.48');
    const list = JSON.parse((await get(socket, '/v1.48/containers/json')).body);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ Names: ['/vllm-granite'], State: 'running', Command: `vllm serve ${API_ARGV.slice(3).join(' ')}` });
    const byName = JSON.parse((await get(socket, '/containers/vllm-granite/json')).body);
    expect(byName).toMatchObject({ State: { Pid: 4242, Running: true }, Config: { Entrypoint: ['vllm', 'serve'], Image: 'vllm/vllm-openai:v0.11.0' } });
    const top = JSON.parse((await get(socket, `/containers/${list[0].Id.slice(0, 12)}/top`)).body);
    expect(top.Processes.map((p: string[]) => p[1])).toEqual(['4242', '4243']);
    expect((await get(socket, '/containers/nope/json')).status).toBe(404);
    expect((await get(socket, '/containers/create', 'POST')).status).toBe(501);
  });
});
