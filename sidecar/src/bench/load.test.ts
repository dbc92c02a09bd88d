import { weightedOrder } from './load.js';

describe('weightedOrder', () => {
  it('sends each target its share of requests, interleaved', () => {
    const order = weightedOrder([{ weight: 3 }, { weight: 1 }, {}]);
    expect(order).toEqual([0, 1, 2, 0, 0]);
    const counts = [0, 0, 0];
    for (const i of order) counts[i] = (counts[i] as number) + 1;
    expect(counts).toEqual([3, 1, 1]);
  });
  it('refuses a mix where nothing is sent', () => {
    expect(() => weightedOrder([{ weight: 0 }])).toThrow(/positive weight/);
  });
});
