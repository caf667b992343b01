import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { LOG_TABLE, METADATA_TABLE, type TableNames } from '../../schema.ts';

/**
 * Creates the log and metadata tables (on-demand) if they do not exist, and waits until they are
 * active. The CDK stack builds the same tables from the same schema constants.
 */
export async function createTables(client: DynamoDBClient, tables: TableNames): Promise<void> {
  await Promise.all([
    ensureTable(client, tables.log, LOG_TABLE.partitionKey, LOG_TABLE.sortKey),
    ensureTable(client, tables.metadata, METADATA_TABLE.partitionKey, METADATA_TABLE.sortKey),
  ]);
}

/** Creates an on-demand table with this key (range optional) unless it exists, and waits until it is active. */
export async function ensureTable(
  client: DynamoDBClient,
  name: string,
  hash: { name: string; type: 'S' | 'N' | 'B' },
  range?: { name: string; type: 'S' | 'N' | 'B' },
): Promise<void> {
  const keys =
    range === undefined
      ? [{ ...hash, kind: 'HASH' as const }]
      : [
          { ...hash, kind: 'HASH' as const },
          { ...range, kind: 'RANGE' as const },
        ];
  try {
    await client.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: keys.map((k) => ({ AttributeName: k.name, AttributeType: k.type })),
        KeySchema: keys.map((k) => ({ AttributeName: k.name, KeyType: k.kind })),
      }),
    );
  } catch (e) {
    if (!(e instanceof ResourceInUseException)) throw e;
  }
  for (let i = 0; i < 100; i++) {
    const out = await client.send(new DescribeTableCommand({ TableName: name }));
    if (out.Table?.TableStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Table ${name} did not become active`);
}
