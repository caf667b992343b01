import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../core/adapters/memory/memoryStore.ts';
import { MemoryAtomicWriter } from '../../core/adapters/memory/memoryAtomic.ts';
import { EventStore } from '../../core/eventStore/eventStore.ts';
import { MemoryEventStoreStore } from '../../core/eventStore/eventStoreStore.ts';
import { MemoryReadModel } from '../../core/eventStore/readModel.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { logKey } from '../../core/ports.ts';
import { MemoryObjectStore } from '../../core/tiering/objectStore.ts';
import { Tiering } from '../../core/tiering/tiering.ts';
import { eventStoreContract } from '../contract/eventStoreContract.ts';
import { FaultyWriter } from '../support/faultyWriter.ts';

eventStoreContract({
  name: 'memory',
  propertyRuns: 60,
  async make(options = {}) {
    const capacity = options.onConsumedCapacity === undefined ? {} : { onConsumedCapacity: options.onConsumedCapacity };
    const store = new MemoryStore(capacity);
    const writer = new FaultyWriter(new MemoryAtomicWriter());
    const sluice = new Sluice({
      log: store,
      metadata: store,
      atomic: writer,
      retry: { maxJitterMs: 2 },
      ...(options.now === undefined ? {} : { now: options.now }),
    });
    const es = new EventStore({
      sluice,
      store: new MemoryEventStoreStore(capacity),
      ...(options.now === undefined ? {} : { now: options.now }),
      ...(options.snapshotEvery === undefined ? {} : { snapshotEvery: options.snapshotEvery }),
      ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
    });
    return { es, writer, readModel: async () => new MemoryReadModel() };
  },
});

describe('event store on tiered storage', () => {
  it('reads a stream whose batches were rolled to S3 and whose hot copies expired, as before', async () => {
    let t = 1_800_000_000_000;
    const now = () => t;
    const store = new MemoryStore();
    const objects = new MemoryObjectStore();
    const sluice = new Sluice({
      log: store,
      metadata: store,
      tiering: { store, objects },
      atomic: new MemoryAtomicWriter(),
      now,
    });
    const tiering = new Tiering({ log: store, metadata: store, store, objects, now });
    await sluice.createTopic('sluice.events', { partitions: 1, config: { hotRetentionMs: 60_000, retentionMs: -1 } });
    const es = new EventStore({ sluice, store: new MemoryEventStoreStore(), now });
    for (let i = 0; i < 12; i++) {
      await es.appendToStream(`s-${i % 2}`, [
        { type: 'Deposited', data: { amount: i } },
        { type: 'Deposited', data: { amount: -i } },
      ]);
      t += 60_000;
    }
    const before = await es.readStream('s-0');
    expect(before.events.map((e) => e.version)).toEqual([...Array(12).keys()]);
    expect((await tiering.runOnce())[0]!.rolled).toBe(1);
    const topic = await sluice.topic('sluice.events');
    const log = logKey(topic.topicId, 0);
    const { tieredThrough } = await store.getPartitionState(log);
    expect(tieredThrough).toBeGreaterThan(10);
    const hot = await store.scanBatchHeaders(log, 0, 100);
    await store.deleteBatches(
      log,
      hot.batches.filter((b) => b.baseOffset < tieredThrough).map((b) => b.baseOffset),
    );
    expect(await sluice.readBatch('sluice.events', 0, 0)).toBeUndefined(); // gone from the hot tier
    expect(await es.readStream('s-0')).toEqual(before);
    expect(
      (
        await es.load('s-0', {
          name: 'sum',
          version: 1,
          initial: () => 0,
          apply: (n, e) => n + (e.data as { amount: number }).amount,
        })
      ).state,
    ).toBe(0);
  });
});
