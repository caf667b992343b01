import {
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { DynamoPart } from '../adapters/dynamodb/dynamoAtomic.ts';
import { metadataKeys } from '../schema.ts';
import { parseTxnKey, type TransactionStore, type TxnOutcome, type TxnProducerState } from './transactionStore.ts';

export interface DynamoTransactionStoreOptions {
  readonly client: DynamoDBClient;
  /** The metadata table. */
  readonly table: string;
}

/** `TransactionStore` in the metadata table (keys in core/schema.ts). */
export class DynamoTransactionStore implements TransactionStore {
  private readonly client: DynamoDBClient;
  private readonly table: string;

  constructor(options: DynamoTransactionStoreOptions) {
    this.client = options.client;
    this.table = options.table;
  }

  async getProducer(transactionalId: string): Promise<TxnProducerState | undefined> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.table,
        Key: marshall(metadataKeys.transactionalProducer(transactionalId)),
        ConsistentRead: true,
      }),
    );
    if (out.Item === undefined) return undefined;
    const { pk: _pk, sk: _sk, ...state } = unmarshall(out.Item);
    return state as TxnProducerState;
  }

  async putProducer(next: TxnProducerState): Promise<boolean> {
    try {
      await this.client.send(new PutItemCommand(this.producerPut(next)));
      return true;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return false;
      throw e;
    }
  }

  producerPart(next: TxnProducerState): DynamoPart {
    return new DynamoPart([{ Put: this.producerPut(next) }]);
  }

  private producerPut(next: TxnProducerState) {
    return {
      TableName: this.table,
      Item: marshall(
        { ...metadataKeys.transactionalProducer(next.transactionalId), ...next },
        { removeUndefinedValues: true },
      ),
      ...(next.version === 1
        ? { ConditionExpression: 'attribute_not_exists(pk)' }
        : {
            ConditionExpression: 'version = :v',
            ExpressionAttributeValues: { ':v': { N: String(next.version - 1) } },
          }),
    };
  }

  outcomePart(transactionalId: string, epoch: number, sequence: number, outcome: TxnOutcome): DynamoPart {
    return new DynamoPart([
      {
        Put: {
          TableName: this.table,
          Item: marshall({ ...metadataKeys.transactionOutcome(transactionalId, epoch, sequence), outcome }),
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
    ]);
  }

  async getOutcomes(keys: readonly string[]): Promise<Map<string, TxnOutcome>> {
    const found = new Map<string, TxnOutcome>();
    const byKey = new Map(
      keys.map((k) => {
        const { transactionalId, epoch, sequence } = parseTxnKey(k);
        const key = metadataKeys.transactionOutcome(transactionalId, epoch, sequence);
        return [`${key.pk}\u0000${key.sk}`, { txn: k, key }] as const;
      }),
    );
    const pending = [...byKey.values()];
    for (let i = 0; i < pending.length; i += 100) {
      let request: Record<string, AttributeValue>[] = pending.slice(i, i + 100).map((p) => marshall(p.key));
      for (let attempt = 0; request.length > 0 && attempt < 8; attempt++) {
        const out = await this.client.send(
          new BatchGetItemCommand({
            RequestItems: {
              [this.table]: { Keys: request, ConsistentRead: true, ProjectionExpression: 'pk, sk, outcome' },
            },
          }),
        );
        for (const item of out.Responses?.[this.table] ?? []) {
          const { pk, sk, outcome } = unmarshall(item) as { pk: string; sk: string; outcome: TxnOutcome };
          const entry = byKey.get(`${pk}\u0000${sk}`);
          if (entry !== undefined) found.set(entry.txn, outcome);
        }
        request = out.UnprocessedKeys?.[this.table]?.Keys ?? [];
        if (request.length > 0) await new Promise((resolve) => setTimeout(resolve, 10 * 2 ** attempt));
      }
      if (request.length > 0) throw new Error('transaction outcomes stayed unprocessed (throttled)');
    }
    return found;
  }

  openPart(log: string, txn: string, first: number): DynamoPart {
    return new DynamoPart([
      {
        Update: {
          TableName: this.table,
          Key: marshall(metadataKeys.openTransaction(log, txn)),
          UpdateExpression: 'SET f = if_not_exists(f, :f)',
          ExpressionAttributeValues: { ':f': { N: String(first) } },
        },
      },
    ]);
  }

  async openOn(log: string): Promise<{ txn: string; first: number }[]> {
    const open: { txn: string; first: number }[] = [];
    const prefix = metadataKeys.openTransactionsPrefix;
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: {
            ':pk': { S: metadataKeys.openTransaction(log, '').pk },
            ':prefix': { S: prefix },
          },
          ConsistentRead: true,
          ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
        }),
      );
      for (const item of out.Items ?? []) {
        const { sk, f } = unmarshall(item) as { sk: string; f: number };
        open.push({ txn: sk.slice(prefix.length), first: f });
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey !== undefined);
    return open;
  }

  async forgetOpen(log: string, txn: string): Promise<void> {
    await this.client.send(
      new DeleteItemCommand({ TableName: this.table, Key: marshall(metadataKeys.openTransaction(log, txn)) }),
    );
  }
}
