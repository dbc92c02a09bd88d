// A file listing pids, one per line: what a simulated host publishes as its own processes, so that its
// sidecar's process scan sees them and not the rest of the machine the simulation runs on.
import { readFileSync, statSync } from 'node:fs';

const EMPTY: ReadonlySet<number> = new Set();

/** Parses the list; lines that are not a positive integer are skipped. */
export function parsePidList(text: string): Set<number> {
  const out = new Set<number>();
  for (const line of text.split('\n')) {
    const s = line.trim();
    if (/^\d{1,10}$/.test(s) && Number(s) > 0) out.add(Number(s));
  }
  return out;
}

/**
 * A reader of the list at `path`, read again only when the file changed. A missing or unreadable file is an
 * empty list: before the simulator has written it, the host has no processes of its own.
 */
export function pidListReader(path: string): () => ReadonlySet<number> {
  let seen = '';
  let pids: ReadonlySet<number> = EMPTY;
  return () => {
    try {
      const st = statSync(path);
      const key = `${st.mtimeMs}|${st.size}|${st.ino}`;
      if (key !== seen) {
        pids = parsePidList(readFileSync(path, 'utf8'));
        seen = key;
      }
    } catch {
      seen = '';
      pids = EMPTY;
    }
    return pids;
  };
}
