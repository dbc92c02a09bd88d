// A generic parser of nvidia-smi's indented "Key : Value" text, the format of `nvidia-smi -q` and
// `nvidia-smi vgpu -q`:
//
//   GPU 00000001:C8:00.0
//       Active vGPUs                          : 2
//       vGPU ID                               : 3251637554
//           VM UUID                           : 083bc63f-...
//           FB Memory Usage
//               Total                         : 3072 MiB
//
// A line splits on its FIRST " : " (keys never contain it; values might). A key without " : "
// opens a section. Nesting follows indentation: a line belongs to the nearest line above it that is
// indented less (nvidia-smi uses 4 spaces per level but is not consistent: "vGPU Driver
// Capability" children sit 8 spaces in; and a key with a value can have children, as
// "HW Slowdown : Not Active" has "HW Thermal Slowdown"). Repeated keys ("vGPU ID", "MIG Device",
// "GPU instance ID" in Processes) are kept, in order.
//
// Garbage never throws: lines with control characters (binary junk, terminal escapes), table
// borders ("+---", "|  ...", "====") and lines without a letter or digit ("--") are skipped;
// anything else becomes a node.

import { ParseError } from './errors.js';

export interface SmiTextNode {
  /** Trimmed key ("FB Memory Usage"; nvidia-smi sometimes pads keys with a trailing space). */
  key: string;
  /** Trimmed value; '' for "VM UUID : " (nothing after the colon); null for a section line. */
  value: string | null;
  children: SmiTextNode[];
  /** 1-based line number in the input, for messages. */
  line: number;
}

export interface SmiTextOptions {
  /** Inputs longer than this (in UTF-16 code units) are refused. Default 64 MiB. */
  maxChars?: number;
  /** Source named in errors. Default "nvidia-smi -q". */
  source?: string;
}

const DEFAULT_MAX_CHARS = 64 * 1024 * 1024;

// Any C0 control character other than TAB, DEL, C1 controls and U+FFFD (what a decoder puts in
// for invalid bytes): a line holding one is not nvidia-smi text.
// eslint-disable-next-line no-control-regex
const JUNK = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\ufffd]/;

/** Parses indented "Key : Value" text into a forest of nodes (the top-level lines). */
export function parseSmiText(text: string, options: SmiTextOptions = {}): SmiTextNode[] {
  const source = options.source ?? 'nvidia-smi -q';
  const maxChars = options.maxChars ?? DEFAULT_MAX_CHARS;
  if (typeof text !== 'string') throw new ParseError(source, 'output is not text');
  if (text.length > maxChars) {
    throw new ParseError(source, `output is too large (${text.length} characters, limit ${maxChars})`);
  }

  const roots: SmiTextNode[] = [];
  // Open sections, outermost first, with the indentation of their line.
  const stack: { indent: number; node: SmiTextNode }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '' || JUNK.test(line)) continue;

    // Indentation in columns; a tab advances to the next multiple of 4.
    let indent = 0;
    let at = 0;
    for (; at < line.length; at++) {
      const c = line.charCodeAt(at);
      if (c === 0x20) indent += 1;
      else if (c === 0x09) indent += 4 - (indent % 4);
      else break;
    }
    const content = line.slice(at);
    const first = content.charCodeAt(0);
    // Table borders and rows of the default `nvidia-smi` view, and "====NVSMI LOG====" banners.
    if (first === 0x2b /* + */ || first === 0x7c /* | */ || first === 0x3d /* = */) continue;
    // Lines without a letter or digit ("--" where an author elided lines) carry nothing and would
    // otherwise become the parent of everything indented below them.
    if (!/[\p{L}\p{N}]/u.test(content)) continue;

    let key: string;
    let value: string | null;
    const sep = content.indexOf(' : ');
    if (sep >= 0) {
      key = content.slice(0, sep).trim();
      value = content.slice(sep + 3).trim();
    } else {
      const t = content.trimEnd();
      if (t.endsWith(' :')) {
        key = t.slice(0, -2).trim();
        value = '';
      } else {
        key = t;
        value = null;
      }
    }
    if (key === '') continue;

    const node: SmiTextNode = { key, value, children: [], line: i + 1 };
    while (stack.length > 0 && (stack[stack.length - 1]?.indent ?? 0) >= indent) stack.pop();
    const parent = stack[stack.length - 1];
    if (parent) parent.node.children.push(node);
    else roots.push(node);
    stack.push({ indent, node });
  }
  return roots;
}

/** Keys compare case-insensitively with runs of spaces collapsed ("Gpu" = "GPU"). */
export function sameKey(a: string, b: string): boolean {
  return normKey(a) === normKey(b);
}

function normKey(k: string): string {
  return k.trim().replace(/\s+/g, ' ').toLowerCase();
}

function matcher(keys: string | readonly string[]): (k: string) => boolean {
  const wanted = (typeof keys === 'string' ? [keys] : keys).map(normKey);
  return (k) => wanted.includes(normKey(k));
}

/** The first child whose key is one of `keys` (case-insensitive). */
export function child(node: SmiTextNode | undefined, keys: string | readonly string[]): SmiTextNode | undefined {
  if (!node) return undefined;
  const is = matcher(keys);
  return node.children.find((c) => is(c.key));
}

/** All children whose key is one of `keys`, in order. */
export function childrenOf(node: SmiTextNode | undefined, keys: string | readonly string[]): SmiTextNode[] {
  if (!node) return [];
  const is = matcher(keys);
  return node.children.filter((c) => is(c.key));
}

/**
 * The value at a path of keys below `node`; each step may list alternative spellings:
 * `valueAt(gpu, 'GPU Virtualization Mode', 'Host VGPU Mode')`,
 * `valueAt(vgpu, 'Utilization', ['GPU', 'Gpu'])`. Undefined when a step is missing.
 */
export function valueAt(
  node: SmiTextNode | undefined,
  ...path: (string | readonly string[])[]
): string | null | undefined {
  let cur = node;
  for (const step of path) {
    cur = child(cur, step);
    if (!cur) return undefined;
  }
  return cur?.value;
}

/** Every node of the forest, depth first, in input order (iterative: no recursion limits). */
export function allNodes(roots: readonly SmiTextNode[]): SmiTextNode[] {
  const out: SmiTextNode[] = [];
  const todo: SmiTextNode[] = [...roots].reverse();
  while (todo.length > 0) {
    const n = todo.pop();
    if (!n) break;
    out.push(n);
    for (let i = n.children.length - 1; i >= 0; i--) {
      const c = n.children[i];
      if (c) todo.push(c);
    }
  }
  return out;
}
