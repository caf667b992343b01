import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  UpdateTableCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
} from '@aws-sdk/client-dynamodb';
import { LOG_TABLE, METADATA_TABLE, TIME_INDEX, type TableNames } from '../../schema.ts';

type KeyAttribute = { readonly name: string; readonly type: 'S' | 'N' | 'B' };

/** A keys-only global secondary index. */
export interface IndexSchema {
  readonly name: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey: KeyAttribute;
}

/**
 * Creates the log and metadata tables (on-demand) with their time indexes if they do not exist,
 * adds the indexes to tables created before them, and waits until all are active. The CDK stack
 * builds the same tables from the same schema constants.
 */
export async function createTables(client: DynamoDBClient, tables: TableNames): Promise<void> {
  await Promise.all([
    ensureTable(client, tables.log, LOG_TABLE.partitionKey, LOG_TABLE.sortKey, [TIME_INDEX]),
    ensureTable(client, tables.metadata, METADATA_TABLE.partitionKey, METADATA_TABLE.sortKey, [TIME_INDEX]),
  ]);
}

/**
 * Creates an on-demand table with this key (range optional) and indexes unless it exists, creates
 * the indexes an existing table lacks (one at a time, as DynamoDB requires), and waits until the
 * table and its indexes are active.
 */
export async function ensureTable(
  client: DynamoDBClient,
  name: string,
  hash: KeyAttribute,
  range?: KeyAttribute,
  indexes: readonly IndexSchema[] = [],
): Promise<void> {
  const keys =
    range === undefined
      ? [{ ...hash, kind: 'HASH' as const }]
      : [
          { ...hash, kind: 'HASH' as const },
          { ...range, kind: 'RANGE' as const },
        ];
  const attributes = new Map<string, KeyAttribute['type']>();
  for (const k of [...keys, ...indexes.flatMap((i) => [i.partitionKey, i.sortKey])]) attributes.set(k.name, k.type);
  const definitions = [...attributes].map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType }));
  try {
    await client.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: definitions,
        KeySchema: keys.map((k) => ({ AttributeName: k.name, KeyType: k.kind })),
        ...(indexes.length === 0 ? {} : { GlobalSecondaryIndexes: indexes.map(indexDefinition) }),
      }),
    );
  } catch (e) {
    if (!(e instanceof ResourceInUseException)) throw e;
  }
  for (let i = 0; i < 300; i++) {
    const table = (await client.send(new DescribeTableCommand({ TableName: name }))).Table;
    const existing = table?.GlobalSecondaryIndexes ?? [];
    const missing = indexes.find((index) => !existing.some((e) => e.IndexName === index.name));
    const active = table?.TableStatus === 'ACTIVE' && existing.every((e) => e.IndexStatus === 'ACTIVE');
    if (active && missing === undefined) return;
    if (active && missing !== undefined) {
      await client.send(
        new UpdateTableCommand({
          TableName: name,
          AttributeDefinitions: definitions,
          GlobalSecondaryIndexUpdates: [{ Create: indexDefinition(missing) }],
        }),
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Table ${name} did not become active`);
}

function indexDefinition(index: IndexSchema): GlobalSecondaryIndex {
  return {
    IndexName: index.name,
    KeySchema: [
      { AttributeName: index.partitionKey.name, KeyType: 'HASH' },
      { AttributeName: index.sortKey.name, KeyType: 'RANGE' },
    ],
    Projection: { ProjectionType: 'KEYS_ONLY' },
  };
}
