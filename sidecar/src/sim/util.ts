// Small deterministic helpers for the simulator: hashing, UUIDs, noise, number formatting.
// Everything here is a pure function of its arguments so the same scenario and time give the same output.
import { createHash } from 'node:crypto';

/** Hex digest of the parts joined by '|'. */
export function hashHex(...parts: Array<string | number>): string {
  return createHash('sha256').update(parts.join('|')).digest('hex');
}

/** An unsigned 32-bit integer derived from the parts. */
export function hashInt(...parts: Array<string | number>): number {
  return Number.parseInt(hashHex(...parts).slice(0, 8), 16);
}

/** A number in [0, 1) derived from the parts. */
export function hashUnit(...parts: Array<string | number>): number {
  return hashInt(...parts) / 0x1_0000_0000;
}

/**
 * 8-4-4-4-12 lower-case hex from the parts. `version` (a hex digit) and an RFC 4122 variant are stamped in
 * when given: real MIG UUIDs look like v5 ("MIG-b6cd45f2-9655-5269-9b96-…"), vGPU UUIDs like v1 and VM UUIDs
 * like v4; GPU UUIDs carry no such marks.
 */
export function uuidFrom(version: string | null, ...parts: Array<string | number>): string {
  const h = hashHex(...parts);
  let third = h.slice(12, 16);
  let fourth = h.slice(16, 20);
  if (version !== null) {
    third = version + third.slice(1);
    const variant = '89ab'[Number.parseInt(fourth.charAt(0), 16) % 4] ?? '8';
    fourth = variant + fourth.slice(1);
  }
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${third}-${fourth}-${h.slice(20, 32)}`;
}

export function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/** "2" → "2", with the given number of decimals ("67.03"). */
export function fixed(v: number, decimals: number): string {
  return v.toFixed(decimals);
}
