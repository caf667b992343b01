import { DynamoExchangeStore } from '../../core/exchanges/dynamoExchangeStore.ts';
import { Exchanges } from '../../core/exchanges/exchanges.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { DynamoShareStore } from '../../core/queues/dynamoShareStore.ts';
import { Queues } from '../../core/queues/queues.ts';
import { ShareGroups } from '../../core/queues/shareGroups.ts';
import { dynamoClientFromEnv } from '../../local/awsEnv.ts';
import { queueContract } from '../contract/queueContract.ts';
import { freshDynamoStore } from '../support/stores.ts';

queueContract({
  name: 'dynamodb',
  async make(now) {
    const { store, tables } = await freshDynamoStore('queues');
    const client = dynamoClientFromEnv();
    const sluice = new Sluice({ log: store, metadata: store, now });
    const shareStore = new DynamoShareStore({ client, table: tables.metadata });
    const exchanges: Exchanges = new Exchanges({
      store: new DynamoExchangeStore({ client, table: tables.metadata }),
      sluice,
      now,
      admission: { admit: (topic, count) => queues.admit(topic, count) },
    });
    const shares = new ShareGroups({ store: shareStore, sluice, exchanges, now });
    const queues: Queues = new Queues({ sluice, store: shareStore, shareGroups: shares, now, cacheMs: 0 });
    return { sluice, shares, exchanges, queues };
  },
});
