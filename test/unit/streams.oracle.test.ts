import { fc, test } from '@fast-check/vitest';
import { expect } from 'vitest';
import { combine, count, min, sum } from '../../core/streams/aggregators.ts';
import type { InputRecord, JobState, LateRecord, OutputRecord } from '../../core/streams/job.ts';
import { stream } from '../../core/streams/stream.ts';
import { boundedOutOfOrderness, withIdleness } from '../../core/streams/watermarks.ts';
import { session, sliding, tumbling, type WindowAssigner } from '../../core/streams/windows.ts';

/**
 * The oracle: for generated event streams (several partitions, disorder within and beyond the
 * watermark bound, partitions going idle as the runner’s clock moves between batches), the window
 * operator fed in random batches — with its state sent through JSON between batches, some batches
 * run and thrown away (a crash before the commit) and some records delivered twice — emits exactly
 * what a brute-force model computes from the raw events, in the same order, and every event is
 * either counted or in the late side output, never both.
 */

interface Ev {
  k: string;
  t: number;
  n: number;
}
interface Delivered extends InputRecord {
  value: Ev;
}

const slotStart = (t: number, len: number) => Math.floor(t / len) * len;

/** Brute force: one event at a time, windows recomputed from every accepted event so far. */
function oracle(
  events: Delivered[],
  batches: { start: number; end: number; now: number }[],
  assigner: WindowAssigner,
  boundMs: number,
  latenessMs: number,
  idleMs: number | undefined,
) {
  const outputs: OutputRecord[] = [];
  const late: { partition: number; offset: number }[] = [];
  const accepted: Ev[] = [];
  const maxByPartition = new Map<number, number>();
  const lastActive = new Map<number, number>();
  let wm: number | null = null;
  const result = (key: string, start: number, end: number) => {
    const inside = accepted.filter((e) => e.k === key && e.t >= start && e.t < end);
    return {
      topic: 'out',
      key,
      value: {
        key,
        window: { start, end },
        result: {
          count: inside.length,
          total: inside.reduce((a, e) => a + e.n, 0),
          first: Math.min(...inside.map((e) => e.t)),
        },
      },
    };
  };
  /** Every window with at least one accepted event, as [key, start, end]. */
  const windows = (): [string, number, number][] => {
    const out = new Map<string, [string, number, number]>();
    if (assigner.kind === 'session') {
      for (const key of new Set(accepted.map((e) => e.k))) {
        const times = accepted
          .filter((e) => e.k === key)
          .map((e) => e.t)
          .sort((a, b) => a - b);
        let start = times[0] as number;
        for (let i = 1; i <= times.length; i++) {
          if (i === times.length || (times[i] as number) - (times[i - 1] as number) >= assigner.gapMs) {
            out.set(`${key}/${start}`, [key, start, (times[i - 1] as number) + assigner.gapMs]);
            start = times[i] as number;
          }
        }
      }
    } else {
      for (const e of accepted) {
        for (let s = slotStart(e.t, assigner.slideMs); s + assigner.sizeMs > e.t; s -= assigner.slideMs) {
          out.set(`${e.k}/${s}`, [e.k, s, s + assigner.sizeMs]);
        }
      }
    }
    return [...out.values()];
  };
  /** Recomputes the watermark at `now`: the minimum over partitions not idle, else the maximum; never back. */
  const advance = (now: number) => {
    const parts = [...maxByPartition.keys()];
    const active = parts.filter((p) => idleMs === undefined || now - (lastActive.get(p) as number) <= idleMs);
    const marks = (ps: number[]) => ps.map((p) => (maxByPartition.get(p) as number) - boundMs);
    if (parts.length === 0) return;
    const next = active.length > 0 ? Math.min(...marks(active)) : Math.max(...marks(parts));
    if (wm !== null && next <= wm) return;
    const from = wm;
    wm = next;
    const due = windows()
      .filter(([, , end]) => end <= next && (from === null || end > from))
      .sort((a, b) => a[2] - b[2] || a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (const [k, s, end] of due) outputs.push(result(k, s, end));
  };
  for (const batch of batches) {
    advance(batch.now);
    for (const { partition, offset, value: e } of events.slice(batch.start, batch.end)) {
      const isLate =
        wm !== null &&
        (assigner.kind === 'session'
          ? e.t + latenessMs < wm
          : slotStart(e.t, assigner.slideMs) + assigner.sizeMs + latenessMs <= wm);
      if (isLate) late.push({ partition, offset });
      else {
        accepted.push(e);
        const mine = windows()
          .filter(([k, s, end]) => k === e.k && e.t >= s && e.t < end && wm !== null && end <= wm)
          .filter(([, , end]) => assigner.kind === 'session' || end + latenessMs > (wm as number))
          .sort((a, b) => a[1] - b[1]);
        for (const [k, s, end] of mine) outputs.push(result(k, s, end));
      }
      maxByPartition.set(partition, Math.max(maxByPartition.get(partition) ?? -Infinity, e.t));
      lastActive.set(partition, batch.now);
      advance(batch.now);
    }
  }
  return { outputs, late, accepted };
}

const assigners: Record<string, WindowAssigner> = {
  tumbling: tumbling({ size: 10 }),
  sliding: sliding({ size: 30, slide: 10 }),
  'sliding (panes of gcd 5)': sliding({ size: 25, slide: 10 }),
  session: session({ gap: 7 }),
};

/** Per partition, times that mostly rise, with jitter within the bound and now and then far beyond it. */
const scenario = fc
  .record({
    partitions: fc.integer({ min: 1, max: 3 }),
    boundMs: fc.constantFrom(0, 5, 12),
    latenessMs: fc.constantFrom(0, 8, 20),
    steps: fc.array(
      fc.record({
        partition: fc.nat(2),
        key: fc.constantFrom('a', 'b', 'c'),
        advance: fc.integer({ min: 0, max: 6 }),
        jitter: fc.oneof(
          { weight: 6, arbitrary: fc.integer({ min: 0, max: 12 }) },
          { weight: 1, arbitrary: fc.integer({ min: 13, max: 60 }) },
        ),
        n: fc.integer({ min: 1, max: 100 }),
      }),
      { minLength: 1, maxLength: 80 },
    ),
    cuts: fc.array(fc.integer({ min: 0, max: 80 }), { maxLength: 12 }),
    replays: fc.array(fc.boolean(), { maxLength: 12 }),
    idleMs: fc.constantFrom(undefined, 3, 10),
    ticks: fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 14, maxLength: 14 }),
  })
  .map((s) => {
    const clock = new Map<number, number>();
    const next = new Map<number, number>();
    const events: Delivered[] = s.steps.map((step) => {
      const partition = step.partition % s.partitions;
      const base = (clock.get(partition) ?? 100) + step.advance;
      clock.set(partition, base);
      const offset = next.get(partition) ?? 0;
      next.set(partition, offset + 1);
      return { partition, offset, value: { k: step.key, t: base - step.jitter, n: step.n } };
    });
    return { ...s, events };
  });

for (const [name, assigner] of Object.entries(assigners)) {
  test.prop([scenario], { numRuns: 300 })(`${name} windows equal the brute-force oracle`, (s) => {
    const job = stream<Ev>('in', {
      timestamp: (e) => e.t,
      watermark: boundedOutOfOrderness(s.boundMs),
      ...(s.idleMs === undefined ? {} : { idleness: withIdleness(s.idleMs) }),
    })
      .keyBy((e) => e.k)
      .window(assigner, { allowedLateness: s.latenessMs, lateTopic: 'in-late' })
      .aggregate(combine({ count: count<Ev>(), total: sum((e: Ev) => e.n), first: min((e: Ev) => e.t) }))
      .to('out');

    const cuts = [...new Set(s.cuts.map((c) => c % (s.events.length + 1)))].sort((a, b) => a - b);
    // The runner’s clock moves between batches (idle partitions stop counting); a last, empty batch
    // comes long after, when every partition is idle.
    const bounds = [0, ...cuts, s.events.length, s.events.length];
    const batches = bounds.slice(1).map((end, i) => ({
      start: bounds[i] as number,
      end,
      now: s.ticks.slice(0, i + 1).reduce((a, b) => a + b, 0) + (i === bounds.length - 2 ? 100 : 0),
    }));
    let stored = JSON.stringify(job.initialState());
    const outputs: OutputRecord[] = [];
    const late: LateRecord[] = [];
    for (const [i, { start, end, now }] of batches.entries()) {
      // A redelivery: the batch starts a little before where the last one ended.
      const batch = s.events.slice(Math.max(0, start - (s.replays[i] ? 3 : 0)), end);
      const state = JSON.parse(stored) as JobState;
      if (s.replays[i + 1]) job.step(state, batch, now); // crashed before its commit: thrown away
      const r = job.step(state, batch, now);
      expect(JSON.parse(stored)).toStrictEqual(state); // the step did not change its input
      outputs.push(...r.outputs);
      late.push(...r.late);
      stored = JSON.stringify(r.state);
    }

    const expected = oracle(s.events, batches, assigner, s.boundMs, s.latenessMs, s.idleMs);
    expect(outputs).toStrictEqual(expected.outputs);
    expect(late.map((l) => ({ partition: l.partition, offset: l.offset }))).toStrictEqual(expected.late);
    expect(late.every((l) => l.topic === 'in-late' && l.reason === 'late')).toBe(true);
    // Every event is counted or late, never both.
    expect(expected.accepted.length + late.length).toBe(s.events.length);
    // State holds nothing the watermark and lateness have let go of.
    const final = JSON.parse(stored) as JobState;
    for (const raw of Object.values(final.keys) as {
      panes?: Record<string, unknown>;
      sessions?: { end: number }[];
    }[]) {
      const ends =
        assigner.kind === 'session'
          ? (raw.sessions ?? []).map((x) => x.end)
          : Object.keys(raw.panes ?? {}).map((p) => slotStart(Number(p), assigner.slideMs) + assigner.sizeMs);
      for (const end of ends) expect(end + s.latenessMs).toBeGreaterThan(final.watermark as number);
    }
  });
}

test.prop([scenario], { numRuns: 200 })('process() gives the same outputs however its input is batched', (s) => {
  // Per key: a running total, emitted (with the watermark) at each timer; timers 7 after each event.
  const job = stream<Ev>('in', { timestamp: (e) => e.t, watermark: boundedOutOfOrderness(s.boundMs) })
    .keyBy((e) => e.k)
    .process<{ total: number }, [string, number, number | null]>({
      processElement(e, ctx) {
        ctx.setState({ total: (ctx.state()?.total ?? 0) + e.n });
        if (e.n % 3 === 0) ctx.deleteTimer(ctx.timestamp + 7);
        else ctx.registerTimer(ctx.timestamp + 7);
      },
      onTimer(time, ctx) {
        ctx.emit([ctx.key, ctx.state()?.total ?? -1, ctx.watermark]);
        if (time % 4 === 0) ctx.registerTimer(time + 2);
        if (time % 5 === 0) ctx.clearState();
      },
    })
    .to('out');
  const whole = job.step(job.initialState(), s.events, 0).outputs;
  const cuts = [...new Set(s.cuts.map((c) => c % (s.events.length + 1)))].sort((a, b) => a - b);
  const bounds = [0, ...cuts, s.events.length];
  let stored = JSON.stringify(job.initialState());
  const batched: OutputRecord[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const r = job.step(JSON.parse(stored) as JobState, s.events.slice(bounds[i], bounds[i + 1]), 0);
    batched.push(...r.outputs);
    stored = JSON.stringify(r.state);
  }
  expect(batched).toStrictEqual(whole);
});
