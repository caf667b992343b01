import { describe, expect, test } from 'vitest';
import { isSluiceError } from '../../core/errors.ts';
import { count, sum } from '../../core/streams/aggregators.ts';
import { durationMs } from '../../core/streams/duration.ts';
import type { InputRecord, JobState, StreamJob } from '../../core/streams/job.ts';
import { stream } from '../../core/streams/stream.ts';
import { boundedOutOfOrderness, withIdleness } from '../../core/streams/watermarks.ts';
import { session, sliding, tumbling } from '../../core/streams/windows.ts';

interface Ev {
  k: string;
  t: number;
  n: number;
}

/** Records numbered per partition in the order given. */
function records(...events: [partition: number, k: string, t: number, n?: number][]): InputRecord[] {
  const next = new Map<number, number>();
  return events.map(([partition, k, t, n = 1]) => {
    const offset = next.get(partition) ?? 0;
    next.set(partition, offset + 1);
    return { partition, offset, value: { k, t, n } };
  });
}

const counts = (bound = 0, idle?: number) =>
  stream<Ev>('in', {
    timestamp: (e) => e.t,
    watermark: boundedOutOfOrderness(bound),
    ...(idle === undefined ? {} : { idleness: withIdleness(idle) }),
  })
    .keyBy((e) => e.k)
    .window(tumbling({ size: 10 }))
    .aggregate(count())
    .map((w) => `${w.key}@${w.window.start}=${w.result}`)
    .to('out');

const values = (job: StreamJob, state: JobState, batch: InputRecord[], now = 0) => {
  const r = job.step(state, batch, now);
  return { ...r, values: r.outputs.map((o) => o.value) };
};

describe('durations and options', () => {
  test('durations accept milliseconds and unit strings, and reject the rest with a hint', () => {
    expect(durationMs('size', 250)).toBe(250);
    expect(['250ms', '30s', '5m', '1h', '2d'].map((d) => durationMs('size', d))).toEqual([
      250, 30_000, 300_000, 3_600_000, 172_800_000,
    ]);
    for (const bad of [0, -1, 1.5, '5 minutes', '', 'm', Number.NaN]) {
      expect(() => durationMs('size', bad)).toThrow(/size must be a whole number of milliseconds/);
    }
    expect(durationMs('lateness', 0, 0)).toBe(0);
  });

  test('windows and pipelines are validated when built', () => {
    const err = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return isSluiceError(e, 'InvalidArgument') ? e.message : `untyped: ${String(e)}`;
      }
      return 'no error';
    };
    expect(err(() => sliding({ size: '1m', slide: '5m' }))).toMatch(/must not exceed size/);
    expect(err(() => tumbling({ size: '1x' }))).toMatch(/tumbling size/);
    expect(err(() => session({ gap: 0 }))).toMatch(/session gap/);
    const keyed = stream<Ev>('in', { timestamp: (e) => e.t, watermark: boundedOutOfOrderness('5s') }).keyBy((e) => e.k);
    expect(err(() => keyed.window(tumbling({ size: 1 }), { lateness: 5 } as never))).toMatch(/unknown window option/);
    expect(err(() => stream('in', { watermark: boundedOutOfOrderness(0) } as never))).toMatch(/timestamp function/);
    expect(err(() => keyed.window(tumbling({ size: 1 }), { allowedLateness: '1s', allowedLatenessMs: 5 }))).toMatch(
      /not both/,
    );
  });
});

describe('watermarks', () => {
  test('the job’s watermark is the minimum over partitions; a window fires when it reaches the end', () => {
    const job = counts();
    let r = values(job, job.initialState([0, 1]), records([0, 'a', 1], [0, 'a', 12], [1, 'a', 3]));
    expect(r.values).toEqual([]); // partition 1 is at 3: [0, 10) is not complete
    expect(r.state.watermark).toBe(3);
    r = values(job, r.state, [{ partition: 1, offset: 1, value: { k: 'a', t: 10, n: 1 } }]);
    expect(r.values).toEqual(['a@0=2']);
    expect(r.state.watermark).toBe(10);
  });

  test('declared partitions hold the watermark back until they deliver or go idle', () => {
    const job = counts(0, 1_000);
    let r = values(job, job.initialState([0, 1]), records([0, 'a', 1], [0, 'a', 25]), 0);
    expect(r.values).toEqual([]);
    expect(r.state.watermark).toBeNull();
    r = values(job, r.state, [], 1_000); // exactly the timeout: not idle yet
    expect(r.values).toEqual([]);
    r = values(job, r.state, [], 1_001); // partition 1 is idle: partition 0 alone decides
    expect(r.values).toEqual(['a@0=1']);
    expect(r.state.watermark).toBe(25);
  });

  test('an idle partition stops holding the watermark back, and a returning one cannot move it back', () => {
    const job = counts(0, 500);
    let r = values(job, job.initialState(), records([0, 'a', 5], [1, 'b', 2]), 0);
    r = values(job, r.state, [{ partition: 0, offset: 1, value: { k: 'a', t: 31, n: 1 } }], 400);
    expect(r.values).toEqual([]); // partition 1 (at 2) still counts
    r = values(job, r.state, [{ partition: 0, offset: 2, value: { k: 'a', t: 32, n: 1 } }], 600);
    expect(r.values).toEqual(['a@0=1', 'b@0=1']);
    expect(r.state.watermark).toBe(32);
    // Partition 1 comes back far behind: the watermark stays, and its old event is late.
    r = values(job, r.state, [{ partition: 1, offset: 1, value: { k: 'b', t: 4, n: 1 } }], 700);
    expect(r.state.watermark).toBe(32);
    expect(r.late.map((l) => [l.key, l.timestamp, l.reason, l.watermark, l.topic])).toEqual([
      ['b', 4, 'late', 32, 'in-late'],
    ]);
  });

  test('when every partition is idle the watermark is the largest of theirs, so the last windows fire', () => {
    const job = counts(0, 100);
    let r = values(job, job.initialState(), records([0, 'a', 5], [1, 'b', 15]), 0);
    expect(r.values).toEqual([]);
    r = values(job, r.state, [], 101);
    expect(r.values).toEqual(['a@0=1']);
  });
});

describe('steps', () => {
  test('a step leaves its input state alone, skips redelivered offsets and side-outputs bad timestamps', () => {
    const job = counts();
    const state = job.initialState();
    const snapshot = JSON.stringify(state);
    const batch: InputRecord[] = [
      ...records([0, 'a', 1], [0, 'a', 2]),
      { partition: 0, offset: 1, value: { k: 'a', t: 2, n: 1 } }, // redelivered
      { partition: 0, offset: 2, value: { k: 'a', t: Number.NaN, n: 1 } },
      { partition: 0, offset: 3, value: { k: 'a', t: 10, n: 1 } },
    ];
    const r = values(job, state, batch);
    expect(JSON.stringify(state)).toBe(snapshot);
    expect(r.values).toEqual(['a@0=2']);
    expect(r.late.map((l) => [l.offset, l.reason, l.timestamp])).toEqual([[2, 'invalidTimestamp', null]]);
    expect(r.state.partitions['0']?.nextOffset).toBe(4);
    expect(() => job.step(state, [{ partition: -1, offset: 0, value: {} }], 0)).toThrow(/non-negative integer/);
  });

  test('allowed lateness re-emits a fired window once per late event, then sends later ones aside', () => {
    const job = stream<Ev>('in', { timestamp: (e) => e.t, watermark: boundedOutOfOrderness(0) })
      .keyBy((e) => e.k)
      .window(tumbling({ size: '10ms' }), { allowedLatenessMs: 5, lateTopic: 'too-late' })
      .reduce((a, b) => ({ ...a, n: a.n + b.n }))
      .map((w) => `${w.window.start}:${w.result.n}`)
      .to('out');
    const r = values(
      job,
      job.initialState(),
      records(
        [0, 'a', 1, 1],
        [0, 'a', 10, 1],
        [0, 'a', 2, 2],
        [0, 'a', 14, 1],
        [0, 'a', 3, 4],
        [0, 'a', 15, 1],
        [0, 'a', 4, 8],
      ),
    );
    expect(r.values).toEqual(['0:1', '0:3', '0:7']);
    expect(r.late.map((l) => [l.topic, l.timestamp])).toEqual([['too-late', 4]]);
  });

  test('processing-time windows follow the runner’s clock, and nothing is late', () => {
    const job = stream<Ev>('in', { timestamp: (e) => e.t, watermark: boundedOutOfOrderness(0) })
      .keyBy((e) => e.k)
      .window(tumbling({ size: '1m', time: 'processing' }))
      .aggregate(sum((e: Ev) => e.n))
      .map((w) => [w.window.start, w.result])
      .to('out');
    let r = values(job, job.initialState(), records([0, 'a', -1e9, 2], [0, 'a', 9e9, 3]), 10_000);
    expect(r.values).toEqual([]);
    expect(r.late).toEqual([]);
    r = values(job, r.state, [], 59_999);
    expect(r.values).toEqual([]);
    r = values(job, r.state, [], 60_000);
    expect(r.values).toEqual([[0, 5]]);
  });

  test('flatMap, filter and a sink key shape what reaches the topic', () => {
    const job = stream<Ev>('in', { timestamp: (e) => e.t, watermark: boundedOutOfOrderness(0) })
      .keyBy((e) => e.k)
      .window(session({ gap: 5 }))
      .aggregate(count())
      .flatMap((w) => Array.from({ length: w.result }, (_, i) => ({ user: w.key, i })))
      .filter((x) => x.i % 2 === 0)
      .to('out', { key: (x) => `${x.user}-${x.i}` });
    const r = job.step(job.initialState(), records([0, 'u', 1], [0, 'u', 3], [0, 'u', 6], [0, 'u', 20]), 0);
    expect(r.outputs).toEqual([
      { topic: 'out', key: 'u-0', value: { user: 'u', i: 0 } },
      { topic: 'out', key: 'u-2', value: { user: 'u', i: 2 } },
    ]);
  });
});

describe('process', () => {
  interface Seen {
    total: number;
    last: number;
  }
  /** Emits a key’s running total once it has had no events for 10 ms of event time. */
  const job = stream<Ev>('in', { timestamp: (e) => e.t, watermark: boundedOutOfOrderness(2) })
    .keyBy((e) => e.k)
    .process<Seen, { key: string; total: number; quietSince: number }>({
      processElement(e, ctx) {
        const seen = ctx.state() ?? { total: 0, last: -Infinity };
        if (seen.last !== -Infinity) ctx.deleteTimer(seen.last + 10);
        const last = Math.max(seen.last, ctx.timestamp);
        ctx.setState({ total: seen.total + e.n, last });
        ctx.registerTimer(last + 10);
      },
      onTimer(time, ctx) {
        const seen = ctx.state() as Seen;
        ctx.emit({ key: ctx.key, total: seen.total, quietSince: seen.last });
        ctx.clearState();
      },
    })
    .to('quiet');

  test('per-key state and event-time timers survive a restart between batches', () => {
    let state = job.initialState();
    const all = records(
      [0, 'a', 1, 1],
      [0, 'b', 2, 5],
      [0, 'a', 6, 2],
      [0, 'c', 14, 1],
      [0, 'b', 19, 1],
      [0, 'c', 40, 1],
    );
    const out: unknown[] = [];
    for (const batch of [all.slice(0, 2), all.slice(2, 5), all.slice(5)]) {
      const r = job.step(JSON.parse(JSON.stringify(state)) as JobState, batch, 0);
      out.push(...r.outputs.map((o) => [o.key, o.value]));
      state = r.state;
    }
    // c at 14 moves the watermark to 12: b has been quiet since 2. b at 19 moves it to 17: a’s timer
    // (6 + 10) fires. c at 40 pushes c’s timer to 50 and moves the watermark to 38: b’s (29) fires.
    expect(out).toEqual([
      ['b', { key: 'b', total: 5, quietSince: 2 }],
      ['a', { key: 'a', total: 3, quietSince: 6 }],
      ['b', { key: 'b', total: 1, quietSince: 19 }],
    ]);
    expect(Object.keys(state.keys)).toEqual(['c']);
  });
});
