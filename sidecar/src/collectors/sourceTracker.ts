// The state of each data source as /api/v1/health reports it. A source is `starting` until its first
// collection has had its chance (nvidia-smi's first document, the first engine run): a slow start is
// not a failure. A failed source keeps its last good data in the snapshot; its status says so, with the
// error and the age of what is served. A source is
// stamped when its data is published, on the monotonic clock: a wall-clock step neither makes old
// data look fresh nor fresh data look old.
import type { SourceName, SourceStatus } from '../model.js';
import { systemClock, wallAt, type Clock } from '../util/clock.js';

interface State {
  status: 'ok' | 'failed' | 'disabled' | 'pending';
  error?: string;
  /** Monotonic ms of the last publication of good data. */
  lastSuccessAt?: number;
}

export const SOURCE_NAMES: SourceName[] = ['gpu', 'vgpu', 'xid', 'engines', 'docker'];

export class SourceTracker {
  private readonly states = new Map<SourceName, State>();
  /** Sources read less often than every tick (vGPU) go stale later. */
  private readonly staleAfter = new Map<SourceName, number>();

  /** @param staleAfterMs an ok source whose last success is older than this is reported stale. */
  constructor(
    private readonly staleAfterMs: number,
    private readonly clock: Clock = systemClock,
  ) {
    for (const n of SOURCE_NAMES) this.states.set(n, { status: 'pending' });
  }

  /** `name` is read every `ms` at most: it is stale only past this. */
  setStaleAfter(name: SourceName, ms: number): void {
    this.staleAfter.set(name, ms);
  }

  /** Good data of `name` was published now. */
  success(name: SourceName): void {
    this.states.set(name, { status: 'ok', lastSuccessAt: this.clock.monoMs() });
  }

  failure(name: SourceName, error: string): void {
    const prev = this.states.get(name);
    this.states.set(name, { status: 'failed', error, lastSuccessAt: prev?.lastSuccessAt });
  }

  disable(name: SourceName, why: string): void {
    this.states.set(name, { status: 'disabled', error: why });
  }

  /** Monotonic ms of the last good publication of `name`, if any. */
  lastSuccess(name: SourceName): number | undefined {
    return this.states.get(name)?.lastSuccessAt;
  }

  status(name: SourceName): SourceStatus {
    const s = this.states.get(name) ?? { status: 'pending' };
    const now = this.clock.monoMs();
    const age = s.lastSuccessAt === undefined ? undefined : Math.max(0, Math.round((now - s.lastSuccessAt) / 100) / 10);
    const base = {
      ...(s.error ? { error: s.error } : {}),
      ...(s.lastSuccessAt !== undefined ? { lastSuccessAt: new Date(wallAt(this.clock, s.lastSuccessAt)).toISOString(), ageSeconds: age } : {}),
    };
    switch (s.status) {
      case 'pending':
        return { status: 'starting', error: 'first collection not finished yet' };
      case 'disabled':
        return { status: 'disabled', ...base };
      case 'failed':
        return { status: 'failed', ...base };
      case 'ok':
        return now - (s.lastSuccessAt ?? now) > (this.staleAfter.get(name) ?? this.staleAfterMs)
          ? { status: 'stale', error: 'no fresh data: collection is late', ...base }
          : { status: 'ok', ...base };
    }
  }

  all(): Record<SourceName, SourceStatus> {
    return Object.fromEntries(SOURCE_NAMES.map((n) => [n, this.status(n)])) as Record<SourceName, SourceStatus>;
  }

  /**
   * ok when every enabled source is ok; starting while none has failed or gone stale but some have not
   * had their first chance yet; failing when none is ok, degraded otherwise.
   */
  overall(): 'ok' | 'starting' | 'degraded' | 'failing' {
    const enabled = Object.values(this.all()).filter((s) => s.status !== 'disabled');
    const good = enabled.filter((s) => s.status === 'ok').length;
    const starting = enabled.filter((s) => s.status === 'starting').length;
    if (good === enabled.length) return 'ok';
    if (good + starting === enabled.length) return 'starting';
    return good === 0 ? 'failing' : 'degraded';
  }
}
