import { defineConfig } from 'eslint/config';
import baseConfig from './.config/eslint.config.mjs';

// Lints the Grafana plugin (src/, root configs). The sidecar workspace lints itself with its own
// eslint.config.js (`npm run lint -w sidecar`), so it is ignored here.
export default defineConfig([
  {
    ignores: [
      '**/node_modules/',
      '**/dist/',
      '**/coverage/',
      'sidecar/',
      // scripts/ belongs to the repository tooling (not the plugin) and is linted with it.
      'scripts/',
      'tests/artifacts/',
      'test-results/',
      'playwright-report/',
      '.config/',
      '**/.eslintcache',
    ],
  },
  ...baseConfig,
]);
