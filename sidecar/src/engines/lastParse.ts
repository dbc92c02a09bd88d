// An idle engine answers the same /metrics lines every tick: its counters do not move, and the lines
// the collector keeps (vllmMetrics.keepReadFamilies: no python_*, http_*, process CPU) come out the same,
// byte for byte. Reading them again would build the same result, and the result is what the load window
// keeps for a minute, so each copy also costs the garbage collector. One LastParse per engine holds that
// engine's last kept lines and their result, and nothing else. The lines are held as bytes off the JS
// heap, in a buffer reused from scrape to scrape: a busy engine's, which change every tick, would
// otherwise be one more string a tick that lives long enough to be promoted.

/**
 * Kept lines longer than this are not remembered (read every time): vLLM's are 5–15 KB, a few ranks
 * or many LoRA adapters several times that; a server answering megabytes must not make every
 * engine state hold a copy of them.
 */
export const MAX_REMEMBERED_KEPT_BYTES = 1024 * 1024;

export interface LastParseRead<T> {
  result: T;
  /** The result is the one of the last call: the same endpoint answered the same lines. */
  reused: boolean;
}

export class LastParse<T> {
  private endpoint: string | null = null;
  /** The last kept lines in [0, length); its size is reused while the lines fit. */
  private store: Buffer | null = null;
  private length = 0;
  private result: T | undefined;

  /**
   * What `parse()` gives for `kept`, the kept lines' bytes (read only during the call). `endpoint` names
   * where they came from (URL or socket): the last result is reused only for the same endpoint and the
   * same bytes, so an engine that moved, or lines that changed by one byte, are read afresh. A parse
   * that throws leaves the last one as it was.
   */
  read(endpoint: string, kept: Uint8Array, parse: () => T): LastParseRead<T> {
    const n = kept.length;
    if (this.store !== null && this.endpoint === endpoint && n === this.length && this.store.compare(kept, 0, n, 0, n) === 0) {
      return { result: this.result as T, reused: true };
    }
    const result = parse();
    if (n > MAX_REMEMBERED_KEPT_BYTES) {
      this.clear();
      return { result, reused: false };
    }
    // A new buffer when the lines outgrew it, or shrank far below it.
    if (this.store === null || this.store.length < n || this.store.length > 4 * Math.max(n, 16 * 1024)) this.store = Buffer.allocUnsafeSlow(n + (n >> 3) + 64);
    this.store.set(kept);
    this.length = n;
    this.endpoint = endpoint;
    this.result = result;
    return { result, reused: false };
  }

  /** Forget (the engine is down or answered badly): the next read parses. */
  clear(): void {
    this.endpoint = null;
    this.store = null;
    this.length = 0;
    this.result = undefined;
  }
}
