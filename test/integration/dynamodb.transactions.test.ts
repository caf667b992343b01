import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoAtomicWriter } from '../../core/adapters/dynamodb/dynamoAtomic.ts';
import { ConsumerGroups } from '../../core/groups/consumerGroups.ts';
import { DynamoGroupStore } from '../../core/groups/dynamoGroupStore.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { MemoryObjectStore, S3ObjectStore, s3ClientFromEnv } from '../../core/tiering/objectStore.ts';
import { Tiering } from '../../core/tiering/tiering.ts';
import { DynamoTransactionStore } from '../../core/transactions/dynamoTransactionStore.ts';
import { Transactions } from '../../core/transactions/transactions.ts';
import { dynamoClientFromEnv } from '../../local/awsEnv.ts';
import { FaultyWriter, transactionContract } from '../contract/transactionContract.ts';
import { freshDynamoStore } from '../support/stores.ts';

transactionContract({
  name: 'dynamodb',
  async make(now) {
    const { store, tables } = await freshDynamoStore('txn');
    const client = dynamoClientFromEnv();
    const txnStore = new DynamoTransactionStore({ client, table: tables.metadata });
    const writer = new DynamoAtomicWriter({ client });
    const faults = new FaultyWriter(writer);
    const bucket = process.env.SLUICE_SEGMENT_BUCKET;
    const objects =
      bucket === undefined || process.env.AWS_ENDPOINT_URL_S3 === undefined
        ? new MemoryObjectStore()
        : new S3ObjectStore({ client: s3ClientFromEnv(), bucket });
    const sluice = new Sluice({
      log: store,
      metadata: store,
      now,
      atomic: faults,
      transactions: txnStore,
      tiering: { store, objects },
    });
    const tiering = new Tiering({ log: store, metadata: store, store, objects, now, txns: sluice.txnOutcomes! });
    const groups = new ConsumerGroups({ store: new DynamoGroupStore({ client, table: tables.metadata }), sluice, now });
    return {
      sluice,
      groups,
      transactions: new Transactions({ sluice, store: txnStore, groups, now }),
      faults,
      tiering,
      // The caller's own row, here in the metadata table (any table of the account and region would do).
      row: (id) =>
        writer.userPart([
          {
            Put: {
              TableName: tables.metadata,
              Item: { pk: { S: `order#${id}` }, sk: { S: 'row' } },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
        ]),
      hasRow: async (id) =>
        (
          await client.send(
            new GetItemCommand({
              TableName: tables.metadata,
              Key: { pk: { S: `order#${id}` }, sk: { S: 'row' } },
              ConsistentRead: true,
            }),
          )
        ).Item !== undefined,
    };
  },
});
