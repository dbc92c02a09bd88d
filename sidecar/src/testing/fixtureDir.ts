// Test-only: the real captures in tests/fixtures/<kind>/ of this repository (see the PROVENANCE.md
// beside them). Excluded from the build with the tests.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function fixtureDir(kind: 'nvidia-smi' | 'vllm') {
  const dir = fileURLToPath(new URL(`../../../tests/fixtures/${kind}/`, import.meta.url));
  return {
    dir,
    read: (name: string): string => readFileSync(dir + name, 'utf8'),
    /** Every file but PROVENANCE.md, sorted. */
    names: (): string[] => readdirSync(dir).filter((n) => n !== 'PROVENANCE.md').sort(),
  };
}
