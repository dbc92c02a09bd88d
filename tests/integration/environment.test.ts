// The environment cannot crash the sidecar: run the real built sidecar under a low `ulimit -n` and use
// up its file descriptors (connections it accepts and that send nothing); nvidia-smi then cannot be
// started (EMFILE). The process stays up, the GPU source reports a spawn error, and it recovers once
// the descriptors are free again.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { CLI, json, waitFor } from './harness.js';

describe('out of file descriptors (EMFILE)', () => {
  let proc: ChildProcess;
  let out = '';
  let base = '';

  beforeAll(async () => {
    // Low enough to run out with a few hundred connections; node needs ~150 to load the sidecar at all.
    proc = spawn('bash', ['-c', 'ulimit -n 200; exec "$0" "$@"', process.execPath, CLI, '--listen', '127.0.0.1:0',
      '--simulate', 'small', '--interval', '500ms', '--nvidia-smi-mode', 'spawn', '--docker-socket', 'none'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout?.on('data', (d) => (out += d));
    proc.stderr?.on('data', (d) => (out += d));
    base = await waitFor('the sidecar listening', async () => /listening on (http:\/\/[\d.]+:\d+)/.exec(out)?.[1], 60_000);
    await waitFor('the GPU source ok', async () => (await json(`${base}/api/v1/health`)).body.sources.gpu.status === 'ok', 90_000);
  }, 200_000);

  afterAll(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
  });

  it('stays up, reports the spawn failure on the GPU source, and recovers when descriptors are free', async () => {
    const port = Number(new URL(base).port);
    const sockets: Socket[] = [];
    for (let i = 0; i < 400; i++) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      sockets.push(s);
    }
    // Several GPU ticks with every descriptor taken.
    await new Promise((r) => setTimeout(r, 8000));
    for (const s of sockets) s.destroy();

    expect(proc.exitCode).toBeNull();
    await waitFor('the GPU source ok again', async () => (await json(`${base}/api/v1/health`)).body.sources.gpu.status === 'ok', 90_000);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^gpufleet_collector_errors_total\{[^}]*collector="gpu"[^}]*reason="spawn"[^}]*\} [1-9]/m);
    expect(out).toMatch(/could not start: EMFILE \(out of file descriptors/);
    expect(out).not.toMatch(/uncaught exception|unhandled promise rejection/);
    expect(proc.exitCode).toBeNull();
  }, 150_000);
});
