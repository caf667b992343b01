import { DynamoShareStore } from '../../core/queues/dynamoShareStore.ts';
import { ShareGroups } from '../../core/queues/shareGroups.ts';
import { Redrive } from '../../core/queues/redrive.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { dynamoClientFromEnv } from '../../local/awsEnv.ts';
import { shareGroupContract } from '../contract/shareGroupContract.ts';
import { freshDynamoStore } from '../support/stores.ts';

// DynamoDB Local: the same lifecycle, and the history checker over 2,000 records with 8 members
// (about 30 s here: each poll and acknowledgement is a few requests).
shareGroupContract(
  {
    name: 'dynamodb',
    async make(now) {
      const { store, tables } = await freshDynamoStore('share');
      const sluice = new Sluice({ log: store, metadata: store, now });
      const shareStore = new DynamoShareStore({ client: dynamoClientFromEnv(), table: tables.metadata });
      return {
        sluice,
        shares: new ShareGroups({ store: shareStore, sluice, now }),
        redrive: new Redrive({ sluice, positions: shareStore }),
      };
    },
  },
  { members: 8, records: 2_000, seeds: [11] },
);
