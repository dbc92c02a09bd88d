// A tree builder for the prefiltered `nvidia-smi -q -x` text (keepReadElements): only the elements the
// parser reads, no whitespace between tags. It gives fast-xml-parser's object shape for the options
// nvidiaSmiXml.ts uses (leaves as trimmed raw strings, `#text` beside children, `@_id` attributes,
// repeated names and `alwaysArray` names as arrays, an empty element as ''), at a fraction of its cost
// and garbage: fast-xml-parser was most of a GPU tick's CPU and allocation, once a second.
//
// It handles only the plain documents nvidia-smi prints. Anything else (an internal DTD subset, a
// comment, CDATA, a processing instruction after the declaration, an attribute other than `id`, an
// element the parser does not read, mismatched or unclosed tags, deep nesting) answers null, and the
// caller parses the text with fast-xml-parser, whose checks and error messages stay the reference.

import { ownCopy } from '../util/ownCopy.js';

type XmlObject = { [key: string]: unknown };

interface Frame {
  name: string;
  children: XmlObject | null;
  /** The element's first text run, trimmed; later runs (text around children) in `more`, joined once at its end. */
  text: string | undefined;
  more: string[] | undefined;
  id: string | undefined;
}

function textOf(f: Frame): string | undefined {
  // A copy of its own (see ownCopy): the value outlives the document.
  if (f.text === undefined) return undefined;
  return ownCopy(f.more === undefined ? f.text : f.text + f.more.join(''));
}

/** Deeper than nvidia-smi's documents (6 levels) and well under fast-xml-parser's own limit. */
const MAX_DEPTH = 32;

function isNameChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2d || c === 0x2e || c === 0x3a;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** `<?xml …?>` with its quotes paired: fast-xml-parser refuses an unclosed one. */
function balancedQuotes(doc: string, from: number, to: number): boolean {
  let quote = 0;
  for (let k = from; k < to; k++) {
    const c = doc.charCodeAt(k);
    if (quote === 0 && (c === 0x22 || c === 0x27)) quote = c;
    else if (c === quote) quote = 0;
  }
  return quote === 0;
}

/** The value fast-xml-parser gives a closed element. */
function valueOf(f: Frame): unknown {
  const text = textOf(f);
  if (f.id !== undefined) {
    const o: XmlObject = f.children ?? {};
    if (text !== undefined) o['#text'] = text;
    o['@_id'] = f.id;
    return o;
  }
  if (f.children === null) return text ?? '';
  if (text !== undefined) f.children['#text'] = text;
  return f.children;
}

function attach(parent: XmlObject, name: string, value: unknown, alwaysArray: (name: string) => boolean): void {
  if (Object.prototype.hasOwnProperty.call(parent, name)) {
    const cur = parent[name];
    if (Array.isArray(cur)) cur.push(value);
    else parent[name] = [cur, value];
  } else {
    parent[name] = alwaysArray(name) ? [value] : value;
  }
}

/**
 * `{ <root name>: value }` as fast-xml-parser would give it, or null when the text is not one of the
 * plain documents this builder handles. `isElement` says which element names may appear.
 */
export function buildKeptXml(doc: string, isElement: (name: string) => boolean, alwaysArray: (name: string) => boolean): XmlObject | null {
  const n = doc.length;
  let i = 0;
  // Prolog: the declaration and an external DOCTYPE, as nvidia-smi prints them.
  let declared = false;
  let doctype = false;
  for (;;) {
    while (i < n && isSpace(doc.charCodeAt(i))) i++;
    if (!declared && doc.startsWith('<?xml', i) && isSpace(doc.charCodeAt(i + 5))) {
      const e = doc.indexOf('?>', i);
      if (e < 0 || !balancedQuotes(doc, i, e)) return null;
      declared = true;
      i = e + 2;
    } else if (doc.startsWith('<!DOCTYPE', i)) {
      // One external DOCTYPE: an internal subset (`[`), markup inside or a second one is fast-xml-parser's.
      const e = doc.indexOf('>', i);
      if (e < 0 || doctype) return null;
      for (let k = i + 9; k < e; k++) {
        const c = doc.charCodeAt(k);
        if (c === 0x5b /* [ */ || c === 0x3c /* < */) return null;
      }
      doctype = true;
      i = e + 1;
    } else {
      break;
    }
  }
  const result: XmlObject = {};
  let rootSeen = false;
  const stack: Frame[] = [];
  while (i < n) {
    const lt = doc.indexOf('<', i);
    const textEnd = lt < 0 ? n : lt;
    if (textEnd > i) {
      const raw = doc.slice(i, textEnd);
      const top = stack[stack.length - 1];
      if (!top) {
        if (raw.trim() !== '') return null;
      } else {
        // fast-xml-parser turns CR LF and a lone CR into LF first: such text is left to it.
        if (raw.indexOf('>') >= 0 || raw.indexOf('\r') >= 0) return null;
        const t = raw.trim();
        if (t !== '') {
          if (top.text === undefined) top.text = t;
          else (top.more ??= []).push(t);
        }
      }
    }
    if (lt < 0) break;
    const c = doc.charCodeAt(lt + 1);
    if (c === 0x2f /* / */) {
      const gt = doc.indexOf('>', lt + 2);
      const top = stack.pop();
      if (gt < 0 || !top || doc.slice(lt + 2, gt) !== top.name) return null;
      const value = valueOf(top);
      const parent = stack[stack.length - 1];
      if (parent) attach((parent.children ??= {}), top.name, value, alwaysArray);
      else result[top.name] = value;
      i = gt + 1;
      continue;
    }
    let j = lt + 1;
    while (j < n && isNameChar(doc.charCodeAt(j))) j++;
    const name = doc.slice(lt + 1, j);
    if (name === '' || !isElement(name)) return null;
    if (stack.length === 0) {
      if (rootSeen) return null;
      rootSeen = true;
    }
    if (stack.length >= MAX_DEPTH) return null;
    const frame: Frame = { name, children: null, text: undefined, more: undefined, id: undefined };
    // Attributes: `id` only, quoted, no markup or reference in the value.
    let selfClosing = false;
    for (;;) {
      while (j < n && isSpace(doc.charCodeAt(j))) j++;
      const k = doc.charCodeAt(j);
      if (k === 0x3e /* > */) {
        j++;
        break;
      }
      if (k === 0x2f /* / */ && doc.charCodeAt(j + 1) === 0x3e) {
        selfClosing = true;
        j += 2;
        break;
      }
      if (!doc.startsWith('id=', j) || frame.id !== undefined) return null;
      const q = doc.charCodeAt(j + 3);
      if (q !== 0x22 && q !== 0x27) return null;
      const end = doc.indexOf(q === 0x22 ? '"' : "'", j + 4);
      if (end < 0) return null;
      const v = doc.slice(j + 4, end);
      if (v.indexOf('<') >= 0 || v.indexOf('&') >= 0 || v.indexOf('\r') >= 0) return null;
      frame.id = ownCopy(v.trim());
      j = end + 1;
      // An attribute runs into the next one or the tag's end only after a space.
      const after = doc.charCodeAt(j);
      if (!isSpace(after) && after !== 0x3e && after !== 0x2f) return null;
    }
    if (selfClosing) {
      const value = valueOf(frame);
      const parent = stack[stack.length - 1];
      if (parent) attach((parent.children ??= {}), name, value, alwaysArray);
      else result[name] = value;
    } else {
      stack.push(frame);
    }
    i = j;
  }
  return stack.length === 0 && rootSeen ? result : null;
}
