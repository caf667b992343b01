import { assert, describe, expect, it } from 'vitest';
import { isSluiceError } from '../../core/errors.ts';
import { partitionForKey } from '../../core/log/murmur2.ts';
import { logKey, type LogStore } from '../../core/ports.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { uniqueName } from '../support/names.ts';
import type { Store, StoreKind } from '../support/stores.ts';

const FAST_RETRY = { maxJitterMs: 2 };

/**
 * Wraps a store so that chosen `putBatch` calls perform the write and then throw, as a network
 * error after the request reached DynamoDB would: an ambiguous failure.
 */
export function ambiguousAfterWrite(store: Store, failCalls: Set<number>): Store & { calls: number } {
  const wrapped = Object.create(store) as Store & { calls: number };
  wrapped.calls = 0;
  wrapped.putBatch = async (...args: Parameters<LogStore['putBatch']>) => {
    const call = wrapped.calls++;
    const result = await store.putBatch(...args);
    if (failCalls.has(call)) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    return result;
  };
  return wrapped;
}

async function readAll(sluice: Sluice, topic: string, partition: number) {
  const out = [];
  let offset = 0;
  for (;;) {
    const page = await sluice.read(topic, partition, offset, { maxRecords: 1000 });
    out.push(...page.records);
    if (page.nextOffset >= page.highWatermark) return out;
    offset = page.nextOffset;
  }
}

/** Engine behaviour that must hold whatever the storage adapter. */
export function engineContract(kind: StoreKind): void {
  describe(`engine: ${kind.name}`, () => {
    const setup = async () => {
      const store = await kind.make();
      return { store, sluice: new Sluice({ log: store, metadata: store, retry: FAST_RETRY, ...kind.engine?.(store) }) };
    };

    it('creates, describes, grows and deletes topics; a re-created topic starts empty', async () => {
      const { sluice } = await setup();
      const created = await sluice.createTopic('orders.v1', { partitions: 3, config: { compression: 'zstd' } });
      expect(created.config.partitions).toBe(3);
      expect(created.config.compression).toBe('zstd');
      await expect(sluice.createTopic('orders.v1')).rejects.toSatisfy((e) => isSluiceError(e, 'TopicAlreadyExists'));
      await sluice.append('orders.v1', [
        { value: 'a', partition: 2 },
        { value: 'b', partition: 2 },
      ]);
      const described = await sluice.describeTopic('orders.v1', { sizes: true });
      expect(
        described.partitions.map(({ partition, logStartOffset, highWatermark }) => ({
          partition,
          logStartOffset,
          highWatermark,
        })),
      ).toStrictEqual([
        { partition: 0, logStartOffset: 0, highWatermark: 0 },
        { partition: 1, logStartOffset: 0, highWatermark: 0 },
        { partition: 2, logStartOffset: 0, highWatermark: 2 },
      ]);
      expect(
        described.partitions.map((p) => [p.tieredThrough, p.segments, p.tieredBytes, p.hotBytes! > 0]),
      ).toStrictEqual([
        [0, 0, 0, false],
        [0, 0, 0, false],
        [0, 0, 0, true],
      ]);
      await expect(sluice.updateTopic('orders.v1', { partitions: 2 })).rejects.toSatisfy((e) =>
        isSluiceError(e, 'InvalidTopicConfig'),
      );
      const grown = await sluice.updateTopic('orders.v1', { partitions: 5, config: { retentionMs: 60_000 } });
      expect(grown.config.partitions).toBe(5);
      expect(grown.config.retentionMs).toBe(60_000);
      expect(grown.config.compression, 'unchanged keys keep their values').toBe('zstd');
      expect((await sluice.listTopics()).map((t) => t.name)).toStrictEqual(['orders.v1']);

      await sluice.deleteTopic('orders.v1');
      await expect(sluice.read('orders.v1', 2, 0)).rejects.toSatisfy((e) => isSluiceError(e, 'TopicNotFound'));
      await sluice.createTopic('orders.v1', { partitions: 3 });
      const again = await sluice.read('orders.v1', 2, 0);
      expect([again.records.length, again.highWatermark]).toStrictEqual([0, 0]);
    });

    it('round-trips keys, values of every kind, headers and timestamps', async () => {
      const { sluice } = await setup();
      await sluice.createTopic('kinds', { config: { compression: 'gzip' } });
      const bytes = Uint8Array.from([0, 255, 1, 128]);
      const input = [
        {
          key: 'user-1',
          value: { id: 'o-1', total: 12.5, items: [1, 2], nested: { ok: true } },
          headers: { event_type: 'OrderCreated' },
          timestamp: 1_700_000_000_000,
        },
        { key: bytes, value: bytes, headers: { raw: Uint8Array.from([9, 9]) } },
        { key: null, value: 'plain text ✓' },
        { value: null },
        { value: 42 },
        { value: [true, false, null] },
      ];
      const metas = await sluice.append('kinds', input);
      expect(metas.map((m) => m.offset)).toStrictEqual([0, 1, 2, 3, 4, 5]);
      expect(metas[0]!.timestamp).toBe(1_700_000_000_000);
      const { records, nextOffset, highWatermark, logStartOffset } = await sluice.read('kinds', 0, 0);
      expect([nextOffset, highWatermark, logStartOffset]).toStrictEqual([6, 6, 0]);
      expect(records.map((r) => r.key)).toStrictEqual(['user-1', bytes, null, null, null, null]);
      expect(records.map((r) => r.value)).toStrictEqual(input.map((r) => r.value));
      expect(records[0]!.headers).toStrictEqual({ event_type: 'OrderCreated' });
      expect(records[1]!.headers).toStrictEqual({ raw: Uint8Array.from([9, 9]) });
      expect(records.map((r) => r.timestamp)).toStrictEqual(metas.map((m) => m.timestamp));
    });

    it('puts keyed records where the Kafka Java partitioner would, and keyless ones on one sticky partition per call', async () => {
      const { sluice } = await setup();
      await sluice.createTopic('keyed', { partitions: 12 });
      const keys = Array.from({ length: 40 }, (_, i) => `customer-${i * 7919}`);
      const metas = await sluice.append(
        'keyed',
        keys.map((key) => ({ key, value: key })),
      );
      metas.forEach((m, i) => expect(m.partition).toBe(partitionForKey(new TextEncoder().encode(keys[i]), 12)));
      const keyless = await sluice.append(
        'keyed',
        Array.from({ length: 10 }, (_, i) => ({ value: i })),
      );
      expect(new Set(keyless.map((m) => m.partition)).size).toBe(1);
      const explicit = await sluice.append('keyed', [{ key: 'x', value: 1, partition: 11 }]);
      expect(explicit[0]!.partition).toBe(11);
      await expect(sluice.append('keyed', [{ value: 1, partition: 12 }])).rejects.toSatisfy((e) =>
        isSluiceError(e, 'PartitionNotFound'),
      );
    });

    for (const compression of ['none', 'gzip', 'zstd'] as const) {
      it(`splits a large append into several batches and reads it back whole (${compression})`, async () => {
        const { sluice, store } = await setup();
        await sluice.createTopic('big', { config: { compression } });
        // 120 records of ~40 KB of poorly compressible data: ~4.8 MB, many items either way.
        const records = Array.from({ length: 120 }, (_, i) => ({ key: `k${i}`, value: randomText(40_000, i) }));
        const metas = await sluice.append('big', records);
        expect(metas.map((m) => m.offset)).toStrictEqual(records.map((_, i) => i));
        const all = await readAll(sluice, 'big', 0);
        expect(all.length).toBe(120);
        all.forEach((r, i) => expect(r.value).toBe(records[i]!.value));
        const topic = (await sluice.listTopics())[0]!;
        const page = await store.scanBatchHeaders(`${topic.topicId}#0`, 0, 1000);
        expect(page.batches.length > 1, `expected several batches, got ${page.batches.length}`).toBeTruthy();
      });
    }

    it('rejects a record too large for its limit, naming the limit, and writes nothing', async () => {
      const { sluice } = await setup();
      await sluice.createTopic('limits', { config: { maxRecordBytes: 1000 } });
      await expect(sluice.append('limits', [{ value: 'ok' }, { value: 'x'.repeat(2000) }])).rejects.toSatisfy(
        (e) =>
          isSluiceError(e, 'RecordTooLarge') && e.limit === 'maxRecordBytes' && e.limitBytes === 1000 && e.index === 1,
      );
      await sluice.createTopic('item-limit', { config: { maxRecordBytes: 2_000_000 } });
      expect((await sluice.read('limits', 0, 0)).highWatermark).toBe(0);
      if (kind.engine !== undefined) {
        // An engine with an object store claim-checks a value too large for an item instead.
        await sluice.append('item-limit', [{ value: 'x'.repeat(500_000) }]);
        expect((await sluice.read('item-limit', 0, 0)).records[0]?.value).toBe('x'.repeat(500_000));
        return;
      }
      await expect(sluice.append('item-limit', [{ value: 'x'.repeat(500_000) }])).rejects.toSatisfy(
        (e) => isSluiceError(e, 'RecordTooLarge') && e.limit === 'itemPayloadBytes',
      );
      expect((await sluice.read('item-limit', 0, 0)).highWatermark).toBe(0);
    });

    it('reads from any offset, honours maxRecords and maxBytes, and reports OffsetOutOfRange with both bounds', async () => {
      const { sluice } = await setup();
      await sluice.createTopic('paged');
      for (let i = 0; i < 5; i++)
        await sluice.append(
          'paged',
          Array.from({ length: 10 }, (_, j) => ({ value: `r${i * 10 + j}` })),
        );
      const middle = await sluice.read('paged', 0, 13, { maxRecords: 4 });
      expect(middle.records.map((r) => r.value)).toStrictEqual(['r13', 'r14', 'r15', 'r16']);
      expect(middle.nextOffset).toBe(17);
      const small = await sluice.read('paged', 0, 0, { maxBytes: 1 });
      expect(small.records.length, 'at least one record even when it exceeds maxBytes').toBe(1);
      const tail = await sluice.read('paged', 0, 50);
      expect([tail.records.length, tail.nextOffset, tail.highWatermark]).toStrictEqual([0, 50, 50]);
      await expect(sluice.read('paged', 0, 51)).rejects.toSatisfy(
        (e) =>
          isSluiceError(e, 'OffsetOutOfRange') && e.logStartOffset === 0 && e.highWatermark === 50 && e.offset === 51,
      );
      await expect(sluice.read('paged', 0, -1)).rejects.toSatisfy((e) => isSluiceError(e, 'InvalidArgument'));
      await expect(sluice.read('paged', 1, 0)).rejects.toSatisfy((e) => isSluiceError(e, 'PartitionNotFound'));
      await expect(sluice.read('paged', 0, 0, { maxRecords: 0 })).rejects.toSatisfy((e) =>
        isSluiceError(e, 'InvalidArgument'),
      );
    });

    it('looks up offsets by earliest, latest and timestamp', async () => {
      const { sluice } = await setup();
      await sluice.createTopic('times');
      await sluice.append(
        'times',
        [100, 200, 300].map((t) => ({ value: t, timestamp: t })),
      );
      await sluice.append(
        'times',
        [250, 400].map((t) => ({ value: t, timestamp: t })),
      );
      expect(await sluice.offsetFor('times', 0, 'earliest')).toBe(0);
      expect(await sluice.offsetFor('times', 0, 'latest')).toBe(5);
      expect(await sluice.offsetFor('times', 0, { timestamp: 0 })).toBe(0);
      expect(await sluice.offsetFor('times', 0, { timestamp: 200 })).toBe(1);
      expect(await sluice.offsetFor('times', 0, { timestamp: 201 })).toBe(2);
      expect(await sluice.offsetFor('times', 0, { timestamp: 301 })).toBe(4);
      expect(await sluice.offsetFor('times', 0, { timestamp: 401 }), 'none at or after: the high watermark').toBe(5);
    });

    it('idempotent producer: a retried batch returns its original offsets; gaps and old epochs are rejected', async () => {
      const { sluice } = await setup();
      await sluice.createTopic('idem', { partitions: 2 });
      const p = (epoch: number, sequence: number) => ({ producer: { id: 'prod-1', epoch, sequence } });
      const first = await sluice.append(
        'idem',
        [
          { value: 'a', partition: 0 },
          { value: 'b', partition: 0 },
        ],
        p(0, 0),
      );
      await sluice.append('idem', [{ value: 'other', partition: 0 }]); // a non-idempotent writer interleaves
      const retry = await sluice.append(
        'idem',
        [
          { value: 'a', partition: 0 },
          { value: 'b', partition: 0 },
        ],
        p(0, 0),
      );
      expect(retry).toStrictEqual(first);
      await expect(sluice.append('idem', [{ value: 'c', partition: 0 }], p(0, 5))).rejects.toSatisfy(
        (e) => isSluiceError(e, 'OutOfOrderSequence') && e.expected === 2 && e.sequence === 5,
      );
      const next = await sluice.append('idem', [{ value: 'c', partition: 0 }], p(0, 2));
      expect(next[0]!.offset).toBe(3);
      // A new epoch starts at sequence 0 and fences the old one.
      await expect(sluice.append('idem', [{ value: 'd', partition: 0 }], p(1, 3))).rejects.toSatisfy((e) =>
        isSluiceError(e, 'OutOfOrderSequence'),
      );
      await sluice.append('idem', [{ value: 'd', partition: 0 }], p(1, 0));
      await expect(sluice.append('idem', [{ value: 'e', partition: 0 }], p(0, 3))).rejects.toSatisfy(
        (e) => isSluiceError(e, 'ProducerFenced') && e.currentEpoch === 1,
      );
      // Multi-partition appends take a sequence per partition.
      await expect(
        sluice.append(
          'idem',
          [
            { value: 1, partition: 0 },
            { value: 2, partition: 1 },
          ],
          p(1, 1),
        ),
      ).rejects.toSatisfy((e) => isSluiceError(e, 'InvalidArgument'));
      const multi = await sluice.append(
        'idem',
        [
          { value: 1, partition: 0 },
          { value: 2, partition: 1 },
        ],
        { producer: { id: 'prod-1', epoch: 1, sequence: { 0: 1, 1: 0 } } },
      );
      expect(multi.map((m) => [m.partition, m.offset])).toStrictEqual([
        [0, 5],
        [1, 0],
      ]);
      const values = (await readAll(sluice, 'idem', 0)).map((r) => r.value);
      expect(values).toStrictEqual(['a', 'b', 'other', 'c', 'd', 1]);
    });

    it('idempotent producer state expires a week after its last write; a producer the partition forgot is told so and starts a new epoch', async () => {
      const { sluice, store } = await setup();
      await sluice.createTopic('forgotten', { partitions: 1 });
      const before = Date.now();
      await sluice.append('forgotten', [{ value: 'a', partition: 0 }], {
        producer: { id: 'prod-x', epoch: 0, sequence: 0 },
      });
      const topic = (await sluice.listTopics()).find((t) => t.name === 'forgotten')!;
      const state = await store.getProducerState('prod-x', logKey(topic.topicId, 0));
      const week = 7 * 24 * 60 * 60;
      expect(
        state!.expiresAt! >= Math.floor(before / 1000) + week &&
          state!.expiresAt! <= Math.ceil(Date.now() / 1000) + week,
      ).toBe(true);
      // A producer with no state here (expired, or never seen) sending a later sequence.
      await expect(
        sluice.append('forgotten', [{ value: 'b', partition: 0 }], {
          producer: { id: 'prod-y', epoch: 3, sequence: 7 },
        }),
      ).rejects.toSatisfy((e) => isSluiceError(e, 'UnknownProducer') && e.sequence === 7);
      const [restarted] = await sluice.append('forgotten', [{ value: 'b', partition: 0 }], {
        producer: { id: 'prod-y', epoch: 4, sequence: 0 },
      });
      expect(restarted!.offset).toBe(1);
    });

    it('idempotent producer: a retried request of many batches, interleaved with another writer, returns its original offsets', async () => {
      const { sluice, store } = await setup();
      await sluice.createTopic('idem-large', { config: { maxRecordBytes: 200_000 } });
      const producer = { id: uniqueName('big'), epoch: 0, sequence: 0 };
      // Twenty 150 KB records: two to a batch, so ten batches, twice the five Kafka remembers.
      const records = Array.from({ length: 20 }, (_, i) => ({ value: `${i}:`.padEnd(150_000, 'x'), partition: 0 }));
      const other = new Sluice({ log: store, metadata: store, retry: FAST_RETRY, ...kind.engine?.(store) });
      const first = await Promise.all([
        sluice.append('idem-large', records, { producer }),
        other.append('idem-large', [{ value: 'between', partition: 0 }]),
      ]).then(([written]) => written);
      expect(new Set(first.map((m) => m.offset)).size).toBe(20);
      const retry = await sluice.append('idem-large', records, { producer }); // as after a timeout
      expect(retry).toStrictEqual(first);
      const next = await sluice.append('idem-large', [{ value: 'next', partition: 0 }], {
        producer: { ...producer, sequence: 20 },
      });
      expect(next[0]!.offset).toBe(21);
      const values = (await readAll(sluice, 'idem-large', 0)).map((r) => (r.value as string).split(':')[0]);
      expect(values.filter((v) => v !== 'between' && v !== 'next').length, 'each record once').toBe(20);
    });

    it('an append out of time stops between batches and says per record what was written; an idempotent retry finishes it', async () => {
      const base = await kind.make();
      let t = 1_000;
      // Every write takes one tick of the engine's clock.
      const slow = Object.assign(Object.create(base) as typeof base, {
        putBatch: async (...args: Parameters<typeof base.putBatch>) => {
          const out = await base.putBatch(...args);
          t++;
          return out;
        },
      });
      const sluice = new Sluice({ log: slow, metadata: base, retry: FAST_RETRY, now: () => t, ...kind.engine?.(base) });
      await sluice.createTopic('late', { partitions: 2, config: { maxRecordBytes: 200_000 } });
      const producer = { id: uniqueName('late'), epoch: 0, sequence: { 0: 0, 1: 0 } };
      // Six records of 150 KB per partition: two to a batch, three batches each; time for one.
      const records = Array.from({ length: 12 }, (_, i) => ({ value: `${i}:`.padEnd(150_000, 'x'), partition: i % 2 }));
      const error = await sluice.append('late', records, { producer, deadline: t + 1 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert(isSluiceError(error, 'AppendIncomplete'), `expected AppendIncomplete, got ${String(error)}`);
      expect(error.retriable).toBe(true);
      expect(
        (error.appended as { index: number }[]).map((a) => a.index),
        'the first batch of each partition',
      ).toStrictEqual([0, 1, 2, 3]);
      expect(error.notAppended).toStrictEqual([4, 5, 6, 7, 8, 9, 10, 11]);
      expect(error.partitions).toStrictEqual([
        { partition: 0, reason: 'Deadline' },
        { partition: 1, reason: 'Deadline' },
      ]);
      const written = error.appended as { index: number; partition: number; offset: number }[];
      const retried = await sluice.append('late', records, { producer });
      for (const w of written) expect(retried[w.index]!.offset, 'a retry keeps the original offsets').toBe(w.offset);
      expect(retried.map((m) => m.offset)).toStrictEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
      // Without an idempotent producer, retrying the whole append would write its first part twice.
      await expect(sluice.append('late', records.slice(0, 8), { deadline: t + 1 })).rejects.toSatisfy(
        (e) => isSluiceError(e, 'AppendIncomplete') && e.retriable === false && (e.appended as unknown[]).length === 4,
      );
    });

    it('an ambiguous failure (written, but the caller saw an error) never duplicates a record', async () => {
      const base = await kind.make();
      // The engine's own retry of an unknown outcome: calls 0 and 2 land, then throw.
      const flaky = ambiguousAfterWrite(base, new Set([0, 2]));
      const sluice = new Sluice({ log: flaky, metadata: flaky, retry: FAST_RETRY, ...kind.engine?.(base) });
      await sluice.createTopic('ambiguous');
      for (let i = 0; i < 4; i++) await sluice.append('ambiguous', [{ value: i }]);
      expect((await readAll(sluice, 'ambiguous', 0)).map((r) => r.value)).toStrictEqual([0, 1, 2, 3]);

      // The caller's retry with an idempotent producer, after the engine gave up on an unknown outcome.
      const always = ambiguousAfterWrite(base, new Set(Array.from({ length: 50 }, (_, i) => i)));
      const giving = new Sluice({
        log: always,
        metadata: always,
        retry: { ...FAST_RETRY, maxUnknownOutcomeRetries: 0 },
        ...kind.engine?.(base),
      });
      const producer = { id: uniqueName('p'), epoch: 0, sequence: 0 };
      await expect(giving.append('ambiguous', [{ value: 'once' }], { producer })).rejects.toThrow(/socket hang up/);
      const healthy = new Sluice({ log: base, metadata: base, retry: FAST_RETRY, ...kind.engine?.(base) });
      const retried = await healthy.append('ambiguous', [{ value: 'once' }], { producer });
      expect(retried[0]!.offset).toBe(4);
      expect((await readAll(healthy, 'ambiguous', 0)).map((r) => r.value)).toStrictEqual([0, 1, 2, 3, 'once']);
    });
  });
}

/** Deterministic text with little repetition, so compression cannot shrink it much. */
function randomText(length: number, seed: number): string {
  let x = seed * 2654435761 + 1;
  let out = '';
  while (out.length < length) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out += x.toString(36);
  }
  return out.slice(0, length);
}
