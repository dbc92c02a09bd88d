#!/usr/bin/env node
// Packs the built plugin (dist/) into the archive Grafana installs: one top folder named by the plugin id
// holding plugin.json, module.js, the nested datasource/ and panels/topology/, README, LICENSE and
// CHANGELOG; and writes its SHA-256 beside it in sha256sum's format (`sha256sum -c` checks it).
//
//   npm run package                                  # builds dist/ first, then this
//   node scripts/package-plugin.mjs [--dist DIR] [--out-dir DIR]
//
// The archive is reproducible: entries in name order, every time stamp the build date of plugin.json
// (info.updated), fixed permissions; the same dist/ gives the same bytes and so the same checksum.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { zipSync } from 'fflate';

const ROOT = resolve(fileURLToPath(import.meta.url), '../..');

/** What Grafana needs to find in the folder (the nested plugins are found by walking it). */
const REQUIRED = [
  'plugin.json',
  'module.js',
  'datasource/plugin.json',
  'datasource/module.js',
  'panels/topology/plugin.json',
  'panels/topology/module.js',
  'README.md',
  'LICENSE',
  'CHANGELOG.md',
];

function fail(message) {
  console.error(`package-plugin: ${message}`);
  process.exit(1);
}

function listFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) {
        walk(p);
      } else if (st.isFile()) {
        out.push(relative(dir, p).split(sep).join('/'));
      }
    }
  };
  walk(dir);
  return out;
}

/** Checks dist/ is a complete build of this version; returns the app's id and version. */
function checkDist(dist, expectedVersion) {
  const missing = REQUIRED.filter((f) => !existsSync(join(dist, f)));
  if (missing.length > 0) {
    fail(`${dist} lacks ${missing.join(', ')}: build the plugin first (npm run build)`);
  }
  const app = JSON.parse(readFileSync(join(dist, 'plugin.json'), 'utf8'));
  for (const manifest of ['plugin.json', 'datasource/plugin.json', 'panels/topology/plugin.json']) {
    const version = JSON.parse(readFileSync(join(dist, manifest), 'utf8')).info?.version;
    if (version !== expectedVersion) {
      fail(`${join(dist, manifest)} says version ${version}, package.json ${expectedVersion}: dist/ is stale (npm run build)`);
    }
  }
  if (!/^[a-z0-9][a-z0-9-]*$/.test(app.id ?? '')) {
    fail(`${join(dist, 'plugin.json')} has no usable id`);
  }
  return { id: app.id, version: expectedVersion, updated: app.info?.updated };
}

/** The zip's entries: `<id>/` and every folder and file of dist/ under it, in name order. */
function archiveEntries(dist, id, mtime) {
  const dirAttrs = { os: 3, attrs: (0o40755 << 16) >>> 0, mtime };
  const fileAttrs = { os: 3, attrs: (0o100644 << 16) >>> 0, mtime, level: 9 };
  const entries = { [`${id}/`]: [new Uint8Array(0), dirAttrs] };
  for (const rel of listFiles(dist)) {
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      entries[`${id}/${parts.slice(0, i).join('/')}/`] ??= [new Uint8Array(0), dirAttrs];
    }
    entries[`${id}/${rel}`] = [readFileSync(join(dist, rel)), fileAttrs];
  }
  return Object.fromEntries(Object.entries(entries).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function main() {
  const { values } = parseArgs({
    options: { dist: { type: 'string', default: join(ROOT, 'dist') }, 'out-dir': { type: 'string', default: join(ROOT, 'release') } },
  });
  const dist = resolve(values.dist);
  const outDir = resolve(values['out-dir']);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const { id, version, updated } = checkDist(dist, pkg.version);
  // Noon UTC of the build day: a DOS time stamp has no zone, and noon keeps the date in any of them.
  const mtime = new Date(`${/^\d{4}-\d{2}-\d{2}$/.test(updated ?? '') ? updated : '1980-01-01'}T12:00:00Z`);
  const zip = zipSync(archiveEntries(dist, id, mtime));
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${id}-${version}.zip`);
  writeFileSync(file, zip);
  const sha256 = createHash('sha256').update(zip).digest('hex');
  writeFileSync(`${file}.sha256`, `${sha256}  ${basename(file)}\n`);
  console.log(`${file} (${zip.length} bytes)\nsha256 ${sha256}`);
}

main();
