import { CreateTableCommand, DescribeTableCommand, ResourceInUseException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
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

async function ensureTable(
  client: DynamoDBClient,
  name: string,
  hash: { name: string; type: 'S' | 'N' },
  range: { name: string; type: 'S' | 'N' },
): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: hash.name, AttributeType: hash.type },
          { AttributeName: range.name, AttributeType: range.type },
        ],
        KeySchema: [
          { AttributeName: hash.name, KeyType: 'HASH' },
          { AttributeName: range.name, KeyType: 'RANGE' },
        ],
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
