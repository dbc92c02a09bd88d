// One bound for every string the sidecar keeps from the environment it watches (/proc command lines,
// process environments, container names, images and labels): any local user writes those, and a
// 60 KB model name kept per process, per event and per series is memory and answers no one bounded.

/** Longest string kept from /proc, environments and containers, in characters. */
export const MAX_UNTRUSTED_CHARS = 256;

/**
 * `text` cut to at most `max` characters (code points, so a surrogate pair is never split); a cut
 * string ends in "…" so the user sees it was cut.
 */
export function capText(text: string, max: number = MAX_UNTRUSTED_CHARS): string {
  if (text.length <= max) return text;
  let out = '';
  let n = 0;
  for (const ch of text) {
    if (n === max - 1) break;
    out += ch;
    n++;
  }
  return `${out}…`;
}
