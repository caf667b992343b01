import {
  CreateTableCommand,
  GetItemCommand,
  ScanCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoAtomicWriter } from '../adapters/dynamodb/dynamoAtomic.ts';
import { InvalidArgument } from '../errors.ts';
import { checkWrite, type KeyedPart, type ReadModel, type ReadModelDoc } from './readModel.ts';

export interface DynamoReadModelOptions {
  readonly client: DynamoDBClient;
  /** The user's table: partition key `id` (a string), nothing else required. */
  readonly table: string;
  /** Makes the writes parts of the projection's transaction (`userPart`). */
  readonly atomic: DynamoAtomicWriter;
}

/**
 * `ReadModel` on a user's DynamoDB table (partition key `id`, string): each document is an item
 * whose attributes are its fields. Writes are `TransactWriteItem`s joined to the projection's
 * checkpoint write, so the table and the checkpoint move together.
 */
export class DynamoReadModel implements ReadModel {
  private readonly client: DynamoDBClient;
  private readonly table: string;
  private readonly atomic: DynamoAtomicWriter;

  constructor(options: DynamoReadModelOptions) {
    this.client = options.client;
    this.table = options.table;
    this.atomic = options.atomic;
  }

  put(id: string, doc: ReadModelDoc): KeyedPart {
    checkWrite(id, undefined, doc);
    return keyed(
      this.table,
      id,
      this.atomic.userPart([{ Put: { TableName: this.table, Item: marshall({ ...doc, id }) } }]),
    );
  }

  add(id: string, field: string, delta: number): KeyedPart {
    checkWrite(id, field);
    if (!Number.isFinite(delta)) throw new InvalidArgument('delta', 'delta must be a finite number');
    return keyed(
      this.table,
      id,
      this.atomic.userPart([
        {
          Update: {
            TableName: this.table,
            Key: { id: { S: id } },
            UpdateExpression: 'ADD #f :d',
            ExpressionAttributeNames: { '#f': field },
            ExpressionAttributeValues: { ':d': { N: String(delta) } },
          },
        },
      ]),
    );
  }

  delete(id: string): KeyedPart {
    checkWrite(id);
    return keyed(this.table, id, this.atomic.userPart([{ Delete: { TableName: this.table, Key: { id: { S: id } } } }]));
  }

  async get(id: string): Promise<ReadModelDoc | undefined> {
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.table, Key: { id: { S: id } }, ConsistentRead: true }),
    );
    if (out.Item === undefined) return undefined;
    const { id: _id, ...doc } = unmarshall(out.Item);
    return doc;
  }

  async all(): Promise<Map<string, ReadModelDoc>> {
    const docs = new Map<string, ReadModelDoc>();
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({
          TableName: this.table,
          ConsistentRead: true,
          ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
        }),
      );
      for (const item of page.Items ?? []) {
        const { id, ...doc } = unmarshall(item);
        docs.set(id as string, doc);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return docs;
  }
}

/** Creates a read-model table (on-demand, partition key `id`): for tests, examples and the local stack. */
export async function createReadModelTable(client: DynamoDBClient, table: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
}

function keyed<P extends object>(table: string, id: string, part: P): P & KeyedPart {
  return Object.assign(part, { keys: [`${table}\u0000${id}`] }) as P & KeyedPart;
}
