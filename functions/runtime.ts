import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoStore } from '../core/adapters/dynamodb/dynamoStore.ts';
import { DynamoAtomicWriter } from '../core/adapters/dynamodb/dynamoAtomic.ts';
import { DynamoTransactionStore } from '../core/transactions/dynamoTransactionStore.ts';
import { Transactions } from '../core/transactions/transactions.ts';
import { DynamoEventStoreStore } from '../core/eventStore/dynamoEventStoreStore.ts';
import { DEFAULT_EVENT_STORE_TOPIC, EventStore } from '../core/eventStore/eventStore.ts';
import { DynamoExchangeStore } from '../core/exchanges/dynamoExchangeStore.ts';
import { Exchanges } from '../core/exchanges/exchanges.ts';
import { ConsumerGroups } from '../core/groups/consumerGroups.ts';
import { DynamoGroupStore } from '../core/groups/dynamoGroupStore.ts';
import { DynamoShareStore } from '../core/queues/dynamoShareStore.ts';
import { Queues } from '../core/queues/queues.ts';
import { ShareGroups } from '../core/queues/shareGroups.ts';
import { Redrive } from '../core/queues/redrive.ts';
import { TABLE_NAME_ENV } from '../core/schema.ts';
import { Sluice } from '../core/log/sluice.ts';
import { S3ObjectStore, s3ClientFromEnv } from '../core/tiering/objectStore.ts';
import { Tiering } from '../core/tiering/tiering.ts';
import { integerEnv, optionalEnv, requiredEnv } from './env.ts';
import { MIN_HOT_RETENTION_MS } from '../core/log/topicConfig.ts';
import { logger, metrics, tracer } from './powertools.ts';

/**
 * What every Sluice handler shares within one Lambda container: Powertools, one DynamoDB client
 * and one engine (whose topic and partition-tail caches then live across invocations).
 */
export { logger, metrics, tracer };

/** The tables and the DynamoDB client every store in this container shares. */
export const tables = { log: requiredEnv(TABLE_NAME_ENV.log), metadata: requiredEnv(TABLE_NAME_ENV.metadata) };
export const client = tracer.captureAWSv3Client(new DynamoDBClient({}));
const store = new DynamoStore({ client, tables });

const s3 = tracer.captureAWSv3Client(s3ClientFromEnv());
const objects = new S3ObjectStore({ client: s3, bucket: requiredEnv('SLUICE_SEGMENT_BUCKET') });
/**
 * The S3 Express One Zone directory bucket of `storage: "s3-express"` topics, when the stack has
 * one (`expressZone`): the SDK signs its requests with sessions (`CreateSession`) by itself.
 */
const expressBucket = optionalEnv('SLUICE_EXPRESS_BUCKET');
const expressObjects =
  expressBucket === undefined ? undefined : new S3ObjectStore({ client: s3, bucket: expressBucket });
const withExpress = expressObjects === undefined ? {} : { expressObjects };

export const atomic = new DynamoAtomicWriter({ client });
const transactionStore = new DynamoTransactionStore({ client, table: tables.metadata });
export const sluice = new Sluice({
  log: store,
  metadata: store,
  tiering: { store, objects, ...withExpress },
  atomic,
  transactions: transactionStore,
});
export const tiering = new Tiering({
  log: store,
  metadata: store,
  store,
  objects,
  ...withExpress,
  minRollAgeMs: integerEnv('SLUICE_MIN_ROLL_AGE_MS', MIN_HOT_RETENTION_MS),
  ...(sluice.txnOutcomes === undefined ? {} : { txns: sluice.txnOutcomes }),
});
export const groups = new ConsumerGroups({ store: new DynamoGroupStore({ client, table: tables.metadata }), sluice });
const shareStore = new DynamoShareStore({ client, table: tables.metadata });
// Exchanges ask queues whether a destination is full; share groups dead-letter to exchanges.
export const exchanges: Exchanges = new Exchanges({
  store: new DynamoExchangeStore({ client, table: tables.metadata }),
  sluice,
  admission: { admit: (topic, count) => queues.admit(topic, count) },
});
export const transactions = new Transactions({ sluice, store: transactionStore, groups });
export const shareGroups = new ShareGroups({ store: shareStore, sluice, exchanges });
export const queues: Queues = new Queues({ sluice, store: shareStore, shareGroups });
export const redrive = new Redrive({ sluice, positions: shareStore });
/**
 * The event store: streams on the topic `SLUICE_EVENT_STORE_TOPIC` (default `sluice.events`),
 * created on first use with `SLUICE_EVENT_STORE_PARTITIONS` partitions (default 8).
 */
export const eventStore = new EventStore({
  sluice,
  store: new DynamoEventStoreStore({ client, table: tables.metadata }),
  topic: optionalEnv('SLUICE_EVENT_STORE_TOPIC') ?? DEFAULT_EVENT_STORE_TOPIC,
  partitions: integerEnv('SLUICE_EVENT_STORE_PARTITIONS', 8),
});
