// npm run provisioning: writes the generated dashboards and rule files; `--check` only reports files that
// differ from what the generator makes (exit 1), for CI and pre-commit use.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderAll } from './render.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const check = process.argv.includes('--check');
let stale = 0;
for (const [rel, text] of renderAll()) {
  const file = join(root, rel);
  let current: string | null = null;
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    current = null;
  }
  if (current === text) continue;
  if (check) {
    console.error(`out of date: ${rel}`);
    stale++;
  } else {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    console.log(`wrote ${rel}`);
  }
}
if (check && stale) {
  console.error(`${stale} generated file(s) differ: run npm run provisioning`);
  process.exit(1);
}
