import { DynamoAtomicWriter } from '../../core/adapters/dynamodb/dynamoAtomic.ts';
import { DynamoEventStoreStore } from '../../core/eventStore/dynamoEventStoreStore.ts';
import { DynamoReadModel, createReadModelTable } from '../../core/eventStore/dynamoReadModel.ts';
import { EventStore } from '../../core/eventStore/eventStore.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { dynamoClientFromEnv } from '../../local/awsEnv.ts';
import { eventStoreContract } from '../contract/eventStoreContract.ts';
import { FaultyWriter } from '../support/faultyWriter.ts';
import { uniqueName } from '../support/names.ts';
import { freshDynamoStore } from '../support/stores.ts';

eventStoreContract({
  name: 'dynamodb',
  propertyRuns: 4,
  async make(options = {}) {
    const capacity = options.onConsumedCapacity === undefined ? {} : { onConsumedCapacity: options.onConsumedCapacity };
    const { store, tables } = await freshDynamoStore('events', capacity);
    const client = dynamoClientFromEnv();
    const atomic = new DynamoAtomicWriter({ client });
    const writer = new FaultyWriter(atomic);
    const sluice = new Sluice({
      log: store,
      metadata: store,
      atomic: writer,
      retry: { maxJitterMs: 2 },
      ...(options.now === undefined ? {} : { now: options.now }),
    });
    const es = new EventStore({
      sluice,
      store: new DynamoEventStoreStore({ client, table: tables.metadata, ...capacity }),
      ...(options.now === undefined ? {} : { now: options.now }),
      ...(options.snapshotEvery === undefined ? {} : { snapshotEvery: options.snapshotEvery }),
      ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
    });
    const readModel = async () => {
      const table = uniqueName('readmodel');
      await createReadModelTable(client, table);
      return new DynamoReadModel({ client, table, atomic });
    };
    return { es, writer, readModel };
  },
});
