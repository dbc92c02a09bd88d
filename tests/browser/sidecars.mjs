// Real sidecars for the browser tests and the bench: the built sidecar/dist/cli.js on the simulated
// `demo` host, with the simulator's control file (time pinned, faults on demand).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ROOT } from './server.mjs';

export const CLI = join(ROOT, 'sidecar/dist/cli.js');
/** Demo time pinned at t = 60 s: before the scheduled vGPU detach (t = 120) and MIG change (t = 300). */
export const PINNED = { t: 60 };

/**
 * Starts `node sidecar/dist/cli.js --simulate demo` on a free port and waits until its GPU source
 * works and, with `engines`, until the simulated vLLM engines are up, mapped to their GPUs and stable.
 * Returns {url, token, controlFile, control(value), get(path), stop()}.
 *
 * `engines: false` starts the simulator without its engines (GPUFLEET_SIM_ENGINES=off) and points the
 * engine scan at an empty procfs: the demo's engines listen on fixed ports (18001–18022), so only one
 * sidecar with engines can run on a machine, and a second one would otherwise find the first one's.
 * Docker discovery is always off (a container engine on the test machine is not the simulated host's).
 */
export async function startSidecar({
  token,
  scenario = 'demo',
  interval = '1s',
  control = PINNED,
  engines = true,
} = {}) {
  if (!existsSync(CLI)) {
    throw new Error(`${CLI} is missing: build the sidecar first (npm run build -w sidecar)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'gpufleet-browser-'));
  const controlFile = join(dir, 'control.json');
  const writeControl = (value) => {
    writeFileSync(`${controlFile}.tmp`, JSON.stringify(value));
    renameSync(`${controlFile}.tmp`, controlFile);
  };
  writeControl(control);
  const args = [
    CLI,
    '--simulate',
    scenario,
    '--listen',
    '127.0.0.1:0',
    '--interval',
    interval,
    '--docker-socket',
    'none',
  ];
  const env = { ...process.env, GPUFLEET_SIM_CONTROL: controlFile };
  if (!engines) {
    mkdirSync(join(dir, 'proc'));
    args.push('--proc', join(dir, 'proc'));
    env.GPUFLEET_SIM_ENGINES = 'off';
  }
  if (token) {
    writeFileSync(join(dir, 'token'), `${token}\n`);
    args.push('--token-file', join(dir, 'token'));
  }
  const proc = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (d) => (log += d));
  proc.stderr.on('data', (d) => (log += d));
  const url = await new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`the sidecar did not start:\n${log}`)), 60_000);
    const check = () => {
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        res(m[1]);
      }
    };
    proc.stdout.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`the sidecar exited with ${code}:\n${log}`));
    });
  });
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const getJson = (path) =>
    fetch(`${url}${path}`, { headers }).then(
      (r) => r.json(),
      () => undefined
    );
  const deadline = Date.now() + 60_000;
  let stableSince = 0;
  let lastCount = -1;
  for (;;) {
    const h = await getJson('/api/v1/health');
    let ready = Boolean(h?.lastCollectedAt && h.sources?.gpu?.status === 'ok');
    if (ready && engines) {
      // Every engine up, mapped to its GPUs and with load, and the same number for two seconds.
      const list = (await getJson('/api/v1/engines'))?.engines ?? [];
      const up =
        list.length > 0 &&
        list.every((e) => e.health === 'up' && e.gpuMapping?.status === 'resolved' && e.load?.running !== null);
      if (!up || list.length !== lastCount) {
        stableSince = Date.now();
      }
      lastCount = up ? list.length : -1;
      ready = up && Date.now() - stableSince >= 2000;
    }
    if (ready) {
      break;
    }
    if (Date.now() > deadline) {
      proc.kill('SIGTERM');
      throw new Error(
        `the sidecar was not ready within 60 s (GPU source${engines ? ', engines' : ''}):\n${log.slice(-2000)}`
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    token,
    controlFile,
    pid: proc.pid,
    logs: () => log,
    control: writeControl,
    /** GET a sidecar route directly (with the token), as the tests' source of truth. */
    get: async (path) => (await fetch(`${url}${path}`, { headers })).json(),
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
