// Leaves in node_modules/ only what the sidecar needs at run time: its dependencies (and optional and
// required peer dependencies), transitively, resolved the way Node resolves them. The image's build
// stage runs it after the build; `npm prune --omit=dev` keeps a workspace's dev dependencies when they
// are hoisted to the root (typescript, eslint and babel stayed: 85 MB instead of about 40).
//   node sidecar/scripts/prune-production.mjs <root with node_modules/> <package.json whose deps to keep>
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const root = resolve(process.argv[2] ?? '.');
const manifest = resolve(process.argv[3] ?? 'sidecar/package.json');

const readJson = (f) => JSON.parse(readFileSync(f, 'utf8'));
const runtimeDeps = (pkg) => {
  const optionalPeers = new Set(Object.entries(pkg.peerDependenciesMeta ?? {}).filter(([, m]) => m.optional).map(([n]) => n));
  const peers = Object.keys(pkg.peerDependencies ?? {}).filter((n) => !optionalPeers.has(n));
  return [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {}), ...peers];
};

/** The folder Node would load `name` from when required in `from`, or null. */
function resolveFrom(from, name) {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === root || dir === dirname(dir)) return null;
  }
}

const keep = new Set();
const queue = [[dirname(manifest), readJson(manifest)]];
while (queue.length > 0) {
  const [dir, pkg] = queue.pop();
  for (const name of runtimeDeps(pkg)) {
    const found = resolveFrom(dir, name);
    if (found && !keep.has(found)) {
      keep.add(found);
      queue.push([found, readJson(join(found, 'package.json'))]);
    }
  }
}

let removed = 0;
function sweep(modules) {
  if (!existsSync(modules)) return;
  for (const entry of readdirSync(modules)) {
    if (entry === '.bin' || entry === '.package-lock.json') {
      rmSync(join(modules, entry), { recursive: true, force: true });
      continue;
    }
    const dirs = entry.startsWith('@') ? readdirSync(join(modules, entry)).map((n) => join(modules, entry, n)) : [join(modules, entry)];
    for (const d of dirs) {
      if (keep.has(d)) sweep(join(d, 'node_modules'));
      else {
        rmSync(d, { recursive: true, force: true });
        removed++;
      }
    }
    if (entry.startsWith('@') && readdirSync(join(modules, entry)).length === 0) rmSync(join(modules, entry), { recursive: true });
  }
}
sweep(join(root, 'node_modules'));
console.log(`prune-production: kept ${keep.size} packages, removed ${removed}`);
