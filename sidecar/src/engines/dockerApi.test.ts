// The Docker API client keeps only the fields discovery reads, each of the type Docker gives, and
// treats every answer as untrusted: an id that could leave its path segment is never asked about,
// an address that is no IP is never dialled, an answer over the cap is not read to its end.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SourceError } from '../collectors/sourceError.js';
import { DockerStatusError, inspectContainer, listContainers, parseContainerFacts, parseContainerList } from './dockerApi.js';
import { DockerBadAnswer, describeDockerFailure } from './dockerError.js';

const ID = 'c0ffee'.padEnd(64, '0');
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('parseContainerList', () => {
  it('keeps id, image, command, names and published ports', () => {
    const list = parseContainerList(json([{
      Id: ID, Names: ['/vllm-granite'], Image: 'vllm/vllm-openai:v0.11.0', Command: 'vllm serve ibm-granite/granite-3.3-2b-instruct',
      Ports: [{ IP: '0.0.0.0', PrivatePort: 8000, PublicPort: 18023, Type: 'tcp' }, { IP: '::', PrivatePort: 8000, PublicPort: 18023, Type: 'tcp' }],
      Labels: { a: 'b' }, State: 'running',
    }]));
    expect(list).toEqual([{
      id: ID, image: 'vllm/vllm-openai:v0.11.0', command: 'vllm serve ibm-granite/granite-3.3-2b-instruct', names: ['/vllm-granite'],
      ports: [{ IP: '0.0.0.0', PrivatePort: 8000, PublicPort: 18023, Type: 'tcp' }, { IP: '::', PrivatePort: 8000, PublicPort: 18023, Type: 'tcp' }],
    }]);
  });

  it('an unpublished port has no public port; fields of the wrong type read as absent', () => {
    const [c] = parseContainerList(json([{ Id: ID, Image: 42, Command: ['vllm'], Names: 'x', Ports: [{ PrivatePort: 8000, Type: 'tcp' }, 'junk', { PrivatePort: 70000 }] }]));
    expect(c).toEqual({ id: ID, image: '', command: '', names: ['x'], ports: [{ PrivatePort: 8000, PublicPort: undefined, IP: undefined, Type: 'tcp' }] });
  });

  it('a port bound to something that is not an IP address is dropped: the sidecar would dial it', () => {
    const [c] = parseContainerList(json([{ Id: ID, Ports: [{ IP: 'metadata.internal', PrivatePort: 8000, PublicPort: 80 }, { IP: '127.0.0.1', PrivatePort: 8000, PublicPort: 18023 }] }]));
    expect(c?.ports).toEqual([{ IP: '127.0.0.1', PrivatePort: 8000, PublicPort: 18023, Type: undefined }]);
  });

  it('an id that is not a plain name is left out: it goes into the inspect path', () => {
    const list = parseContainerList(json([{ Id: '../../images/create?fromImage=x' }, { Id: '..' }, { Id: '' }, { Id: ID }]));
    expect(list.map((c) => c.id)).toEqual([ID]);
  });

  it('a list longer than any real host\'s is a bad answer, not minutes of work each tick', () => {
    const many = Buffer.from(`[${Array.from({ length: 10_001 }, (_, i) => `{"Id":"c${i}"}`).join(',')}]`);
    expect(() => parseContainerList(many)).toThrow('the container list has more than 10000 containers');
  });

  it('reads at most 1024 published ports of a container', () => {
    const Ports = Array.from({ length: 5000 }, (_, i) => ({ PrivatePort: 1 + i, PublicPort: 20000 + i, Type: 'tcp' }));
    expect(parseContainerList(json([{ Id: ID, Ports }]))[0]?.ports).toHaveLength(1024);
  });

  it('an IPv6 address with a zone is not one the sidecar dials', () => {
    const [c] = parseContainerList(json([{ Id: ID, Ports: [{ IP: 'fe80::1%eth0', PrivatePort: 8000, PublicPort: 18023 }, { IP: '::1', PrivatePort: 8000, PublicPort: 18024 }] }]));
    expect(c?.ports.map((p) => p.PublicPort)).toEqual([18024]);
  });

  it('anything but a list of objects with ids is a bad answer', () => {
    for (const body of ['{"message":"x"}', '[1,2]', '[{"Names":[]}]', 'null', '<html>', '']) {
      expect(() => parseContainerList(Buffer.from(body))).toThrow(DockerBadAnswer);
    }
  });
});

describe('parseContainerFacts', () => {
  it('reads the host pid, entrypoint and command, and the network mode', () => {
    expect(parseContainerFacts(json({
      Id: ID, State: { Status: 'running', Pid: 4242 }, Config: { Entrypoint: ['vllm', 'serve'], Cmd: ['m', '--port', '8000'], Env: ['SECRET=1'] },
      HostConfig: { NetworkMode: 'host' },
    }))).toEqual({ pid: 4242, argv: ['vllm', 'serve', 'm', '--port', '8000'], networkMode: 'host' });
  });

  it('a stopped container has no pid; a string entrypoint is one word; missing parts are defaults', () => {
    expect(parseContainerFacts(json({ State: { Pid: 0 }, Config: { Entrypoint: '/entry.sh', Cmd: null } }))).toEqual({ pid: null, argv: ['/entry.sh'], networkMode: 'default' });
    expect(parseContainerFacts(json({ State: { Pid: -3 }, Config: 'x', HostConfig: [] }))).toEqual({ pid: null, argv: [], networkMode: 'default' });
    expect(parseContainerFacts(json({ State: { Pid: 1.5 } })).pid).toBeNull();
  });

  it('anything but an object is a bad answer', () => {
    expect(() => parseContainerFacts(Buffer.from('[]'))).toThrow(DockerBadAnswer);
    expect(() => parseContainerFacts(Buffer.from('{'))).toThrow(DockerBadAnswer);
  });
});

describe('the calls, on a unix socket', () => {
  let dir: string;
  const servers: Server[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'docker-api-'));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    rmSync(dir, { recursive: true, force: true });
  });

  async function serve(name: string, handler: Parameters<typeof createServer>[1]): Promise<string> {
    const path = join(dir, name);
    const s = createServer(handler);
    await new Promise<void>((r) => s.listen(path, r));
    servers.push(s);
    return path;
  }

  it('asks GET /containers/json and /containers/{id}/json, on one kept connection', async () => {
    const seen: Array<{ method: string; url: string; socket: unknown }> = [];
    const socket = await serve('ok.sock', (req, res) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', socket: req.socket });
      res.setHeader('content-type', 'application/json');
      res.end(req.url === '/containers/json' ? JSON.stringify([{ Id: ID }]) : JSON.stringify({ State: { Pid: 7 } }));
    });
    const [c] = await listContainers(socket, { timeoutMs: 2000 });
    expect(await inspectContainer(socket, c?.id ?? '', { timeoutMs: 2000 })).toEqual({ pid: 7, argv: [], networkMode: 'default' });
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(['GET /containers/json', `GET /containers/${ID}/json`]);
    expect(seen[0]?.socket).toBe(seen[1]?.socket);
  });

  it('a status other than 2xx is its status alone', async () => {
    const socket = await serve('404.sock', (_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"message":"No such container: secret"}');
    });
    const err = await inspectContainer(socket, ID, { timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DockerStatusError);
    expect((err as DockerStatusError).statusCode).toBe(404);
    const told = describeDockerFailure(err, socket, false);
    expect(told.message).toBe(`Docker API at ${socket}: bad answer, HTTP status 404`);
    expect(JSON.stringify([told, err, (err as Error).message])).not.toContain('secret');
  });

  it('an answer over the cap is refused before it is all read', async () => {
    const socket = await serve('huge.sock', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(64 * 1024 * 1024) });
      res.write('[');
    });
    const err = await listContainers(socket, { timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect(describeDockerFailure(err, socket, false)).toEqual({ kind: 'bad-answer', reason: 'too-large', message: `Docker API at ${socket}: bad answer, larger than the sidecar reads` });
  });

  it('an answer that drips past the deadline is a timeout, as is one cut short by the caller', async () => {
    const socket = await serve('drip.sock', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const t = setInterval(() => res.write(' '), 20);
      res.on('close', () => clearInterval(t));
    });
    const err = await listContainers(socket, { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: 'timeout' });
    expect(describeDockerFailure(err, socket, false)).toEqual({ kind: 'timeout', reason: 'timeout', message: `Docker API at ${socket}: no full answer in time` });
    const aborted = await listContainers(socket, { timeoutMs: 5000, signal: AbortSignal.timeout(100) }).catch((e: unknown) => e);
    expect(aborted).toMatchObject({ reason: 'timeout' });
    expect(describeDockerFailure(aborted, socket, false).kind).toBe('timeout');
  });

  it('a socket path with nothing there is named by its code', async () => {
    const missing = await listContainers(join(dir, 'absent.sock'), { timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(describeDockerFailure(missing, 'x', false).kind).toBe('missing');
  });

  it('an id that could leave its path segment is never sent', async () => {
    let asked = 0;
    const socket = await serve('never.sock', (_req, res) => {
      asked++;
      res.end('{}');
    });
    await expect(inspectContainer(socket, '../../secrets', { timeoutMs: 2000 })).rejects.toThrow('not a container id');
    expect(asked).toBe(0);
  });

  it('reads a chunked answer, as Podman sends inspect', async () => {
    const socket = await serve('chunked.sock', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const body = JSON.stringify({ State: { Pid: 4242 }, Config: { Cmd: ['vllm', 'serve', 'm'] }, HostConfig: { NetworkMode: 'host' } });
      // Several writes without a length: node frames each as a chunk.
      for (let i = 0; i < body.length; i += 7) res.write(body.slice(i, i + 7));
      res.end();
    });
    expect(await inspectContainer(socket, ID, { timeoutMs: 2000 })).toEqual({ pid: 4242, argv: ['vllm', 'serve', 'm'], networkMode: 'host' });
  });
});
