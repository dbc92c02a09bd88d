// Makes the built executables runnable (tsc does not keep the mode bit) and copies the shipped scenarios.
import { chmodSync, cpSync, existsSync } from 'node:fs';
for (const f of ['dist/cli.js', 'dist/sim/fakeNvidiaSmi.js', 'dist/report/gpufleetReport.js']) {
  if (existsSync(f)) chmodSync(f, 0o755);
}
if (existsSync('src/sim/scenarios')) cpSync('src/sim/scenarios', 'dist/sim/scenarios', { recursive: true });
