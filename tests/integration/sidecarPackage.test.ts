// The sidecar's npm package as an operator gets it: `npm pack -w sidecar` (what `npm run package:sidecar`
// runs), installed by npm into an empty prefix, and its bins run from there: --version, and the simulated
// demo host answering /healthz. Needs the built sidecar (sidecar/dist) and npm's registry or cache.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, ROOT, waitFor } from './harness.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'sidecar/package.json'), 'utf8'));
const bins: Record<string, string> = pkg.bin;

interface PackResult {
  filename: string;
  files: Array<{ path: string }>;
}

describe('the sidecar npm package', () => {
  let dir: string;
  let packed: PackResult;
  let prefix: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gpufleet-pkg-'));
    const out = execFileSync('npm', ['pack', '-w', 'sidecar', '--pack-destination', dir, '--json', '--silent'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    [packed] = JSON.parse(out) as PackResult[];
    prefix = join(dir, 'prefix');
    // --ignore-scripts, as the README installs it: no dependency of the sidecar needs an install script.
    execFileSync(
      'npm',
      ['install', '--prefix', prefix, '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', join(dir, packed.filename)],
      { cwd: dir, encoding: 'utf8', stdio: 'pipe' }
    );
  }, 180_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is named and versioned like the plugin archive and ships the built code, not sources, tests or fixtures', () => {
    const rootVersion = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
    expect(packed.filename).toBe(`gpufleet-sidecar-${rootVersion}.tgz`);
    const paths = packed.files.map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE', ...Object.values(bins)]));
    // The simulator's scenarios ship: --simulate works from the package.
    expect(paths.some((p) => p.startsWith('dist/sim/scenarios/'))).toBe(true);
    const junk = paths.filter((p) => !p.startsWith('dist/') && !['package.json', 'README.md', 'LICENSE'].includes(p));
    expect(junk).toEqual([]);
    expect(paths.filter((p) => /\.test\.|fixtures|^dist\/(bench|testing)\//.test(p))).toEqual([]);
  });

  it('installs every bin of package.json into the prefix', () => {
    expect(Object.keys(bins)).toContain('gpufleet-sidecar');
    for (const name of Object.keys(bins)) {
      const bin = join(prefix, 'node_modules/.bin', name);
      expect({ name, installed: existsSync(bin) }).toEqual({ name, installed: true });
      expect(readFileSync(bin, 'utf8')).toMatch(/^#!\/usr\/bin\/env (-S )?node[ \n]/);
    }
    // The sidecar's own line also carries its V8 flags: started as a command, it runs as the image does.
    const shebang = readFileSync(join(prefix, 'node_modules/.bin/gpufleet-sidecar'), 'utf8').split('\n')[0];
    expect(shebang).toBe('#!/usr/bin/env -S node --max-semi-space-size=1 --single-threaded-gc --no-allocation-site-pretenuring --optimize-for-size --v8-pool-size=1');
  });

  it('installs nothing that runs an install script (the README says --ignore-scripts loses nothing)', () => {
    const lock = JSON.parse(readFileSync(join(prefix, 'package-lock.json'), 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean }> };
    const installed = Object.keys(lock.packages).filter((p) => p.startsWith('node_modules/'));
    expect(installed.length).toBeGreaterThan(10);
    expect(installed.filter((p) => lock.packages[p]?.hasInstallScript)).toEqual([]);
  });

  it('gpufleet-sidecar --version prints the package version', () => {
    const out = execFileSync(join(prefix, 'node_modules/.bin/gpufleet-sidecar'), ['--version'], { encoding: 'utf8' });
    expect(out.trim()).toBe(pkg.version);
  });

  it('runs the simulated demo host from the installed package: /healthz answers and the GPUs are there', async () => {
    const port = await freePort();
    const proc = spawn(
      join(prefix, 'node_modules/.bin/gpufleet-sidecar'),
      ['--simulate', 'demo', '--listen', `127.0.0.1:${port}`, '--interval', '1s', '--docker-socket', 'none'],
      // No simulated engines: they listen on fixed ports another test's demo host may hold.
      { cwd: dir, env: { ...process.env, GPUFLEET_SIM_ENGINES: 'off' }, stdio: ['ignore', 'pipe', 'pipe'] }
    );
    let logs = '';
    proc.stdout.on('data', (d) => (logs += d));
    proc.stderr.on('data', (d) => (logs += d));
    try {
      const base = `http://127.0.0.1:${port}`;
      const health = await waitFor(
        'the installed sidecar to answer /healthz',
        async () => (await fetch(`${base}/healthz`)).status === 200 || undefined,
        60_000
      ).catch((err) => {
        throw new Error(`${err.message}\n${logs}`);
      });
      expect(health).toBe(true);
      const gpus = await waitFor('the first GPU reading', async () => {
        const body = (await (await fetch(`${base}/api/v1/gpus`)).json()) as { gpus: unknown[] };
        return body.gpus.length > 0 ? body.gpus : undefined;
      });
      expect(gpus.length).toBe(8);
    } finally {
      await new Promise<void>((res) => {
        if (proc.exitCode !== null) return res();
        proc.once('exit', () => res());
        proc.kill('SIGTERM');
      });
    }
  });
});
