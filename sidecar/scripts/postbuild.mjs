// Makes the built executables runnable (tsc does not keep the mode bit) and copies the shipped scenarios.
// The executables are the package's bins, read from package.json so that a new bin needs no edit here.
import { chmodSync, cpSync, existsSync, readFileSync } from 'node:fs';
const { bin = {} } = JSON.parse(readFileSync('package.json', 'utf8'));
for (const f of Object.values(bin)) {
  if (existsSync(f)) chmodSync(f, 0o755);
}
if (existsSync('src/sim/scenarios')) cpSync('src/sim/scenarios', 'dist/sim/scenarios', { recursive: true });
