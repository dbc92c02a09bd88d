// Test-only helpers for the real vLLM captures in tests/fixtures/vllm (see PROVENANCE.md there).
// Not production code: excluded from the build (tsconfig.build.json excludes __tests__).

import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** tests/fixtures/vllm/ of this repository, found relative to this file. */
export const VLLM_FIXTURE_DIR = fileURLToPath(new URL('../../../../tests/fixtures/vllm/', import.meta.url));

export function readVllmFixture(name: string): string {
  return readFileSync(VLLM_FIXTURE_DIR + name, 'utf8');
}

/** Every file in the fixture directory except PROVENANCE.md. */
export function vllmFixtureNames(): string[] {
  return readdirSync(VLLM_FIXTURE_DIR)
    .filter((n) => n !== 'PROVENANCE.md')
    .sort();
}

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
