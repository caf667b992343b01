import { DynamoAtomicWriter } from '../../core/adapters/dynamodb/dynamoAtomic.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { DynamoJobStateStore } from '../../core/streams/dynamoJobStateStore.ts';
import { dynamoClientFromEnv } from '../../local/awsEnv.ts';
import { describeJobContract } from '../contract/describeJobContract.ts';
import { freshDynamoStore } from '../support/stores.ts';

describeJobContract({
  name: 'dynamodb',
  async make() {
    const { store, tables } = await freshDynamoStore('describe-jobs');
    const client = dynamoClientFromEnv();
    return {
      sluice: new Sluice({ log: store, metadata: store, atomic: new DynamoAtomicWriter({ client }) }),
      store: new DynamoJobStateStore({ client, table: tables.metadata }),
    };
  },
});
