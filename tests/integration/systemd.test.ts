// deploy/systemd/: the unit as Debian's systemd reads it (systemd-analyze verify and security, offline,
// in a throw-away root where the unit's commands exist), the sandbox keeping what each source needs, and
// the environment file's variables run by the built sidecar. systemd is not PID 1 on this machine, so
// no transient unit is started here.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, freePort, ROOT, waitFor } from './harness.js';

const DIR = join(ROOT, 'deploy/systemd');
const UNIT = 'gpufleet-sidecar.service';

/** `[Section] Key=value` lines of a unit file, repeated keys in order (no line continuations used). */
function parseUnit(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = s[1]!;
      continue;
    }
    const eq = line.indexOf('=');
    const key = `${section}.${line.slice(0, eq)}`;
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

/** EnvironmentFile= lines that are set (KEY=VALUE), and the names of the commented examples. */
function parseEnvFile(text: string): { set: Record<string, string>; examples: string[] } {
  const set: Record<string, string> = {};
  const examples: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^(#?)(GPUFLEET_[A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    if (m[1]) examples.push(m[2]!);
    else set[m[2]!] = m[3]!;
  }
  return { set, examples };
}

const unitText = readFileSync(join(DIR, UNIT), 'utf8');
const unit = parseUnit(unitText);
const get = (key: string) => unit.get(key)?.at(-1);

describe('systemd unit', () => {
  let root: string;

  beforeAll(() => {
    // The unit's commands and systemd's own units inside a root of its own: verify checks both.
    root = mkdtempSync(join(tmpdir(), 'gpufleet-systemd-'));
    mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
    mkdirSync(join(root, 'usr/lib/systemd'), { recursive: true });
    cpSync('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true });
    cpSync(join(DIR, UNIT), join(root, 'etc/systemd/system', UNIT));
    for (const key of ['Service.ExecStart', 'Service.ExecReload']) {
      const exe = get(key)!.split(' ')[0]!;
      mkdirSync(join(root, exe, '..'), { recursive: true });
      writeFileSync(join(root, exe), '#!/bin/sh\n');
      chmodSync(join(root, exe), 0o755);
    }
  });

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('passes systemd-analyze verify without a single complaint', () => {
    const r = spawnSync('systemd-analyze', ['verify', `--root=${root}`, UNIT], { encoding: 'utf8' });
    expect({ status: r.status, output: `${r.stdout}${r.stderr}`.trim() }).toEqual({ status: 0, output: '' });
  });

  it('is sandboxed: systemd-analyze security rates its exposure OK (3.9 or less of 10)', () => {
    const out = execFileSync('systemd-analyze', ['security', '--offline=yes', `--root=${root}`, '--no-pager', UNIT], {
      encoding: 'utf8',
    });
    const m = /Overall exposure level for \S+: ([\d.]+)/.exec(out);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeLessThanOrEqual(3.9);
  });

  it('runs as the unprivileged user with exactly the capabilities of the xid and engines sources', () => {
    expect(get('Service.User')).toBe('gpufleet');
    const sysusers = readFileSync(join(DIR, 'gpufleet-sidecar.sysusers'), 'utf8');
    // The image's uid (sidecar/Dockerfile), so files and policies match in both.
    expect(sysusers).toMatch(/^u gpufleet 10001 /m);
    expect(readFileSync(join(ROOT, 'sidecar/Dockerfile'), 'utf8')).toMatch(/^USER 10001:10001$/m);
    const caps = (k: string) => get(k)!.split(/\s+/).sort();
    expect(caps('Service.AmbientCapabilities')).toEqual(['CAP_SYSLOG', 'CAP_SYS_PTRACE']);
    expect(caps('Service.CapabilityBoundingSet')).toEqual(['CAP_SYSLOG', 'CAP_SYS_PTRACE']);
    expect(get('Service.NoNewPrivileges')).toBe('yes');
  });

  it('leaves open what the sources need: /dev/kmsg, the NVIDIA devices, other users\' /proc, the JIT', () => {
    // ProtectKernelLogs=yes denies /dev/kmsg (xid); PrivateDevices / DevicePolicy / ProtectClock hide
    // /dev/nvidia* (gpu, vgpu); ProtectProc other than default or a pid-less ProcSubset hides the
    // engines' processes; PrivateUsers strips the capabilities' reach; Node's JIT needs W+X pages.
    for (const key of ['ProtectKernelLogs', 'PrivateDevices', 'DevicePolicy', 'DeviceAllow', 'ProtectClock', 'PrivateUsers', 'MemoryDenyWriteExecute', 'PrivateNetwork']) {
      expect({ key, value: get(`Service.${key}`) }).toEqual({ key, value: undefined });
    }
    expect(get('Service.ProtectProc') ?? 'default').toBe('default');
    expect(get('Service.ProcSubset') ?? 'all').toBe('all');
    expect(get('Service.RestrictAddressFamilies')!.split(' ')).toEqual(expect.arrayContaining(['AF_UNIX', 'AF_INET', 'AF_INET6']));
  });

  it('restarts on failure, but not after a configuration error (exit 2)', () => {
    expect(get('Service.Restart')).toBe('on-failure');
    expect(get('Service.RestartPreventExitStatus')).toBe('2');
    expect(get('Service.EnvironmentFile')).toBe('-/etc/default/gpufleet-sidecar');
  });
});

describe('systemd environment file', () => {
  const env = parseEnvFile(readFileSync(join(DIR, 'gpufleet-sidecar.env'), 'utf8'));

  it('names only variables the sidecar reads (as --help lists them)', () => {
    const help = execFileSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    const known = new Set(help.match(/GPUFLEET_[A-Z0-9_]+/g));
    const named = [...Object.keys(env.set), ...env.examples];
    expect(named.length).toBeGreaterThan(5);
    expect(named.filter((n) => !known.has(n))).toEqual([]);
  });

  it('starts the sidecar with its settings (on the simulated host, on a free loopback port)', async () => {
    const port = await freePort();
    const vars = { ...env.set, GPUFLEET_LISTEN: `127.0.0.1:${port}`, GPUFLEET_SIMULATE: 'demo', GPUFLEET_SIM_ENGINES: 'off' };
    const proc = startBackground(process.execPath, [CLI], vars);
    try {
      const body = await waitFor('the sidecar started from the environment file', async () => {
        const r = await fetch(`http://127.0.0.1:${port}/api/v1/health`);
        return r.status === 200 ? ((await r.json()) as any) : undefined;
      }, 60_000).catch((err) => {
        throw new Error(`${err.message}\n${proc.logs()}`);
      });
      // The file turns Docker discovery off: the docker source says so rather than failing on docker.sock.
      expect(body.sources.docker).toEqual({ status: 'disabled', error: expect.stringContaining('--docker-socket none') });
    } finally {
      await proc.stop();
    }
  });
});

function startBackground(cmd: string, args: string[], env: Record<string, string>) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return {
    logs: () => out,
    stop: () =>
      new Promise<void>((res) => {
        if (child.exitCode !== null) return res();
        child.once('exit', () => res());
        child.kill('SIGTERM');
      }),
  };
}
