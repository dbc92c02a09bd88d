import { jest } from '@jest/globals';
import { pacedPool } from './pacedPool.js';

/** A task per item whose end the test decides; `log` records starts and ends in order. */
function controlled() {
  const log: string[] = [];
  const finish = new Map<string, { ok: () => void; fail: (e: Error) => void }>();
  let inFlight = 0;
  let most = 0;
  const task = (item: string) => {
    log.push(`start ${item}`);
    inFlight++;
    most = Math.max(most, inFlight);
    return new Promise<void>((resolve, reject) => {
      finish.set(item, {
        ok: () => {
          inFlight--;
          log.push(`end ${item}`);
          resolve();
        },
        fail: (e) => {
          inFlight--;
          reject(e);
        },
      });
    });
  };
  return { log, task, end: (item: string) => finish.get(item)?.ok(), fail: (item: string, e: Error) => finish.get(item)?.fail(e), most: () => most };
}

const flush = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

describe('pacedPool', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('runs quick tasks one after another, never two at once, in order', async () => {
    const items = ['a', 'b', 'c', 'd'];
    const ran: string[] = [];
    let inFlight = 0;
    let most = 0;
    await pacedPool(items, { maxInFlight: 8, paceMs: 50 }, async (x) => {
      inFlight++;
      most = Math.max(most, inFlight);
      ran.push(x);
      await Promise.resolve();
      inFlight--;
    });
    expect(ran).toEqual(items);
    expect(most).toBe(1);
  });

  it('starts the next task beside a slow one once the pace has passed, and not before', async () => {
    const c = controlled();
    const done = pacedPool(['slow', 'b', 'c'], { maxInFlight: 8, paceMs: 50 }, c.task);
    await flush();
    expect(c.log).toEqual(['start slow']);
    jest.advanceTimersByTime(49);
    await flush();
    expect(c.log).toEqual(['start slow']);
    jest.advanceTimersByTime(1);
    await flush();
    expect(c.log).toEqual(['start slow', 'start b']);
    // b ends quickly: c follows at once, while slow is still in flight.
    c.end('b');
    await flush();
    expect(c.log).toEqual(['start slow', 'start b', 'end b', 'start c']);
    c.end('c');
    c.end('slow');
    await done;
  });

  it('holds no more than maxInFlight hung tasks, and goes on when one ends', async () => {
    const c = controlled();
    const done = pacedPool(['h1', 'h2', 'x'], { maxInFlight: 2, paceMs: 10 }, c.task);
    await flush();
    jest.advanceTimersByTime(1000);
    await flush();
    expect(c.log).toEqual(['start h1', 'start h2']);
    c.end('h1');
    await flush();
    expect(c.log).toEqual(['start h1', 'start h2', 'end h1', 'start x']);
    c.end('x');
    c.end('h2');
    await done;
    expect(c.most()).toBe(2);
  });

  it('starts nothing after an abort, and settles when the tasks in flight have', async () => {
    const c = controlled();
    const ac = new AbortController();
    let settled = false;
    const done = pacedPool(['a', 'b', 'c'], { maxInFlight: 8, paceMs: 10, signal: ac.signal }, c.task).then(() => (settled = true));
    await flush();
    ac.abort();
    jest.advanceTimersByTime(100);
    await flush();
    expect(c.log).toEqual(['start a']);
    expect(settled).toBe(false);
    c.end('a');
    await done;
    expect(c.log).toEqual(['start a', 'end a']);
  });

  it('rejects with the first error and starts nothing after it', async () => {
    const c = controlled();
    const done = pacedPool(['a', 'b', 'c'], { maxInFlight: 8, paceMs: 10 }, c.task);
    await flush();
    c.fail('a', new Error('engine gone'));
    await expect(done).rejects.toThrow('engine gone');
    jest.advanceTimersByTime(100);
    await flush();
    expect(c.log).toEqual(['start a']);
  });

  it('fails the same way when a task throws before its first await', async () => {
    const done = pacedPool([1], { maxInFlight: 1, paceMs: 10 }, (() => {
      throw new Error('bad item');
    }) as unknown as (n: number) => Promise<void>);
    await expect(done).rejects.toThrow('bad item');
  });

  it('settles at once on no items', async () => {
    await expect(pacedPool([], { maxInFlight: 4, paceMs: 10 }, async () => undefined)).resolves.toBeUndefined();
  });
});
