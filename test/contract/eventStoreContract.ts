import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSluiceError } from '../../core/errors.ts';
import type { Reducer } from '../../core/eventStore/aggregates.ts';
import { EventStore } from '../../core/eventStore/eventStore.ts';
import type { RecordedEvent } from '../../core/eventStore/events.ts';
import { Projection } from '../../core/eventStore/projections.ts';
import type { ReadModel, ReadModelDoc } from '../../core/eventStore/readModel.ts';
import type { FaultyWriter } from '../support/faultyWriter.ts';

export interface EventStoreKind {
  readonly name: string;
  /** Runs of the property tests (DynamoDB Local is slower than memory). */
  readonly propertyRuns: number;
  make(options?: {
    readonly now?: () => number;
    readonly snapshotEvery?: number;
    readonly partitions?: number;
    readonly onConsumedCapacity?: (capacity: ConsumedCapacity[]) => void;
  }): Promise<{ es: EventStore; writer: FaultyWriter; readModel: () => Promise<ReadModel> }>;
}

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: unknown) => (isSluiceError(e) ? e.code : String(e)),
  );

type Account = { balance: number; deposits: number };
const account = (version = 1): Reducer<Account> => ({
  name: 'account',
  version,
  initial: () => ({ balance: 0, deposits: 0 }),
  apply: (s, e) => {
    const amount = (e.data as { amount: number }).amount * version; // another version, another result
    if (e.type === 'Deposited') return { balance: s.balance + amount, deposits: s.deposits + 1 };
    if (e.type === 'Withdrawn') return { ...s, balance: s.balance - amount };
    return s;
  },
});

/** The reducer over events read without snapshots: what every load must equal. */
function replay<S>(reducer: Reducer<S>, events: readonly RecordedEvent[], upTo: (e: RecordedEvent) => boolean) {
  let state = reducer.initial();
  let version = -1;
  for (const e of events) {
    if (!upTo(e)) break;
    state = reducer.apply(state, e);
    version = e.version;
  }
  return { state, version };
}

async function everything(es: EventStore, streamId: string): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for (let from: number | undefined = 0; from !== undefined;) {
    const page = await es.readStream(streamId, { fromVersion: from, maxCount: 7 });
    out.push(...page.events);
    from = page.nextVersion;
  }
  return out;
}

/** The balances a bank projection must hold: the oracle computed from every event. */
function bankOracle(events: readonly RecordedEvent[]): Map<string, ReadModelDoc> {
  const docs = new Map<string, ReadModelDoc>();
  for (const e of events) {
    const amount = (e.data as { amount: number }).amount;
    const doc = docs.get(e.streamId) ?? {};
    docs.set(e.streamId, {
      ...doc,
      balance: ((doc.balance as number | undefined) ?? 0) + (e.type === 'Deposited' ? amount : -amount),
    });
  }
  return docs;
}

const bankProjection = (es: EventStore, name: string, model: ReadModel, readBatch = 5) =>
  new Projection({
    name,
    eventStore: es,
    readBatch,
    handle: (e) => [
      model.add(e.streamId, 'balance', (e.data as { amount: number }).amount * (e.type === 'Deposited' ? 1 : -1)),
    ],
  });

/**
 * The event store on one adapter: EventStoreDB's expected versions, stream reads whose cost does
 * not follow the partition, aggregates at a version or a time against a brute-force replay,
 * snapshots that never change a result, upcasters, and projections that end in the same table
 * however often they crash.
 */
export function eventStoreContract(kind: EventStoreKind): void {
  describe(`event store: ${kind.name}`, () => {
    it('appends with each expectation, numbers events from 0, and refuses a wrong one with the actual version, writing nothing', async () => {
      const { es } = await kind.make({ partitions: 2 });
      const first = await es.appendToStream('acct-1', [{ type: 'Opened', data: { owner: 'ada' } }], {
        expectedVersion: 'noStream',
      });
      expect(first).toMatchObject({ streamId: 'acct-1', firstVersion: 0, lastVersion: 0 });
      expect(first.positions).toHaveLength(1);
      const wrong = await es
        .appendToStream('acct-1', [{ type: 'Deposited', data: { amount: 5 } }], { expectedVersion: 'noStream' })
        .catch((e: unknown) => e);
      expect(wrong).toMatchObject({
        code: 'WrongExpectedVersion',
        actualVersion: 0,
        expectedVersion: 'noStream',
        streamId: 'acct-1',
      });
      expect(
        await code(es.appendToStream('acct-1', [{ type: 'Deposited', data: { amount: 5 } }], { expectedVersion: 3 })),
      ).toBe('WrongExpectedVersion');
      expect(
        await code(
          es.appendToStream('acct-2', [{ type: 'Deposited', data: { amount: 5 } }], {
            expectedVersion: 'streamExists',
          }),
        ),
      ).toBe('WrongExpectedVersion');
      const two = await es.appendToStream(
        'acct-1',
        [
          { type: 'Deposited', data: { amount: 5 }, metadata: { by: 'teller-1' } },
          { type: 'Withdrawn', data: { amount: 2 }, schemaVersion: 2 },
        ],
        { expectedVersion: 0 },
      );
      expect(two).toMatchObject({ firstVersion: 1, lastVersion: 2 });
      expect(two.positions.map((p) => p.offset)).toEqual([two.positions[0]!.offset, two.positions[0]!.offset + 1]);
      await es.appendToStream('acct-1', [{ type: 'Deposited', data: { amount: 1 } }], {
        expectedVersion: 'streamExists',
      });
      await es.appendToStream('acct-1', [{ type: 'Deposited', data: { amount: 1 } }]); // any
      expect(
        await code(es.appendToStream('acct-1', [{ type: 'Deposited', data: { amount: 1 } }], { expectedVersion: -1 })),
      ).toBe('WrongExpectedVersion');
      const events = await everything(es, 'acct-1');
      expect(events.map((e) => [e.version, e.type])).toEqual([
        [0, 'Opened'],
        [1, 'Deposited'],
        [2, 'Withdrawn'],
        [3, 'Deposited'],
        [4, 'Deposited'],
      ]);
      expect(events[1]).toMatchObject({
        streamId: 'acct-1',
        schemaVersion: 1,
        metadata: { by: 'teller-1' },
        data: { amount: 5 },
      });
      expect(events[2]!.schemaVersion).toBe(2);
      expect(new Set(events.map((e) => e.partition)).size).toBe(1);
      // The refused appends left no event anywhere: replaying the topic finds these five only.
      const all = await es.readAll();
      expect(all.events.map((e) => `${e.streamId}@${e.version}`)).toEqual(events.map((e) => `acct-1@${e.version}`));
      expect(all.caughtUp).toBe(true);
      expect(await es.describeStream('acct-1')).toMatchObject({
        streamId: 'acct-1',
        version: 4,
        partition: events[0]!.partition,
      });
      expect(await code(es.describeStream('acct-2'))).toBe('StreamNotFound');
    });

    it('reads a version range in pages, and readAll resumes from its positions', async () => {
      const { es } = await kind.make({ partitions: 3 });
      for (let i = 0; i < 6; i++)
        await es.appendToStream(
          's-1',
          [0, 1, 2].map((k) => ({ type: 'Deposited', data: { amount: i * 3 + k } })),
          { expectedVersion: i * 3 - 1 },
        );
      for (let i = 0; i < 5; i++) await es.appendToStream(`other-${i}`, [{ type: 'Deposited', data: { amount: i } }]);
      const range = await es.readStream('s-1', { fromVersion: 4, toVersion: 10 });
      expect(range.events.map((e) => e.version)).toEqual([4, 5, 6, 7, 8, 9, 10]);
      expect(range.nextVersion).toBeUndefined();
      const page = await es.readStream('s-1', { fromVersion: 4, maxCount: 4 });
      expect(page.events.map((e) => e.version)).toEqual([4, 5, 6, 7]);
      expect(page.nextVersion).toBe(8);
      expect((await es.readStream('s-1', { fromVersion: 18 })).events).toEqual([]);
      expect((await es.readStream('nobody')).events).toEqual([]);
      const seen: string[] = [];
      let from: Record<number, number> | undefined;
      for (let guard = 0; guard < 20; guard++) {
        const got = await es.readAll({ ...(from === undefined ? {} : { from }), maxCount: 4 });
        seen.push(...got.events.map((e) => `${e.streamId}@${e.version}`));
        from = got.positions;
        if (got.caughtUp) break;
      }
      expect(seen.sort()).toEqual(
        [...[...Array(18).keys()].map((v) => `s-1@${v}`), ...[0, 1, 2, 3, 4].map((i) => `other-${i}@0`)].sort(),
      );
    });

    it('lets exactly one of many concurrent writers win each version, and the history equals the winners in order', async () => {
      const { es } = await kind.make({ partitions: 2 });
      const writers = 8;
      const perWriter = kind.name === 'memory' ? 12 : 5;
      // Writers append 1 to 3 events at a time, so one that overwrote another's version could not hide.
      const won: { first: number; last: number; writer: number; n: number }[] = [];
      let refused = 0;
      await Promise.all(
        Array.from({ length: writers }, async (_, w) => {
          for (let n = 0; n < perWriter;) {
            const version = (await es.describeStream('hot').catch(() => ({ version: -1 }))).version;
            const events = Array.from({ length: 1 + ((w + n) % 3) }, (_, k) => ({
              type: 'Deposited',
              data: { amount: 1, writer: w, n, k },
            }));
            try {
              const r = await es.appendToStream('hot', events, { expectedVersion: version });
              expect(r.firstVersion).toBe(version + 1);
              won.push({ first: r.firstVersion, last: r.lastVersion, writer: w, n });
              n++;
            } catch (e) {
              if (!isSluiceError(e, 'WrongExpectedVersion')) throw e;
              expect(e.actualVersion).toBeGreaterThan(version);
              refused++;
            }
          }
        }),
      );
      expect(won).toHaveLength(writers * perWriter);
      expect(refused).toBeGreaterThan(0); // they did race
      // The winners' ranges tile the versions: one winner per version, none skipped.
      const oracle = won
        .sort((a, b) => a.first - b.first)
        .flatMap((x) =>
          Array.from({ length: x.last - x.first + 1 }, (_, k) => ({ amount: 1, writer: x.writer, n: x.n, k })),
        );
      won.forEach((x, i) => expect(x.first).toBe(i === 0 ? 0 : won[i - 1]!.last + 1));
      const history = await everything(es, 'hot');
      expect(history.map((e) => e.version)).toEqual([...oracle.keys()]);
      expect(history.map((e) => e.data)).toEqual(oracle);
      // Losers wrote nothing: the topic holds exactly the winners' events.
      const all = await es.readAll({ maxCount: 10_000 });
      expect(all.events).toHaveLength(oracle.length);
    });

    it('serialises concurrent appends expecting any: distinct versions, none lost', async () => {
      const { es } = await kind.make({ partitions: 1 });
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          es.appendToStream('any', [
            { type: 'Deposited', data: { amount: i } },
            { type: 'Deposited', data: { amount: i } },
          ]),
        ),
      );
      expect(results.map((r) => r.firstVersion).sort((a, b) => a - b)).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
      const history = await everything(es, 'any');
      expect(history.map((e) => e.version)).toEqual([...Array(20).keys()]);
      for (const r of results) {
        const mine = history.filter((e) => e.version === r.firstVersion || e.version === r.lastVersion);
        expect(mine[0]!.data).toEqual(mine[1]!.data); // each append's events stay together
      }
    });

    it('reads a stream at the same cost whether its partition holds 10 or 200 events of other streams', async () => {
      const cost = async (others: number) => {
        let requests = 0;
        let units = 0;
        const counting = { on: false };
        const { es } = await kind.make({
          partitions: 1,
          onConsumedCapacity: (c) => {
            if (!counting.on) return;
            requests++;
            units += c.reduce((n, x) => n + (x.ReadCapacityUnits ?? x.CapacityUnits ?? 0), 0);
          },
        });
        for (let i = 0; i < 3; i++) await es.appendToStream('mine', [{ type: 'Deposited', data: { amount: i } }]);
        for (let i = 0; i < others; i += 10)
          // Large neighbours: a read that touched another stream's batch would pay for it.
          await es.appendToStream(
            `o-${i}`,
            Array.from({ length: 10 }, () => ({ type: 'Deposited', data: { amount: 1, pad: 'x'.repeat(400) } })),
          );
        await es.appendToStream('mine', [{ type: 'Deposited', data: { amount: 3 } }]);
        counting.on = true;
        const { events } = await es.readStream('mine');
        counting.on = false;
        expect(events.map((e) => e.version)).toEqual([0, 1, 2, 3]);
        return { requests, units };
      };
      const small = await cost(10);
      const large = await cost(200);
      expect(small.requests).toBeGreaterThan(0);
      expect(Math.abs(large.requests - small.requests)).toBeLessThanOrEqual(1);
      expect(large.units).toBe(small.units);
      expect(small.requests).toBeLessThanOrEqual(1 + 2 * 4); // the index query, and per append its batch (and topic, first time)
    });

    it('loads an aggregate at any version or time equal to a brute-force replay, with and without snapshots (property)', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.tuple(
              fc.constantFrom('Deposited', 'Withdrawn'),
              fc.integer({ min: 1, max: 50 }),
              fc.integer({ min: -5, max: 30 }),
              fc.integer({ min: 1, max: 3 }),
            ),
            {
              minLength: 1,
              maxLength: kind.name === 'memory' ? 30 : 12,
            },
          ),
          fc.integer({ min: 1, max: 7 }),
          fc.array(fc.integer({ min: -1, max: 40 }), { minLength: 1, maxLength: 4 }),
          fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 4 }),
          async (appends, snapshotEvery, versions, times) => {
            let t = 1_800_000_000_000;
            const { es } = await kind.make({ now: () => t, snapshotEvery, partitions: 1 });
            for (const [type, amount, step, count] of appends) {
              t += step; // the clock may go back: the stream's timestamps still never do
              await es.appendToStream(
                'p',
                Array.from({ length: count }, () => ({ type, data: { amount } })),
              );
            }
            const events = await everything(es, 'p');
            for (let i = 1; i < events.length; i++)
              expect(events[i]!.timestamp).toBeGreaterThanOrEqual(events[i - 1]!.timestamp);
            const reducer = account();
            for (const v of versions) {
              const want = replay(reducer, events, (e) => e.version <= v);
              for (const pass of [1, 2]) {
                const got = await es.load('p', reducer, { at: v });
                expect({ pass, state: got.state, version: got.version }).toEqual({ pass, ...want });
              }
              expect((await es.load('p', reducer, { at: v, snapshots: false })).state).toEqual(want.state);
            }
            for (const dt of times) {
              const at = 1_800_000_000_000 + dt;
              const want = replay(reducer, events, (e) => e.timestamp <= at);
              const got = await es.load('p', reducer, { at: { timestamp: at } });
              expect({ state: got.state, version: got.version }).toEqual(want);
            }
            const now = await es.load('p', reducer);
            expect({ state: now.state, version: now.version }).toEqual(replay(reducer, events, () => true));
          },
        ),
        { numRuns: kind.propertyRuns },
      );
    });

    it('starts from snapshots without changing results, and ignores a snapshot of another reducer version', async () => {
      const { es } = await kind.make({ snapshotEvery: 10, partitions: 1 });
      for (let i = 0; i < 35; i++)
        await es.appendToStream('snap', [{ type: 'Deposited', data: { amount: i } }], { expectedVersion: i - 1 });
      const events = await everything(es, 'snap');
      const first = await es.load('snap', account(1));
      expect(first).toMatchObject({ version: 34, eventsRead: 35, state: replay(account(1), events, () => true).state });
      expect(first.fromSnapshot).toBeUndefined();
      const second = await es.load('snap', account(1));
      expect(second).toMatchObject({ version: 34, fromSnapshot: 29, eventsRead: 5, state: first.state });
      expect((await es.describeStream('snap')).snapshots).toEqual({ account: { version: 29, reducerVersion: 1 } });
      const older = await es.load('snap', account(1), { at: 15 });
      expect(older).toMatchObject({ version: 15, state: replay(account(1), events, (e) => e.version <= 15).state });
      // A new reducer version: the old snapshots are ignored (its own result), then replaced.
      const v2 = await es.load('snap', account(2));
      expect(v2.fromSnapshot).toBeUndefined();
      expect(v2.state).toEqual(replay(account(2), events, () => true).state);
      expect(v2.state).not.toEqual(first.state);
      expect((await es.load('snap', account(2))).fromSnapshot).toBe(29);
      expect((await es.describeStream('snap')).snapshots.account).toEqual({ version: 29, reducerVersion: 2 });
      // A state too large for one item is not snapshotted, and loads still answer.
      const huge: Reducer<{ pad: string }> = {
        name: 'huge',
        version: 1,
        initial: () => ({ pad: '' }),
        apply: () => ({ pad: 'x'.repeat(500_000) }),
      };
      expect((await es.load('snap', huge)).state.pad).toHaveLength(500_000);
      expect((await es.load('snap', huge)).fromSnapshot).toBeUndefined();
    });

    it('upcasts old events on read, in a chain, without changing what is stored', async () => {
      const { es } = await kind.make({ partitions: 1 });
      await es.appendToStream('u', [
        { type: 'Withdrawn', data: { amount: '12.50' }, schemaVersion: 1 },
        { type: 'Withdrawn', data: { amountCents: 300 }, schemaVersion: 2 },
        { type: 'Withdrawn', data: { cents: 7, currency: 'EUR' }, schemaVersion: 3 },
      ]);
      es.registerUpcaster('Withdrawn', 1, (d) => ({
        amountCents: Math.round(Number((d as { amount: string }).amount) * 100),
      }));
      es.registerUpcaster('Withdrawn', 2, (d) => ({
        cents: (d as { amountCents: number }).amountCents,
        currency: 'EUR',
      }));
      expect(await code(Promise.resolve().then(() => es.registerUpcaster('Withdrawn', 2, (d) => d)))).toBe(
        'InvalidArgument',
      );
      const { events } = await es.readStream('u');
      expect(events.map((e) => [e.schemaVersion, e.data])).toEqual([
        [3, { cents: 1250, currency: 'EUR' }],
        [3, { cents: 300, currency: 'EUR' }],
        [3, { cents: 7, currency: 'EUR' }],
      ]);
      const raw = await es.sluice.read(es.topicName, events[0]!.partition, events[0]!.offset);
      expect(raw.records[0]!.value).toEqual({ amount: '12.50' });
      expect((await es.readAll()).events[0]!.data).toEqual({ cents: 1250, currency: 'EUR' });
    });

    it('keeps a projection whose rebuild from zero equals the live one, and ends in the same table after a crash before or after any write', async () => {
      const { es, writer, readModel } = await kind.make({ partitions: 2 });
      const live = await readModel();
      const liveProjection = bankProjection(es, 'live', live);
      const accounts = ['a', 'b', 'c', 'd'];
      // DynamoDB Local: fewer events, as the crash loop below costs steps² transactions.
      const rounds = kind.name === 'memory' ? 4 : 2;
      const perRound = kind.name === 'memory' ? 6 : 4;
      for (let round = 0; round < rounds; round++) {
        for (let i = 0; i < perRound; i++) {
          const acct = accounts[(round * 7 + i * 3) % accounts.length]!;
          await es.appendToStream(acct, [
            { type: 'Deposited', data: { amount: 10 + i } },
            { type: 'Withdrawn', data: { amount: i } },
          ]);
        }
        await liveProjection.run();
      }
      const oracle = bankOracle((await es.readAll({ maxCount: 10_000 })).events);
      expect(await live.all()).toEqual(oracle);
      expect((await liveProjection.run()).applied).toBe(0); // caught up: nothing twice

      const rebuilt = await readModel();
      const fromZero = await bankProjection(es, 'rebuild', rebuilt).run();
      expect(fromZero.commits).toBeGreaterThan(4);
      expect(await rebuilt.all()).toEqual(await live.all());

      // A crash at every write, before it lands and after: running again ends in the same table.
      const total = fromZero.commits;
      const steps = [...Array(total).keys()].map((k) => k + 1);
      expect(steps.length).toBe(total);
      for (const when of ['before', 'after'] as const) {
        for (const k of steps) {
          const model = await readModel();
          const projection = bankProjection(es, `crash-${when}-${k}`, model);
          writer.crashAt(k, when);
          expect(await code(projection.run())).toMatch(/injected crash/);
          writer.crashAt(0, when);
          await bankProjection(es, `crash-${when}-${k}`, model).run();
          expect({ when, k, docs: await model.all() }).toEqual({ when, k, docs: oracle });
        }
      }
    });

    it('lets two runners of one projection race without applying an event twice', async () => {
      const { es, readModel } = await kind.make({ partitions: 1 });
      for (let i = 0; i < 20; i++) await es.appendToStream(`r-${i % 3}`, [{ type: 'Deposited', data: { amount: i } }]);
      const model = await readModel();
      const runs = await Promise.all([
        bankProjection(es, 'twins', model, 3).run(),
        bankProjection(es, 'twins', model, 3).run(),
      ]);
      expect(runs[0].applied + runs[1].applied).toBe(20);
      expect(await model.all()).toEqual(bankOracle((await es.readAll()).events));
      // Reset and run again into an emptied model: the same table.
      const fresh = await readModel();
      const again = bankProjection(es, 'twins', fresh);
      await again.reset();
      await again.run();
      expect(await fresh.all()).toEqual(await model.all());
    });

    it('rejects bad input before writing', async () => {
      const { es } = await kind.make({ partitions: 1 });
      const bad: [string, unknown, unknown][] = [
        ['bad/id', [{ type: 'T', data: 1 }], 'any'],
        ['', [{ type: 'T', data: 1 }], 'any'],
        ['ok', [], 'any'],
        ['ok', [{ type: '', data: 1 }], 'any'],
        ['ok', [{ type: 'T' }], 'any'],
        ['ok', [{ type: 'T', data: 1, extra: 1 }], 'any'],
        ['ok', [{ type: 'T', data: 1, schemaVersion: 0 }], 'any'],
        ['ok', [{ type: 'T', data: 1, metadata: [1] }], 'any'],
        ['ok', [{ type: 'T', data: 1 }], -2],
        ['ok', [{ type: 'T', data: 1 }], 'latest'],
        ['ok', Array.from({ length: 1001 }, () => ({ type: 'T', data: 1 })), 'any'],
      ];
      for (const [id, events, expectedVersion] of bad)
        expect(await code(es.appendToStream(id, events as never, { expectedVersion: expectedVersion as never }))).toBe(
          'InvalidArgument',
        );
      expect(await code(es.describeStream('ok'))).toBe('StreamNotFound');
      expect(await code(es.readStream('ok', { maxCount: 0 }))).toBe('InvalidArgument');
      const misspelt = { sluice: es.sluice, store: es.store, snapshotEvry: 5 } as never;
      expect(await code(Promise.resolve().then(() => new EventStore(misspelt)))).toBe('InvalidArgument');
      const badBatch = { name: 'p', eventStore: es, handle: () => [], readBatch: 0 };
      expect(await code(Promise.resolve().then(() => new Projection(badBatch)))).toBe('InvalidArgument');
    });
  });
}
