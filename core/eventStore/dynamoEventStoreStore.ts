import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type ConsumedCapacity,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { DynamoPart } from '../adapters/dynamodb/dynamoAtomic.ts';
import { MAX_ITEM_BYTES } from '../adapters/memory/capacity.ts';
import { metadataKeys } from '../schema.ts';
import type {
  Checkpoint,
  EventStoreStore,
  SnapshotInfo,
  StoredSnapshot,
  StreamEntry,
  StreamHead,
} from './eventStoreStore.ts';

export interface DynamoEventStoreStoreOptions {
  readonly client: DynamoDBClient;
  /** The metadata table. */
  readonly table: string;
  readonly onConsumedCapacity?: (capacity: ConsumedCapacity[]) => void;
}

/** Attribute names (short: DynamoDB counts them in every item's size). */
const A = {
  version: 'v',
  timestamp: 't',
  partition: 'p',
  snapshots: 'snap',
  firstVersion: 'f',
  batches: 'b',
  reducerVersion: 'rv',
  state: 'st',
  topicId: 'tid',
  next: 'n',
} as const;

const pad = (n: number) => String(n).padStart(20, '0');

/** `EventStoreStore` in the metadata table (keys in core/schema.ts). */
export class DynamoEventStoreStore implements EventStoreStore {
  private readonly client: DynamoDBClient;
  private readonly table: string;
  private readonly onCapacity: ((capacity: ConsumedCapacity[]) => void) | undefined;

  constructor(options: DynamoEventStoreStoreOptions) {
    this.client = options.client;
    this.table = options.table;
    this.onCapacity = options.onConsumedCapacity;
  }

  private get capacity() {
    return this.onCapacity === undefined ? {} : { ReturnConsumedCapacity: 'TOTAL' as const };
  }

  private report(c: ConsumedCapacity | undefined): void {
    if (c !== undefined) this.onCapacity?.([c]);
  }

  async head(streamId: string): Promise<StreamHead | undefined> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.table,
        Key: marshall(metadataKeys.eventStreamHead(streamId)),
        ConsistentRead: true,
        ...this.capacity,
      }),
    );
    this.report(out.ConsumedCapacity);
    if (out.Item === undefined) return undefined;
    const item = unmarshall(out.Item);
    const snapshots: Record<string, SnapshotInfo> = {};
    for (const [name, s] of Object.entries((item[A.snapshots] ?? {}) as Record<string, { v: number; rv: number }>))
      snapshots[name] = { version: s.v, reducerVersion: s.rv };
    return {
      version: item[A.version] as number,
      lastTimestamp: item[A.timestamp] as number,
      partition: item[A.partition] as number,
      snapshots,
    };
  }

  appendPart(
    streamId: string,
    readVersion: number,
    next: Omit<StreamHead, 'snapshots'>,
    entry: StreamEntry,
  ): DynamoPart {
    const key = metadataKeys.eventStreamEntry(streamId, entry.lastVersion);
    return new DynamoPart([
      {
        Update: {
          TableName: this.table,
          Key: marshall(metadataKeys.eventStreamHead(streamId)),
          UpdateExpression: 'SET v = :v, t = :t, p = :p, snap = if_not_exists(snap, :empty)',
          ...(readVersion < 0
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : { ConditionExpression: 'v = :rv' }),
          ExpressionAttributeValues: {
            ':v': { N: String(next.version) },
            ':t': { N: String(next.lastTimestamp) },
            ':p': { N: String(next.partition) },
            ':empty': { M: {} },
            ...(readVersion < 0 ? {} : { ':rv': { N: String(readVersion) } }),
          },
        },
      },
      {
        Put: {
          TableName: this.table,
          Item: {
            ...marshall(key),
            [A.firstVersion]: { N: String(entry.firstVersion) },
            [A.partition]: { N: String(entry.partition) },
            [A.batches]: { L: entry.batches.map(([o, n]) => ({ L: [{ N: String(o) }, { N: String(n) }] })) },
            [A.timestamp]: { N: String(entry.timestamp) },
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
    ]);
  }

  async entries(streamId: string, fromVersion: number, toVersion: number, limit: number): Promise<StreamEntry[]> {
    const out: StreamEntry[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
          ExpressionAttributeValues: {
            ':pk': { S: metadataKeys.eventStream(streamId) },
            ':from': { S: metadataKeys.eventStreamEntry(streamId, fromVersion).sk },
            ':to': { S: `${metadataKeys.eventStreamEntryPrefix}${'9'.repeat(20)}` },
          },
          ConsistentRead: true,
          Limit: limit - out.length,
          ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
          ...this.capacity,
        }),
      );
      this.report(page.ConsumedCapacity);
      for (const item of page.Items ?? []) out.push(entryOf(item));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined && out.length < limit && (out.at(-1)?.lastVersion ?? -1) < toVersion);
    const end = out.findIndex((e) => e.lastVersion >= toVersion);
    return end < 0 ? out : out.slice(0, end + 1);
  }

  async snapshot(streamId: string, reducer: string, atOrBefore: number): Promise<StoredSnapshot | undefined> {
    const prefix = metadataKeys.eventStreamSnapshotPrefix(reducer);
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        ExpressionAttributeValues: {
          ':pk': { S: metadataKeys.eventStream(streamId) },
          ':from': { S: `${prefix}${pad(0)}` },
          ':to': { S: `${prefix}${pad(atOrBefore)}` },
        },
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
        ...this.capacity,
      }),
    );
    this.report(out.ConsumedCapacity);
    const item = out.Items?.[0];
    if (item === undefined) return undefined;
    const s = unmarshall(item);
    return {
      version: Number((s.sk as string).slice(prefix.length)),
      reducerVersion: s[A.reducerVersion] as number,
      state: s[A.state] as string,
      timestamp: s[A.timestamp] as number,
    };
  }

  async putSnapshot(streamId: string, reducer: string, snapshot: StoredSnapshot): Promise<boolean> {
    const item = {
      ...metadataKeys.eventStreamSnapshot(streamId, reducer, snapshot.version),
      [A.reducerVersion]: snapshot.reducerVersion,
      [A.state]: snapshot.state,
      [A.timestamp]: snapshot.timestamp,
    };
    if (Buffer.byteLength(JSON.stringify(item)) > MAX_ITEM_BYTES) return false;
    const put = await this.client.send(
      new PutItemCommand({ TableName: this.table, Item: marshall(item), ...this.capacity }),
    );
    this.report(put.ConsumedCapacity);
    try {
      // Informational (what describe shows), so a separate write: the latest snapshot per reducer.
      const noted = await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: marshall(metadataKeys.eventStreamHead(streamId)),
          UpdateExpression: 'SET snap.#r = :s',
          ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(snap.#r) OR snap.#r.v <= :v)',
          ExpressionAttributeNames: { '#r': reducer },
          ExpressionAttributeValues: {
            ':s': { M: { v: { N: String(snapshot.version) }, rv: { N: String(snapshot.reducerVersion) } } },
            ':v': { N: String(snapshot.version) },
          },
          ...this.capacity,
        }),
      );
      this.report(noted.ConsumedCapacity);
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
    }
    return true;
  }

  async checkpoints(projection: string): Promise<Map<number, Checkpoint>> {
    const found = new Map<number, Checkpoint>();
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: metadataKeys.projectionPartition(projection) } },
          ConsistentRead: true,
          ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
          ...this.capacity,
        }),
      );
      this.report(page.ConsumedCapacity);
      for (const raw of page.Items ?? []) {
        const item = unmarshall(raw);
        found.set(Number((item.sk as string).slice(2)), {
          topicId: item[A.topicId] as string,
          next: item[A.next] as number,
        });
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return found;
  }

  checkpointPart(
    projection: string,
    partition: number,
    previous: Checkpoint | undefined,
    next: Checkpoint,
  ): DynamoPart {
    return new DynamoPart([
      {
        Put: {
          TableName: this.table,
          Item: marshall({
            ...metadataKeys.projectionCheckpoint(projection, partition),
            [A.topicId]: next.topicId,
            [A.next]: next.next,
          }),
          ...(previous === undefined
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : {
                ConditionExpression: 'tid = :tid AND n = :n',
                ExpressionAttributeValues: { ':tid': { S: previous.topicId }, ':n': { N: String(previous.next) } },
              }),
        },
      },
    ]);
  }

  async deleteCheckpoints(projection: string): Promise<void> {
    for (const partition of (await this.checkpoints(projection)).keys())
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.table,
          Key: marshall(metadataKeys.projectionCheckpoint(projection, partition)),
        }),
      );
  }
}

function entryOf(raw: Record<string, AttributeValue>): StreamEntry {
  const item = unmarshall(raw);
  return {
    firstVersion: item[A.firstVersion] as number,
    lastVersion: Number((item.sk as string).slice(metadataKeys.eventStreamEntryPrefix.length)),
    partition: item[A.partition] as number,
    batches: (item[A.batches] as [number, number][]).map(([o, n]) => [o, n] as const),
    timestamp: item[A.timestamp] as number,
  };
}
