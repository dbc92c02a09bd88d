// A fake Docker Engine API on a unix socket, for the simulated host's docker-deployed engines. It answers
// what a Docker client asks for container discovery — GET /_ping, /version, /containers/json,
// /containers/{id}/json, /containers/{id}/top, with or without a /v1.NN prefix — shaped like Docker 28's
// answers (API 1.48). A container is a fake vLLM engine whose processes are real (fakeVllm.ts):
// State.Pid is its API server's host pid, the way a real container's init is, so the sidecar finds the
// engine's processes as that pid's descendants in /proc. Nothing else of Docker is simulated (no
// create/start/stop/logs/events; other routes answer 501 saying so).
import { createHash } from 'node:crypto';
import { existsSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { release } from 'node:os';

export const DOCKER_VERSION = '28.0.4';
export const DOCKER_API_VERSION = '1.48';

export interface FakeContainer {
  name: string;
  image: string;
  /** The image's entrypoint and the command given to `docker run` (Config.Entrypoint, Config.Cmd). */
  entrypoint: string[];
  cmd: string[];
  /** Host pid of the container's first process (its engine's API server). */
  pid: number;
  /** When it started, ms since the Unix epoch. */
  startedAt: number;
  /** Published as the same port on every host address (`docker run -p PORT:PORT`). */
  port: number;
  env: string[];
  /** Every process of the container, host pids, for `top`. */
  processes: Array<{ pid: number; ppid: number; argv: string[] }>;
}

/** 64 hex digits, like a real container id; a new one for each start (each `docker run`). */
export function containerId(c: Pick<FakeContainer, 'name' | 'startedAt'>): string {
  return createHash('sha256').update(`${c.name}\0${c.startedAt}`).digest('hex');
}

function imageId(image: string): string {
  return `sha256:${createHash('sha256').update(image).digest('hex')}`;
}

function upFor(startedAt: number, now: number): string {
  const s = Math.max(0, Math.round((now - startedAt) / 1000));
  if (s < 60) return `Up ${s} seconds`;
  if (s < 3600) return `Up ${Math.round(s / 60)} minutes`;
  return `Up ${Math.round(s / 3600)} hours`;
}

/** One entry of GET /containers/json (ContainerSummary). */
export function containerSummary(c: FakeContainer, now = Date.now()): Record<string, unknown> {
  return {
    Id: containerId(c),
    Names: [`/${c.name}`],
    Image: c.image,
    ImageID: imageId(c.image),
    Command: [...c.entrypoint, ...c.cmd].join(' '),
    Created: Math.floor(c.startedAt / 1000),
    Ports: [
      { IP: '0.0.0.0', PrivatePort: c.port, PublicPort: c.port, Type: 'tcp' },
      { IP: '::', PrivatePort: c.port, PublicPort: c.port, Type: 'tcp' },
    ],
    Labels: {},
    State: 'running',
    Status: upFor(c.startedAt, now),
    HostConfig: { NetworkMode: 'bridge' },
    NetworkSettings: { Networks: { bridge: { IPAddress: '172.17.0.2', Gateway: '172.17.0.1', MacAddress: '02:42:ac:11:00:02' } } },
    Mounts: [],
  };
}

/** GET /containers/{id}/json (ContainerInspectResponse), the parts a client reads. */
export function containerInspect(c: FakeContainer): Record<string, unknown> {
  const started = new Date(c.startedAt).toISOString();
  const binding = [{ HostIp: '0.0.0.0', HostPort: String(c.port) }, { HostIp: '::', HostPort: String(c.port) }];
  return {
    Id: containerId(c),
    Created: started,
    Path: c.entrypoint[0] ?? c.cmd[0] ?? '',
    Args: [...c.entrypoint.slice(1), ...c.cmd],
    State: {
      Status: 'running', Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false,
      Pid: c.pid, ExitCode: 0, Error: '', StartedAt: started, FinishedAt: '0001-01-01T00:00:00Z',
    },
    Image: imageId(c.image),
    Name: `/${c.name}`,
    RestartCount: 0,
    Driver: 'overlay2',
    Platform: 'linux',
    HostConfig: {
      NetworkMode: 'bridge',
      PortBindings: { [`${c.port}/tcp`]: [{ HostIp: '', HostPort: String(c.port) }] },
      IpcMode: 'host',
      ShmSize: 67108864,
      DeviceRequests: [{ Driver: 'nvidia', Count: 0, DeviceIDs: null, Capabilities: [['gpu']], Options: {} }],
    },
    Config: {
      Hostname: containerId(c).slice(0, 12),
      ExposedPorts: { [`${c.port}/tcp`]: {} },
      Env: c.env,
      Cmd: c.cmd,
      Image: c.image,
      Entrypoint: c.entrypoint,
      Labels: {},
    },
    NetworkSettings: {
      Ports: { [`${c.port}/tcp`]: binding },
      Networks: { bridge: { IPAddress: '172.17.0.2', Gateway: '172.17.0.1' } },
    },
  };
}

/** GET /containers/{id}/top: ps -ef columns, host pids (as Docker shows them; Podman shows the container's). */
export function containerTop(c: FakeContainer): { Titles: string[]; Processes: string[][] } {
  const stime = new Date(c.startedAt).toISOString().slice(11, 16);
  return {
    Titles: ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'],
    Processes: c.processes.map((p) => ['root', String(p.pid), String(p.ppid), '0', stime, '?', '00:00:00', p.argv.join(' ')]),
  };
}

function versionBody(): Record<string, unknown> {
  return {
    Platform: { Name: 'Docker Engine - Community' },
    Components: [{ Name: 'Engine', Version: DOCKER_VERSION, Details: { ApiVersion: DOCKER_API_VERSION, MinAPIVersion: '1.24', Os: 'linux', Arch: 'amd64' } }],
    Version: DOCKER_VERSION,
    ApiVersion: DOCKER_API_VERSION,
    MinAPIVersion: '1.24',
    GitCommit: '6bc6209',
    GoVersion: 'go1.23.7',
    Os: 'linux',
    Arch: 'amd64',
    KernelVersion: release(),
    BuildTime: '2025-03-25T15:05:38.000000000+00:00',
  };
}

/** The request handler: `list` gives the running containers at the moment of each request. */
export function dockerApiHandler(list: () => FakeContainer[]): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://docker');
    const path = url.pathname.replace(/^\/v\d+\.\d+(?=\/)/, '');
    const send = (status: number, body: unknown) => {
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, {
        'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
        'api-version': DOCKER_API_VERSION,
        'docker-experimental': 'false',
        ostype: 'linux',
        server: `Docker/${DOCKER_VERSION} (linux)`,
      });
      res.end(req.method === 'HEAD' ? undefined : text);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(501, { message: `${req.method} ${path} is not simulated (the fake Docker API only lists and inspects containers)` });
      return;
    }
    if (path === '/_ping') return send(200, 'OK');
    if (path === '/version') return send(200, versionBody());
    if (path === '/containers/json') return send(200, list().map((c) => containerSummary(c)));
    const m = /^\/containers\/([^/]+)\/(json|top)$/.exec(path);
    if (m) {
      const ref = decodeURIComponent(m[1] as string);
      // Docker accepts the full id, a unique prefix of it, or the name.
      const c = list().find((x) => containerId(x).startsWith(ref) || x.name === ref.replace(/^\//, ''));
      if (!c) return send(404, { message: `No such container: ${ref}` });
      return send(200, m[2] === 'json' ? containerInspect(c) : containerTop(c));
    }
    send(501, { message: `GET ${path} is not simulated (the fake Docker API only lists and inspects containers)` });
  };
}

/** Listens on `socketPath` (a stale socket file from an earlier run is removed first). */
export function startFakeDockerApi(socketPath: string, list: () => FakeContainer[]): Promise<Server> {
  if (existsSync(socketPath)) unlinkSync(socketPath);
  const server = createServer(dockerApiHandler(list));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
