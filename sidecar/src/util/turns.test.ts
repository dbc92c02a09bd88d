import { nextTurn } from './turns.js';

/** Holds the thread for `ms`, as a parse would. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('nextTurn', () => {
  it('lets waiters through in the order they asked', async () => {
    const order: number[] = [];
    await Promise.all([0, 1, 2, 3, 4].map(async (i) => {
      await nextTurn();
      order.push(i);
    }));
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });

  it('lets one waiter through per turn: a timer that fell due during one runs before the next waiter', async () => {
    const order: string[] = [];
    const waiter = (name: string) => async () => {
      await nextTurn();
      order.push(name);
      if (name !== 'first') return;
      // Falls due while the first waiter's work holds the loop.
      setTimeout(() => order.push('timer'), 0);
      busy(5);
    };
    await Promise.all([waiter('first')(), waiter('second')(), waiter('third')()]);
    // Let through together (in one turn), the second and third would have run before the timer.
    expect(order).toEqual(['first', 'timer', 'second', 'third']);
  });

  it('keeps working after the queue empties', async () => {
    await nextTurn();
    await new Promise((r) => setTimeout(r, 2));
    const order: string[] = [];
    await Promise.all(['a', 'b'].map(async (x) => {
      await nextTurn();
      order.push(x);
    }));
    expect(order).toEqual(['a', 'b']);
  });
});
