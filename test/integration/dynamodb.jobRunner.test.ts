import { ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { DynamoAtomicWriter } from '../../core/adapters/dynamodb/dynamoAtomic.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { DynamoJobStateStore } from '../../core/streams/dynamoJobStateStore.ts';
import { createSinkTable, DynamoTableSink } from '../../core/streams/dynamoTableSink.ts';
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
    // The logical table `sink` of the contract’s jobs is a fresh physical table (pk and sk strings).
    const sinkTable = `${tables.metadata}-sink`;
    await createSinkTable(client, sinkTable);
    return {
      sluice,
      store: new DynamoJobStateStore({ client, table: tables.metadata }),
      writer,
      clock: time,
      tables: new DynamoTableSink({ tables: { sink: sinkTable } }),
      readSink: async () => scanSorted(client, sinkTable),
    };
  },
});

/** Every item of a table (consistent scan), by pk then sk. */
async function scanSorted(client: DynamoDBClient, table: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: table,
        ConsistentRead: true,
        ...(start === undefined ? {} : { ExclusiveStartKey: start }),
      }),
    );
    items.push(...(page.Items ?? []).map((i) => unmarshall(i)));
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  const key = (i: Record<string, unknown>) => `${String(i.pk)}\u0000${String(i.sk)}`;
  return items.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
