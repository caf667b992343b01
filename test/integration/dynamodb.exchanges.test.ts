import { exchangeStoreContract } from '../contract/exchangeStoreContract.ts';
import { DynamoExchangeStore } from '../../core/exchanges/dynamoExchangeStore.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { dynamoClientFromEnv } from '../../local/awsEnv.ts';
import { freshDynamoStore } from '../support/stores.ts';

exchangeStoreContract({
  name: 'dynamodb',
  make: async () => {
    const { store, tables } = await freshDynamoStore('exchanges');
    return {
      store: new DynamoExchangeStore({ client: dynamoClientFromEnv(), table: tables.metadata }),
      sluice: new Sluice({ log: store, metadata: store }),
    };
  },
});
