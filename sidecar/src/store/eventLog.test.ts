import type { FleetEvent } from '../model.js';
import { EventLog, MAX_EVENT_SUBJECT, MAX_EVENT_TEXT } from './eventLog.js';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();

function flap(engine: string, i: number, model: string): FleetEvent {
  const up = i % 2 === 0;
  return {
    time: at(i * 1000),
    host: 'node-a',
    kind: up ? 'engine-up' : 'engine-down',
    subject: engine,
    text: up ? `engine ${engine} (${model}) is up` : `engine ${engine} (${model}) stopped answering: GET /health: HTTP 503`,
  };
}

describe('event log: flapping engines with huge names', () => {
  // 100 engines with 60 KB model names whose /health flaps every second for ten minutes.
  const model = 'x'.repeat(60_000);
  const log = new EventLog();
  for (let i = 0; i < 600; i++) for (let e = 0; e < 100; e++) log.add(flap(`node-a:${8000 + e}`, i, model));

  it('keeps a few changes per engine and one flapping event with the count', () => {
    const events = log.between(T0, T0 + 3_600_000);
    const one = events.filter((e) => e.subject === 'node-a:8000');
    expect(one.map((e) => e.kind)).toEqual(['engine-up', 'engine-down', 'engine-up', 'engine-down', 'engine-flapping']);
    const flapping = one[4] as FleetEvent;
    expect(flapping.count).toBe(600 - 4);
    expect(flapping.timeEnd).toBe(at(599_000));
    expect(flapping.text).toMatch(/^node-a:8000 is flapping: 596 up\/down changes since 2026-03-01T12:00:00/);
    expect(events).toHaveLength(100 * 5);
  });

  it('caps every text, and the whole log stays within its byte budget', () => {
    for (const e of log.between(T0, T0 + 3_600_000)) expect(e.text.length).toBeLessThanOrEqual(MAX_EVENT_TEXT);
    expect(log.bytes).toBeLessThanOrEqual(log.limits.maxBytes);
    expect(JSON.stringify(log.between(T0, T0 + 3_600_000)).length).toBeLessThan(log.limits.maxBytes);
  });

  it('starts a new flapping event for each window the engine keeps flapping', () => {
    const l = new EventLog({ flapWindowMs: 60_000 });
    for (let i = 0; i < 300; i++) l.add(flap('e', i, 'm'));
    const kinds = l.between(T0, T0 + 3_600_000).map((e) => e.kind);
    // Four changes shown, then one flapping event per started minute of flapping.
    expect(kinds.slice(0, 4)).toEqual(['engine-up', 'engine-down', 'engine-up', 'engine-down']);
    expect(kinds.slice(4).every((k) => k === 'engine-flapping')).toBe(true);
    expect(kinds.length - 4).toBe(5);
  });

  it('shows changes one by one again after a quiet window', () => {
    const l = new EventLog({ flapWindowMs: 60_000 });
    for (let i = 0; i < 10; i++) l.add(flap('e', i, 'm'));
    l.add({ ...flap('e', 0, 'm'), time: at(10 * 60_000) });
    expect(l.between(T0, T0 + 3_600_000).map((e) => e.kind).slice(-2)).toEqual(['engine-flapping', 'engine-up']);
  });
});

describe('event log: Xid storms', () => {
  const xid = (gpu: string, code: number, ms: number): FleetEvent => ({
    time: at(ms), host: 'node-a', kind: 'xid', subject: gpu, text: `Xid ${code} on GPU 0 (${gpu}): detail`,
  });

  it('folds the same Xid on the same GPU within the window into one event with a count', () => {
    const l = new EventLog({ xidWindowMs: 60_000 });
    for (let i = 0; i < 500; i++) l.add(xid('GPU-a', 13, i * 100));
    l.add(xid('GPU-a', 79, 1000));
    l.add(xid('GPU-b', 13, 1000));
    l.add(xid('GPU-a', 13, 120_000));
    const events = l.between(T0, T0 + 3_600_000);
    expect(events.map((e) => [e.subject, e.text.slice(0, 6), e.count ?? 1])).toEqual([
      ['GPU-a', 'Xid 13', 500],
      ['GPU-a', 'Xid 79', 1],
      ['GPU-b', 'Xid 13', 1],
      ['GPU-a', 'Xid 13', 1],
    ]);
    expect(events[0]?.text).toMatch(/\(500 times within 60 s\)$/);
    expect(events[0]?.timeEnd).toBe(at(49_900));
  });
});

describe('event log: bounds', () => {
  it('is a ring: the oldest events leave first, in count and in bytes', () => {
    const l = new EventLog({ maxEvents: 100 });
    for (let i = 0; i < 1000; i++) l.add({ time: at(i), host: 'h', kind: 'mig-reconfigured', subject: `GPU-${i}`, text: `change ${i}` });
    expect(l.size).toBe(100);
    expect(l.between(T0, T0 + 10_000)[0]?.subject).toBe('GPU-900');
    const small = new EventLog({ maxBytes: 64 * 1024 });
    for (let i = 0; i < 1000; i++) small.add({ time: at(i), host: 'h', kind: 'mig-reconfigured', subject: `GPU-${i}`, text: 'y'.repeat(5000) });
    expect(small.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(small.size).toBeGreaterThan(10);
  });

  it('answers at most the limit, the newest, saying it cut', () => {
    const l = new EventLog();
    for (let i = 0; i < 50; i++) l.add({ time: at(i), host: 'h', kind: 'vgpu-attached', subject: `v${i}`, text: 't' });
    const r = l.query({ fromMs: T0, toMs: T0 + 1000, limit: 10 });
    expect(r.truncated).toBe(true);
    expect(r.events.map((e) => e.subject)).toEqual(['v40', 'v41', 'v42', 'v43', 'v44', 'v45', 'v46', 'v47', 'v48', 'v49']);
    expect(l.query({ fromMs: T0, toMs: T0 + 1000, limit: 50 }).truncated).toBe(false);
  });

  it('cleans and caps subjects and texts from untrusted sources', () => {
    const l = new EventLog();
    const kept = l.add({ time: at(0), host: 'h', kind: 'mig-reconfigured', subject: `GPU-${'z'.repeat(10_000)}`, text: 'a\x1b[31mred\x00\nb' });
    expect(kept?.subject.length).toBeLessThanOrEqual(MAX_EVENT_SUBJECT);
    expect(kept?.text).toBe('ared  b');
  });

  it('counts flaps and Xids of a bounded number of subjects, however many fail', () => {
    const l = new EventLog({ maxTracked: 500 });
    for (let i = 0; i < 20_000; i++) {
      l.add({ ...flap(`node-a:${i}`, 1, 'm') });
      l.add({ time: at(i), host: 'h', kind: 'xid', subject: `PCI-${i}`, text: 'Xid 79 on GPU' });
    }
    expect(l.tracked).toBeLessThanOrEqual(1000);
  });
});
