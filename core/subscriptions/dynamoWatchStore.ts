import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { mapWithLimit } from '../async.ts';
import { METADATA_TABLE, metadataKeys } from '../schema.ts';
import type { WatchConnection, WatchStore, Watcher } from './watchStore.ts';

const TTL = METADATA_TABLE.timeToLive;
/** Writes in flight at once for one connection's watches (at most MAX_WATCHED_TOPICS in all). */
const WRITE_CONCURRENCY = 10;

/**
 * Watchers in the metadata table. `ws#<connection>` / `conn` holds the caller's principals (`p`)
 * and the watched topics (`t`: id → name); `watch#<topic id>` / `<connection>` holds one watch
 * (`t`: the name). Both carry DynamoDB's TTL (`x`, epoch seconds); reads skip expired items,
 * since TTL deletes lag.
 */
export class DynamoWatchStore implements WatchStore {
  private readonly client: DynamoDBClient;
  private readonly table: string;

  constructor(options: { readonly client: DynamoDBClient; readonly table: string }) {
    this.client = options.client;
    this.table = options.table;
  }

  async openConnection(c: WatchConnection): Promise<void> {
    await this.client.send(
      new PutItemCommand({
        TableName: this.table,
        Item: marshall({
          ...metadataKeys.watchConnection(c.connectionId),
          p: [...c.principals],
          t: Object.fromEntries(c.topics),
          [TTL]: Math.ceil(c.expiresAt / 1000),
        }),
      }),
    );
  }

  async getConnection(connectionId: string, now: number): Promise<WatchConnection | undefined> {
    const { Item } = await this.client.send(
      new GetItemCommand({
        TableName: this.table,
        Key: marshall(metadataKeys.watchConnection(connectionId)),
        ConsistentRead: true,
      }),
    );
    if (Item === undefined) return undefined;
    const item = unmarshall(Item) as { p?: string[]; t?: Record<string, string>; x: number };
    if (item.x * 1000 <= now) return undefined;
    return {
      connectionId,
      principals: item.p ?? [],
      topics: new Map(Object.entries(item.t ?? {})),
      expiresAt: item.x * 1000,
    };
  }

  async watch(connectionId: string, topics: ReadonlyMap<string, string>, expiresAt: number): Promise<void> {
    if (topics.size === 0) return;
    const ids = [...topics.keys()];
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: marshall(metadataKeys.watchConnection(connectionId)),
        UpdateExpression: `SET ${ids.map((_, i) => `t.#t${i} = :t${i}`).join(', ')}`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: Object.fromEntries(ids.map((id, i) => [`#t${i}`, id])),
        ExpressionAttributeValues: marshall(Object.fromEntries(ids.map((id, i) => [`:t${i}`, topics.get(id)!]))),
      }),
    );
    await mapWithLimit([...topics], WRITE_CONCURRENCY, ([topicId, topic]) =>
      this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: marshall({
            ...metadataKeys.watcher(topicId, connectionId),
            t: topic,
            [TTL]: Math.ceil(expiresAt / 1000),
          }),
        }),
      ),
    );
  }

  async unwatch(connectionId: string, topicIds: readonly string[]): Promise<void> {
    if (topicIds.length === 0) return;
    await this.client
      .send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: marshall(metadataKeys.watchConnection(connectionId)),
          UpdateExpression: `REMOVE ${topicIds.map((_, i) => `t.#t${i}`).join(', ')}`,
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: Object.fromEntries(topicIds.map((id, i) => [`#t${i}`, id])),
        }),
      )
      .catch((e: unknown) => {
        if ((e as { name?: string }).name !== 'ConditionalCheckFailedException') throw e;
      });
    await this.deleteWatches(connectionId, topicIds);
  }

  async closeConnection(connectionId: string): Promise<void> {
    const { Attributes } = await this.client.send(
      new DeleteItemCommand({
        TableName: this.table,
        Key: marshall(metadataKeys.watchConnection(connectionId)),
        ReturnValues: 'ALL_OLD',
      }),
    );
    const topics = Attributes === undefined ? {} : ((unmarshall(Attributes).t ?? {}) as Record<string, string>);
    await this.deleteWatches(connectionId, Object.keys(topics));
  }

  async watchers(topicId: string, now: number): Promise<Watcher[]> {
    const out: Watcher[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: metadataKeys.watchersPartition(topicId) } },
          ProjectionExpression: 'sk, t, #x',
          ExpressionAttributeNames: { '#x': TTL },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const raw of page.Items ?? []) {
        const item = unmarshall(raw) as { sk: string; t: string; x: number };
        if (item.x * 1000 > now) out.push({ connectionId: item.sk, topic: item.t });
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return out;
  }

  private async deleteWatches(connectionId: string, topicIds: readonly string[]): Promise<void> {
    await mapWithLimit(topicIds, WRITE_CONCURRENCY, (topicId) =>
      this.client.send(
        new DeleteItemCommand({ TableName: this.table, Key: marshall(metadataKeys.watcher(topicId, connectionId)) }),
      ),
    );
  }
}
