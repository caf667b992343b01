import { MemoryStore } from '../../core/adapters/memory/memoryStore.ts';
import { MemoryAtomicWriter } from '../../core/adapters/memory/memoryAtomic.ts';
import { EventStore } from '../../core/eventStore/eventStore.ts';
import { MemoryEventStoreStore } from '../../core/eventStore/eventStoreStore.ts';
import { MemoryReadModel } from '../../core/eventStore/readModel.ts';
import { Sluice } from '../../core/log/sluice.ts';
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
