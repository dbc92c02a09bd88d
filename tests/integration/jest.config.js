// Integration tests: the built sidecar (sidecar/dist) as a real process on the simulated host, with
// real Prometheus tools. Run from the repository root by scripts/test-all.sh.
export default {
  rootDir: '.',
  testEnvironment: 'node',
  testMatch: ['<rootDir>/**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/../tsconfig.json' }] },
  testTimeout: 60_000,
  maxWorkers: 1,
};
