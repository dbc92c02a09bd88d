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
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly limits: AnswerCacheLimits = DEFAULT_ANSWER_CACHE_LIMITS) {}

  /** Entries of an older publication are dropped: nothing of it is served again. */
  private enter(publication: object): void {
    if (publication === this.publication) return;
    this.publication = publication;
    this.entries.clear();
    this.bytes = 0;
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
