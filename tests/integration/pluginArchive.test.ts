// The plugin archive (`npm run package`'s packing step over the built dist/) as Grafana's installer
// takes it, unpacked by Debian's unzip; and the one version that the plugin, the sidecar, the image, the
// manifests and the changelog carry. Needs the built plugin (npm run build).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from './harness.js';

const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
const APP_ID = JSON.parse(readFileSync(join(ROOT, 'plugin.json'), 'utf8')).id as string;

function tree(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? tree(join(dir, e.name)).map((f) => `${e.name}/${f}`) : [e.name]))
    .sort();
}

function pack(outDir: string): string {
  execFileSync(process.execPath, [join(ROOT, 'scripts/package-plugin.mjs'), '--out-dir', outDir], { stdio: 'pipe' });
  return join(outDir, `${APP_ID}-${VERSION}.zip`);
}

describe('plugin archive', () => {
  let dir: string;
  let zip: string;
  let plugins: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gpufleet-zip-'));
    zip = pack(join(dir, 'release'));
    plugins = join(dir, 'plugins');
    mkdirSync(plugins);
    execFileSync('unzip', ['-q', zip, '-d', plugins]);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is named <plugin id>-<version>.zip and unpacks into one folder named by the plugin id', () => {
    expect(readdirSync(join(dir, 'release')).sort()).toEqual([`${APP_ID}-${VERSION}.zip`, `${APP_ID}-${VERSION}.zip.sha256`]);
    expect(readdirSync(plugins)).toEqual([APP_ID]);
    // Nothing outside that folder, no absolute or parent paths (Grafana's installer refuses them).
    const names = execFileSync('unzip', ['-Z1', zip], { encoding: 'utf8' }).trim().split('\n');
    expect(names.filter((n) => !n.startsWith(`${APP_ID}/`) || n.includes('..'))).toEqual([]);
  });

  it('holds the app, the nested data source and panel, README, LICENSE and CHANGELOG: dist/ as built', () => {
    const folder = join(plugins, APP_ID);
    const files = tree(folder);
    expect(files).toEqual(
      expect.arrayContaining([
        'plugin.json',
        'module.js',
        'datasource/plugin.json',
        'datasource/module.js',
        'panels/topology/plugin.json',
        'panels/topology/module.js',
        'README.md',
        'LICENSE',
        'CHANGELOG.md',
      ])
    );
    // Byte for byte what the build put in dist/, and nothing else.
    expect(files).toEqual(tree(join(ROOT, 'dist')));
    for (const f of files) {
      expect({ f, same: readFileSync(join(folder, f)).equals(readFileSync(join(ROOT, 'dist', f))) }).toEqual({ f, same: true });
    }
    // Readable by whatever user Grafana runs as.
    expect(statSync(join(folder, 'module.js')).mode & 0o444).toBe(0o444);
    expect(JSON.parse(readFileSync(join(folder, 'plugin.json'), 'utf8')).id).toBe(APP_ID);
  });

  it('has its SHA-256 beside it in sha256sum format, and the same dist/ gives the same bytes', () => {
    const line = readFileSync(`${zip}.sha256`, 'utf8');
    const hash = createHash('sha256').update(readFileSync(zip)).digest('hex');
    expect(line).toBe(`${hash}  ${APP_ID}-${VERSION}.zip\n`);
    execFileSync('sha256sum', ['-c', `${APP_ID}-${VERSION}.zip.sha256`], { cwd: join(dir, 'release'), stdio: 'pipe' });
    const again = pack(join(dir, 'again'));
    expect(readFileSync(again).equals(readFileSync(zip))).toBe(true);
  });

  it('refuses a dist/ that is not a complete build of this version', () => {
    const partial = join(dir, 'partial');
    mkdirSync(partial);
    const r = (() => {
      try {
        execFileSync(process.execPath, [join(ROOT, 'scripts/package-plugin.mjs'), '--dist', partial, '--out-dir', join(dir, 'x')], { stdio: 'pipe' });
        return { status: 0, stderr: '' };
      } catch (err: any) {
        return { status: err.status, stderr: String(err.stderr) };
      }
    })();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('lacks plugin.json, module.js');
  });
});

describe('one version for every part', () => {
  it('the plugin, the sidecar, the image, the manifests and the changelog carry the same version', () => {
    const sidecar = JSON.parse(readFileSync(join(ROOT, 'sidecar/package.json'), 'utf8')).version;
    const built = JSON.parse(readFileSync(join(ROOT, 'dist/plugin.json'), 'utf8')).info.version;
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
    const changelog = /^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$/m.exec(readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8'))?.[1];
    const dockerfile = /^ARG VERSION=(\S+)$/m.exec(readFileSync(join(ROOT, 'sidecar/Dockerfile'), 'utf8'))?.[1];
    const kustomize = parse(readFileSync(join(ROOT, 'deploy/kubernetes/kustomization.yaml'), 'utf8')).images[0].newTag;
    expect({
      sidecar,
      built,
      lockRoot: lock.packages[''].version,
      lockSidecar: lock.packages.sidecar.version,
      changelog,
      dockerfile,
      kustomize,
    }).toEqual({
      sidecar: VERSION,
      built: VERSION,
      lockRoot: VERSION,
      lockSidecar: VERSION,
      changelog: VERSION,
      dockerfile: VERSION,
      kustomize: VERSION,
    });
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
  });
});
