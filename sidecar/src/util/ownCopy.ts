// Strings cut from a large input and kept (a model name from an engine's scrape, a GPU's name or UUID
// from nvidia-smi's document) must not keep that input alive.

/**
 * A string of its own with the characters of `v`. V8 makes a substring of 13 characters or more a
 * view into the string it was cut from: one value kept from a parse would keep the whole input alive,
 * and old, since what a tick reads is kept for at least a tick (and events for much longer).
 */
export function ownCopy(v: string): string {
  // The concatenation is a rope; slicing it flattens the rope into a new string, and the slice is a
  // view into that copy, one character longer than `v`, not into what `v` was cut from.
  return v.length < 13 ? v : (' ' + v).slice(1);
}
