import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { createTables, ensureTable } from '../../core/adapters/dynamodb/createTables.ts';
import { DynamoStore } from '../../core/adapters/dynamodb/dynamoStore.ts';
import type { StoredBatch } from '../../core/ports.ts';
import { LOG_TABLE, METADATA_TABLE, TIME_INDEX } from '../../core/schema.ts';
import { dynamoClientFromEnv } from '../../local/awsEnv.ts';
import { uniqueName } from '../support/names.ts';

describe('tables on DynamoDB', () => {
  it('gets the time indexes added to tables created before them; until then, look-ups go without', async () => {
    const client = dynamoClientFromEnv();
    const base = uniqueName('tables');
    const tables = { log: `${base}-log`, metadata: `${base}-meta` };
    // The tables as an earlier version created them (e.g. a local stack's data kept under .sluice/).
    await ensureTable(client, tables.log, LOG_TABLE.partitionKey, LOG_TABLE.sortKey);
    await ensureTable(client, tables.metadata, METADATA_TABLE.partitionKey, METADATA_TABLE.sortKey);
    const store = new DynamoStore({ client, tables });
    const mark: StoredBatch = {
      log: 'L',
      baseOffset: 0,
      recordCount: 1,
      firstTimestamp: 5,
      maxTimestamp: 5,
      sizeBytes: 1,
      codec: 'none',
      payload: Uint8Array.from([1]),
      writerId: 'w',
      timeMark: { chainStart: 0, maxTimestamp: 5 },
    };
    expect(await store.putBatch(mark)).toStrictEqual({ outcome: 'written' });
    expect(await store.timeMarkBefore('L', 0, 10), 'no index: nothing known, no error').toBe(undefined);
    expect(await store.segmentBefore('L', 10)).toBe(undefined);

    await createTables(client, tables);
    for (const name of [tables.log, tables.metadata]) {
      const table = (await client.send(new DescribeTableCommand({ TableName: name }))).Table;
      expect(table?.GlobalSecondaryIndexes?.map((i) => [i.IndexName, i.IndexStatus])).toStrictEqual([
        [TIME_INDEX.name, 'ACTIVE'],
      ]);
    }
    expect(await store.timeMarkBefore('L', 0, 10), 'items written before are indexed too').toStrictEqual({
      maxTimestamp: 5,
      end: 1,
    });
    await createTables(client, tables); // again: nothing to do
  });
});
