import { DynamoPart } from '../adapters/dynamodb/dynamoAtomic.ts';
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  GetItemCommand,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type AttributeValue,
  type ConsumedCapacity,
  type DynamoDBClient,
  type TransactWriteItem,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { metadataKeys } from '../schema.ts';
import { assignmentVersion, type GroupMeta, type MemberState } from './groupState.ts';
import type {
  CommitRequest,
  CommitResult,
  CommittedOffset,
  GroupPartition,
  GroupSnapshot,
  GroupStore,
  MemberRead,
  Rebalance,
  StaleItems,
  Transfer,
} from './groupStore.ts';

type Key = Record<string, AttributeValue>;

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

const META_FIELDS = ['name', 'version', 'generation', 'assignor', 'assignment', 'counts', 'createdAt'] as const;
const COMMITTED_FIELDS = ['topicId', 'offset', 'metadata', 'committedAt', 'generation'] as const;

/**
 * Consumer groups in the metadata table; all of a group's items under `pk = group#<name>`, sorted
 * by kind: `member#<id>` (subscription, owned partitions, target), `meta`, `offset#<partition>`
 * (owner, grants, revocation and the committed offset), `position#<id>`, `session#<id>`
 * (`expiresAt` only, so the heartbeat that writes it and the member that watches it pay for a
 * tiny item) and `target#<assignment>#<id>`. See groupState.ts for why the state is split so.
 */
export class DynamoGroupStore implements GroupStore {
  private readonly client: DynamoDBClient;
  private readonly table: string;
  private readonly onCapacity: ((capacity: ConsumedCapacity[]) => void) | undefined;

  /** `onConsumedCapacity` turns on ReturnConsumedCapacity for every request and reports it. */
  constructor(options: {
    client: DynamoDBClient;
    table: string;
    onConsumedCapacity?: (capacity: ConsumedCapacity[]) => void;
  }) {
    this.client = options.client;
    this.table = options.table;
    this.onCapacity = options.onConsumedCapacity;
  }

  private get capacity(): { ReturnConsumedCapacity?: 'TOTAL' } {
    return this.onCapacity === undefined ? {} : { ReturnConsumedCapacity: 'TOTAL' };
  }

  private report(capacity: ConsumedCapacity | ConsumedCapacity[] | undefined): void {
    if (capacity !== undefined) this.onCapacity?.(Array.isArray(capacity) ? capacity : [capacity]);
  }

  private key(group: string, sk: string): Key {
    return marshall({ pk: metadataKeys.groupPartition(group), sk });
  }

  /** Strongly consistent BatchGetItem of any number of keys, retrying unprocessed ones. */
  private async batchGet(keys: Key[]): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    for (let i = 0; i < keys.length; i += 100) {
      let pending: Key[] = keys.slice(i, i + 100);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) await pause(attempt);
        const res = await this.client.send(
          new BatchGetItemCommand({
            RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } },
            ...this.capacity,
          }),
        );
        this.report(res.ConsumedCapacity);
        out.push(...(res.Responses?.[this.table] ?? []).map((item) => unmarshall(item)));
        pending = res.UnprocessedKeys?.[this.table]?.Keys ?? [];
      }
    }
    return out;
  }

  private async batchWrite(requests: WriteRequest[]): Promise<void> {
    for (let i = 0; i < requests.length; i += 25) {
      let pending = requests.slice(i, i + 25);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt >= 10) throw new Error('DynamoDB left group items unprocessed; the next call tries again');
        if (attempt > 0) await pause(attempt);
        const out = await this.client.send(
          new BatchWriteItemCommand({ RequestItems: { [this.table]: pending }, ...this.capacity }),
        );
        this.report(out.ConsumedCapacity);
        pending = out.UnprocessedItems?.[this.table] ?? [];
      }
    }
  }

  private async transact(items: TransactWriteItem[]): Promise<void> {
    const out = await this.client.send(new TransactWriteItemsCommand({ TransactItems: items, ...this.capacity }));
    this.report(out.ConsumedCapacity);
  }

  async loadMember(group: string, memberId: string, options: { positions: boolean }): Promise<MemberRead> {
    const keys = ['meta', `member#${memberId}`, `session#${memberId}`];
    if (options.positions) keys.push(`position#${memberId}`);
    const items = await this.batchGet(keys.map((sk) => this.key(group, sk)));
    const bySk = new Map(items.map((item) => [item.sk as string, item]));
    const meta = bySk.get('meta');
    const member = bySk.get(`member#${memberId}`);
    return {
      meta: meta === undefined ? undefined : parseMeta(meta),
      member: member === undefined ? undefined : parseMember(member),
      expiresAt: bySk.get(`session#${memberId}`)?.expiresAt as number | undefined,
      positions: (bySk.get(`position#${memberId}`)?.positions as Record<string, number> | undefined) ?? {},
    };
  }

  async loadTarget(group: string, assignment: string, memberId: string): Promise<readonly string[] | undefined> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.table,
        Key: this.key(group, `target#${assignment}#${memberId}`),
        ConsistentRead: true,
        ...this.capacity,
      }),
    );
    this.report(out.ConsumedCapacity);
    return out.Item === undefined ? undefined : (unmarshall(out.Item).partitions as string[]);
  }

  async loadPartitions(group: string, keys: readonly string[]): Promise<Record<string, GroupPartition>> {
    const items = await this.batchGet(keys.map((key) => this.key(group, `offset#${key}`)));
    const out: Record<string, GroupPartition> = Object.create(null);
    for (const item of items) out[item.key as string] = parsePartition(item);
    return out;
  }

  async loadSessions(group: string, memberIds: readonly string[]): Promise<Record<string, number>> {
    const items = await this.batchGet(memberIds.map((id) => this.key(group, `session#${id}`)));
    const out: Record<string, number> = Object.create(null);
    for (const item of items) out[item.memberId as string] = item.expiresAt as number;
    return out;
  }

  async nextSession(group: string, memberId: string): Promise<{ memberId: string; expiresAt: number } | undefined> {
    const query = async (condition: string, values: Record<string, string>, limit: number) => {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: `pk = :pk AND ${condition}`,
          ExpressionAttributeValues: marshall({ ':pk': metadataKeys.groupPartition(group), ...values }),
          ConsistentRead: true,
          Limit: limit,
          ...this.capacity,
        }),
      );
      this.report(out.ConsumedCapacity);
      return (out.Items ?? []).map((i) => unmarshall(i)).filter((i) => i.memberId !== memberId);
    };
    // Sessions sort by member id: this one and the next ('$' follows '#'), else (wrapping) the first.
    const after = await query('sk BETWEEN :from AND :to', { ':from': `session#${memberId}`, ':to': 'session$' }, 2);
    const [next] = after.length > 0 ? after : await query('begins_with(sk, :p)', { ':p': 'session#' }, 1);
    return next === undefined ? undefined : { memberId: next.memberId as string, expiresAt: next.expiresAt as number };
  }

  async loadGroup(group: string, options: { partitions?: boolean } = {}): Promise<GroupSnapshot> {
    // The meta first: a decision made on this read is conditional on its version, so anything
    // written after it (and seen by the Query below) makes that decision's write fail.
    const head = await this.client.send(
      new GetItemCommand({
        TableName: this.table,
        Key: this.key(group, 'meta'),
        ConsistentRead: true,
        ...this.capacity,
      }),
    );
    this.report(head.ConsumedCapacity);
    const meta = head.Item === undefined ? undefined : parseMeta(unmarshall(head.Item));
    const members: Record<string, MemberState> = {};
    const sessions: Record<string, number> = {};
    const partitions: Record<string, GroupPartition> = {};
    const targets: Record<string, readonly string[]> = {};
    const stale = new Set<string>();
    const keys: string[] = [];
    // Everything, or only the members, sessions and targets ('$' follows '#'): not the partitions.
    const ranges: [string, string][] =
      options.partitions === true
        ? [[' ', '~']]
        : [
            ['member#', 'member$'],
            ['session#', 'target$'],
          ];
    // The ranges at once (a rebalance is on the path of a member's call, within its session): each
    // decision is conditional on the meta's version, so their order does not matter.
    const readRange = async ([from, to]: [string, string]) => {
      let startKey: Key | undefined;
      do {
        const page = await this.client.send(
          new QueryCommand({
            TableName: this.table,
            KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
            ExpressionAttributeValues: marshall({
              ':pk': metadataKeys.groupPartition(group),
              ':from': from,
              ':to': to,
            }),
            ConsistentRead: true,
            ExclusiveStartKey: startKey,
            ...this.capacity,
          }),
        );
        this.report(page.ConsumedCapacity);
        for (const raw of page.Items ?? []) {
          const item = unmarshall(raw);
          const sk = item.sk as string;
          if (sk === 'meta') continue;
          keys.push(sk);
          if (sk.startsWith('member#') && item.info !== undefined) members[item.memberId] = parseMember(item);
          else if (sk.startsWith('session#')) sessions[item.memberId] = item.expiresAt;
          else if (sk.startsWith('offset#')) partitions[item.key] = parsePartition(item);
          else if (sk.startsWith('target#')) {
            const at = sk.lastIndexOf('#');
            const assignment = sk.slice('target#'.length, at);
            if (assignment === meta?.assignment) targets[sk.slice(at + 1)] = item.partitions;
            else if (meta === undefined || assignmentVersion(assignment) <= meta.version) stale.add(assignment);
          }
        }
        startKey = page.LastEvaluatedKey;
      } while (startKey !== undefined);
    };
    await Promise.all(ranges.map(readRange));
    return { meta, members, sessions, partitions, targets, staleAssignments: [...stale], keys };
  }

  async saveRebalance(group: string, change: Rebalance): Promise<boolean> {
    const meta = change.meta;
    const pk = metadataKeys.groupPartition(group);
    const targetKeys = Object.keys(change.targets).map((id) => `target#${meta.assignment}#${id}`);
    // The targets first: nobody reads them before the meta names their assignment.
    await this.batchWrite(
      Object.entries(change.targets).map(([id, partitions]) => ({
        PutRequest: { Item: marshall({ pk, sk: `target#${meta.assignment}#${id}`, partitions }) },
      })),
    );
    const items: TransactWriteItem[] = [
      {
        Put: {
          TableName: this.table,
          // Counts are keyed by topic name: a topic named `constructor` must not read as a class instance.
          Item: marshall(
            { ...metadataKeys.groupMeta(group), ...pick(meta, META_FIELDS), counts: { ...meta.counts } },
            { convertClassInstanceToMap: true },
          ),
          ...versionCondition(meta.version - 1),
        },
      },
    ];
    if (meta.version === 1)
      items.push({
        Put: {
          TableName: this.table,
          Item: marshall({ ...metadataKeys.groupRegistry(group), createdAt: meta.createdAt }),
        },
      });
    if (change.join !== undefined) {
      const m = change.join.member;
      items.push(
        { Put: { TableName: this.table, Item: marshall({ pk, sk: `member#${m.memberId}`, ...m }) } },
        {
          Put: {
            TableName: this.table,
            Item: marshall({ pk, sk: `session#${m.memberId}`, memberId: m.memberId, expiresAt: change.join.expiresAt }),
          },
        },
        { Put: { TableName: this.table, Item: marshall({ pk, sk: `position#${m.memberId}`, positions: {} }) } },
      );
    }
    for (const e of change.ends) {
      items.push({
        Delete: {
          TableName: this.table,
          Key: this.key(group, `session#${e.memberId}`),
          ...(e.ifExpiredAt === undefined
            ? {}
            : {
                ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :t',
                ExpressionAttributeValues: { ':t': { N: String(e.ifExpiredAt) } },
              }),
        },
      });
    }
    try {
      await this.transact(items);
      return true;
    } catch (e) {
      if (!retryable(e)) throw e;
      // Never published: remove the targets (what is left over is recognised as stale later).
      await this.batchWrite(targetKeys.map((sk) => ({ DeleteRequest: { Key: this.key(group, sk) } })));
      return false;
    }
  }

  async removeStale(group: string, version: number, stale: StaleItems): Promise<void> {
    const targets: string[] = [];
    for (const assignment of stale.assignments) {
      const known = stale.known?.[assignment];
      if (known !== undefined) {
        targets.push(...known.map((id) => `target#${assignment}#${id}`));
        continue;
      }
      let startKey: Key | undefined;
      do {
        const page = await this.client.send(
          new QueryCommand({
            TableName: this.table,
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
            ExpressionAttributeValues: marshall({
              ':pk': metadataKeys.groupPartition(group),
              ':p': `target#${assignment}#`,
            }),
            ProjectionExpression: 'sk',
            ExclusiveStartKey: startKey,
            ...this.capacity,
          }),
        );
        this.report(page.ConsumedCapacity);
        targets.push(...(page.Items ?? []).map((i) => i.sk!.S!));
        startKey = page.LastEvaluatedKey;
      } while (startKey !== undefined);
    }
    await this.batchWrite(targets.map((sk) => ({ DeleteRequest: { Key: this.key(group, sk) } })));
    // A member's items go only while its session is gone and the meta is the one the caller saw.
    for (let i = 0; i < stale.members.length; i += 30) {
      const chunk = stale.members.slice(i, i + 30);
      try {
        await this.transact([
          {
            ConditionCheck: {
              TableName: this.table,
              Key: this.key(group, 'meta'),
              ...versionCondition(version),
            },
          },
          ...chunk.flatMap((id): TransactWriteItem[] => [
            {
              ConditionCheck: {
                TableName: this.table,
                Key: this.key(group, `session#${id}`),
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            { Delete: { TableName: this.table, Key: this.key(group, `member#${id}`) } },
            { Delete: { TableName: this.table, Key: this.key(group, `position#${id}`) } },
          ]),
        ]);
      } catch (e) {
        if (!retryable(e)) throw e;
        return; // the group moved on: whoever reads it next finds what is left
      }
    }
  }

  async transfer(group: string, change: Transfer): Promise<boolean> {
    const pk = metadataKeys.groupPartition(group);
    const id = change.memberId;
    const items: TransactWriteItem[] = [
      {
        ConditionCheck: {
          TableName: this.table,
          Key: this.key(group, 'meta'),
          ConditionExpression: 'assignment = :a',
          ExpressionAttributeValues: { ':a': { S: change.assignment } },
        },
      },
      {
        // A transaction writes what it checks at no extra cost: the step extends the session.
        Update: {
          TableName: this.table,
          Key: this.key(group, `session#${id}`),
          UpdateExpression: 'SET expiresAt = :e',
          ConditionExpression: 'expiresAt > :now',
          ExpressionAttributeValues: {
            ':now': { N: String(change.now) },
            ':e': { N: String(change.expiresAt) },
          },
        },
      },
      {
        Put: {
          TableName: this.table,
          Item: marshall({ pk, sk: `member#${id}`, ...change.member }),
          ConditionExpression: 'attribute_exists(pk)',
        },
      },
    ];
    const partition = (key: string, update: string, condition: string, values: Record<string, unknown>) => ({
      Update: {
        TableName: this.table,
        Key: this.key(group, `offset#${key}`),
        UpdateExpression: update,
        ConditionExpression: condition,
        // `owner` and `key` are DynamoDB reserved words.
        ExpressionAttributeNames: { '#own': 'owner', ...(update.includes('#k') ? { '#k': 'key' } : {}) },
        ExpressionAttributeValues: marshall(values, { removeUndefinedValues: true }),
      },
    });
    const gone = new Set<string>();
    const taken = new Map<string, string[]>();
    for (const c of change.claims) {
      const from = c.from;
      items.push(
        partition(
          c.key,
          'SET #k = :k, #own = :m, grants = :g, rebalanceTimeoutMs = :r REMOVE revokingSince',
          from === undefined
            ? 'attribute_not_exists(#own)'
            : from.because === 'timeout'
              ? '#own = :prev AND revokingSince = :since'
              : '#own = :prev',
          {
            ':k': c.key,
            ':m': id,
            ':g': c.grants + 1,
            ':r': change.member.info.rebalanceTimeoutMs,
            ...(from === undefined ? {} : { ':prev': from.owner }),
            ...(from?.because === 'timeout' ? { ':since': from.since } : {}),
          },
        ),
      );
      if (from === undefined || from.owner === id) continue;
      if (from.because === 'gone') gone.add(from.owner);
      else taken.set(from.owner, [...(taken.get(from.owner) ?? []), c.key]);
    }
    for (const owner of gone)
      items.push({
        ConditionCheck: {
          TableName: this.table,
          Key: this.key(group, `session#${owner}`),
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :now',
          ExpressionAttributeValues: { ':now': { N: String(change.now) } },
        },
      });
    for (const [owner, keys] of taken) {
      const names = Object.fromEntries(keys.map((k, i) => [`#p${i}`, k]));
      items.push({
        Update: {
          TableName: this.table,
          Key: this.key(group, `member#${owner}`),
          UpdateExpression: `REMOVE ${keys.map((_, i) => `owned.#p${i}`).join(', ')}`,
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: names,
        },
      });
    }
    for (const m of change.marks)
      items.push(
        partition(m.key, 'SET revokingSince = :now', '#own = :x AND attribute_not_exists(revokingSince)', {
          ':now': change.now,
          ':x': m.owner,
        }),
      );
    for (const key of change.releases)
      items.push(partition(key, 'REMOVE #own, revokingSince, rebalanceTimeoutMs', '#own = :m', { ':m': id }));
    for (const key of change.clears) items.push(partition(key, 'REMOVE revokingSince', '#own = :m', { ':m': id }));
    try {
      await this.transact(items);
      return true;
    } catch (e) {
      if (retryable(e)) return false; // the caller reads again
      throw e;
    }
  }

  async touchMember(
    group: string,
    memberId: string,
    expiresAt: number,
    now: number,
    positions?: Readonly<Record<string, number>>,
  ): Promise<boolean> {
    const update = async (sk: string, expression: string, condition: string, values: Record<string, unknown>) => {
      for (let attempt = 0; ; attempt++) {
        try {
          const out = await this.client.send(
            new UpdateItemCommand({
              TableName: this.table,
              Key: this.key(group, sk),
              UpdateExpression: expression,
              ConditionExpression: condition,
              ExpressionAttributeValues: marshall(values),
              ...this.capacity,
            }),
          );
          this.report(out.ConsumedCapacity);
          return true;
        } catch (e) {
          if (e instanceof ConditionalCheckFailedException) return false;
          if (!conflict(e) || attempt >= CONFLICT_RETRIES) throw e; // the item is in another transaction
          await pause(attempt);
        }
      }
    };
    // Both at once: positions are kept under grants, so those of a member whose session has just
    // ended are never read again, and go with its items. The whole map is written at once: one
    // clause per partition would outgrow DynamoDB's 4 KB expression limit.
    const [live, saved] = await Promise.all([
      update(`session#${memberId}`, 'SET expiresAt = :e', 'expiresAt > :now', { ':e': expiresAt, ':now': now }),
      positions === undefined ||
        update(`position#${memberId}`, 'SET positions = :p', 'attribute_exists(pk)', { ':p': positions }),
    ]);
    return live && saved;
  }

  commitPart(group: string, request: CommitRequest, now: number): DynamoPart {
    return new DynamoPart(this.commitItems(group, request, now));
  }

  async commitOffsets(group: string, request: CommitRequest, now: number): Promise<CommitResult> {
    const items = this.commitItems(group, request, now);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.transact(items);
        return { outcome: 'ok' };
      } catch (e) {
        if (conflict(e) && attempt < CONFLICT_RETRIES) {
          await pause(attempt); // another transaction held an item: not a rejection
          continue;
        }
        return this.rejection(e, request);
      }
    }
  }

  private commitItems(group: string, request: CommitRequest, now: number): TransactWriteItem[] {
    return [
      {
        ConditionCheck: {
          TableName: this.table,
          Key: this.key(group, 'meta'),
          ConditionExpression: 'generation = :g',
          ExpressionAttributeValues: { ':g': { N: String(request.generation) } },
        },
      },
      {
        ConditionCheck: {
          TableName: this.table,
          Key: this.key(group, `session#${request.memberId}`),
          ConditionExpression: 'expiresAt > :now',
          ExpressionAttributeValues: { ':now': { N: String(now) } },
        },
      },
      ...request.offsets.map((o) =>
        this.offsetUpdate(
          group,
          { ...o, committedAt: now, generation: request.generation },
          // Owned by the member, and never backwards within one incarnation of the topic.
          '#own = :m AND (attribute_not_exists(#o) OR #o <= :o OR topicId <> :t)',
          { ':m': request.memberId },
        ),
      ),
    ];
  }

  /** Sets a partition's committed offset (keeping its ownership). */
  private offsetUpdate(
    group: string,
    o: CommittedOffset,
    condition: string | undefined,
    values: Record<string, unknown>,
  ): TransactWriteItem {
    return {
      Update: {
        TableName: this.table,
        Key: this.key(group, `offset#${o.key}`),
        UpdateExpression: `SET #k = :k, topicId = :t, #o = :o, committedAt = :c, generation = :g${
          o.metadata === undefined ? ' REMOVE metadata' : ', metadata = :md'
        }`,
        ...(condition === undefined ? {} : { ConditionExpression: condition }),
        ExpressionAttributeNames: {
          '#k': 'key',
          '#o': 'offset',
          ...(condition?.includes('#own') ? { '#own': 'owner' } : {}),
        },
        ExpressionAttributeValues: marshall(
          {
            ':k': o.key,
            ':t': o.topicId,
            ':o': o.offset,
            ':c': o.committedAt,
            ':g': o.generation,
            ':md': o.metadata,
            ...values,
          },
          { removeUndefinedValues: true },
        ),
      },
    };
  }

  /** Maps a cancelled commit to the item that failed: CancellationReasons[i] belongs to TransactItems[i]. */
  private rejection(e: unknown, request: CommitRequest): CommitResult {
    if (!(e instanceof TransactionCanceledException)) throw e;
    const reasons = e.CancellationReasons ?? [];
    if (reasons[0]?.Code === 'ConditionalCheckFailed') return { outcome: 'rejected', reason: 'group' };
    if (reasons[1]?.Code === 'ConditionalCheckFailed') return { outcome: 'rejected', reason: 'member' };
    const i = reasons.findIndex((r, k) => k >= 2 && r.Code === 'ConditionalCheckFailed');
    if (i >= 2) return { outcome: 'rejected', reason: 'partition', key: request.offsets[i - 2]!.key };
    throw e;
  }

  async resetOffsets(group: string, expectedVersion: number, offsets: readonly CommittedOffset[]): Promise<boolean> {
    for (let i = 0; i < offsets.length; i += 98) {
      const chunk = offsets.slice(i, i + 98);
      try {
        await this.transact([
          {
            ConditionCheck: {
              TableName: this.table,
              Key: this.key(group, 'meta'),
              ...versionCondition(expectedVersion),
            },
          },
          ...chunk.map((o) => this.offsetUpdate(group, o, undefined, {})),
        ]);
      } catch (e) {
        if (retryable(e)) return false;
        throw e;
      }
    }
    return true;
  }

  async listGroups(): Promise<string[]> {
    const names: string[] = [];
    let startKey: Key | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: metadataKeys.groupsPartition } },
          ExclusiveStartKey: startKey,
          ...this.capacity,
        }),
      );
      this.report(page.ConsumedCapacity);
      names.push(...(page.Items ?? []).map((i) => i.sk!.S!));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return names.sort();
  }

  async deleteGroup(group: string, expectedVersion: number, snapshot: GroupSnapshot): Promise<boolean> {
    try {
      await this.transact([
        { Delete: { TableName: this.table, Key: this.key(group, 'meta'), ...versionCondition(expectedVersion) } },
        { Delete: { TableName: this.table, Key: marshall(metadataKeys.groupRegistry(group)) } },
      ]);
    } catch (e) {
      if (retryable(e)) return false;
      throw e;
    }
    // The meta is gone; remove exactly what the group had when it was read, so a group created
    // again under the same name in the meantime keeps its own members and offsets.
    await this.batchWrite(snapshot.keys.map((sk) => ({ DeleteRequest: { Key: this.key(group, sk) } })));
    return true;
  }
}

function pick<T extends object, K extends keyof T>(value: T, fields: readonly K[]): Pick<T, K> {
  return Object.fromEntries(fields.map((f) => [f, value[f]])) as Pick<T, K>;
}

function parseMeta(item: Record<string, unknown>): GroupMeta {
  // A meta written before the split has no assignment: it is read as a group nobody is in yet.
  return {
    ...pick(item as unknown as GroupMeta, META_FIELDS),
    assignment: (item.assignment as string) ?? '',
    counts: (item.counts as Record<string, number>) ?? {},
  };
}

function parseMember(item: Record<string, unknown>): MemberState {
  return {
    memberId: item.memberId as string,
    info: item.info as MemberState['info'],
    owned: (item.owned as Record<string, number>) ?? {},
    assignment: item.assignment as string,
    target: (item.target as string[]) ?? [],
  };
}

function parsePartition(item: Record<string, unknown>): GroupPartition {
  const committed =
    item.offset === undefined
      ? undefined
      : (Object.fromEntries(
          [['key', item.key], ...COMMITTED_FIELDS.map((f) => [f, item[f]])].filter(([, v]) => v !== undefined),
        ) as unknown as CommittedOffset);
  return {
    key: item.key as string,
    grants: (item.grants as number) ?? 0,
    ...(item.owner === undefined ? {} : { owner: item.owner as string }),
    ...(item.revokingSince === undefined ? {} : { revokingSince: item.revokingSince as number }),
    ...(item.rebalanceTimeoutMs === undefined ? {} : { rebalanceTimeoutMs: item.rebalanceTimeoutMs as number }),
    ...(committed === undefined ? {} : { committed: { ...committed, topicId: committed.topicId ?? '' } }),
  };
}

function versionCondition(expectedVersion: number): {
  ConditionExpression: string;
  ExpressionAttributeValues?: Record<string, AttributeValue>;
} {
  return expectedVersion === 0
    ? { ConditionExpression: 'attribute_not_exists(pk)' }
    : { ConditionExpression: 'version = :v', ExpressionAttributeValues: { ':v': { N: String(expectedVersion) } } };
}
