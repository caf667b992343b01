import { describe, expect, it } from 'vitest';
import type { ConsumerGroups } from '../../core/groups/consumerGroups.ts';
import type { Isolation, Sluice } from '../../core/log/sluice.ts';
import { logKey, type AtomicOutcome, type AtomicPart, type AtomicWriter } from '../../core/ports.ts';
import type { Transactions } from '../../core/transactions/transactions.ts';
import type { Tiering } from '../../core/tiering/tiering.ts';
import { prng } from '../support/prng.ts';
import { clock, code } from '../support/clock.ts';

/** Faults a test injects into atomic writes: thrown before the write (nothing landed) or after it (it landed). */
export class FaultyWriter implements AtomicWriter {
  /** Chance of a fault per write, and the random source. */
  rate = 0;
  random: () => number = Math.random;
  faults = 0;
  private readonly inner: AtomicWriter;

  constructor(inner: AtomicWriter) {
    this.inner = inner;
  }

  /** Fails exactly the `failAt`-th write from now (0 = the next one), before or after it lands. */
  failAt: { write: number; when: 'before' | 'after' } | undefined;
  private writes = 0;

  failOnce(write: number, when: 'before' | 'after'): void {
    this.failAt = { write, when };
    this.writes = 0;
  }

  async write(parts: readonly AtomicPart[], token: string): Promise<AtomicOutcome> {
    const planned = this.failAt !== undefined && this.writes++ === this.failAt.write ? this.failAt.when : undefined;
    if (planned === 'before') {
      this.faults++;
      throw new Error('injected: lost before the write');
    }
    if (planned === 'after') {
      await this.inner.write(parts, token);
      this.faults++;
      throw new Error('injected: answer lost after the write');
    }
    if (this.random() < this.rate / 2) {
      this.faults++;
      throw new Error('injected: lost before the write');
    }
    const result = await this.inner.write(parts, token);
    if (this.random() < this.rate / 2) {
      this.faults++;
      throw new Error('injected: answer lost after the write');
    }
    return result;
  }
}

export interface TransactionKind {
  readonly name: string;
  make(now: () => number): Promise<{
    sluice: Sluice;
    groups: ConsumerGroups;
    transactions: Transactions;
    faults: FaultyWriter;
    /** A caller's own row, put only if absent (the outbox's business row). */
    row: (id: string) => AtomicPart;
    hasRow: (id: string) => Promise<boolean>;
    /** The roller, with the engine's transaction outcomes. */
    tiering: Tiering;
  }>;
}

/** Every record of a partition an isolation level returns, from the start (stops where a read waits). */
async function readAll(sluice: Sluice, topic: string, partition: number, isolation: Isolation) {
  const out: { offset: number; value: unknown }[] = [];
  let offset = 0;
  let lastStableOffset: number | undefined;
  for (;;) {
    const got = await sluice.read(topic, partition, offset, { maxRecords: 500, isolation });
    out.push(...got.records.map((r) => ({ offset: r.offset, value: r.value })));
    lastStableOffset = got.lastStableOffset;
    if (got.records.length === 0 && got.nextOffset === offset) break;
    offset = got.nextOffset;
    if (offset >= got.highWatermark) break;
  }
  return { records: out, nextOffset: offset, lastStableOffset };
}

/**
 * Transactions (core/transactions): atomic single-request transactions with group offsets and
 * the caller's rows, multi-request transactions with read_committed isolation, markers, timeouts
 * and fencing, and atomicity under injected faults checked against an oracle.
 */
export function transactionContract(kind: TransactionKind): void {
  describe(`transactions: ${kind.name}`, () => {
    it('writes records to several topics and partitions, a row and group offsets in one transaction; a retry of its sequence writes nothing again', async () => {
      const c = clock();
      const { sluice, groups, transactions, row, hasRow } = await kind.make(c.now);
      await sluice.createTopic('in', { partitions: 1 });
      await sluice.createTopic('out', { partitions: 4 });
      await sluice.createTopic('audit', { partitions: 1 });
      await sluice.append('in', [{ value: 1 }, { value: 2 }]);
      const joined = await groups.join('g', { topics: ['in'], autoOffsetReset: 'earliest' });
      const { epoch } = await transactions.init('tx-1');
      const request = {
        transactionalId: 'tx-1',
        epoch,
        sequence: 0,
        records: [
          ...[0, 1, 2, 3].map((p) => ({ topic: 'out', partition: p, key: `k${p}`, value: { p } })),
          { topic: 'audit', value: 'did it' },
        ],
        offsets: {
          groupId: 'g',
          memberId: joined.memberId,
          generation: joined.generation,
          offsets: [{ topic: 'in', partition: 0, offset: 2 }],
        },
        writes: [row('order-1')],
      };
      const first = await transactions.transact(request);
      expect(first.duplicate).toBe(false);
      expect(first.records!.map((r) => [r.topic, r.partition, r.offset])).toEqual([
        ['out', 0, 0],
        ['out', 1, 0],
        ['out', 2, 0],
        ['out', 3, 0],
        ['audit', 0, 0],
      ]);
      expect(await hasRow('order-1')).toBe(true);
      expect((await groups.describe('g')).offsets.find((p) => p.topic === 'in')?.committed).toBe(2);
      const again = await transactions.transact({ ...request, writes: [row('order-1')] });
      expect(again.duplicate).toBe(true);
      expect(again.batches).toEqual(first.batches);
      for (const p of [0, 1, 2, 3]) expect((await sluice.read('out', p, 0)).highWatermark).toBe(1);
    });

    it('the outbox’s write (no transactional id): records, the caller’s row and the group’s offsets at once; over DynamoDB’s 100 items it is TransactionTooLarge and writes nothing', async () => {
      const c = clock();
      const { sluice, groups, transactions, row, hasRow } = await kind.make(c.now);
      await sluice.createTopic('in', { partitions: 1 });
      await sluice.createTopic('events', { partitions: 2 });
      await sluice.append('in', [{ value: 'order requested' }]);
      const joined = await groups.join('g', { topics: ['in'], autoOffsetReset: 'earliest' });
      const offsets = {
        groupId: 'g',
        memberId: joined.memberId,
        generation: joined.generation,
        offsets: [{ topic: 'in', partition: 0, offset: 1 }],
      };
      const written = await transactions.atomic({
        records: [{ topic: 'events', partition: 1, key: 'order-7', value: { type: 'OrderCreated' } }],
        writes: [row('order-7')],
        offsets,
      });
      expect(written.records.map((r) => [r.topic, r.partition, r.offset])).toEqual([['events', 1, 0]]);
      expect(await hasRow('order-7')).toBe(true);
      expect((await groups.describe('g')).offsets.find((p) => p.topic === 'in')?.committed).toBe(1);
      // 101 rows: more items than one DynamoDB transaction takes. Typed, and nothing of it lands.
      const rows = Array.from({ length: 101 }, (_, i) => row(`bulk-${i}`));
      expect(
        await code(() =>
          transactions.atomic({ records: [{ topic: 'events', partition: 0, value: 'bulk' }], writes: rows }),
        ),
      ).toBe('TransactionTooLarge');
      expect(await hasRow('bulk-0')).toBe(false);
      expect((await readAll(sluice, 'events', 0, 'read_uncommitted')).records).toEqual([]);
    });

    it('writes nothing when a condition fails: the caller’s row exists, the member is fenced, the epoch is old', async () => {
      const c = clock();
      const { sluice, groups, transactions, row } = await kind.make(c.now);
      await sluice.createTopic('out', { partitions: 2 });
      await sluice.createTopic('in', { partitions: 1 });
      const { epoch } = await transactions.init('tx-2');
      await transactions.transact({ transactionalId: 'tx-2', epoch, sequence: 0, records: [], writes: [row('dup')] });
      const records = [0, 1].map((p) => ({ topic: 'out', partition: p, value: p }));
      expect(
        await code(() =>
          transactions.transact({ transactionalId: 'tx-2', epoch, sequence: 1, records, writes: [row('dup')] }),
        ),
      ).toBe('TransactionConditionFailed');
      const joined = await groups.join('g', { topics: ['in'], autoOffsetReset: 'earliest' });
      expect(
        await code(() =>
          transactions.transact({
            transactionalId: 'tx-2',
            epoch,
            sequence: 1,
            records,
            offsets: {
              groupId: 'g',
              memberId: joined.memberId,
              generation: joined.generation + 1,
              offsets: [{ topic: 'in', partition: 0, offset: 0 }],
            },
          }),
        ),
      ).toBe('FencedMember');
      const newer = await transactions.init('tx-2');
      expect(newer.epoch).toBe(epoch + 1);
      expect(await code(() => transactions.transact({ transactionalId: 'tx-2', epoch, sequence: 0, records }))).toBe(
        'ProducerFenced',
      );
      // Nothing readable: the reservations the refused transactions made were given back as gaps.
      for (const p of [0, 1]) {
        const got = await readAll(sluice, 'out', p, 'read_uncommitted');
        expect(got.records).toEqual([]);
      }
      expect(
        await code(() => transactions.transact({ transactionalId: 'tx-2', epoch: newer.epoch, sequence: 0, records })),
      ).toBe('ok');
      for (const p of [0, 1])
        expect((await readAll(sluice, 'out', p, 'read_committed')).records.map((r) => r.value)).toEqual([p]);
    });

    it('hides an open multi-request transaction from read_committed readers (they stop at its first offset), shows it once committed, and skips an aborted one', async () => {
      const c = clock();
      const { sluice, transactions } = await kind.make(c.now);
      await sluice.createTopic('t', { partitions: 2 });
      const { epoch } = await transactions.init('p');
      await sluice.append('t', [{ partition: 0, value: 'before' }]);
      const { sequence } = await transactions.begin({ transactionalId: 'p', epoch });
      await transactions.append({
        transactionalId: 'p',
        epoch,
        sequence,
        append: 0,
        records: [
          { topic: 't', partition: 0, value: 'a1' },
          { topic: 't', partition: 1, value: 'b1' },
        ],
      });
      await sluice.append('t', [{ partition: 0, value: 'plain, after' }]);
      await transactions.append({
        transactionalId: 'p',
        epoch,
        sequence,
        append: 1,
        records: [{ topic: 't', partition: 0, value: 'a2' }],
      });

      const open = await readAll(sluice, 't', 0, 'read_committed');
      expect(open.records.map((r) => r.value)).toEqual(['before']);
      expect(open.lastStableOffset).toBe(1);
      expect((await readAll(sluice, 't', 0, 'read_uncommitted')).records.map((r) => r.value)).toEqual([
        'before',
        'a1',
        'plain, after',
        'a2',
      ]);
      const topic = await sluice.topic('t');
      const lso = await transactions.partitionTransactions(logKey(topic.topicId, 0), 4);
      expect(lso).toEqual({ lastStableOffset: 1, openTransactions: [{ transactionalId: 'p', firstOffset: 1 }] });
      expect((await transactions.describe('p')).open?.partitions).toEqual([
        { topic: 't', partition: 0, firstOffset: 1 },
        { topic: 't', partition: 1, firstOffset: 0 },
      ]);

      expect((await transactions.commit({ transactionalId: 'p', epoch, sequence })).outcome).toBe('committed');
      // Committed: whole, and the markers (one offset per partition) are not records.
      const committed = await readAll(sluice, 't', 0, 'read_committed');
      expect(committed.records.map((r) => r.value)).toEqual(['before', 'a1', 'plain, after', 'a2']);
      expect((await sluice.read('t', 0, 0)).highWatermark).toBe(5);
      expect((await readAll(sluice, 't', 1, 'read_committed')).records.map((r) => r.value)).toEqual(['b1']);
      expect(await transactions.partitionTransactions(logKey(topic.topicId, 0), 5)).toEqual({
        lastStableOffset: 5,
        openTransactions: [],
      });

      const second = await transactions.begin({ transactionalId: 'p', epoch });
      await transactions.append({
        transactionalId: 'p',
        epoch,
        sequence: second.sequence,
        append: 0,
        records: [{ topic: 't', partition: 1, value: 'b2' }],
      });
      expect((await transactions.abort({ transactionalId: 'p', epoch, sequence: second.sequence })).outcome).toBe(
        'aborted',
      );
      expect((await readAll(sluice, 't', 1, 'read_committed')).records.map((r) => r.value)).toEqual(['b1']);
      expect((await readAll(sluice, 't', 1, 'read_uncommitted')).records.map((r) => r.value)).toEqual(['b1', 'b2']);
      // A retried commit learns the outcome; committing an aborted one is refused.
      expect((await transactions.commit({ transactionalId: 'p', epoch, sequence })).outcome).toBe('committed');
      expect(await code(() => transactions.commit({ transactionalId: 'p', epoch, sequence: second.sequence }))).toBe(
        'InvalidTransactionState',
      );
    });

    it('aborts a transaction open past its timeout when a reader meets it, and fences the zombie that comes back', async () => {
      const c = clock();
      const { sluice, transactions } = await kind.make(c.now);
      await sluice.createTopic('t', { partitions: 1 });
      const { epoch } = await transactions.init('z');
      const { sequence } = await transactions.begin({ transactionalId: 'z', epoch, timeoutMs: 5_000 });
      await transactions.append({
        transactionalId: 'z',
        epoch,
        sequence,
        append: 0,
        records: [{ topic: 't', value: 'zombie' }],
      });
      await sluice.append('t', [{ value: 'later' }]);
      expect((await readAll(sluice, 't', 0, 'read_committed')).records).toEqual([]);
      c.advance(5_001);
      expect((await readAll(sluice, 't', 0, 'read_committed')).records.map((r) => r.value)).toEqual(['later']);
      expect(await code(() => transactions.commit({ transactionalId: 'z', epoch, sequence }))).toBe(
        'InvalidTransactionState',
      );
      // A new instance fences the old one, whose open transaction it aborts.
      const b = await transactions.begin({ transactionalId: 'z', epoch });
      await transactions.append({
        transactionalId: 'z',
        epoch,
        sequence: b.sequence,
        append: 0,
        records: [{ topic: 't', value: 'fenced' }],
      });
      const next = await transactions.init('z');
      expect(await code(() => transactions.commit({ transactionalId: 'z', epoch, sequence: b.sequence }))).toBe(
        'ProducerFenced',
      );
      expect(
        await code(() =>
          transactions.append({
            transactionalId: 'z',
            epoch,
            sequence: b.sequence,
            append: 1,
            records: [{ topic: 't', value: 'x' }],
          }),
        ),
      ).toBe('ProducerFenced');
      expect((await readAll(sluice, 't', 0, 'read_committed')).records.map((r) => r.value)).toEqual(['later']);
      expect((await transactions.describe('z')).epoch).toBe(next.epoch);
    });

    it('fails each atomic write of a transaction in turn, before and after it lands: retried, each transaction appears whole and once; abandoned, it is aborted and never appears', async () => {
      const c = clock();
      const { sluice, transactions, faults } = await kind.make(c.now);
      await sluice.createTopic('t', { partitions: 2 });
      const expected: string[][] = [[], []];
      let round = 0;
      // A single-request transaction is one atomic write; a multi-request one here is three (two appends, the decision).
      for (const shape of ['single', 'multi'] as const) {
        for (let failAt = 0; failAt < (shape === 'single' ? 1 : 3); failAt++) {
          for (const when of ['before', 'after'] as const) {
            for (const recovery of ['retry', 'restart'] as const) {
              const id = `sweep-${round++}`;
              const tag = `${shape}.${failAt}.${when}.${recovery}`;
              let { epoch } = await transactions.init(id);
              const records = [0, 1].map((partition) => ({ topic: 't', partition, value: tag }));
              faults.failOnce(failAt, when);
              const attempt = async <T>(f: () => Promise<T>): Promise<T | 'crashed'> => {
                for (;;) {
                  try {
                    return await f();
                  } catch (e) {
                    if (!String(e).includes('injected')) throw e;
                    if (recovery === 'restart') return 'crashed';
                  }
                }
              };
              let done: unknown;
              if (shape === 'single') {
                done = await attempt(() => transactions.transact({ transactionalId: id, epoch, sequence: 0, records }));
              } else {
                const { sequence } = await transactions.begin({ transactionalId: id, epoch });
                done = await attempt(() =>
                  transactions.append({ transactionalId: id, epoch, sequence, append: 0, records: [records[0]!] }),
                );
                if (done !== 'crashed')
                  done = await attempt(() =>
                    transactions.append({ transactionalId: id, epoch, sequence, append: 1, records: [records[1]!] }),
                  );
                if (done !== 'crashed')
                  done = await attempt(() => transactions.commit({ transactionalId: id, epoch, sequence }));
              }
              faults.failAt = undefined;
              if (done === 'crashed') ({ epoch } = await transactions.init(id)); // the restarted instance
              // What landed before the crash counts: a single write that landed, or a decision that did.
              const landed = done !== 'crashed' || (when === 'after' && (shape === 'single' || failAt === 2));
              if (landed) for (const p of [0, 1]) expected[p]!.push(tag);
              for (const p of [0, 1]) {
                const got = await readAll(sluice, 't', p, 'read_committed');
                expect(
                  got.records.map((r) => r.value),
                  `${tag}: partition ${p}`,
                ).toEqual(expected[p]);
              }
            }
          }
        }
      }
      expect(faults.faults).toBe(16);
    });

    it('rolls only decided transactions to S3, flagging aborted batches in the segment, which tiered reads skip', async () => {
      const c = clock();
      const { sluice, transactions, tiering } = await kind.make(c.now);
      await sluice.createTopic('t', { partitions: 1, config: { hotRetentionMs: 60_000 } });
      const { epoch } = await transactions.init('roller');
      const run = async (value: string, end: 'commit' | 'abort' | 'open') => {
        const { sequence } = await transactions.begin({ transactionalId: 'roller', epoch, timeoutMs: 900_000 });
        await transactions.append({
          transactionalId: 'roller',
          epoch,
          sequence,
          append: 0,
          records: [{ topic: 't', value }],
        });
        if (end !== 'open') await transactions[end]({ transactionalId: 'roller', epoch, sequence });
        return sequence;
      };
      await run('a', 'commit'); // offsets 0 (a), 1 (marker)
      await run('b', 'abort'); // 2 (b), 3 (marker)
      const open = await run('c', 'open'); // 4 (c)
      await sluice.append('t', [{ value: 'plain' }]); // 5
      await sluice.append('t', [{ value: 'tail' }]); // 6: the tail stays hot
      c.advance(120_000);
      const topic = await sluice.topic('t');
      while (await tiering.rollOnce(topic, 0));
      const state = async () => (await sluice.describeTopic('t')).partitions[0]!;
      expect((await state()).tieredThrough, 'the roll stops at the open transaction').toBe(4);
      const values = async (isolation: Isolation) =>
        (await readAll(sluice, 't', 0, isolation)).records.map((r) => r.value);
      expect(await values('read_committed')).toEqual(['a']);
      expect(await values('read_uncommitted')).toEqual(['a', 'b', 'c', 'plain', 'tail']);
      await transactions.commit({ transactionalId: 'roller', epoch, sequence: open }); // its marker: 7
      await sluice.append('t', [{ value: 'newest' }]);
      c.advance(120_000);
      while (await tiering.rollOnce(topic, 0));
      expect((await state()).tieredThrough).toBeGreaterThan(6);
      // Segments keep no transaction keys: only the roller's flag can tell b was aborted.
      expect(await values('read_committed'), 'b aborted, read from a segment').toEqual([
        'a',
        'c',
        'plain',
        'tail',
        'newest',
      ]);
      expect(await values('read_uncommitted')).toEqual(['a', 'b', 'c', 'plain', 'tail', 'newest']);
    });

    it('keeps every transaction whole or absent for read_committed readers while producers crash and writes fail at every step', async () => {
      const c = { now: Date.now };
      const { sluice, transactions, faults } = await kind.make(c.now);
      const random = prng(15);
      await sluice.createTopic('t', { partitions: 3 });
      faults.random = random;
      faults.rate = 0.25;
      const committed = new Set<string>();
      const possiblyCommitted = new Set<string>();
      const producers = 4;
      await Promise.all(
        Array.from({ length: producers }, async (_, p) => {
          const id = `crashy-${p}`;
          let { epoch } = await retry(() => transactions.init(id));
          for (let t = 0; t < 6; t++) {
            const tag = `${p}.${t}`;
            const records = [0, 1, 2].map((partition) => ({ topic: 't', partition, value: { tag, partition } }));
            try {
              if (random() < 0.5) {
                // Single request: a retry with the same sequence never writes twice.
                const state = await transactions.describe(id);
                await retry(() =>
                  transactions.transact({ transactionalId: id, epoch, sequence: state.nextSequence, records }),
                );
                committed.add(tag);
                continue;
              }
              const { sequence } = await retry(() => transactions.begin({ transactionalId: id, epoch }));
              for (const [n, r] of records.entries()) {
                await retry(() =>
                  transactions.append({ transactionalId: id, epoch, sequence, append: n, records: [r] }),
                );
                if (random() < 0.15) throw new Error('crash'); // the producer dies mid-transaction
              }
              possiblyCommitted.add(tag);
              const ended = await retry(() => transactions.commit({ transactionalId: id, epoch, sequence }));
              if (ended.outcome === 'committed') committed.add(tag);
            } catch (e) {
              if (String(e).includes('crash') || String(e).includes('injected')) {
                // The restarted instance: a new epoch, which aborts what the old one left open.
                ({ epoch } = await retry(() => transactions.init(id)));
                continue;
              }
              throw e;
            }
          }
        }),
      );
      faults.rate = 0;
      expect(faults.faults).toBeGreaterThan(0);
      const seen = new Map<string, number[]>();
      for (const partition of [0, 1, 2]) {
        const got = await readAll(sluice, 't', partition, 'read_committed');
        const values = got.records.map((r) => r.value as { tag: string; partition: number });
        const tags = values.map((v) => v.tag);
        expect(new Set(tags).size).toBe(tags.length); // nothing twice
        for (const v of values) seen.set(v.tag, [...(seen.get(v.tag) ?? []), v.partition]);
      }
      for (const [tag, partitions] of seen) {
        expect(partitions.sort()).toEqual([0, 1, 2]); // whole
        expect(committed.has(tag) || possiblyCommitted.has(tag)).toBe(true);
      }
      for (const tag of committed) expect(seen.has(tag)).toBe(true); // every acknowledged commit is there
    });
  });
}

/** Retries a call that failed on an injected fault (the client's retry after an unknown outcome). */
async function retry<T>(f: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await f();
    } catch (e) {
      if (!String(e).includes('injected') || attempt > 20) throw e;
    }
  }
}
