import { DynamoDBClient, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { DynamoAtomicWriter } from '../adapters/dynamodb/dynamoAtomic.ts';
import { DynamoStore } from '../adapters/dynamodb/dynamoStore.ts';
import { ConsumerGroups } from '../groups/consumerGroups.ts';
import { DynamoGroupStore } from '../groups/dynamoGroupStore.ts';
import { Sluice } from '../log/sluice.ts';
import { TABLE_NAME_ENV, type TableNames } from '../schema.ts';
import { DynamoTransactionStore } from './dynamoTransactionStore.ts';
import { Transactions, type AtomicResult, type TransactionOffsets, type TransactionRecord } from './transactions.ts';

export interface OutboxOptions {
  /** Sluice's tables; default: SLUICE_LOG_TABLE and SLUICE_METADATA_TABLE (what `SluiceStack.grantTransact` sets). */
  readonly tables?: TableNames;
  /** @default a new DynamoDBClient (the SDK's region and credentials) */
  readonly client?: DynamoDBClient;
}

export interface TransactRequest {
  /** Records to append, each naming its topic (and a key, partition, headers as a produce takes them). */
  readonly append: readonly TransactionRecord[];
  /**
   * Your own writes, as DynamoDB's `TransactWriteItem`s (Put, Update, Delete, ConditionCheck, with
   * `AttributeValue`s), on tables of the same account and region: they commit with the records
   * or not at all. A failed condition is `TransactionConditionFailed` (which write), and nothing
   * of the transaction is written.
   */
  readonly writes?: readonly TransactWriteItem[];
  /** Offsets a consumer group commits with them (consume-transform-produce). */
  readonly offsets?: TransactionOffsets;
}

/**
 * Sluice as a library for Lambda functions and services: `transact` appends records and writes
 * your own DynamoDB items in ONE DynamoDB transaction — the transactional outbox without a relay
 * (no outbox table, no poller: the records are the outbox, and the log table's stream rings
 * subscriptions and saga triggers as for any append).
 *
 * Limits are DynamoDB's: one transaction holds 100 items and 4 MB. Each partition's records take
 * one item per ~350 KB batch, your writes one each, offsets two plus one per partition; beyond
 * that `TransactionTooLarge` is thrown and nothing is written. For more, write your rows first
 * and append with an idempotent producer, or use a multi-request transaction (no user rows).
 *
 * @example
 * const sluice = connect();
 * await sluice.transact({
 *   append: [{ topic: 'orders', key: order.id, value: { type: 'OrderCreated', ...order } }],
 *   writes: [{ Put: { TableName: 'orders', Item: marshall(order), ConditionExpression: 'attribute_not_exists(id)' } }],
 * });
 */
export class Outbox {
  readonly sluice: Sluice;
  readonly transactions: Transactions;
  private readonly writer: DynamoAtomicWriter;

  constructor(options: OutboxOptions = {}) {
    const client = options.client ?? new DynamoDBClient({});
    const tables = options.tables ?? tablesFromEnv();
    const store = new DynamoStore({ client, tables });
    const transactionStore = new DynamoTransactionStore({ client, table: tables.metadata });
    this.writer = new DynamoAtomicWriter({ client });
    this.sluice = new Sluice({ log: store, metadata: store, atomic: this.writer, transactions: transactionStore });
    const groups = new ConsumerGroups({
      store: new DynamoGroupStore({ client, table: tables.metadata }),
      sluice: this.sluice,
    });
    this.transactions = new Transactions({ sluice: this.sluice, store: transactionStore, groups });
  }

  /** Appends the records and applies your writes (and the group's offsets) atomically. */
  transact(request: TransactRequest): Promise<AtomicResult> {
    return this.transactions.atomic({
      records: request.append,
      ...(request.offsets === undefined ? {} : { offsets: request.offsets }),
      ...(request.writes === undefined || request.writes.length === 0
        ? {}
        : { writes: [this.writer.userPart(request.writes)] }),
    });
  }
}

/** `new Outbox(options)`: what `sluice.transact` is called on. */
export function connect(options: OutboxOptions = {}): Outbox {
  return new Outbox(options);
}

function tablesFromEnv(): TableNames {
  const log = process.env[TABLE_NAME_ENV.log];
  const metadata = process.env[TABLE_NAME_ENV.metadata];
  if (log === undefined || metadata === undefined)
    throw new Error(`set ${TABLE_NAME_ENV.log} and ${TABLE_NAME_ENV.metadata}, or pass tables`);
  return { log, metadata };
}
