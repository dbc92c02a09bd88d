// VictoriaMetrics single-node and vmalert (Debian's victoria-metrics package) on free loopback ports,
// started with the flags files of prometheus/scale-out/ and the test's own addresses.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { freePort, waitFor } from './harness.js';
import { stopProcess } from './prom.js';

export interface Daemon {
  url: string;
  logs: () => string;
  stop: () => Promise<void>;
}

/** A flags file: one `-name=value` per line, `#` comments. */
export function readFlags(file: string): Array<[string, string]> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const m = /^-([\w.]+)=(.*)$/.exec(l);
      if (!m) throw new Error(`${file}: not a -name=value flag: ${l}`);
      return [m[1] as string, m[2] as string];
    });
}

/**
 * The file's flags with `override` replacing every value of a name it has (added when the file lacks it),
 * and relative -rule paths resolved against `root`.
 */
export function flagArgs(flags: Array<[string, string]>, override: Record<string, string>, root: string): string[] {
  const out = flags
    .filter(([name]) => !(name in override))
    .map(([name, value]) => `-${name}=${name === 'rule' && !isAbsolute(value) ? join(root, value) : value}`);
  for (const [name, value] of Object.entries(override)) out.push(`-${name}=${value}`);
  return out;
}

async function startDaemon(bin: string, args: string[], url: string, dir: string | null): Promise<Daemon> {
  let log = '';
  const proc: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout?.on('data', (d) => (log += d));
  proc.stderr?.on('data', (d) => (log += d));
  const stop = async () => {
    await stopProcess(proc);
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(`${bin} ready`, async () => {
      if (proc.exitCode !== null) throw new Error(`${bin} exited with ${proc.exitCode}`);
      return (await fetch(`${url}/health`)).ok ? true : undefined;
    }, 30_000);
  } catch (err) {
    await stop();
    throw new Error(`${String(err)}\n${log}`);
  }
  return { url, logs: () => log, stop };
}

/** VictoriaMetrics with the flags of `flagsFile`, its data in a fresh temp dir (removed by stop). */
export async function startVictoriaMetrics(flagsFile: string, override: Record<string, string> = {}): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), 'gpufleet-vm-'));
  const port = await freePort();
  const args = flagArgs(readFlags(flagsFile), { storageDataPath: dir, httpListenAddr: `127.0.0.1:${port}`, ...override }, dir);
  return startDaemon('victoria-metrics', args, `http://127.0.0.1:${port}`, dir);
}

/** vmalert with the flags of `flagsFile` (rule paths from `root`), on a free port. */
export async function startVmalert(flagsFile: string, root: string, override: Record<string, string>): Promise<Daemon> {
  const port = await freePort();
  const args = flagArgs(readFlags(flagsFile), { httpListenAddr: `127.0.0.1:${port}`, ...override }, root);
  return startDaemon('vmalert', args, `http://127.0.0.1:${port}`, null);
}
