import {
  ConditionalCheckFailedException,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  BatchWriteItemCommand,
  type AttributeValue,
  type ConsumedCapacity,
  type DynamoDBClient,
  type TransactWriteItem,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { metadataKeys } from '../schema.ts';
import type { GroupMeta } from './groupState.ts';
import type {
  CommitRequest,
  CommitResult,
  CommittedOffset,
  GroupSnapshot,
  GroupStore,
  MemberDelete,
  MemberLiveness,
} from './groupStore.ts';

/** A cancelled transaction that may succeed if tried again: a condition failed, or another transaction held an item. */
function retryable(e: unknown): boolean {
  return (
    e instanceof TransactionCanceledException &&
    (e.CancellationReasons ?? []).some((r) => r.Code === 'ConditionalCheckFailed' || r.Code === 'TransactionConflict')
  );
}

function conflict(e: unknown): boolean {
  return (
    (e instanceof TransactionCanceledException &&
      (e.CancellationReasons ?? []).some((r) => r.Code === 'TransactionConflict')) ||
    (e as { name?: string }).name === 'TransactionConflictException'
  );
}

const CONFLICT_RETRIES = 5;

async function pause(attempt: number): Promise<void> {
  await new Promise((r) => setTimeout(r, Math.random() * 10 * 2 ** attempt));
}

const META_FIELDS = [
  'name',
  'version',
  'generation',
  'assignor',
  'members',
  'target',
  'owners',
  'revoking',
  'grants',
  'createdAt',
] as const;

/** Consumer groups in the metadata table; all of a group's items under `pk = group#<name>`. */
export class DynamoGroupStore implements GroupStore {
  private readonly client: DynamoDBClient;
  private readonly table: string;
  private readonly onCapacity: ((capacity: ConsumedCapacity[]) => void) | undefined;

  /** `onConsumedCapacity` turns on ReturnConsumedCapacity for commits and reports it. */
  constructor(options: {
    client: DynamoDBClient;
    table: string;
    onConsumedCapacity?: (capacity: ConsumedCapacity[]) => void;
  }) {
    this.client = options.client;
    this.table = options.table;
    this.onCapacity = options.onConsumedCapacity;
  }

  async loadGroup(group: string): Promise<GroupSnapshot> {
    let meta: GroupMeta | undefined;
    const members: Record<string, MemberLiveness> = {};
    const offsets: Record<string, CommittedOffset> = {};
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: metadataKeys.groupPartition(group) } },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const raw of page.Items ?? []) {
        const item = unmarshall(raw);
        const sk = item.sk as string;
        if (sk === 'meta') meta = Object.fromEntries(META_FIELDS.map((f) => [f, item[f]])) as unknown as GroupMeta;
        else if (sk.startsWith('member#'))
          members[item.memberId] = {
            memberId: item.memberId,
            expiresAt: item.expiresAt,
            positions: item.positions ?? {},
          };
        else if (sk.startsWith('offset#'))
          offsets[item.key] = {
            key: item.key,
            topicId: item.topicId ?? '',
            offset: item.offset,
            ...(item.metadata === undefined ? {} : { metadata: item.metadata }),
            committedAt: item.committedAt,
            generation: item.generation,
          };
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return { meta, members, offsets };
  }

  private metaPut(meta: GroupMeta, expectedVersion: number): TransactWriteItem {
    return {
      Put: {
        TableName: this.table,
        Item: marshall({ ...metadataKeys.groupMeta(meta.name), ...meta }, { removeUndefinedValues: true }),
        ...versionCondition(expectedVersion),
      },
    };
  }

  async saveGroup(
    meta: GroupMeta,
    changes: { putMembers?: readonly MemberLiveness[]; deleteMembers?: readonly MemberDelete[] },
  ): Promise<boolean> {
    const items: TransactWriteItem[] = [this.metaPut(meta, meta.version - 1)];
    if (meta.version === 1)
      items.push({
        Put: {
          TableName: this.table,
          Item: marshall({ ...metadataKeys.groupRegistry(meta.name), createdAt: meta.createdAt }),
        },
      });
    for (const m of changes.putMembers ?? []) {
      items.push({
        Put: { TableName: this.table, Item: marshall({ ...metadataKeys.groupMember(meta.name, m.memberId), ...m }) },
      });
    }
    for (const d of changes.deleteMembers ?? []) {
      items.push({
        Delete: {
          TableName: this.table,
          Key: marshall(metadataKeys.groupMember(meta.name, d.memberId)),
          ...(d.ifExpiredAt === undefined
            ? {}
            : {
                ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :t',
                ExpressionAttributeValues: { ':t': { N: String(d.ifExpiredAt) } },
              }),
        },
      });
    }
    try {
      await this.client.send(new TransactWriteItemsCommand({ TransactItems: items }));
      return true;
    } catch (e) {
      if (retryable(e)) return false; // the caller re-reads and tries again
      throw e;
    }
  }

  async touchMember(
    group: string,
    memberId: string,
    expiresAt: number,
    positions?: Readonly<Record<string, number>>,
  ): Promise<boolean> {
    // The whole positions map is written at once: one clause per partition would outgrow
    // DynamoDB's 4 KB expression limit for members with many partitions.
    const values: Record<string, AttributeValue> = { ':e': { N: String(expiresAt) } };
    if (positions !== undefined) values[':p'] = { M: marshall(positions) };
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: marshall(metadataKeys.groupMember(group, memberId)),
            UpdateExpression: positions === undefined ? 'SET expiresAt = :e' : 'SET expiresAt = :e, positions = :p',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeValues: values,
          }),
        );
        return true;
      } catch (e) {
        if (e instanceof ConditionalCheckFailedException) return false;
        if (!conflict(e) || attempt >= CONFLICT_RETRIES) throw e; // the member item is in another transaction
        await pause(attempt);
      }
    }
  }

  async commitOffsets(group: string, request: CommitRequest, now: number): Promise<CommitResult> {
    const names: Record<string, string> = {};
    const owned = request.offsets.map((o, i) => {
      names[`#k${i}`] = o.key;
      return `owners.#k${i} = :m`;
    });
    const items: TransactWriteItem[] = [
      {
        ConditionCheck: {
          TableName: this.table,
          Key: marshall(metadataKeys.groupMeta(group)),
          ConditionExpression: ['generation = :g', ...owned].join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ':g': { N: String(request.generation) }, ':m': { S: request.memberId } },
        },
      },
      {
        ConditionCheck: {
          TableName: this.table,
          Key: marshall(metadataKeys.groupMember(group, request.memberId)),
          ConditionExpression: 'expiresAt > :now',
          ExpressionAttributeValues: { ':now': { N: String(now) } },
        },
      },
      ...request.offsets.map((o) => ({
        Put: {
          TableName: this.table,
          Item: marshall(
            {
              ...metadataKeys.groupOffset(group, o.key),
              key: o.key,
              topicId: o.topicId,
              offset: o.offset,
              metadata: o.metadata,
              committedAt: now,
              generation: request.generation,
              memberId: request.memberId,
            },
            { removeUndefinedValues: true },
          ),
          // Never backwards within one incarnation of the topic; an old incarnation's offset may be replaced.
          ConditionExpression: 'attribute_not_exists(pk) OR #o <= :o OR topicId <> :t',
          ExpressionAttributeNames: { '#o': 'offset' },
          ExpressionAttributeValues: { ':o': { N: String(o.offset) }, ':t': { S: o.topicId } },
        },
      })),
    ];
    for (let attempt = 0; ; attempt++) {
      try {
        const out = await this.client.send(
          new TransactWriteItemsCommand({
            TransactItems: items,
            ...(this.onCapacity === undefined ? {} : { ReturnConsumedCapacity: 'TOTAL' }),
          }),
        );
        if (out.ConsumedCapacity !== undefined) this.onCapacity?.(out.ConsumedCapacity);
        return { outcome: 'ok' };
      } catch (e) {
        if (conflict(e) && attempt < CONFLICT_RETRIES) {
          await pause(attempt); // another transaction held the group or member item: not a rejection
          continue;
        }
        return this.rejection(e, request);
      }
    }
  }

  /** Maps a cancelled commit to the item that failed: CancellationReasons[i] belongs to TransactItems[i]. */
  private rejection(e: unknown, request: CommitRequest): CommitResult {
    if (!(e instanceof TransactionCanceledException)) throw e;
    const reasons = e.CancellationReasons ?? [];
    if (reasons[0]?.Code === 'ConditionalCheckFailed') return { outcome: 'rejected', reason: 'group' };
    if (reasons[1]?.Code === 'ConditionalCheckFailed') return { outcome: 'rejected', reason: 'member' };
    const i = reasons.findIndex((r, k) => k >= 2 && r.Code === 'ConditionalCheckFailed');
    if (i >= 2) return { outcome: 'rejected', reason: 'regression', key: request.offsets[i - 2]!.key };
    throw e;
  }

  async resetOffsets(group: string, expectedVersion: number, offsets: readonly CommittedOffset[]): Promise<boolean> {
    for (let i = 0; i < offsets.length; i += 98) {
      const chunk = offsets.slice(i, i + 98);
      try {
        await this.client.send(
          new TransactWriteItemsCommand({
            TransactItems: [
              {
                ConditionCheck: {
                  TableName: this.table,
                  Key: marshall(metadataKeys.groupMeta(group)),
                  ...versionCondition(expectedVersion),
                },
              },
              ...chunk.map((o) => ({
                Put: {
                  TableName: this.table,
                  Item: marshall({ ...metadataKeys.groupOffset(group, o.key), ...o }, { removeUndefinedValues: true }),
                },
              })),
            ],
          }),
        );
      } catch (e) {
        if (retryable(e)) return false;
        throw e;
      }
    }
    return true;
  }

  async listGroups(): Promise<string[]> {
    const names: string[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: metadataKeys.groupsPartition } },
          ExclusiveStartKey: startKey,
        }),
      );
      names.push(...(page.Items ?? []).map((i) => i.sk!.S!));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return names.sort();
  }

  async deleteGroup(group: string, expectedVersion: number, snapshot: GroupSnapshot): Promise<boolean> {
    try {
      await this.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Delete: {
                TableName: this.table,
                Key: marshall(metadataKeys.groupMeta(group)),
                ...versionCondition(expectedVersion),
              },
            },
            { Delete: { TableName: this.table, Key: marshall(metadataKeys.groupRegistry(group)) } },
          ],
        }),
      );
    } catch (e) {
      if (retryable(e)) return false;
      throw e;
    }
    // The meta is gone; remove exactly what the group had when it was read, so a group created
    // again under the same name in the meantime keeps its own members and offsets.
    const keys = [
      ...Object.keys(snapshot.members).map((id) => marshall(metadataKeys.groupMember(group, id))),
      ...Object.keys(snapshot.offsets).map((key) => marshall(metadataKeys.groupOffset(group, key))),
    ];
    for (let i = 0; i < keys.length; i += 25) {
      let pending: WriteRequest[] = keys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt >= 10)
          throw new Error(`could not delete the remains of group ${group}; deleting it again finishes the job`);
        if (attempt > 0) await pause(attempt);
        const out = await this.client.send(new BatchWriteItemCommand({ RequestItems: { [this.table]: pending } }));
        pending = out.UnprocessedItems?.[this.table] ?? [];
      }
    }
    return true;
  }
}

function versionCondition(expectedVersion: number): {
  ConditionExpression: string;
  ExpressionAttributeValues?: Record<string, AttributeValue>;
} {
  return expectedVersion === 0
    ? { ConditionExpression: 'attribute_not_exists(pk)' }
    : { ConditionExpression: 'version = :v', ExpressionAttributeValues: { ':v': { N: String(expectedVersion) } } };
}
