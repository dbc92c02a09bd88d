// Builds the simulator's programs (simHost, fakeVllm, fakeNvidiaSmi) for tests that run them as real processes,
// without `npm run build`: every non-test source of src/sim is transpiled (no type check; tsc --noEmit does
// that) into node_modules/.cache/gpufleet-sim-<hash of the sources>, reused while the sources are unchanged.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const simDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const repo = join(simDir, '../../..');

/** The directory holding sim/simHost.js, sim/fakeVllm.js, sim/fakeNvidiaSmi.js and sim/scenarios. */
export function buildSimForTests(): string {
  const sources = readdirSync(simDir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .sort();
  const hash = createHash('sha256').update(ts.version);
  for (const f of sources) hash.update(f).update(readFileSync(join(simDir, f)));
  for (const f of readdirSync(join(simDir, 'scenarios')).sort()) hash.update(f).update(readFileSync(join(simDir, 'scenarios', f)));
  const out = join(repo, 'node_modules', '.cache', `gpufleet-sim-${hash.digest('hex').slice(0, 16)}`);
  if (existsSync(join(out, 'sim', 'simHost.js'))) return out;
  const tmp = `${out}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, 'sim'), { recursive: true });
  for (const f of sources) {
    const js = ts.transpileModule(readFileSync(join(simDir, f), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      fileName: f,
    }).outputText;
    writeFileSync(join(tmp, 'sim', f.replace(/\.ts$/, '.js')), js);
  }
  cpSync(join(simDir, 'scenarios'), join(tmp, 'sim', 'scenarios'), { recursive: true });
  writeFileSync(join(tmp, 'package.json'), '{"type":"module"}\n');
  try {
    renameSync(tmp, out);
  } catch {
    // Another test file built it meanwhile.
    rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}
