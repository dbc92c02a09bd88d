// Before `npm pack` / `npm publish`: the repository's LICENSE goes into the package (npm takes a
// package's LICENSE from its own folder only), and a package without a built dist/ is refused.
import { copyFileSync, existsSync } from 'node:fs';

if (!existsSync('dist/cli.js')) {
  console.error('prepack: dist/cli.js is missing: build the sidecar first (npm run build -w sidecar)');
  process.exit(1);
}
copyFileSync('../LICENSE', 'LICENSE');
