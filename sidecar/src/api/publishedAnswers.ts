// Answers that depend on the published state only, serialised once per publication and kept as bytes.
// At 200 requests/s the same snapshot would otherwise be turned into JSON 200 times a second, and the
// garbage that leaves behind is what makes the collector pause the event loop. Entries belong to the
// publication they were built from (the latest snapshot object: every GPU tick and every engine run
// publishes a new one), and the first request after a publication drops them all, so no client ever
// gets an answer older than the latest publication.

/** Bounds that keep many distinct queries in one tick from holding memory: past them, entries are not kept. */
export interface AnswerCacheLimits {
  maxEntries: number;
  maxBytes: number;
}

export const DEFAULT_ANSWER_CACHE_LIMITS: AnswerCacheLimits = { maxEntries: 64, maxBytes: 8 * 1024 * 1024 };

export class PublishedAnswers {
  private publication: object | null = null;
  private readonly entries = new Map<string, Buffer>();
  /** Answers being built under the current publication: requests alike wait for them instead of building their own. */
  private readonly builds = new Map<string, Promise<Buffer | null>>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly limits: AnswerCacheLimits = DEFAULT_ANSWER_CACHE_LIMITS) {}

  /** Entries of an older publication are dropped: nothing of it is served again. */
  private enter(publication: object): void {
    if (publication === this.publication) return;
    this.publication = publication;
    this.entries.clear();
    this.builds.clear();
    this.bytes = 0;
  }

  /** The answer for `key` being built under `publication` (null when it ends up not kept), if one is. */
  pending(publication: object, key: string): Promise<Buffer | null> | undefined {
    this.enter(publication);
    return this.builds.get(key);
  }

  /**
   * Says an answer for `key` is being built under `publication`; returns what ends the build: with the
   * bytes (as kept by keep()) or null when it was not kept. The first request after a publication
   * builds, the ones alike that arrive meanwhile wait (at 200 requests/s a 20 ms build would otherwise be
   * four builds of the same answer, each with its garbage).
   */
  building(publication: object, key: string): (answer: Buffer | null) => void {
    this.enter(publication);
    let settle: (answer: Buffer | null) => void = () => undefined;
    const p = new Promise<Buffer | null>((resolve) => (settle = resolve));
    this.builds.set(key, p);
    return (answer) => {
      if (this.publication === publication && this.builds.get(key) === p) this.builds.delete(key);
      settle(answer);
    };
  }

  /** The kept answer for `key` under `publication`, if any. */
  peek(publication: object, key: string): Buffer | undefined {
    this.enter(publication);
    const hit = this.entries.get(key);
    if (hit) this.hits++;
    return hit;
  }

  /** Keeps `answer` for `key` under `publication` when the limits allow; returns it as bytes. */
  keep(publication: object, key: string, answer: string | Buffer): Buffer {
    this.enter(publication);
    const buf = typeof answer === 'string' ? Buffer.from(answer) : answer;
    this.misses++;
    if (this.entries.size < this.limits.maxEntries && this.bytes + buf.length <= this.limits.maxBytes) {
      this.entries.set(key, buf);
      this.bytes += buf.length;
    }
    return buf;
  }

  /** The answer for `key` under `publication`, built at most once per publication (within the limits). */
  get(publication: object, key: string, build: () => string | Buffer): Buffer {
    return this.peek(publication, key) ?? this.keep(publication, key, build());
  }
}
