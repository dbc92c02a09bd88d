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

describe('SourceTracker before the first collection', () => {
  it('reports sources as starting (not failed or stale) until they publish, and the whole as starting', () => {
    const t = new SourceTracker(3000, new FakeClock());
    expect(t.status('gpu')).toMatchObject({ status: 'starting' });
    expect(t.overall()).toBe('starting');
    t.disable('docker', 'turned off');
    t.success('xid');
    expect(t.overall()).toBe('starting');
    for (const n of ['gpu', 'vgpu', 'engines'] as const) t.success(n);
    expect(t.overall()).toBe('ok');
  });

  it('a failure while others are still starting is no longer "starting"', () => {
    const t = new SourceTracker(3000, new FakeClock());
    t.failure('gpu', 'nvidia-smi exited with code 9');
    expect(t.overall()).toBe('failing');
    t.success('engines');
    expect(t.overall()).toBe('degraded');
  });

  it('a source read less often than every tick goes stale only past its own limit', () => {
    const clock = new FakeClock();
    const t = new SourceTracker(3000, clock);
    t.setStaleAfter('vgpu', 95_000);
    t.success('vgpu');
    t.success('gpu');
    clock.advance(30_000);
    expect(t.status('vgpu')).toMatchObject({ status: 'ok', ageSeconds: 30 });
    expect(t.status('gpu').status).toBe('stale');
    clock.advance(70_000);
    expect(t.status('vgpu').status).toBe('stale');
  });
});
