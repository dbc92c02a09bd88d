// The Docker source's errors say what was wrong, never what was said: whatever answers on the socket
// is untrusted, so its body must reach no API or log, whatever an error's message holds.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerBadAnswer, describeDockerFailure } from './dockerError.js';
import { EngineCollector } from './engineCollector.js';

const SECRET = 'internal-token-7f3a';
let dir: string;
const servers: Server[] = [];

/** An HTTP server on a unix socket that answers every request with `status` and `body`. */
async function socketAnswering(name: string, status: number, body: string): Promise<string> {
  const path = join(dir, name);
  const s = createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body);
  });
  await new Promise<void>((r) => s.listen(path, r));
  servers.push(s);
  return path;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'docker-err-'));
  writeFileSync(join(dir, 'uptime'), '5000.00 9000.00\n');
});

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  rmSync(dir, { recursive: true, force: true });
});

/** The Docker source's error as /api/v1/health shows it, after one engine collection. */
async function dockerSourceError(socket: string) {
  const c = new EngineCollector({
    procPath: dir, dockerSocket: socket, engineUrls: [], hostname: 'h',
    intervalMs: 1000, busyThreshold: 0.9, timeoutMs: 2000, graceMs: 60_000, windowMs: 60_000,
  });
  const r = await c.collect([], undefined, { budgetMs: 2000 });
  return r.docker?.error;
}

describe('Docker API failures, as the health route shows them', () => {
  it('an error status: the status is told, the body the socket sent is not', async () => {
    const socket = await socketAnswering('500.sock', 500, JSON.stringify({ message: `secret ${SECRET} at http://10.0.0.1/admin` }));
    const err = await dockerSourceError(socket);
    expect(err?.message).toBe(`Docker API at ${socket}: bad answer, HTTP status 500`);
    expect(err?.reason).toBe('http');
    expect(JSON.stringify(err)).not.toContain(SECRET);
  });

  it('a 200 whose body is not a container list is a bad answer, not an empty host', async () => {
    const socket = await socketAnswering('junk.sock', 200, JSON.stringify({ message: SECRET }));
    const err = await dockerSourceError(socket);
    expect(err?.message).toBe(`Docker API at ${socket}: bad answer, the container list is not a JSON array of containers`);
    expect(err?.reason).toBe('parse');
    const text = await dockerSourceError(await socketAnswering('text.sock', 200, `<html>${SECRET}</html>`));
    expect(text?.message).toMatch(/bad answer/);
    expect(text?.message).not.toContain(SECRET);
  });

  it('a socket path with nothing there', async () => {
    const socket = join(dir, 'absent.sock');
    expect((await dockerSourceError(socket))?.message).toBe(`Docker API at ${socket}: no socket at that path`);
  });

  it('an answer that is a list of containers is no error', async () => {
    const socket = await socketAnswering('ok.sock', 200, '[]');
    expect(await dockerSourceError(socket)).toBeUndefined();
  });
});

describe('describeDockerFailure', () => {
  const at = 'Docker API at /run/docker.sock';
  const coded = (code: string, message = `connect ${code} ${SECRET}`) => Object.assign(new Error(message), { code });

  it('names each connection failure by its code alone', () => {
    expect(describeDockerFailure(coded('ECONNREFUSED'), '/run/docker.sock', false)).toEqual({
      kind: 'refused', reason: 'http', message: `${at}: connection refused (is the Docker or Podman service running?)`,
    });
    expect(describeDockerFailure(coded('EACCES'), '/run/docker.sock', false).message).toBe(`${at}: permission denied (the sidecar's user cannot open the socket)`);
    expect(describeDockerFailure(coded('ETIMEDOUT'), '/run/docker.sock', false)).toMatchObject({ kind: 'timeout', reason: 'timeout' });
    expect(describeDockerFailure(coded('ECONNRESET'), '/run/docker.sock', false).kind).toBe('closed');
  });

  it('the tick deadline is a timeout whatever the abort surfaced as', () => {
    expect(describeDockerFailure(coded('ECONNRESET'), '/run/docker.sock', true, 750)).toEqual({
      kind: 'timeout', reason: 'timeout', message: `${at}: no full answer within 750 ms (aborted)`,
    });
  });

  it('an HTTP status is told only when it is one', () => {
    const withStatus = (statusCode: unknown) => Object.assign(new Error(`(HTTP code 403) ${SECRET}`), { statusCode, json: { message: SECRET } });
    expect(describeDockerFailure(withStatus(403), '/run/docker.sock', false).message).toBe(`${at}: bad answer, HTTP status 403`);
    expect(describeDockerFailure(withStatus('403; rm -rf'), '/run/docker.sock', false).kind).toBe('bad-answer');
    expect(describeDockerFailure(withStatus(70000), '/run/docker.sock', false).kind).toBe('bad-answer');
  });

  it('never repeats a message it was given', () => {
    for (const err of [coded('EWHATEVER'), new TypeError(`containers is not iterable ${SECRET}`), SECRET, null, new DockerBadAnswer('the container list is not a JSON array of containers')]) {
      expect(describeDockerFailure(err, '/run/docker.sock', false).message).not.toContain(SECRET);
    }
  });
});
