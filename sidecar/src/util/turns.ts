// Work that holds the event loop for a millisecond or so (parsing one engine's /metrics, publishing a
// tick) waits for a turn of the loop of its own. The API answers on the same thread: a request that
// came in during such work waits for the whole turn it landed in, and the engines' answers tend to
// arrive together (eight probes in flight), so without this one turn could parse all of them back
// to back while a scrape waits. Waiters are let through one per turn, in the order they asked, each
// after the I/O that turn polled (the requests that came in meanwhile) was handled.

// The real one, taken at load: a test that fakes timers later must not leave a release queued on a fake
// clock it never advances (every later waiter would wait behind it).
const immediate = setImmediate;
const waiting: (() => void)[] = [];
let scheduled = false;

function releaseOne(): void {
  const next = waiting.shift();
  // An immediate set while immediates run goes to the next turn, after its I/O poll.
  if (waiting.length > 0) immediate(releaseOne);
  else scheduled = false;
  next?.();
}

/** Resolves in a later turn of the event loop than the current one, and in a turn no other waiter resumes in. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (!scheduled) {
      scheduled = true;
      immediate(releaseOne);
    }
  });
}
