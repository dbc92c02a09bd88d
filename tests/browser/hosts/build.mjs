#!/usr/bin/env node
// Bundles the browser tests' host page for one package set into hosts/<set>/dist/:
//   host.js        src/host.tsx + the set's react, react-dom, @grafana/data, ui, runtime, … as one IIFE
//   host.css       CSS the packages import
//   systemjs/      system.min.js, extras/amd.min.js, extras/named-register.min.js (loaded after host.js)
//   icons/         @grafana/ui's SVG icons (served at /public/build/img/icons/)
//   build.json     the set's package versions and the cache key
//
//   node tests/browser/hosts/build.mjs grafana12 [cache-key]
//
// esbuild comes from the set's own node_modules (pinned in its package.json), and every bare import
// of the host source resolves inside that set: a package missing there fails the build instead of
// silently coming from the repository root's node_modules (which holds the plugin's own @grafana 12).
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../../..');
const set = process.argv[2];
const key = process.argv[3] ?? 'dev';
if (!set || !existsSync(join(HERE, set, 'package.json'))) {
  console.error(`usage: build.mjs <set> [key]; sets are the folders under ${HERE} with a package.json`);
  process.exit(2);
}
const hostDir = join(HERE, set);
const hostModules = join(hostDir, 'node_modules');
if (!existsSync(hostModules)) {
  console.error(`${hostModules} is missing: run npm ci in ${hostDir} (tests/browser/setup.sh does)`);
  process.exit(1);
}
const requireFromSet = createRequire(join(hostDir, 'package.json'));
const esbuild = requireFromSet('esbuild');
const version = (name) => JSON.parse(readFileSync(join(hostModules, name, 'package.json'), 'utf8')).version;
const versions = Object.fromEntries(
  ['react', 'react-dom', '@grafana/data', '@grafana/ui', '@grafana/runtime', '@grafana/prometheus', 'rxjs', 'systemjs', 'esbuild'].map((n) => [
    n,
    version(n),
  ])
);

/** Bare imports from files outside node_modules (the host source, the shared synthetic topology) resolve in the set. */
const resolveInSet = {
  name: 'resolve-in-host-set',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData?.inSet || args.importer.includes(`${sep}node_modules${sep}`)) {
        return undefined;
      }
      const r = await build.resolve(args.path, { kind: args.kind, resolveDir: hostDir, pluginData: { inSet: true } });
      if (r.errors.length > 0) {
        return { errors: r.errors };
      }
      return {
        path: r.path,
        external: r.external,
        sideEffects: r.sideEffects,
        namespace: r.namespace,
        suffix: r.suffix,
      };
    });
  },
};

/**
 * monaco-editor (7.7 MiB of the bundle's input) is replaced by an empty module. @grafana/ui imports it
 * only in ReactMonacoEditor (`loader.config({ monaco })` at load, the editor on first use); Grafana
 * itself loads that editor lazily from its own chunk, and the plugin uses no code editor. Evaluating
 * monaco at page load cost about 5 s per page on 2 cores.
 */
const stubMonaco = {
  name: 'stub-monaco-editor',
  setup(build) {
    build.onResolve({ filter: /^monaco-editor(\/.*)?$/ }, (args) => ({ path: args.path, namespace: 'monaco-stub' }));
    build.onLoad({ filter: /.*/, namespace: 'monaco-stub' }, () => ({
      contents: 'export const editor = {}; export const languages = {}; export default {};',
      loader: 'js',
    }));
  },
};

/**
 * `@grafana/assistant` (a peer of @grafana/prometheus 13, not shipped with it) is replaced by an empty
 * module when the set does not have it: only the Prometheus query editor's assistant button imports it,
 * and the host never mounts that editor (tree shaking drops it; esbuild still resolves the import).
 */
const stubAssistant = {
  name: 'stub-grafana-assistant',
  setup(build) {
    build.onResolve({ filter: /^@grafana\/assistant$/ }, (args) =>
      existsSync(join(hostModules, '@grafana/assistant')) ? undefined : { path: args.path, namespace: 'assistant-stub' }
    );
    build.onLoad({ filter: /.*/, namespace: 'assistant-stub' }, () => ({
      contents: 'export const QueryWithAssistantButton = () => null;',
      loader: 'js',
    }));
  },
};

const out = join(hostDir, 'dist');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const started = performance.now();
const result = await esbuild.build({
  entryPoints: { host: join(HERE, 'src/host.tsx') },
  absWorkingDir: ROOT,
  outdir: out,
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2020',
  jsx: 'automatic',
  minify: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'error',
  define: {
    'process.env.NODE_ENV': '"production"',
    global: 'globalThis',
    __HOST_SET__: JSON.stringify(set),
    __HOST_VERSIONS__: JSON.stringify(versions),
  },
  loader: {
    '.css': 'css',
    '.woff': 'file',
    '.woff2': 'file',
    '.ttf': 'file',
    '.svg': 'file',
    '.png': 'file',
    '.eot': 'file',
  },
  plugins: [stubMonaco, stubAssistant, resolveInSet],
});

// Every package in the bundle must come from this set.
const foreign = Object.keys(result.metafile.inputs).filter(
  (p) => p.includes('node_modules/') && !resolve(ROOT, p).startsWith(hostModules + sep)
);
if (foreign.length > 0) {
  console.error(`${set}: modules from outside the set's node_modules:\n  ${foreign.slice(0, 20).join('\n  ')}`);
  process.exit(1);
}

const systemjsDist = join(hostModules, 'systemjs/dist');
mkdirSync(join(out, 'systemjs/extras'), { recursive: true });
for (const f of ['system.min.js', 'extras/amd.min.js', 'extras/named-register.min.js']) {
  cpSync(join(systemjsDist, f), join(out, 'systemjs', f));
}
cpSync(join(hostModules, '@grafana/ui/dist/public/img/icons'), join(out, 'icons'), { recursive: true });

const bytes = (f) => (existsSync(join(out, f)) ? readFileSync(join(out, f)).length : 0);
writeFileSync(
  join(out, 'build.json'),
  `${JSON.stringify({ set, key, versions, builtAt: new Date().toISOString(), hostJsBytes: bytes('host.js') }, null, 2)}\n`
);
console.log(
  `${set}: host.js ${(bytes('host.js') / 2 ** 20).toFixed(1)} MiB, host.css ${(bytes('host.css') / 1024).toFixed(0)} KiB ` +
    `(react ${versions.react}, @grafana/ui ${versions['@grafana/ui']}) in ${((performance.now() - started) / 1000).toFixed(1)} s → ${relative(ROOT, out)}`
);
