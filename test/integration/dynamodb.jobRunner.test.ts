import { DynamoAtomicWriter } from '../../core/adapters/dynamodb/dynamoAtomic.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { DynamoJobStateStore } from '../../core/streams/dynamoJobStateStore.ts';
import { dynamoClientFromEnv } from '../../local/awsEnv.ts';
import { CrashingWriter, jobRunnerContract } from '../contract/jobRunnerContract.ts';
import { clock } from '../support/clock.ts';
import { freshDynamoStore } from '../support/stores.ts';

jobRunnerContract({
  name: 'dynamodb',
  async make() {
    const { store, tables } = await freshDynamoStore('jobs');
    const client = dynamoClientFromEnv();
    const writer = new CrashingWriter(new DynamoAtomicWriter({ client }));
    const time = clock();
    const sluice = new Sluice({
      log: store,
      metadata: store,
      now: time.now,
      atomic: writer,
      retry: { maxJitterMs: 1 },
    });
    return { sluice, store: new DynamoJobStateStore({ client, table: tables.metadata }), writer, clock: time };
  },
});
