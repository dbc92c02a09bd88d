// The bearer token of --token-file, re-read when the file changes (rewritten in place, replaced by an
// atomic rename, or swapped the way Kubernetes updates a mounted secret: a `..data` symlink renamed over)
// and on reload(); a file that turns bad keeps the token in force and says why.
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

export interface TokenFileLogger {
  info: (obj: object, msg: string) => void;
  error: (obj: object, msg: string) => void;
}

/** The token in a file's text; throws with the reason it is not usable. */
export function tokenFromText(text: string, path: string): string {
  const token = text.trim();
  if (!token) throw new Error(`--token-file: ${path} is empty`);
  if (/\s/.test(token)) throw new Error(`--token-file: ${path} must hold one token without spaces`);
  return token;
}

/** Reads the token now; throws with a message naming --token-file. */
export function readTokenFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`--token-file: cannot read ${path}: ${(err as Error).message}`);
  }
  return tokenFromText(text, path);
}

// Events come in bursts (truncate, write, rename); one read after they settle.
const DEBOUNCE_MS = 100;
// Where directory events are not delivered (some network and overlay filesystems).
const POLL_MS = 10_000;

export class TokenFile {
  private value: string;
  private watcher: FSWatcher | null = null;
  private poll: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private lastError: string | null = null;

  /** Reads the token at once; throws (for an exit 2 at start) when it is unusable. */
  constructor(
    readonly path: string,
    private readonly logger: TokenFileLogger,
  ) {
    this.value = readTokenFile(path);
  }

  get token(): string {
    return this.value;
  }

  /** Re-reads the file; keeps the current token when the new one is unusable. */
  reload(reason: string): void {
    let next: string;
    try {
      next = readTokenFile(this.path);
    } catch (err) {
      const msg = (err as Error).message;
      // A watched file can stay bad for many events: say it once until it changes.
      if (msg !== this.lastError) this.logger.error({ reason }, `${msg}; the previous token stays in force`);
      this.lastError = msg;
      return;
    }
    this.lastError = null;
    if (next === this.value) return;
    this.value = next;
    this.logger.info({ reason, tokenFile: this.path }, 'bearer token reloaded');
  }

  /** Watches the file's directory (the file itself may be replaced) and polls as a fallback. */
  watch(): void {
    const name = basename(this.path);
    const later = (reason: string) => {
      if (this.debounce) clearTimeout(this.debounce);
      this.debounce = setTimeout(() => this.reload(reason), DEBOUNCE_MS);
      this.debounce.unref();
    };
    try {
      this.watcher = watch(dirname(this.path), { persistent: false }, (_event, file) => {
        // Kubernetes swaps `..data`, not the file's own (symlinked) name; an unnamed event may be anything.
        if (!file || file === name || file.startsWith('..')) later('file changed');
      });
      this.watcher.on('error', (err) => {
        this.logger.error({ err }, `--token-file: watching ${dirname(this.path)} failed; polling every ${POLL_MS / 1000} s`);
        this.watcher?.close();
        this.watcher = null;
      });
    } catch (err) {
      this.logger.error({ err }, `--token-file: cannot watch ${dirname(this.path)}; polling every ${POLL_MS / 1000} s`);
    }
    this.poll = setInterval(() => this.reload('poll'), POLL_MS);
    this.poll.unref();
  }

  close(): void {
    this.watcher?.close();
    if (this.poll) clearInterval(this.poll);
    if (this.debounce) clearTimeout(this.debounce);
  }
}
