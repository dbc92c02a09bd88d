// Container discovery against a real Docker-compatible engine: Podman's API service on a unix
// socket (see shared recipe podman-docker-api.md), real containers under an image named like vLLM's,
// one with a published port (slirp4netns) and one on host networking. The sidecar finds both through
// its own Docker API client, reaches them on the right port, and maps them to their GPU through the container
// process's CUDA_VISIBLE_DEVICES, read from the host's /proc.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, ROOT, json, startSidecar, waitFor, type Running } from './harness.js';

const IMAGE = 'localhost/vllm/vllm-openai:v0.10.1';


describe('engines in containers (Podman)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpufleet-podman-'));
  const socket = join(dir, 'docker.sock');
  const env = { ...process.env, CONTAINERS_CONF: join(dir, 'containers.conf') };
  const names = [`gpufleet-it-pub-${process.pid}`, `gpufleet-it-host-${process.pid}`];
  const podman = (...args: string[]) => execFileSync('podman', args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  let service: ChildProcess;
  let sidecar: Running;
  let pubPort: number;
  let hostPort: number;

  beforeAll(async () => {
    // Settings that work on our machines: runc, cgroupfs, limits within the hard limit.
    writeFileSync(
      join(dir, 'containers.conf'),
      '[containers]\ndefault_ulimits = ["nofile=16384:16384","nproc=16384:16384"]\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n',
    );
    try {
      podman('image', 'exists', IMAGE);
    } catch {
      // No registry here: a root filesystem whose bin/lib point into the host's /usr, mounted read-only.
      const rfs = join(dir, 'rfs');
      for (const d of ['usr', 'etc', 'tmp', 'proc', 'sys', 'dev', 'app', 'fixtures']) mkdirSync(join(rfs, d), { recursive: true });
      for (const l of ['bin', 'lib', 'lib64', 'sbin']) symlinkSync(`usr/${l}`, join(rfs, l));
      execFileSync('tar', ['-C', rfs, '-cf', join(dir, 'rfs.tar'), '.']);
      podman('import', join(dir, 'rfs.tar'), IMAGE);
    }
    service = spawn('podman', ['system', 'service', '--time=0', `unix://${socket}`], { env, stdio: 'ignore' });
    await waitFor('podman API socket', async () => (existsSync(socket) ? true : undefined), 20_000);

    pubPort = await freePort();
    hostPort = await freePort();
    const mounts = ['-v', '/usr:/usr:ro', '-v', `${join(ROOT, 'tests/integration/containers')}:/app:ro`, '-v', `${join(ROOT, 'tests/fixtures/vllm')}:/fixtures:ro`];
    podman('run', '-d', '--name', names[0] as string, '--network', 'slirp4netns', '-p', `127.0.0.1:${pubPort}:8000`, ...mounts,
      '-e', 'CUDA_VISIBLE_DEVICES=3', IMAGE, 'node', '/app/tinyVllm.mjs', 'vllm', 'serve', 'org/published-model', '--port', '8000');
    podman('run', '-d', '--name', names[1] as string, '--network', 'host', ...mounts,
      '-e', 'CUDA_VISIBLE_DEVICES=5', IMAGE, 'node', '/app/tinyVllm.mjs', 'vllm', 'serve', 'org/host-model', '--port', String(hostPort));
    sidecar = await startSidecar(['--simulate', 'demo', '--interval', '1s', '--docker-socket', socket]);
  }, 120_000);

  afterAll(async () => {
    await sidecar?.stop();
    try {
      podman('rm', '-f', '-t', '0', ...names);
    } catch {
      // already gone
    }
    service?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  const dockerEngines = async () => {
    const r = await json(`${sidecar.base}/api/v1/engines`);
    return (r.body.engines ?? []).filter((e: any) => e.deployment === 'docker');
  };

  it('finds both containers, each at the port it can be reached on, and reads their model', async () => {
    const engines = await waitFor('two container engines up', async () => {
      const e = await dockerEngines();
      return e.length === 2 && e.every((x: any) => x.health === 'up' && x.servedModels.length && x.gpuMapping.status === 'resolved') ? e : undefined;
    }, 30_000);
    const pub = engines.find((e: any) => e.container === names[0]);
    const host = engines.find((e: any) => e.container === names[1]);
    expect(pub).toMatchObject({ endpoint: `http://127.0.0.1:${pubPort}`, discoveredBy: 'docker', model: 'org/published-model', version: '0.10.1' });
    expect(host).toMatchObject({ endpoint: `http://127.0.0.1:${hostPort}`, discoveredBy: 'docker', model: 'org/host-model' });
    expect(pub.load.running).not.toBeNull();
    const health = (await json(`${sidecar.base}/api/v1/health`)).body;
    expect(health.sources.docker.status).toBe('ok');
  });

  it("maps each container's engine to the GPU its CUDA_VISIBLE_DEVICES names", async () => {
    const gpus = (await json(`${sidecar.base}/api/v1/gpus`)).body.gpus;
    const byIndex = (i: number) => gpus.find((g: any) => g.index === i).uuid;
    const engines = await dockerEngines();
    const pub = engines.find((e: any) => e.container === names[0]);
    const host = engines.find((e: any) => e.container === names[1]);
    expect(pub.workers[0].gpuUuids).toEqual([byIndex(3)]);
    expect(host.workers[0].gpuUuids).toEqual([byIndex(5)]);
    expect(pub.gpuMapping.status).toBe('resolved');
  });

  it('lists the containers as Prometheus SD targets', async () => {
    const sd = (await json(`${sidecar.base}/api/v1/sd/engines`)).body;
    const targets = sd.flatMap((g: any) => g.targets);
    expect(targets).toEqual(expect.arrayContaining([`127.0.0.1:${pubPort}`, `127.0.0.1:${hostPort}`]));
    const pub = sd.find((g: any) => g.targets[0] === `127.0.0.1:${pubPort}`);
    expect(pub.labels).toMatchObject({ model: 'org/published-model', deployment: 'docker' });
  });

  it('reports a stopped container as down', async () => {
    podman('stop', '-t', '0', names[1] as string);
    await waitFor('host-network engine gone or down', async () => {
      const e = (await dockerEngines()).find((x: any) => x.container === names[1]);
      return !e || e.health === 'down' ? true : undefined;
    }, 20_000);
  });
});
