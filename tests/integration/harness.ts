// Starts the built sidecar as a real process (as an operator would) and talks to it over HTTP.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(process.cwd());
export const CLI = join(ROOT, 'sidecar/dist/cli.js');
export const FAKE = join(ROOT, 'sidecar/dist/sim/fakeNvidiaSmi.js');

export interface Running {
  base: string;
  proc: ChildProcess;
  logs: () => string;
  /** Live fault injection for the fake nvidia-smi (see sidecar/src/sim/README.md). */
  control: (value: Record<string, unknown>) => void;
  stop: () => Promise<number | null>;
}

/** `wrap`: a command the sidecar runs under (e.g. `unshare --pid …` for a process table of its own). */
export async function startSidecar(args: string[], env: Record<string, string> = {}, wrap: string[] = []): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'gpufleet-it-'));
  const controlFile = join(dir, 'control.json');
  writeFileSync(controlFile, '{}');
  const argv = [process.execPath, CLI, '--listen', '127.0.0.1:0', ...args];
  const [cmd, ...rest] = [...wrap, ...argv] as [string, ...string[]];
  const proc = spawn(cmd, rest, {
    env: { ...process.env, GPUFLEET_SIM_CONTROL: controlFile, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d) => (out += d));
  proc.stderr?.on('data', (d) => (out += d));
  // A sidecar that never starts (a test of a refused start, or a failure) leaves no folder behind.
  const started = new Promise<string>((res, rej) => {
    // Generous: on a crowded machine (several simulated hosts, a Prometheus) starting one took 2 minutes.
    const timer = setTimeout(() => {
      proc.kill('SIGTERM'); // not left running behind a failed test
      rej(new Error(`sidecar did not start:\n${out}`));
    }, 180_000);
    const check = () => {
      const m = /listening on (https?:\/\/[\d.]+:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m[1] as string);
      }
    };
    proc.stdout?.on('data', check);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`sidecar exited with ${code}:\n${out}`));
    });
  });
  const base = await started.catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  return {
    base,
    proc,
    logs: () => out,
    // Written whole and renamed, so the fake never reads half a file.
    control: (value) => {
      writeFileSync(`${controlFile}.tmp`, JSON.stringify(value));
      renameSync(`${controlFile}.tmp`, controlFile);
    },
    stop: () =>
      new Promise<number | null>((res) => {
        if (proc.exitCode !== null) return res(proc.exitCode);
        proc.once('exit', (code) => res(code));
        proc.kill('SIGTERM');
      }).finally(() => rmSync(dir, { recursive: true, force: true })),
  };
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

export async function json(url: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const r = await fetch(url, init);
  return { status: r.status, body: await r.json() };
}

/** A TCP port free on loopback now (the OS picks it; closed again before returning). */
export function freePort(): Promise<number> {
  return new Promise((res) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
  });
}

export interface FleetSim {
  base: string;
  stop: () => Promise<void>;
}

/** `gpufleet-sidecar fleet-sim --hosts N …` on a free loopback port, once it says it listens. */
export async function startFleetSim(args: string[]): Promise<FleetSim> {
  const port = await freePort();
  const proc = spawn(process.execPath, [CLI, 'fleet-sim', ...args, '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.on('data', (d) => (out += d));
  proc.stderr?.on('data', (d) => (out += d));
  const stop = () =>
    new Promise<void>((res) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return res();
      proc.once('exit', () => res());
      proc.kill('SIGTERM');
    });
  try {
    await waitFor('fleet-sim listening', async () => (/listening on/.test(out) ? true : undefined), 60_000);
  } catch (err) {
    await stop();
    throw new Error(`${String(err)}\n${out}`);
  }
  return { base: `http://127.0.0.1:${port}`, stop };
}
