import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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
      assert.deepEqual(await store.putBatch(first), { outcome: 'written' });
      const again = await store.putBatch(batch('L', 0, 5, 'writer-b'));
      assert.equal(again.outcome, 'offset-taken');
      assert.ok(again.outcome === 'offset-taken' && again.existing !== undefined);
      assert.equal(again.existing.writerId, 'writer-a');
      assert.equal(again.existing.recordCount, 3);
      const page = await store.readBatches('L', 0, 10);
      assert.equal(page.batches.length, 1);
      assert.deepEqual(page.batches[0], first);
    });

    it('finds the last batch and reads pages from a boundary or from inside a batch', async () => {
      const store = await kind.make();
      assert.equal(await store.lastBatch('L'), undefined);
      for (const [base, count] of [[0, 2], [2, 3], [5, 1], [6, 4]] as const) await store.putBatch(batch('L', base, count));
      await store.putBatch(batch('other', 0, 100));
      const last = await store.lastBatch('L');
      assert.equal(last?.baseOffset, 6);
      assert.equal(last?.recordCount, 4);

      const fromBoundary = await store.readBatches('L', 2, 2);
      assert.deepEqual(fromBoundary.batches.map((b) => b.baseOffset), [2, 5]);
      assert.equal(fromBoundary.reachedEnd, false);

      const fromInside = await store.readBatches('L', 3, 2);
      assert.deepEqual(fromInside.batches.map((b) => b.baseOffset), [2, 5, 6]);
      assert.equal(fromInside.reachedEnd, true);

      const exact = await store.readBatches('L', 5, 2);
      assert.deepEqual(exact.batches.map((b) => b.baseOffset), [5, 6]);
      assert.equal(exact.reachedEnd, true, 'a page that ends at the last batch says so');

      const atEnd = await store.readBatches('L', 10, 5);
      assert.deepEqual(atEnd, { batches: [], reachedEnd: true });
      assert.deepEqual((await store.readBatches('L', 9, 5)).batches.map((b) => b.baseOffset), [6]);

      const headers = await store.scanBatchHeaders('L', 0, 10);
      assert.deepEqual(headers.batches.map((b) => [b.baseOffset, b.recordCount, b.maxTimestamp]), [[0, 2, 1002], [2, 3, 1005], [5, 1, 1006], [6, 4, 1010]]);
    });

    it('deletes a whole log and nothing else', async () => {
      const store = await kind.make();
      for (let i = 0; i < 30; i++) await store.putBatch(batch('gone', i, 1));
      await store.putBatch(batch('kept', 0, 1));
      await store.deleteLog('gone');
      assert.equal(await store.lastBatch('gone'), undefined);
      assert.equal((await store.lastBatch('kept'))?.baseOffset, 0);
    });

    it('writes a batch and the producer state together, or neither', async () => {
      const store = await kind.make();
      const next = (version: number, nextSequence: number) => ({ epoch: 0, nextSequence, recent: [{ firstSequence: nextSequence - 1, recordCount: 1, baseOffset: version - 1 }], version });
      const write = (expectedVersion: number | undefined, version: number) => ({ producerId: 'p1', log: 'L', expectedVersion, next: next(version, version) });

      assert.deepEqual(await store.putBatch(batch('L', 0, 1), write(undefined, 1)), { outcome: 'written' });
      assert.deepEqual(await store.getProducerState('p1', 'L'), next(1, 1));

      // Stale producer version: refused, and the batch is not written either.
      assert.deepEqual(await store.putBatch(batch('L', 1, 1), write(undefined, 1)), { outcome: 'producer-state-changed' });
      assert.equal((await store.lastBatch('L'))?.baseOffset, 0);

      // Offset taken: refused, and the producer state is unchanged.
      const taken = await store.putBatch(batch('L', 0, 1), write(1, 2));
      assert.equal(taken.outcome, 'offset-taken');
      assert.deepEqual(await store.getProducerState('p1', 'L'), next(1, 1));

      assert.deepEqual(await store.putBatch(batch('L', 1, 1), write(1, 2)), { outcome: 'written' });
      assert.deepEqual(await store.getProducerState('p1', 'L'), next(2, 2));
      assert.equal(await store.getProducerState('p1', 'other-log'), undefined);
    });

    it('creates, lists, updates with optimistic locking, and deletes topics', async () => {
      const store = await kind.make();
      const a = topic('a-topic');
      await store.createTopic(a);
      await assert.rejects(store.createTopic(topic('a-topic')), (e) => isSluiceError(e, 'TopicAlreadyExists'));
      await store.createTopic(topic('b-topic'));
      assert.deepEqual((await store.listTopics()).map((t) => t.name).sort(), ['a-topic', 'b-topic']);
      assert.deepEqual(await store.getTopic('a-topic'), a);
      assert.equal(await store.getTopic('missing'), undefined);

      const grown = { ...a, config: { ...a.config, partitions: 4 }, version: 2 };
      await store.updateTopic(grown);
      assert.deepEqual(await store.getTopic('a-topic'), grown);
      await assert.rejects(store.updateTopic({ ...grown, version: 2 }), (e) => isSluiceError(e, 'TopicConflict'));
      await assert.rejects(store.updateTopic({ ...grown, topicId: 'other', version: 3 }), (e) => isSluiceError(e, 'TopicNotFound'));

      await assert.rejects(store.deleteTopic('a-topic', 'wrong-id'), (e) => isSluiceError(e, 'TopicNotFound'));
      await store.deleteTopic('a-topic', a.topicId);
      assert.equal(await store.getTopic('a-topic'), undefined);
      assert.deepEqual(await store.getPartitionState('L'), { logStartOffset: 0, tieredThrough: 0, version: 0 });
    });
  });
}
