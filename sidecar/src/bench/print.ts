// The printout's two kinds of row: a figure beside its target, and ours beside a peer's with the ratio.
import { formatRatio, ratio } from './stats.js';

export function heading(text: string): void {
  console.log(`\n${text}`);
}

export function line(label: string, value: string, target?: string): void {
  console.log(`  ${label.padEnd(52)} ${value.padStart(14)}${target ? `   (target ${target})` : ''}`);
}

export function compareHeader(peer: string): void {
  console.log(`  ${''.padEnd(44)} ${'gpufleet'.padStart(12)} ${peer.padStart(16)} ${'ratio'.padStart(8)}`);
}

/** One comparison row; the ratio is ours / theirs, so under 1× means less time or CPU than the peer. */
export function compare(label: string, ours: number, theirs: number, fmt: (v: number) => string, goal?: string): void {
  const r = formatRatio(ratio(ours, theirs));
  console.log(`  ${label.padEnd(44)} ${fmt(ours).padStart(12)} ${fmt(theirs).padStart(16)} ${r.padStart(8)}${goal ? `   (goal ${goal})` : ''}`);
}

/** For throughputs, where more is better: the ratio is still ours / theirs, so over 1× is faster. */
export const perSecond = (unit: string) => (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)} ${unit}` : 'n/a');
