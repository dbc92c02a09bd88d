// What a release weighs: the plugin archive, the sidecar's npm package, and the container image when one
// was built on this machine (`docker build` / `podman build`; base images need a registry).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MB = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/** The image's size as the first container engine here that has it reports, or null. */
function imageSize(tag: string): number | null {
  for (const engine of ['podman', 'docker']) {
    const r = spawnSync(engine, ['image', 'inspect', '--format', '{{.Size}}', tag], { encoding: 'utf8' });
    if (r.status === 0 && /^\d+$/.test(r.stdout.trim())) return Number(r.stdout.trim());
  }
  return null;
}

export function packagingBench(line: (label: string, value: string, target?: string) => void): void {
  const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
  console.log(`\n20. release ${version}: what each install path downloads`);
  const dir = mkdtempSync(join(tmpdir(), 'gpufleet-bench-release-'));
  try {
    if (existsSync(join(ROOT, 'dist/plugin.json'))) {
      execFileSync(process.execPath, [join(ROOT, 'scripts/package-plugin.mjs'), '--out-dir', dir], { stdio: 'ignore' });
      line('plugin archive (zip)', MB(statSync(join(dir, `gpufleet-observability-app-${version}.zip`)).size), '< 1 MB');
    } else {
      line('plugin archive (zip)', 'no dist/', 'npm run build');
    }
    const [pack] = JSON.parse(
      execFileSync('npm', ['pack', '-w', 'sidecar', '--dry-run', '--json', '--silent'], { cwd: ROOT, encoding: 'utf8' })
    ) as Array<{ size: number; unpackedSize: number; entryCount: number }>;
    line('sidecar npm package (tgz)', MB(pack!.size), '< 1 MB');
    line(`sidecar npm package unpacked (${pack!.entryCount} files)`, MB(pack!.unpackedSize));
    const tag = `gpufleet-sidecar:${version}`;
    const size = imageSize(tag);
    line(`image ${tag}`, size === null ? 'not built here' : MB(size), '< 250 MB');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
