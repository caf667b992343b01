import { DynamoWatchStore } from '../../core/subscriptions/dynamoWatchStore.ts';
import { dynamoClientFromEnv } from '../../local/awsEnv.ts';
import { watchStoreContract } from '../contract/watchStoreContract.ts';
import { freshDynamoStore } from '../support/stores.ts';

watchStoreContract({
  name: 'dynamodb',
  make: async () => {
    const { tables } = await freshDynamoStore('watch');
    return new DynamoWatchStore({ client: dynamoClientFromEnv(), table: tables.metadata });
  },
});
