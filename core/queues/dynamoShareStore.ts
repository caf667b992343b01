import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type TransactWriteItem,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { metadataKeys } from '../schema.ts';
import type { Chunk } from './shareState.ts';
import type {
  PartitionWrite,
  ShareCursor,
  ShareGroupSettings,
  ShareMember,
  SharePartition,
  ShareStore,
} from './shareStore.ts';

type Key = Record<string, AttributeValue>;

/**
 * Share groups in the metadata table, under `pk = share#<group>`: `meta` (settings),
 * `member#<id>`, and per partition `p#<topicId>/<partition>#cursor` and one
 * `p#<topicId>/<partition>#c#<base>` per chunk, so one Query reads a partition's state. Chunk
 * attributes are short strings (see `shareState.ts`): a chunk of 100 records is about 400 bytes.
 */
export class DynamoShareStore implements ShareStore {
  private readonly client: DynamoDBClient;
  private readonly table: string;

  constructor(options: { readonly client: DynamoDBClient; readonly table: string }) {
    this.client = options.client;
    this.table = options.table;
  }

  private key(group: string, sk: string): Key {
    return marshall({ pk: metadataKeys.shareGroupPartition(group), sk });
  }

  async getGroup(group: string): Promise<ShareGroupSettings | undefined> {
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.table, Key: this.key(group, 'meta'), ConsistentRead: true }),
    );
    if (out.Item === undefined) return undefined;
    const { pk: _pk, sk: _sk, topics, ...settings } = unmarshall(out.Item);
    return {
      ...settings,
      ...(topics === undefined ? {} : { topics: [...(topics as Set<string>)].sort() }),
    } as ShareGroupSettings;
  }

  async createGroup(settings: ShareGroupSettings): Promise<ShareGroupSettings> {
    try {
      await this.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: marshall(
                  { ...unmarshall(this.key(settings.name, 'meta')), ...settings },
                  { removeUndefinedValues: true },
                ),
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            { Put: { TableName: this.table, Item: marshall(metadataKeys.shareGroupRegistry(settings.name)) } },
          ],
        }),
      );
      return settings;
    } catch (e) {
      if (!(e instanceof TransactionCanceledException)) throw e;
      const existing = await this.getGroup(settings.name);
      if (existing === undefined) throw e; // a conflict with a delete: the caller retries
      return existing;
    }
  }

  async listGroups(): Promise<string[]> {
    return (await this.queryAll(metadataKeys.shareGroupsPartition)).map((i) => i.sk as string).sort();
  }

  async addTopics(group: string, topics: readonly string[]): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.table,
        Key: this.key(group, 'meta'),
        UpdateExpression: 'ADD topics :t',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':t': { SS: [...new Set(topics)] } },
      }),
    );
  }

  async getRedrivePosition(topicId: string, partition: number): Promise<{ next: number; version: number } | undefined> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.table,
        Key: marshall(metadataKeys.redrivePosition(topicId, partition)),
        ConsistentRead: true,
      }),
    );
    return out.Item === undefined
      ? undefined
      : { next: Number(out.Item.next!.N), version: Number(out.Item.version!.N) };
  }

  async putRedrivePosition(
    topicId: string,
    partition: number,
    next: number,
    expectedVersion: number | undefined,
  ): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: marshall({
            ...metadataKeys.redrivePosition(topicId, partition),
            next,
            version: (expectedVersion ?? -1) + 1,
          }),
          ...versionCondition(expectedVersion),
        }),
      );
      return true;
    } catch (e) {
      if ((e as { name?: string }).name === 'ConditionalCheckFailedException') return false;
      throw e;
    }
  }

  async deleteGroup(group: string): Promise<void> {
    await this.client.send(
      new DeleteItemCommand({ TableName: this.table, Key: marshall(metadataKeys.shareGroupRegistry(group)) }),
    );
    for (const item of await this.queryAll(metadataKeys.shareGroupPartition(group), 'sk'))
      await this.client.send(new DeleteItemCommand({ TableName: this.table, Key: this.key(group, item.sk as string) }));
  }

  async putMember(group: string, member: ShareMember): Promise<void> {
    await this.client.send(
      new PutItemCommand({
        TableName: this.table,
        Item: marshall({ ...unmarshall(this.key(group, `member#${member.memberId}`)), ...member }),
      }),
    );
  }

  async getMember(group: string, memberId: string): Promise<ShareMember | undefined> {
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.table, Key: this.key(group, `member#${memberId}`) }),
    );
    if (out.Item === undefined) return undefined;
    const { pk: _pk, sk: _sk, ...member } = unmarshall(out.Item);
    return member as ShareMember;
  }

  async deleteMember(group: string, memberId: string): Promise<boolean> {
    const out = await this.client.send(
      new DeleteItemCommand({
        TableName: this.table,
        Key: this.key(group, `member#${memberId}`),
        ReturnValues: 'ALL_OLD',
      }),
    );
    return out.Attributes !== undefined;
  }

  async listMembers(group: string): Promise<ShareMember[]> {
    return (await this.queryAll(metadataKeys.shareGroupPartition(group), undefined, 'member#')).map(
      ({ pk: _pk, sk: _sk, ...member }) => member as unknown as ShareMember,
    );
  }

  async readPartition(group: string, partition: string): Promise<SharePartition> {
    let cursor: ShareCursor | undefined;
    const chunks: Chunk[] = [];
    for (const item of await this.queryAll(metadataKeys.shareGroupPartition(group), undefined, `p#${partition}#`)) {
      if ((item.sk as string).endsWith('#cursor')) cursor = fromCursorItem(item);
      else chunks.push(fromChunkItem(item));
    }
    return { cursor, chunks: chunks.sort((a, b) => a.base - b.base) };
  }

  async writePartition(group: string, partition: string, write: PartitionWrite): Promise<boolean> {
    const items: TransactWriteItem[] = [];
    if (write.cursor !== undefined) {
      items.push({
        Put: {
          TableName: this.table,
          Item: marshall({ ...unmarshall(this.key(group, `p#${partition}#cursor`)), ...write.cursor.next }),
          ...versionCondition(write.cursor.expectedVersion),
        },
      });
    }
    for (const c of write.chunks) {
      const Key = this.key(group, chunkSk(partition, c.base));
      items.push(
        c.next === null
          ? { Delete: { TableName: this.table, Key, ...versionCondition(c.expectedVersion) } }
          : {
              Put: {
                TableName: this.table,
                Item: { ...Key, ...toChunkItem(c.next) },
                ...versionCondition(c.expectedVersion),
              },
            },
      );
    }
    if (items.length === 0) return true;
    try {
      if (items.length === 1) {
        // One item: a conditional write, at half a transaction's price.
        const [only] = items;
        if (only!.Put !== undefined) await this.client.send(new PutItemCommand(only!.Put));
        else await this.client.send(new DeleteItemCommand(only!.Delete!));
      } else {
        await this.client.send(new TransactWriteItemsCommand({ TransactItems: items }));
      }
      return true;
    } catch (e) {
      const name = (e as { name?: string }).name;
      if (name === 'ConditionalCheckFailedException' || e instanceof TransactionCanceledException) return false;
      throw e;
    }
  }

  private async queryAll(pk: string, projection?: string, prefix?: string): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let startKey: Key | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: prefix === undefined ? 'pk = :pk' : 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: marshall({ ':pk': pk, ...(prefix === undefined ? {} : { ':prefix': prefix }) }),
          ...(projection === undefined ? {} : { ProjectionExpression: projection }),
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...(page.Items ?? []).map((i) => unmarshall(i)));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return items;
  }
}

function chunkSk(partition: string, base: number): string {
  return `p#${partition}#c#${String(base).padStart(20, '0')}`;
}

function versionCondition(expected: number | undefined) {
  return expected === undefined
    ? { ConditionExpression: 'attribute_not_exists(pk)' }
    : {
        ConditionExpression: '#v = :v',
        ExpressionAttributeNames: { '#v': 'version' },
        ExpressionAttributeValues: { ':v': { N: String(expected) } },
      };
}

function fromCursorItem(item: Record<string, unknown>): ShareCursor {
  return {
    start: item.start as number,
    next: item.next as number,
    version: item.version as number,
    archived: (item.archived as number) ?? 0,
  };
}

/** Chunk attributes: states, deliveries, lock indexes as strings; locks and the sparse maps as JSON. */
function toChunkItem(chunk: Chunk): Key {
  return marshall({
    base: chunk.base,
    version: chunk.version,
    st: chunk.states,
    dc: chunk.deliveries,
    lo: chunk.lockOf,
    lk: JSON.stringify(chunk.locks.map((l) => [l.member, l.until])),
    av: JSON.stringify(chunk.availableAt),
    er: JSON.stringify(chunk.errors),
  });
}

function fromChunkItem(item: Record<string, unknown>): Chunk {
  return {
    base: item.base as number,
    version: item.version as number,
    states: item.st as string,
    deliveries: item.dc as string,
    lockOf: item.lo as string,
    locks: (JSON.parse(item.lk as string) as [string, number][]).map(([member, until]) => ({ member, until })),
    availableAt: JSON.parse(item.av as string) as Record<string, number>,
    errors: JSON.parse(item.er as string) as Record<string, string>,
  };
}
