import { describe, expect, test } from 'vitest';
import { isSluiceError } from '../../core/errors.ts';
import type { Sluice } from '../../core/log/sluice.ts';
import type { AtomicOutcome, AtomicPart, AtomicWriter } from '../../core/ports.ts';
import { combine, count, sum } from '../../core/streams/aggregators.ts';
import type { InputRecord, StreamJob } from '../../core/streams/job.ts';
import { JobRunner, LATE_HEADERS } from '../../core/streams/runner.ts';
import type { JobStateStore } from '../../core/streams/stateStore.ts';
import type { TableSinkWriter } from '../../core/streams/tableSink.ts';
import { stream } from '../../core/streams/stream.ts';
import { boundedOutOfOrderness } from '../../core/streams/watermarks.ts';
import type { WindowResult } from '../../core/streams/windowOperator.ts';
import { sliding, tumbling } from '../../core/streams/windows.ts';
import { prng } from '../support/prng.ts';

/**
 * The job runner’s contract, for each pair of stores (memory, DynamoDB Local): over a generated
 * event stream (disorder within and beyond the watermark bound), what the output topic holds
 * (read `read_committed`) is exactly what the pure job computes over all events in one step —
 * with the runner crashing before or after its atomic write at random points and restarted, with
 * two runners racing on one job, and with steps too large for one transaction — and late records
 * are on the late topic, and nowhere else. A table sink ends holding the last result per key and
 * window of the pure job, and after every step (crashed or not) holds exactly what the topic’s
 * records say: a step’s items and records land together or not at all.
 */

/**
 * An `AtomicWriter` that dies on cue, as a process would: armed with `arm(n, when)`, its n-th write
 * from then throws before writing or after the write landed, and every write after that throws
 * too (the process is gone, its retries with it) until `revive()` — a new process.
 */
export class CrashingWriter implements AtomicWriter {
  private readonly inner: AtomicWriter;
  private countdown = 0;
  private when: 'before' | 'after' = 'before';
  private down = false;
  crashes = 0;
  /** Writes that landed. */
  writes = 0;

  constructor(inner: AtomicWriter) {
    this.inner = inner;
  }

  arm(n: number, when: 'before' | 'after'): void {
    this.countdown = n;
    this.when = when;
  }

  revive(): void {
    this.down = false;
    this.countdown = 0;
  }

  async write(parts: readonly AtomicPart[], token: string): Promise<AtomicOutcome> {
    if (this.down) throw new ProcessDied();
    const crash = this.countdown > 0 && --this.countdown === 0;
    if (crash && this.when === 'before') return this.die();
    const outcome = await this.inner.write(parts, token);
    if (outcome.outcome === 'written') this.writes++;
    if (crash) return this.die();
    return outcome;
  }

  private die(): never {
    this.down = true;
    this.crashes++;
    throw new ProcessDied();
  }
}

export class ProcessDied extends Error {
  constructor() {
    super('the runner’s process died (injected)');
  }
}

export interface JobRunnerKit {
  /** With `atomic: writer` and a clock the test moves (`clock.now`), retries without long pauses. */
  readonly sluice: Sluice;
  readonly store: JobStateStore;
  readonly writer: CrashingWriter;
  readonly clock: { now: () => number; advance: (ms: number) => void };
  /** Writes the logical table `sink` (a fresh physical table for DynamoDB, with string `pk` and `sk`). */
  readonly tables: TableSinkWriter;
  /** The items of the logical table `sink`, by pk then sk (strongly consistent). */
  readonly readSink: () => Promise<Record<string, unknown>[]>;
}

interface Ev {
  k: string;
  t: number;
  n: number;
}

/** Per partition, times that mostly rise, with jitter within the bound and now and then far beyond it. */
function events(seed: number, partitions: number, length: number, lateEvery = 9): { partition: number; value: Ev }[] {
  const random = prng(seed);
  const clock = new Map<number, number>();
  return Array.from({ length }, (_, i) => {
    const partition = Math.floor(random() * partitions);
    const base = (clock.get(partition) ?? 1000) + Math.floor(random() * 6);
    clock.set(partition, base);
    const jitter = i % lateEvery === lateEvery - 1 ? 20 + Math.floor(random() * 40) : Math.floor(random() * 10);
    return {
      partition,
      value: { k: 'abc'[Math.floor(random() * 3)]!, t: base - jitter, n: 1 + Math.floor(random() * 99) },
    };
  });
}

const windowJob = (name: string, stages: (s: ReturnType<typeof base>) => StreamJob = (s) => s.to(`${name}-out`)) =>
  stages(base(name));
function base(name: string) {
  return stream<Ev>(`${name}-in`, { timestamp: (e) => e.t, watermark: boundedOutOfOrderness(10) })
    .keyBy((e) => e.k)
    .window(sliding({ size: 20, slide: 10 }), { allowedLateness: 5, lateTopic: `${name}-late` })
    .aggregate(combine({ count: count<Ev>(), total: sum((e: Ev) => e.n) }));
}

export function jobRunnerContract(kind: { name: string; make: () => Promise<JobRunnerKit> }): void {
  describe(`${kind.name}: the job runner`, () => {
    /** Creates the topics, appends the events; the input records as the pure job sees them. */
    async function setUp(kit: JobRunnerKit, name: string, evs: { partition: number; value: Ev }[], partitions = 1) {
      await kit.sluice.createTopic(`${name}-in`, { partitions });
      await kit.sluice.createTopic(`${name}-out`, { partitions: 1, config: { compression: 'none' } });
      await kit.sluice.createTopic(`${name}-late`, { partitions: 1 });
      for (let i = 0; i < evs.length; i += 50) {
        await kit.sluice.append(
          `${name}-in`,
          evs.slice(i, i + 50).map((e) => ({ partition: e.partition, value: e.value })),
        );
      }
      const next = new Map<number, number>();
      return evs.map((e): InputRecord => {
        const offset = next.get(e.partition) ?? 0;
        next.set(e.partition, offset + 1);
        return { partition: e.partition, offset, value: e.value };
      });
    }

    /** Everything on a topic, read_committed, once the gaps crashed writers left have aged. */
    async function readAll(kit: JobRunnerKit, topic: string) {
      kit.clock.advance(60_000);
      const out: { key: unknown; value: unknown; headers: Record<string, unknown> }[] = [];
      const { config } = await kit.sluice.topic(topic);
      for (let p = 0; p < config.partitions; p++) {
        for (let offset = 0; ;) {
          const r = await kit.sluice.read(topic, p, offset, { isolation: 'read_committed', maxRecords: 1000 });
          out.push(...r.records.map((x) => ({ key: x.key, value: x.value, headers: x.headers })));
          // At a gap a crashed writer left, the high watermark stops; the read fills it (it is stale) and moves on.
          if (r.nextOffset === offset) break;
          offset = r.nextOffset;
        }
      }
      return out;
    }

    /** Runs until a step finds nothing to do, restarting (a new runner) after each crash. */
    async function drain(
      kit: JobRunnerKit,
      make: () => JobRunner,
      options: {
        maxRecords: () => number;
        crash?: () => 'before' | 'after' | undefined;
        /** Called after each step, committed, idle or crashed. */
        afterStep?: () => Promise<void>;
      },
    ) {
      let runner = make();
      let conflicts = 0;
      for (let steps = 0; steps < 2000; steps++) {
        const when = options.crash?.();
        if (when !== undefined) kit.writer.arm(1, when);
        try {
          const r = await runner.runOnce({ maxRecords: options.maxRecords(), now: kit.clock.now() });
          conflicts += r.conflicts;
          await options.afterStep?.();
          if (!r.committed) return conflicts;
        } catch (e) {
          if (!(e instanceof ProcessDied)) throw e;
          await options.afterStep?.();
          kit.writer.revive();
          runner = make();
        }
      }
      throw new Error('the runner did not finish');
    }

    const oracle = (job: StreamJob, input: InputRecord[], partitions = 1) =>
      job.step(job.initialState(Array.from({ length: partitions }, (_, p) => p)), input, 0);
    /** What the table sink holds after these window results were written in order: the last per key and window. */
    const tableOf = (results: unknown[]) => {
      const items = new Map<string, Record<string, unknown>>();
      for (const r of results as WindowResult<unknown>[]) {
        const item = { ...r, pk: r.key, sk: new Date(r.window.start).toISOString() };
        items.set(JSON.stringify([item.pk, item.sk]), {
          ...item,
          windowStart: r.window.start,
          windowEnd: r.window.end,
        });
      }
      return [...items.values()].sort((a, b) => compare(a.pk, b.pk) || compare(a.sk, b.sk));
    };

    const expectLate = (late: Awaited<ReturnType<typeof readAll>>, expected: { partition: number; offset: number }[]) =>
      expect(
        late.map((l) => ({
          partition: Number(l.headers[LATE_HEADERS.partition]),
          offset: Number(l.headers[LATE_HEADERS.offset]),
        })),
      ).toStrictEqual(expected.map(({ partition, offset }) => ({ partition, offset })));

    test('outputs and late records equal the pure job’s over all events at once, in any step size', async () => {
      const kit = await kind.make();
      const input = await setUp(kit, 'plain', events(1, 1, 120));
      const job = windowJob('plain');
      const random = prng(11);
      await drain(kit, () => new JobRunner({ sluice: kit.sluice, store: kit.store, job, name: 'plain' }), {
        maxRecords: () => 1 + Math.floor(random() * 25),
      });
      const expected = oracle(job, input);
      expect(expected.late.length).toBeGreaterThan(3);
      expect(expected.outputs.length).toBeGreaterThan(20);
      const out = await readAll(kit, 'plain-out');
      expect(out.map((o) => ({ key: o.key, value: o.value }))).toStrictEqual(
        expected.outputs.map((o) => ({ key: o.key, value: o.value })),
      );
      expectLate(await readAll(kit, 'plain-late'), expected.late);
      const stored = await kit.store.load('plain');
      expect(stored?.state).toStrictEqual(expect.objectContaining({ watermark: expected.state.watermark }));
      expect(stored?.source).toBe('plain-in');
    });

    test('a job is listed once it has committed a step, by name, a page at a time', async () => {
      const kit = await kind.make();
      await setUp(kit, 'listed', events(6, 1, 10));
      const before = await kit.store.list();
      const names = ['listed-b', 'listed-a', 'listed-c'];
      for (const name of names)
        await new JobRunner({ sluice: kit.sluice, store: kit.store, job: windowJob('listed'), name }).runOnce();
      const added = (jobs: string[]) => jobs.filter((j) => !before.jobs.includes(j));
      expect(added((await kit.store.list()).jobs)).toStrictEqual(['listed-a', 'listed-b', 'listed-c']);
      const seen: string[] = [];
      let page = await kit.store.list({ limit: 1 });
      for (let guard = 0; guard < 20; guard++) {
        expect(page.jobs.length).toBeLessThanOrEqual(1);
        seen.push(...page.jobs);
        if (page.next === undefined) break;
        page = await kit.store.list({ limit: 1, after: page.next });
      }
      expect(added(seen)).toStrictEqual(['listed-a', 'listed-b', 'listed-c']);
    });

    test('crashes before and after the atomic write, each followed by a new runner: exactly the oracle’s outputs', async () => {
      const kit = await kind.make();
      const input = await setUp(kit, 'crash', events(2, 1, 120));
      const job = windowJob('crash');
      const random = prng(22);
      await drain(kit, () => new JobRunner({ sluice: kit.sluice, store: kit.store, job, name: 'crash' }), {
        maxRecords: () => 1 + Math.floor(random() * 20),
        crash: () => (random() < 0.35 ? (random() < 0.5 ? 'before' : 'after') : undefined),
      });
      expect(kit.writer.crashes).toBeGreaterThan(4);
      const expected = oracle(job, input);
      const out = await readAll(kit, 'crash-out');
      expect(out.map((o) => o.value)).toStrictEqual(expected.outputs.map((o) => o.value));
      expectLate(await readAll(kit, 'crash-late'), expected.late);
    });

    test('two runners racing on one job never write an output twice, and its table ends as the oracle’s', async () => {
      const kit = await kind.make();
      const input = await setUp(kit, 'race', events(3, 1, 100));
      const job = windowJob('race', (s) => s.to('race-out').toTable('sink'));
      const random = prng(33);
      const runner = () =>
        new JobRunner({
          sluice: kit.sluice,
          store: kit.store,
          job,
          name: 'race',
          maxConflicts: 50,
          tables: kit.tables,
        });
      const conflicts = await Promise.all([
        drain(kit, runner, { maxRecords: () => 1 + Math.floor(random() * 10) }),
        drain(kit, runner, { maxRecords: () => 1 + Math.floor(random() * 10) }),
      ]);
      expect(conflicts[0] + conflicts[1]).toBeGreaterThan(0);
      const expected = oracle(job, input);
      expect((await readAll(kit, 'race-out')).map((o) => o.value)).toStrictEqual(expected.outputs.map((o) => o.value));
      expectLate(await readAll(kit, 'race-late'), expected.late);
      expect(await kit.readSink()).toStrictEqual(tableOf(expected.outputs.map((o) => o.value)));
    });

    test('several input partitions: every window result once (nothing late, so no order between partitions matters)', async () => {
      const kit = await kind.make();
      // Disorder within the bound only: then no window changes after it fired, whatever the interleaving.
      const evs = events(4, 3, 90, Number.MAX_SAFE_INTEGER);
      const input = await setUp(kit, 'parts', evs, 3);
      const job = windowJob('parts');
      const random = prng(44);
      await drain(kit, () => new JobRunner({ sluice: kit.sluice, store: kit.store, job, name: 'parts' }), {
        maxRecords: () => 1 + Math.floor(random() * 12),
        crash: () => (random() < 0.2 ? (random() < 0.5 ? 'before' : 'after') : undefined),
      });
      const expected = oracle(job, input, 3);
      const sorted = (values: unknown[]) => values.map((v) => JSON.stringify(v)).sort();
      expect(sorted((await readAll(kit, 'parts-out')).map((o) => o.value))).toStrictEqual(
        sorted(expected.outputs.map((o) => o.value)),
      );
      expect(expected.late).toStrictEqual([]);
      expect(await readAll(kit, 'parts-late')).toStrictEqual([]);
    });

    test('a step whose outputs pass one transaction’s 4 MB is split into smaller steps, never written in part', async () => {
      const kit = await kind.make();
      const evs = events(5, 1, 60, Number.MAX_SAFE_INTEGER);
      const input = await setUp(kit, 'big', evs);
      // 150 KB per window result: the whole input’s results need several transactions.
      const job = stream<Ev>('big-in', { timestamp: (e) => e.t, watermark: boundedOutOfOrderness(10) })
        .keyBy((e) => e.k)
        .window(tumbling({ size: 10 }), { lateTopic: 'big-late' })
        .aggregate(count<Ev>())
        .map((w) => ({ key: w.key, start: w.window.start, count: w.result, pad: 'x'.repeat(150_000) }))
        .to('big-out');
      const expected = oracle(job, input);
      expect(expected.outputs.length * 150_000).toBeGreaterThan(4 * 1024 * 1024);
      await drain(kit, () => new JobRunner({ sluice: kit.sluice, store: kit.store, job, name: 'big' }), {
        maxRecords: () => 1000,
      });
      // One step would have done (1,000 records a partition); the 4 MB split it.
      expect(kit.writer.writes).toBeGreaterThan(1);
      const out = await readAll(kit, 'big-out');
      expect(out.map((o) => o.value)).toStrictEqual(expected.outputs.map((o) => o.value));
    });

    test('table sink: crashes before and after the write end with the oracle’s table, and no step lands in part', async () => {
      const kit = await kind.make();
      const input = await setUp(kit, 'tab', events(7, 1, 120));
      const job = windowJob('tab', (s) => s.to('tab-out').toTable('sink'));
      const random = prng(77);
      let checks = 0;
      await drain(
        kit,
        () => new JobRunner({ sluice: kit.sluice, store: kit.store, job, name: 'tab', tables: kit.tables }),
        {
          maxRecords: () => 1 + Math.floor(random() * 20),
          crash: () => (random() < 0.35 ? (random() < 0.5 ? 'before' : 'after') : undefined),
          // The table always says what the committed records say: no step’s items without its records, or back.
          afterStep: async () => {
            const records = (await readAll(kit, 'tab-out')).map((o) => o.value);
            expect(await kit.readSink()).toStrictEqual(tableOf(records));
            checks++;
          },
        },
      );
      expect(kit.writer.crashes).toBeGreaterThan(4);
      expect(checks).toBeGreaterThan(10);
      const expected = oracle(job, input);
      const table = tableOf(expected.outputs.map((o) => o.value));
      // Windows fired again within their allowed lateness: their items were overwritten.
      expect(expected.outputs.length).toBeGreaterThan(table.length);
      expect(await kit.readSink()).toStrictEqual(table);
      expect((await readAll(kit, 'tab-out')).map((o) => o.value)).toStrictEqual(expected.outputs.map((o) => o.value));
    });

    test('table sink: a step whose items pass one transaction’s 100 is split into smaller steps', async () => {
      const kit = await kind.make();
      // Each event closes the window of the one before it (a key each): 148 results and items in one step.
      const evs = Array.from({ length: 150 }, (_, i) => ({ partition: 0, value: { k: `k${i}`, t: 10 * i, n: i } }));
      const input = await setUp(kit, 'many', evs);
      const job = stream<Ev>('many-in', { timestamp: (e) => e.t, watermark: boundedOutOfOrderness(1) })
        .keyBy((e) => e.k)
        .window(tumbling({ size: 10 }), { lateTopic: 'many-late' })
        .aggregate(combine({ count: count<Ev>(), total: sum((e: Ev) => e.n) }))
        .to('many-out')
        .toTable('sink');
      const expected = oracle(job, input);
      expect(expected.tableWrites.length).toBe(148); // the last window is still open
      await drain(
        kit,
        () => new JobRunner({ sluice: kit.sluice, store: kit.store, job, name: 'many', tables: kit.tables }),
        { maxRecords: () => 1000 },
      );
      expect(kit.writer.writes).toBeGreaterThan(1);
      expect(await kit.readSink()).toStrictEqual(tableOf(expected.outputs.map((o) => o.value)));
    });

    test('table sink: an item over 400 KB is refused with TableItemTooLarge, and nothing of the step is written', async () => {
      const kit = await kind.make();
      await setUp(kit, 'wide', events(8, 1, 12, Number.MAX_SAFE_INTEGER));
      // 330 KB of JSON, a record the topic takes; as an item, each empty map costs 4 bytes: 440 KB.
      const job = windowJob('wide', (s) =>
        s
          .map((w) => ({ total: w.result.total, maps: Array.from({ length: 110_000 }, () => ({})) }))
          .to('wide-out')
          .toTable('sink'),
      );
      const runner = new JobRunner({ sluice: kit.sluice, store: kit.store, job, name: 'wide', tables: kit.tables });
      const error = await runner.runOnce({ maxRecords: 100, now: kit.clock.now() }).catch((e: unknown) => e);
      expect(isSluiceError(error, 'TableItemTooLarge')).toBe(true);
      expect(error).toMatchObject({ table: 'sink', maxBytes: 400 * 1024 });
      expect(await kit.store.load('wide')).toBeUndefined();
      expect(await readAll(kit, 'wide-out')).toStrictEqual([]);
      expect(await kit.readSink()).toStrictEqual([]);
    });

    test('a state larger than one item spreads over chunk items; a step rewrites only the chunks it changed', async () => {
      const kit = await kind.make();
      const evs = Array.from({ length: 3000 }, (_, i) => ({ partition: 0, value: { k: `user-${i}`, t: 1000, n: 1 } }));
      const input = await setUp(kit, 'huge', evs);
      const job = stream<Ev>('huge-in', { timestamp: (e) => e.t, watermark: boundedOutOfOrderness(1_000_000) })
        .keyBy((e) => `${e.k}-${'k'.repeat(150)}`)
        .window(tumbling({ size: 10 }))
        .aggregate(count<Ev>())
        .to('huge-out');
      const runner = new JobRunner({ sluice: kit.sluice, store: kit.store, job, name: 'huge' });
      await runner.runOnce({ maxRecords: 3000, now: kit.clock.now() });
      const first = await kit.store.load('huge');
      // 3,000 keys of ~170 bytes in one pane: past one item (400 KB), so over several chunks.
      expect(JSON.stringify(first?.state).length).toBeGreaterThan(400 * 1024);
      expect(Object.keys(first!.layout.head.chunks).length).toBeGreaterThan(1);
      expect(first?.state.keys).toStrictEqual(oracle(job, input).state.keys);
      // One more event, in a new pane: its chunk is written, the first pane’s are left as they were.
      await kit.sluice.append('huge-in', [{ partition: 0, value: { k: 'user-1', t: 1015, n: 1 } }]);
      await runner.runOnce({ now: kit.clock.now() });
      const second = await new JobRunner({ sluice: kit.sluice, store: kit.store, job, name: 'huge' }).runOnce({
        now: kit.clock.now(),
      });
      expect(second.committed).toBe(false);
      const after = await kit.store.load('huge');
      expect(after?.version).toBe(2);
      const written = Object.entries(after!.layout.head.chunks).filter(([, v]) => v === 2);
      expect(written.map(([id]) => id)).toStrictEqual(['p1010/0']);
      expect(after?.state.keys).toStrictEqual(
        oracle(job, [...input, { partition: 0, offset: 3000, value: { k: 'user-1', t: 1015, n: 1 } }]).state.keys,
      );
    });

    test('one key’s state over one item is refused with JobStateTooLarge, and nothing is written', async () => {
      const kit = await kind.make();
      await setUp(kit, 'fat', [{ partition: 0, value: { k: 'a', t: 1000, n: 1 } }]);
      const job = stream<Ev>('fat-in', { timestamp: (e) => e.t, watermark: boundedOutOfOrderness(10) })
        .keyBy((e) => e.k)
        .process<string, string>({ processElement: (_, ctx) => ctx.setState('x'.repeat(400 * 1024)) })
        .to('fat-out');
      const runner = new JobRunner({ sluice: kit.sluice, store: kit.store, job, name: 'fat' });
      const error = await runner.runOnce({ now: kit.clock.now() }).catch((e: unknown) => e);
      expect(isSluiceError(error, 'JobStateTooLarge')).toBe(true);
      expect(await kit.store.load('fat')).toBeUndefined();
    });
  });
}

function compare(a: unknown, b: unknown): number {
  const [x, y] = [String(a), String(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}
