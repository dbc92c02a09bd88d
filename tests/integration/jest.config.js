// Integration tests: the built sidecar (sidecar/dist) as a real process on the simulated host, with
// real Prometheus tools. Run from the repository root by scripts/test-all.sh.
export default {
  rootDir: '.',
  testEnvironment: 'node',
  testMatch: ['<rootDir>/**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
    // The plugin's pure modules take a few values from @grafana/data (see grafanaData.ts).
    '^@grafana/data$': '<rootDir>/grafanaData.ts',
  },
  transform: {
    // The plugin's pure modules (the topology panel's Prometheus contract): the root package is not an ES
    // module, so NodeNext would emit CommonJS for them; ESM like the tests (swc, as the plugin's own jest config).
    '/src/panels/.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'es6' } }],
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/../tsconfig.json' }],
  },
  testTimeout: 60_000,
  maxWorkers: 1,
};
