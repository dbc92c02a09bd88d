import { FakeClock } from '../testing/fakeClock.js';
import { SourceTracker } from './sourceTracker.js';

describe('SourceTracker across wall-clock steps', () => {
  it('a backward step neither hides a source that stopped publishing nor ages a fresh one', () => {
    const clock = new FakeClock();
    const t = new SourceTracker(3000, clock);
    t.success('gpu');
    clock.stepWall(-3_600_000);
    clock.advance(500);
    expect(t.status('gpu')).toMatchObject({ status: 'ok', ageSeconds: 0.5 });
    // The stamp reads in the clock as it is now: half a second ago, not an hour in the future.
    expect(Date.parse(t.status('gpu').lastSuccessAt as string)).toBe(clock.wallMs() - 500);
    // No publication for longer than the stale limit: stale, although the wall clock says it's earlier
    // than the last success.
    clock.advance(3000);
    expect(t.status('gpu').status).toBe('stale');
    expect(t.overall()).toBe('failing');
  });

  it('a forward step does not make fresh data stale', () => {
    const clock = new FakeClock();
    const t = new SourceTracker(3000, clock);
    t.success('gpu');
    clock.stepWall(+3_600_000);
    clock.advance(200);
    expect(t.status('gpu')).toMatchObject({ status: 'ok', ageSeconds: 0.2 });
  });
});
