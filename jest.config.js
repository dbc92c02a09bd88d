// Plugin unit tests (src/**/*.test.ts[x]). The sidecar workspace has its own jest config in sidecar/;
// this one only looks under src/ (create-plugin's testMatch), so the two never pick up each other's tests.
// Force UTC so time formatting in tests does not depend on the machine's zone.
process.env.TZ = 'UTC';

// Jest configuration provided by Grafana scaffolding
const base = require('./.config/jest.config');
const swcTransform = base.transform['^.+\\.(t|j)sx?$'];

module.exports = {
  ...base,
  transform: {
    ...base.transform,
    // d3-color 3.1.1 (pulled in by @grafana/data) ships only an ES module named .mjs, which the
    // scaffold's transform pattern does not cover; without this, importing @grafana/data fails.
    '^.+\\.mjs$': swcTransform,
  },
  // Rendering @grafana/ui components in jsdom takes seconds on a loaded 2-core machine (CI); the
  // default 5 s made correct tests fail by timing.
  testTimeout: 30_000,
};
