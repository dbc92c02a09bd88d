// Runs a task over items one after another, starting the next one early when the one in flight is
// slow. Why not n at a time: the engines' answers then arrive together, and on a host whose cores are
// busy (engines rendering /metrics at once, the sidecar parsing, Prometheus scraping us) the sidecar's
// thread is the one that waits for a core, so a scrape of our /metrics waits with it. One at a time,
// the engine's work and ours alternate. Why still early starts: an engine that hangs must not hold the
// others for its whole deadline, and a host with many engines must still be read within the budget.

export interface PaceOptions {
  /** Tasks in flight at most (slow or hung ones included). */
  maxInFlight: number;
  /** With no task finished for this long since the last start, the next one starts beside it. */
  paceMs: number;
  /** Once aborted, no task starts; the pool settles when those in flight have. */
  signal?: AbortSignal;
}

/** Settles when every started task has; rejects with the first task's error (no task starts after it). */
export function pacedPool<T>(items: readonly T[], opts: PaceOptions, task: (item: T) => Promise<void>): Promise<void> {
  const max = Math.max(1, Math.floor(opts.maxInFlight));
  const pace = Math.max(0, opts.paceMs);
  return new Promise<void>((resolve, reject) => {
    let next = 0;
    let inFlight = 0;
    let failed = false;
    let timer: NodeJS.Timeout | undefined;
    const startNext = (): void => {
      clearTimeout(timer);
      timer = undefined;
      if (failed) return;
      if (next >= items.length || opts.signal?.aborted) {
        if (inFlight === 0) resolve();
        return;
      }
      if (inFlight >= max) return;
      const item = items[next++] as T;
      inFlight++;
      // A task that throws before its first await fails the pool the same way as one that rejects.
      new Promise<void>((r) => r(task(item))).then(
        () => {
          inFlight--;
          startNext();
        },
        (err: unknown) => {
          inFlight--;
          failed = true;
          clearTimeout(timer);
          reject(err);
        },
      );
      if (next < items.length && inFlight < max) timer = setTimeout(startNext, pace);
    };
    startNext();
  });
}
