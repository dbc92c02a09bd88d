// An idle engine answers the same /metrics lines every tick: its counters do not move, and the lines
// the collector keeps (vllmMetrics.keepReadFamilies: no python_*, http_*, process CPU) come out the same,
// character for character. Reading them again would build the same result, and the result is what the
// load window keeps for a minute, so each copy also costs the garbage collector. One LastParse per
// engine holds that engine's last kept lines and their result, and nothing else.

/**
 * Kept lines longer than this are not remembered (read every time): vLLM's are 5–15 KB, a few ranks
 * or many LoRA adapters several times that; a server answering megabytes must not make every
 * engine state hold a copy of them.
 */
export const MAX_REMEMBERED_KEPT_CHARS = 1024 * 1024;

export interface LastParseRead<T> {
  result: T;
  /** The result is the one of the last call: the same endpoint answered the same lines. */
  reused: boolean;
}

export class LastParse<T> {
  private endpoint: string | null = null;
  private kept: string | null = null;
  private result: T | undefined;

  /**
   * What `parse(kept)` gives. `endpoint` names where the lines came from (URL or socket): the last
   * result is reused only for the same endpoint and the same characters, so an engine that moved, or
   * anything that changed by one byte, is read afresh. A parse that throws leaves the last one as it was.
   */
  read(endpoint: string, kept: string, parse: (kept: string) => T): LastParseRead<T> {
    if (this.kept !== null && this.endpoint === endpoint && this.kept === kept) return { result: this.result as T, reused: true };
    const result = parse(kept);
    if (kept.length <= MAX_REMEMBERED_KEPT_CHARS) {
      this.endpoint = endpoint;
      this.kept = kept;
      this.result = result;
    } else this.clear();
    return { result, reused: false };
  }

  /** Forget (the engine went away or was restarted): the next read parses. */
  clear(): void {
    this.endpoint = null;
    this.kept = null;
    this.result = undefined;
  }
}
