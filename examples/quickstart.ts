/**
 * The engine used directly against the tables `npm start` created.
 * Run it with `npx sluice example quickstart` while `npm start` is running.
 */
import { DynamoStore } from '../core/adapters/dynamodb/dynamoStore.ts';
import { isSluiceError } from '../core/errors.ts';
import { TABLE_NAME_ENV } from '../core/schema.ts';
import { Sluice } from '../core/log/sluice.ts';
import { dynamoClientFromEnv } from '../local/awsEnv.ts';

const tables = {
  log: process.env[TABLE_NAME_ENV.log] ?? 'sluice-log',
  metadata: process.env[TABLE_NAME_ENV.metadata] ?? 'sluice-metadata',
};
const store = new DynamoStore({ client: dynamoClientFromEnv(), tables });
const sluice = new Sluice({ log: store, metadata: store });

try {
  await sluice.createTopic('quickstart-orders', { partitions: 3, config: { compression: 'zstd' } });
} catch (e) {
  if (!isSluiceError(e, 'TopicAlreadyExists')) throw e;
}
const metas = await sluice.append('quickstart-orders', [
  {
    key: 'user-42',
    value: { orderId: 'o-1', amount: 99.5, status: 'CREATED' },
    headers: { event_type: 'OrderCreated' },
  },
  { key: 'user-42', value: { orderId: 'o-1', amount: 99.5, status: 'PAID' }, headers: { event_type: 'OrderPaid' } },
]);
for (const m of metas) console.log(`quickstart-orders[${m.partition}] @ ${m.offset}`);
const { records, highWatermark } = await sluice.read('quickstart-orders', metas[0]!.partition, 0);
console.log(`partition ${metas[0]!.partition} holds ${highWatermark} records; the last is`, records.at(-1));
