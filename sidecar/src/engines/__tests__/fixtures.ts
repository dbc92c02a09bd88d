// Test-only helpers for the real vLLM captures in tests/fixtures/vllm (see PROVENANCE.md there).
// Not production code: excluded from the build (tsconfig.build.json excludes __tests__).

import { fixtureDir } from '../../testing/fixtureDir.js';

const vllm = fixtureDir('vllm');

/** tests/fixtures/vllm/ of this repository. */
export const VLLM_FIXTURE_DIR = vllm.dir;
export const readVllmFixture = vllm.read;
export const vllmFixtureNames = vllm.names;

/** The /metrics captures. */
export function metricsFixtureNames(): string[] {
  return vllmFixtureNames().filter((n) => n.startsWith('metrics_'));
}

/** A small deterministic PRNG (mulberry32) for the fuzz tests. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
