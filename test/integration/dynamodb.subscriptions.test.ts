import { DynamoLeases } from '../../core/adapters/dynamodb/dynamoLeases.ts';
import { ConsumerGroups } from '../../core/groups/consumerGroups.ts';
import { DynamoGroupStore } from '../../core/groups/dynamoGroupStore.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { DynamoSubscriptionStore } from '../../core/subscriptions/dynamoSubscriptionStore.ts';
import { dynamoClientFromEnv } from '../../local/awsEnv.ts';
import { subscriptionContract } from '../contract/subscriptionContract.ts';
import { freshDynamoStore } from '../support/stores.ts';

// DynamoDB Local: the same delivery rules, and the crash-injecting history over fewer records.
subscriptionContract(
  {
    name: 'dynamodb',
    async make(now) {
      const { store, tables } = await freshDynamoStore('subs');
      const client = dynamoClientFromEnv();
      const sluice = new Sluice({ log: store, metadata: store, now });
      return {
        sluice,
        groups: new ConsumerGroups({ store: new DynamoGroupStore({ client, table: tables.metadata }), sluice, now }),
        store: new DynamoSubscriptionStore({ client, table: tables.metadata }),
        leases: new DynamoLeases({ client, table: tables.metadata }),
      };
    },
  },
  { records: 200, seeds: [5] },
);
