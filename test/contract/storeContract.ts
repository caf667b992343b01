import { assert, describe, expect, it } from 'vitest';
import { isSluiceError } from '../../core/errors.ts';
import type { StoredBatch, TopicRecord } from '../../core/ports.ts';
import { DEFAULT_TOPIC_CONFIG } from '../../core/log/topicConfig.ts';
import { uniqueName } from '../support/names.ts';
import type { StoreKind } from '../support/stores.ts';

function batch(log: string, baseOffset: number, recordCount: number, writerId = uniqueName('w')): StoredBatch {
  return {
    log,
    baseOffset,
    recordCount,
    firstTimestamp: 1000 + baseOffset,
    maxTimestamp: 1000 + baseOffset + recordCount,
    sizeBytes: recordCount * 10,
    codec: 'none',
    payload: Uint8Array.from([baseOffset % 256, recordCount % 256, 7]),
    writerId,
  };
}

function topic(name: string, version = 1): TopicRecord {
  return { name, topicId: uniqueName('id'), config: DEFAULT_TOPIC_CONFIG, createdAt: 1, version };
}

/** The rules every storage adapter must obey; run against the in-memory and the DynamoDB adapter. */
export function storeContract(kind: StoreKind): void {
  describe(`storage contract: ${kind.name}`, () => {
    it('claims an offset once: a second batch at the same base offset is refused and sees the first', async () => {
      const store = await kind.make();
      const first = batch('L', 0, 3, 'writer-a');
      expect(await store.putBatch(first)).toStrictEqual({ outcome: 'written' });
      const again = await store.putBatch(batch('L', 0, 5, 'writer-b'));
      expect(again.outcome).toBe('offset-taken');
      assert(again.outcome === 'offset-taken' && again.existing !== undefined);
      expect(again.existing.writerId).toBe('writer-a');
      expect(again.existing.recordCount).toBe(3);
      const page = await store.readBatches('L', 0, 10);
      expect(page.batches.length).toBe(1);
      expect(page.batches[0]).toStrictEqual(first);
    });

    it('finds the last batch and reads pages from a boundary or from inside a batch', async () => {
      const store = await kind.make();
      expect(await store.lastBatch('L')).toBe(undefined);
      for (const [base, count] of [
        [0, 2],
        [2, 3],
        [5, 1],
        [6, 4],
      ] as const)
        await store.putBatch(batch('L', base, count));
      await store.putBatch(batch('other', 0, 100));
      const last = await store.lastBatch('L');
      expect(last?.baseOffset).toBe(6);
      expect(last?.recordCount).toBe(4);

      const fromBoundary = await store.readBatches('L', 2, 2);
      expect(fromBoundary.batches.map((b) => b.baseOffset)).toStrictEqual([2, 5]);
      expect(fromBoundary.reachedEnd).toBe(false);

      const fromInside = await store.readBatches('L', 3, 2);
      expect(fromInside.batches.map((b) => b.baseOffset)).toStrictEqual([2, 5, 6]);
      expect(fromInside.reachedEnd).toBe(true);

      const exact = await store.readBatches('L', 5, 2);
      expect(exact.batches.map((b) => b.baseOffset)).toStrictEqual([5, 6]);
      expect(exact.reachedEnd, 'a page that ends at the last batch says so').toBe(true);

      const atEnd = await store.readBatches('L', 10, 5);
      expect(atEnd).toStrictEqual({ batches: [], reachedEnd: true });
      expect((await store.readBatches('L', 9, 5)).batches.map((b) => b.baseOffset)).toStrictEqual([6]);

      const headers = await store.scanBatchHeaders('L', 0, 10);
      expect(headers.batches.map((b) => [b.baseOffset, b.recordCount, b.maxTimestamp])).toStrictEqual([
        [0, 2, 1002],
        [2, 3, 1005],
        [5, 1, 1006],
        [6, 4, 1010],
      ]);
    });

    it('hands out offsets from a sequencer: each reservation once, with the base of the one before; it only moves up', async () => {
      const store = await kind.make();
      // Reserve without moving the time chain's maximum (raising it only when it has none).
      const reserve = async (
        log: string,
        count: number,
      ): Promise<{ base: number; previousBase?: number } | undefined> => {
        const time = { maxTimestamp: 0, bytes: 4096 };
        const r = await store.reserveOffsets(log, count, { ...time, raise: false });
        const reserved = r === 'raise' ? await store.reserveOffsets(log, count, { ...time, raise: true }) : r;
        assert(reserved !== 'raise' && reserved !== 'kept');
        return reserved === undefined
          ? undefined
          : {
              base: reserved.base,
              ...(reserved.previousBase === undefined ? {} : { previousBase: reserved.previousBase }),
            };
      };
      expect(await reserve('S', 3), 'no sequencer yet').toBe(undefined);
      await store.advanceSequencer('S', 10);
      expect(await reserve('S', 3)).toStrictEqual({ base: 10 });
      expect(await reserve('S', 1)).toStrictEqual({ base: 13, previousBase: 10 });
      const concurrent = await Promise.all(Array.from({ length: 20 }, (_, i) => reserve('S', i + 1)));
      const ranges = concurrent.map((r, i) => [r!.base, r!.base + i + 1] as const).sort((a, b) => a[0] - b[0]);
      expect(ranges[0]![0]).toBe(14);
      ranges.forEach(
        ([base], i) => i > 0 && expect(base, 'ranges are disjoint and contiguous').toBe(ranges[i - 1]![1]),
      );
      for (const r of concurrent) {
        // Each knows the reservation just before its own: the one whose range ends at its base.
        const before = ranges.find(([, end]) => end === r!.base);
        expect(r!.previousBase).toBe(before === undefined ? 13 : before[0]);
      }
      const end = ranges.at(-1)![1];
      await store.advanceSequencer('S', 5); // never down
      expect((await reserve('S', 1))!.base).toBe(end);
      await store.advanceSequencer('S', end + 100); // up: the range before is not one reservation
      expect(await reserve('S', 1)).toStrictEqual({ base: end + 100 });
      await store.deleteLog('S');
      expect(await reserve('S', 1), 'deleting the log removes its sequencer').toBe(undefined);
    });

    it('finds the batch at or before an offset, and keeps the TTL and reservation attributes', async () => {
      const store = await kind.make();
      expect(await store.batchAtOrBefore('B', 5)).toBe(undefined);
      await store.putBatch({ ...batch('B', 0, 3), expiresAt: 1_900_000_000, previousBase: 0 });
      await store.putBatch(batch('B', 7, 2));
      expect((await store.batchAtOrBefore('B', 2))?.baseOffset).toBe(0);
      expect((await store.batchAtOrBefore('B', 6))?.baseOffset, 'in the gap [3, 7): the batch before it').toBe(0);
      expect((await store.batchAtOrBefore('B', 7))?.baseOffset).toBe(7);
      const [first] = (await store.readBatches('B', 0, 1)).batches;
      expect([first?.expiresAt, first?.previousBase]).toStrictEqual([1_900_000_000, 0]);
      expect((await store.lastBatch('B'))?.expiresAt).toBe(undefined);
    });

    it('deletes a whole log and nothing else', async () => {
      const store = await kind.make();
      for (let i = 0; i < 30; i++) await store.putBatch(batch('gone', i, 1));
      await store.putBatch(batch('kept', 0, 1));
      await store.deleteLog('gone');
      expect(await store.lastBatch('gone')).toBe(undefined);
      expect((await store.lastBatch('kept'))?.baseOffset).toBe(0);
    });

    it('leaves to TTL the batches it removes by the given time, and deletes the rest', async () => {
      const store = await kind.make();
      const by = 1_900_000_000;
      await store.putBatch({ ...batch('ttl', 0, 2), expiresAt: by - 60 });
      await store.putBatch({ ...batch('ttl', 2, 1), expiresAt: by });
      await store.putBatch({ ...batch('ttl', 3, 1), expiresAt: by + 1 });
      await store.putBatch(batch('ttl', 4, 1)); // no TTL: written before expiry existed
      await store.advanceSequencer('ttl', 5);
      await store.deleteLog('ttl', by);
      const left = (await store.readBatches('ttl', 0, 10)).batches.map((b) => b.baseOffset);
      expect(left, 'only the batches TTL removes by then').toStrictEqual([0, 2]);
      expect(
        await store.reserveOffsets('ttl', 1, { maxTimestamp: 0, bytes: 4096, raise: true }),
        'the sequencer is gone',
      ).toBe(undefined);
      await store.deleteLog('ttl');
      expect(await store.lastBatch('ttl'), 'without a time, everything goes').toBe(undefined);
    });

    it('writes a batch and the producer state together, or neither', async () => {
      const store = await kind.make();
      const next = (version: number, nextSequence: number) => ({
        epoch: 0,
        nextSequence,
        recent: [{ firstSequence: nextSequence - 1, recordCount: 1, baseOffset: version - 1 }],
        version,
      });
      const write = (expectedVersion: number | undefined, version: number) => ({
        producerId: 'p1',
        log: 'L',
        expectedVersion,
        next: next(version, version),
      });

      expect(await store.putBatch(batch('L', 0, 1), write(undefined, 1))).toStrictEqual({ outcome: 'written' });
      expect(await store.getProducerState('p1', 'L')).toStrictEqual(next(1, 1));

      // Stale producer version: refused, and the batch is not written either.
      expect(await store.putBatch(batch('L', 1, 1), write(undefined, 1))).toStrictEqual({
        outcome: 'producer-state-changed',
      });
      expect((await store.lastBatch('L'))?.baseOffset).toBe(0);

      // Offset taken: refused, and the producer state is unchanged.
      const taken = await store.putBatch(batch('L', 0, 1), write(1, 2));
      expect(taken.outcome).toBe('offset-taken');
      expect(await store.getProducerState('p1', 'L')).toStrictEqual(next(1, 1));

      expect(await store.putBatch(batch('L', 1, 1), write(1, 2))).toStrictEqual({ outcome: 'written' });
      expect(await store.getProducerState('p1', 'L')).toStrictEqual(next(2, 2));
      expect(await store.getProducerState('p1', 'other-log')).toBe(undefined);
    });

    it('costs what DynamoDB charges: write units by item size, 1 MB query pages, read units by bytes read', async () => {
      // Per request, the units it consumed (TOTAL mode: DynamoDB reports CapacityUnits only).
      const requests: number[] = [];
      const store = await kind.make({
        onConsumedCapacity: (c) => requests.push(c.reduce((n, x) => n + (x.CapacityUnits ?? 0), 0)),
      });
      // 30 batches of 100 KB: each put is one request of about 100 write units (1 KB each).
      const big = (base: number): StoredBatch => ({
        ...batch('C', base, 1),
        payload: new Uint8Array(100 * 1024).fill(base),
      });
      for (let i = 0; i < 30; i++) expect(await store.putBatch(big(i))).toStrictEqual({ outcome: 'written' });
      expect(requests.length, 'one request per put').toBe(30);
      for (const units of requests) expect(units).toBeGreaterThanOrEqual(100);
      for (const units of requests) expect(units).toBeLessThanOrEqual(102);
      // A query page stops at 1 MB: about ten 100 KB items, not the 25 asked for.
      requests.length = 0;
      const page = await store.readBatches('C', 0, 25);
      expect(page.batches.length).toBeGreaterThanOrEqual(10);
      expect(page.batches.length).toBeLessThanOrEqual(11);
      expect(page.reachedEnd, 'a page cut at 1 MB is not the end').toBe(false);
      expect(requests.length).toBe(1);
      // Read units: one per 4 KB read, so about 256 for a 1 MB page.
      expect(requests[0]).toBeGreaterThanOrEqual(250);
      expect(requests[0]).toBeLessThanOrEqual(290);
      // The last batch costs one query of one item: about 25 units for 100 KB.
      requests.length = 0;
      expect((await store.lastBatch('C'))?.baseOffset).toBe(29);
      expect(requests.length).toBe(1);
      expect(requests[0]).toBeGreaterThanOrEqual(25);
      expect(requests[0]).toBeLessThanOrEqual(26);
      // Items over 400 KB are refused and write nothing.
      await expect(store.putBatch({ ...batch('C', 30, 1), payload: new Uint8Array(401 * 1024) })).rejects.toThrow(
        /size/i,
      );
      expect((await store.lastBatch('C'))?.baseOffset).toBe(29);
    });

    it('creates, lists, updates with optimistic locking, and deletes topics', async () => {
      const store = await kind.make();
      const a = topic('a-topic');
      await store.createTopic(a);
      await expect(store.createTopic(topic('a-topic'))).rejects.toSatisfy((e) =>
        isSluiceError(e, 'TopicAlreadyExists'),
      );
      await store.createTopic(topic('b-topic'));
      expect((await store.listTopics()).map((t) => t.name).sort()).toStrictEqual(['a-topic', 'b-topic']);
      expect(await store.getTopic('a-topic')).toStrictEqual(a);
      expect(await store.getTopic('missing')).toBe(undefined);

      const grown = { ...a, config: { ...a.config, partitions: 4 }, version: 2 };
      await store.updateTopic(grown);
      expect(await store.getTopic('a-topic')).toStrictEqual(grown);
      await expect(store.updateTopic({ ...grown, version: 2 })).rejects.toSatisfy((e) =>
        isSluiceError(e, 'TopicConflict'),
      );
      await expect(store.updateTopic({ ...grown, topicId: 'other', version: 3 })).rejects.toSatisfy((e) =>
        isSluiceError(e, 'TopicNotFound'),
      );

      const deleted = { name: 'a-topic', topicId: a.topicId, partitions: 4, deletedAt: 5 };
      await expect(store.deleteTopic('a-topic', 'wrong-id', { ...deleted, topicId: 'wrong-id' })).rejects.toSatisfy(
        (e) => isSluiceError(e, 'TopicNotFound'),
      );
      expect(await store.listDeletedTopics(10), 'a refused delete records nothing').toStrictEqual([]);
      await store.deleteTopic('a-topic', a.topicId, deleted);
      expect(await store.getTopic('a-topic')).toBe(undefined);
      expect(await store.listDeletedTopics(10), 'the deletion is recorded with it').toStrictEqual([deleted]);
      await store.forgetDeletedTopic(a.topicId);
      expect(await store.listDeletedTopics(10)).toStrictEqual([]);
      expect(await store.getPartitionState('L')).toStrictEqual({ logStartOffset: 0, tieredThrough: 0, version: 0 });
    });
  });
}
