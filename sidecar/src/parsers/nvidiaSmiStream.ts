// Splits the output of a long-running `nvidia-smi -q -x -lms N` (one XML document after another on
// stdout) into complete documents, each from "<?xml" to "</nvidia_smi_log>".
//
// Feed it chunks as they arrive; it returns the documents completed by each chunk and the problems
// met on the way. Work per chunk is proportional to the chunk (pieces of a document are joined once,
// when it completes), and memory is bounded: a document that grows past `maxBufferChars` is dropped
// and reported. Text outside documents (a warning printed between snapshots) is dropped and
// reported; a document cut short by the next "<?xml" is dropped and reported, and splitting resumes
// at that next document.

import { quoteOutput } from './errors.js';

export interface SmiStreamResult {
  /** Complete documents, oldest first. */
  documents: string[];
  /** One line per problem, e.g. "dropped 81 characters of non-XML output: 'Unable to ...'". */
  errors: string[];
}

export interface SmiLogStreamSplitter {
  /** Adds a chunk; returns the documents it completed. */
  push(chunk: string): SmiStreamResult;
  /** End of stream: reports (and drops) an unfinished document. */
  end(): SmiStreamResult;
  /** Characters currently held. */
  readonly bufferedChars: number;
}

export interface SmiStreamOptions {
  /** Most characters held for one unfinished document. Default 64 MiB. */
  maxBufferChars?: number;
  /**
   * A filter (keepReadElements) applied to each run of whole `<gpu>` elements as it arrives and once more
   * to the joined result: a document then never exists as one string of its full size. Above 128 KB
   * (8 GPUs or more) V8 puts such a string in the old generation, and building it cost 4-10 ms a tick
   * for 32 GPUs. Equal to filtering the whole document for well-formed ones.
   */
  keep?: (text: string) => string;
}

const START = '<?xml';
const END = '</nvidia_smi_log>';
/** Where a document can be cut for `keep`: after a whole GPU, at the root's level. */
const CUT = '</gpu>';
/** Characters kept from the previous chunk so that a marker split across chunks is still found. */
const OVERLAP = Math.max(START.length, END.length) - 1;
const DEFAULT_MAX = 64 * 1024 * 1024;
const JUNK_HEAD_CHARS = 200;
const JUNK_REPORT_CHARS = 64 * 1024;

/** The longest end of `text` that is the beginning of "<?xml" (at most 4 characters). */
function partialStart(text: string): string {
  for (let n = Math.min(START.length - 1, text.length); n > 0; n--) {
    const tail = text.slice(text.length - n);
    if (START.startsWith(tail)) return tail;
  }
  return '';
}

/**
 * Where `marker` starts in `carry + data` (-1: nowhere), without building that string. `carry` is at
 * most OVERLAP characters.
 */
function find(carry: string, data: string, marker: string): number {
  if (carry.length > 0) {
    const k = (carry + data.slice(0, marker.length - 1)).indexOf(marker);
    if (k >= 0) return k;
  }
  const k = data.indexOf(marker);
  return k < 0 ? -1 : carry.length + k;
}

export function splitSmiLogStream(options: SmiStreamOptions = {}): SmiLogStreamSplitter {
  const max = Math.max(options.maxBufferChars ?? DEFAULT_MAX, START.length + END.length);
  let inside = false; // between "<?xml" and "</nvidia_smi_log>"
  let parts: string[] = []; // the current document so far (inside), since the last cut when filtering
  let kept: string[] = []; // filtered runs of the current document (with `keep`)
  const keep = options.keep;
  let size = 0;
  // Inside: the last characters of the document so far (already in `parts`), searched again with
  // the next chunk. Outside: a possible beginning of "<?xml" not yet in any output.
  let carry = '';

  // Text outside documents, reported once per run (when the next document starts, at the end, or
  // every JUNK_REPORT_CHARS), not once per chunk. Only its beginning is kept, for the message.
  let junkChars = 0;
  let junkHead = '';

  function reset(): void {
    inside = false;
    parts = [];
    kept = [];
    size = 0;
    carry = '';
  }

  /** The document from its pieces (and, filtering, its runs already filtered). */
  function complete(): string {
    if (!keep) return parts.join('');
    kept.push(keep(parts.join('')));
    return keep(kept.join(''));
  }

  /** Filtering: the pieces up to the last whole GPU in `data` (just pushed) become a filtered run. */
  function cut(data: string): void {
    if (!keep) return;
    const k = data.lastIndexOf(CUT);
    if (k < 0) return;
    const rest = data.slice(k + CUT.length);
    parts[parts.length - 1] = data.slice(0, k + CUT.length);
    kept.push(keep(parts.join('')));
    parts = [rest];
  }

  function junk(text: string, errors: string[]): void {
    junkChars += text.length;
    if (junkHead.length < JUNK_HEAD_CHARS) {
      junkHead += (junkHead === '' ? text.trimStart() : text).slice(0, JUNK_HEAD_CHARS - junkHead.length);
    }
    if (junkChars >= JUNK_REPORT_CHARS) reportJunk(errors);
  }

  function reportJunk(errors: string[]): void {
    const head = junkHead.trim();
    if (head !== '') errors.push(`dropped ${junkChars} characters of non-XML output: '${quoteOutput(head)}'`);
    junkChars = 0;
    junkHead = '';
  }

  function push(chunk: string): SmiStreamResult {
    const documents: string[] = [];
    const errors: string[] = [];
    let data = typeof chunk === 'string' ? chunk : '';
    while (data.length > 0) {
      if (!inside) {
        const window = carry + data;
        const s = window.indexOf(START);
        if (s < 0) {
          carry = partialStart(window);
          junk(window.slice(0, window.length - carry.length), errors);
          break;
        }
        junk(window.slice(0, s), errors);
        reportJunk(errors);
        inside = true;
        parts = [START];
        size = START.length;
        carry = '';
        data = window.slice(s + START.length);
        continue;
      }

      // Inside a document: `carry` is already part of it; only `data` is new. Markers are searched in
      // `data` and in the few characters around the seam, not in `window`: searching the concatenation
      // would copy every chunk once more (a 32-GPU document is 570 KB a tick).
      const e = find(carry, data, END);
      const s = find(carry, data, START);
      if (s >= 0 && (e < 0 || s < e)) {
        errors.push(
          `dropped an incomplete document (${size + Math.max(0, s - carry.length)} characters) cut short by the next one`
        );
        const from = s >= carry.length ? data.slice(s - carry.length) : carry.slice(s) + data;
        reset();
        data = from;
        continue;
      }
      if (e >= 0) {
        // END was not in the previous window, so it ends inside the new data.
        const endAt = e + END.length - carry.length;
        parts.push(data.slice(0, endAt));
        documents.push(complete());
        reset();
        data = data.slice(endAt);
        continue;
      }
      parts.push(data);
      size += data.length;
      carry = data.length >= OVERLAP ? data.slice(-OVERLAP) : (carry + data).slice(-OVERLAP);
      cut(data);
      if (size > max) {
        errors.push(`dropped ${size} characters holding no complete document (limit ${max})`);
        reset();
      }
      break;
    }
    return { documents, errors };
  }

  function end(): SmiStreamResult {
    const errors: string[] = [];
    if (inside) errors.push(`stream ended inside a document (${size} characters dropped)`);
    else junk(carry, errors);
    reportJunk(errors);
    reset();
    return { documents: [], errors };
  }

  return {
    push,
    end,
    get bufferedChars(): number {
      return inside ? size : carry.length;
    },
  };
}
