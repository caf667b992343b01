import { fc, test as prop } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import { MemoryAtomicWriter } from '../../core/adapters/memory/memoryAtomic.ts';
import { MemoryStore } from '../../core/adapters/memory/memoryStore.ts';
import { DynamoPart } from '../../core/adapters/dynamodb/dynamoAtomic.ts';
import { isSluiceError } from '../../core/errors.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { count, sum, combine } from '../../core/streams/aggregators.ts';
import { DynamoTableSink } from '../../core/streams/dynamoTableSink.ts';
import type { InputRecord, JobState, StreamJob } from '../../core/streams/job.ts';
import { JobRunner } from '../../core/streams/runner.ts';
import { MemoryJobStateStore } from '../../core/streams/stateStore.ts';
import { stream } from '../../core/streams/stream.ts';
import { MemoryTableSink, type TableWrite } from '../../core/streams/tableSink.ts';
import { boundedOutOfOrderness } from '../../core/streams/watermarks.ts';
import type { WindowResult } from '../../core/streams/windowOperator.ts';
import { sliding, tumbling } from '../../core/streams/windows.ts';
import { thrownBy } from '../support/thrownBy.ts';

interface Ev {
  k: string;
  t: number;
  n: number;
}

const events = (...evs: [k: string, t: number, n?: number][]): InputRecord[] =>
  evs.map(([k, t, n = 1], offset) => ({ partition: 0, offset, value: { k, t, n } }));

const windows = (lateness = 0) =>
  stream<Ev>('in', { timestamp: (e) => e.t, watermark: boundedOutOfOrderness(0) })
    .keyBy((e) => e.k)
    .window(tumbling({ size: 10 }), { allowedLateness: lateness })
    .aggregate(combine({ count: count<Ev>(), total: sum((e: Ev) => e.n) }));

const processed = () =>
  stream<Ev>('in', { timestamp: (e) => e.t, watermark: boundedOutOfOrderness(0) })
    .keyBy((e) => e.k)
    .process<null, { k: string; t: number }>({ processElement: (e, ctx) => ctx.emit({ k: e.k, t: e.t }) });

const iso = (ms: number) => new Date(ms).toISOString();

describe('toTable: the items a step writes', () => {
  test('window results by default: pk the key, sk the window start (ISO), with windowStart and windowEnd', () => {
    const job = windows()
      .map((w) => ({ user: w.key, count: w.result.count, total: w.result.total }))
      .to('out')
      .toTable('alerts');
    const { outputs, tableWrites } = job.step(job.initialState([0]), events(['a', 1, 5], ['b', 2], ['a', 12]), 0);
    expect(outputs.map((o) => o.value)).toStrictEqual([
      { user: 'a', count: 1, total: 5 },
      { user: 'b', count: 1, total: 1 },
    ]);
    expect(tableWrites).toStrictEqual([
      {
        table: 'alerts',
        key: { pk: 'a', sk: iso(0) },
        item: { user: 'a', count: 1, total: 5, pk: 'a', sk: iso(0), windowStart: 0, windowEnd: 10 },
      },
      {
        table: 'alerts',
        key: { pk: 'b', sk: iso(0) },
        item: { user: 'b', count: 1, total: 1, pk: 'b', sk: iso(0), windowStart: 0, windowEnd: 10 },
      },
    ]);
  });

  test('a window fired again within its lateness is one item per step, its last result', () => {
    const job = windows(100).to('out').toTable('totals');
    // Window [0,10) of a fires at 12, then again for each of the two late events.
    const { outputs, tableWrites } = job.step(
      job.initialState([0]),
      events(['a', 1], ['a', 12], ['a', 3], ['a', 4]),
      0,
    );
    expect(outputs.map((o) => (o.value as { result: { count: number } }).result.count)).toStrictEqual([1, 2, 3]);
    expect(tableWrites).toHaveLength(1);
    expect(tableWrites[0]!.item).toMatchObject({ pk: 'a', sk: iso(0), result: { count: 3 }, window: { start: 0 } });
  });

  test('a key function places items; results that are not objects go under value; dates become strings', () => {
    const job = windows()
      .map((w) => (w.key === 'a' ? w.result.total : new Date(w.window.end)))
      .to('out')
      .toTable('tab1', { key: (v) => ({ pk: typeof v === 'number' ? 'num' : 'date' }) });
    const { tableWrites } = job.step(job.initialState([0]), events(['a', 1, 7], ['b', 2], ['a', 12]), 0);
    expect(tableWrites.map((w) => w.item)).toStrictEqual([
      { value: 7, pk: 'num', windowStart: 0, windowEnd: 10 },
      { value: iso(10), pk: 'date', windowStart: 0, windowEnd: 10 },
    ]);
  });

  test('process results need a key function, and get no window attributes', () => {
    expect(thrownBy(() => processed().to('out').toTable('tab1'))).toMatchObject({
      code: 'InvalidArgument',
      field: 'options.key',
    });
    const job = processed()
      .to('out')
      .toTable('tab1', { key: (v) => ({ pk: v.k, sk: String(v.t).padStart(6, '0') }) });
    const { tableWrites } = job.step(job.initialState([0]), events(['a', 1], ['b', 2]), 0);
    expect(tableWrites.map((w) => w.item)).toStrictEqual([
      { k: 'a', t: 1, pk: 'a', sk: '000001' },
      { k: 'b', t: 2, pk: 'b', sk: '000002' },
    ]);
  });

  test('a pipeline may write a topic and several tables, each its own items', () => {
    const job = windows()
      .to('out')
      .toTable('by-window')
      .toTable('latest', { key: (w) => ({ pk: w.key }) });
    const { tableWrites } = job.step(job.initialState([0]), events(['a', 1], ['a', 12], ['a', 25]), 0);
    expect(tableWrites.map((w) => [w.table, w.key])).toStrictEqual([
      ['by-window', { pk: 'a', sk: iso(0) }],
      ['by-window', { pk: 'a', sk: iso(10) }],
      ['latest', { pk: 'a' }], // the later window’s result, written last
    ]);
    expect(tableWrites[2]!.item).toMatchObject({ windowStart: 10 });
  });

  test('bad keys and results that carry the sink’s own attributes are InvalidArgument at the step', () => {
    const step = (job: StreamJob) => () => job.step(job.initialState([0]), events(['a', 1], ['a', 12]), 0);
    const keyed = (key: (w: unknown) => unknown) =>
      windows()
        .to('out')
        .toTable('tab1', { key: key as never });
    for (const bad of [() => ({ pk: '' }), () => ({ pk: 5 }), () => null, () => ({ pk: 'a', sk: '' })]) {
      expect(thrownBy(step(keyed(bad)))).toMatchObject({ code: 'InvalidArgument', field: 'toTable(tab1).key' });
    }
    expect(thrownBy(step(keyed(() => ({ pk: 'a', other: 1 }))))).toMatchObject({ field: 'toTable(tab1).key' });
    expect(thrownBy(step(keyed(() => ({ pk: 'x'.repeat(2049) }))))).toMatchObject({ field: 'toTable(tab1).key' });
    const clashing = windows()
      .map((w) => ({ pk: w.key }))
      .to('out')
      .toTable('tab1');
    expect(thrownBy(step(clashing))).toMatchObject({ code: 'InvalidArgument', field: 'toTable(tab1)' });
    const unnamed = windows()
      .map(() => ({ '': 1 }))
      .to('out')
      .toTable('tab1');
    expect(thrownBy(step(unnamed))).toMatchObject({ code: 'InvalidArgument', field: 'toTable(tab1)' });
  });
});

describe('toTable: the oracle', () => {
  const job = stream<Ev>('in', { timestamp: (e) => e.t, watermark: boundedOutOfOrderness(5) })
    .keyBy((e) => e.k)
    .window(sliding({ size: 20, slide: 10 }), { allowedLateness: 15 })
    .aggregate(combine({ count: count<Ev>(), total: sum((e: Ev) => e.n) }))
    .to('out')
    .toTable('tab1');
  const arbitraryEvents = fc.array(
    fc.record({
      k: fc.constantFrom('a', 'b', 'c'),
      dt: fc.integer({ min: -2, max: 6 }),
      late: fc.nat(40),
      n: fc.nat(9),
    }),
    { maxLength: 60 },
  );

  prop.prop([arbitraryEvents, fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 20 })])(
    'the table after the steps of any split holds the last result per key and window of one step over everything',
    (generated, sizes) => {
      let t = 100;
      const input = events(
        ...generated.map(({ k, dt, late, n }, i): [string, number, number] => {
          t += dt;
          return [k, i % 7 === 6 ? t - late : t, n]; // now and then far behind
        }),
      );
      const last = new Map<string, unknown>();
      for (const o of job.step(job.initialState([0]), input, 0).outputs) {
        const w = o.value as WindowResult<unknown>;
        last.set(JSON.stringify([w.key, iso(w.window.start)]), w);
      }
      const table = new Map<string, unknown>();
      let state = job.initialState([0]);
      for (let at = 0, i = 0; at < input.length; at += sizes[i++ % sizes.length]!) {
        const result = job.step(
          JSON.parse(JSON.stringify(state)) as JobState,
          input.slice(at, at + sizes[i % sizes.length]!),
          0,
        );
        for (const w of result.tableWrites) table.set(JSON.stringify([w.key.pk, w.key.sk]), w.item);
        state = result.state;
      }
      expect([...table.keys()].sort()).toStrictEqual([...last.keys()].sort());
      for (const [address, result] of last) {
        const { windowStart, windowEnd, pk, sk, ...attributes } = table.get(address) as Record<string, unknown>;
        expect(attributes).toStrictEqual(result);
        expect([pk, sk, windowStart, windowEnd]).toStrictEqual([
          (result as WindowResult<unknown>).key,
          iso((result as WindowResult<unknown>).window.start),
          (result as WindowResult<unknown>).window.start,
          (result as WindowResult<unknown>).window.end,
        ]);
      }
    },
  );
});

describe('toTable: options', () => {
  test('are checked when the pipeline is built, with typed errors and hints', () => {
    const job = windows().to('out');
    expect(thrownBy(() => job.toTable('ab'))).toMatchObject({ code: 'InvalidArgument', field: 'table' });
    expect(thrownBy(() => job.toTable('bad name!'))).toMatchObject({ field: 'table' });
    expect(thrownBy(() => job.toTable('tab1').toTable('tab1'))).toMatchObject({ field: 'table' });
    expect(thrownBy(() => job.toTable('tab1', { keys: () => ({ pk: 'a' }) } as never))).toMatchObject({
      field: 'options.keys',
    });
    expect(thrownBy(() => job.toTable('tab1', { key: 'pk' } as never))).toMatchObject({ field: 'options.key' });
    expect(thrownBy(() => job.toTable('tab1', null as never))).toMatchObject({ field: 'options' });
    // Building returns a new job: the first is unchanged.
    expect(job.toTable('tab1').spec.tables.map((t) => t.table)).toStrictEqual(['tab1']);
    expect(job.spec.tables).toStrictEqual([]);
  });

  prop.prop([fc.anything(), fc.anything()])(
    'only InvalidArgument escapes toTable, whatever it is given',
    (table, options) => {
      for (const job of [windows().to('out'), processed().to('out')]) {
        try {
          job.toTable(table as string, options as never);
        } catch (e) {
          expect(isSluiceError(e, 'InvalidArgument')).toBe(true);
        }
      }
    },
  );

  prop.prop([fc.anything()])('only InvalidArgument escapes DynamoTableSink, whatever it is given', (options) => {
    try {
      new DynamoTableSink(options as never);
    } catch (e) {
      expect(isSluiceError(e, 'InvalidArgument')).toBe(true);
    }
  });

  test('DynamoTableSink maps sink names to tables, and puts whole items', () => {
    expect(thrownBy(() => new DynamoTableSink({ tables: { alerts: 'x' } }))).toMatchObject({ field: 'tables.alerts' });
    expect(thrownBy(() => new DynamoTableSink({ table: {} } as never))).toMatchObject({ field: 'options.table' });
    const sink = new DynamoTableSink({ tables: { alerts: 'prod-alerts' } });
    const write = (table: string): TableWrite => ({
      table,
      key: { pk: 'u1', sk: iso(0) },
      item: { pk: 'u1', sk: iso(0), n: 2, tags: ['x'], nested: { ok: true, none: null } },
    });
    const part = sink.part([write('alerts'), write('other')]);
    expect(part).toBeInstanceOf(DynamoPart);
    expect(part.items).toBe(2);
    expect(part.writes.map((w) => w.Put?.TableName)).toStrictEqual(['prod-alerts', 'other']);
    expect(part.writes[0]!.Put).toStrictEqual({
      TableName: 'prod-alerts',
      Item: {
        pk: { S: 'u1' },
        sk: { S: iso(0) },
        n: { N: '2' },
        tags: { L: [{ S: 'x' }] },
        nested: { M: { ok: { BOOL: true }, none: { NULL: true } } },
      },
    });
    expect(part.writes[0]!.Put).not.toHaveProperty('ConditionExpression'); // an upsert
  });

  test('an item over 400 KB is TableItemTooLarge on either adapter', () => {
    const big: TableWrite = { table: 'tab1', key: { pk: 'a' }, item: { pk: 'a', pad: 'x'.repeat(400 * 1024) } };
    for (const sink of [new MemoryTableSink(), new DynamoTableSink()]) {
      expect(thrownBy(() => sink.part([big]))).toMatchObject({
        code: 'TableItemTooLarge',
        table: 'tab1',
        pk: 'a',
        maxBytes: 400 * 1024,
      });
    }
  });
});

describe('toTable: the runner', () => {
  const make = () => {
    const store = new MemoryStore();
    const sluice = new Sluice({ log: store, metadata: store, atomic: new MemoryAtomicWriter() });
    return { sluice, store: new MemoryJobStateStore(), job: windows().to('out').toTable('tab1'), name: 'job' };
  };

  test('needs a TableSinkWriter when the job has table sinks', () => {
    expect(thrownBy(() => new JobRunner(make()))).toMatchObject({ code: 'InvalidArgument', field: 'tables' });
    expect(thrownBy(() => new JobRunner({ ...make(), tables: {} as never }))).toMatchObject({ field: 'tables' });
    expect(() => new JobRunner({ ...make(), tables: new MemoryTableSink() })).not.toThrow();
  });

  test('writes the items with the records, and a re-fired window overwrites its item', async () => {
    const kit = make();
    const job = windows(100).to('out').toTable('tab1');
    const tables = new MemoryTableSink();
    await kit.sluice.createTopic('in', { partitions: 1 });
    await kit.sluice.createTopic('out', { partitions: 1 });
    await kit.sluice.createTopic('in-late', { partitions: 1 });
    const runner = new JobRunner({ ...kit, job, tables });
    await kit.sluice.append('in', [{ value: { k: 'a', t: 1, n: 1 } }, { value: { k: 'a', t: 12, n: 1 } }]);
    await runner.runOnce({ now: 0 });
    expect(tables.get('tab1', { pk: 'a', sk: iso(0) })).toMatchObject({ result: { count: 1, total: 1 } });
    await kit.sluice.append('in', [{ value: { k: 'a', t: 5, n: 10 } }]);
    await runner.runOnce({ now: 0 });
    expect(tables.items('tab1')).toStrictEqual([
      {
        key: 'a',
        window: { start: 0, end: 10 },
        result: { count: 2, total: 11 },
        pk: 'a',
        sk: iso(0),
        windowStart: 0,
        windowEnd: 10,
      },
    ]);
  });
});
