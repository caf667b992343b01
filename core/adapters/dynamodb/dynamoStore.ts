import {
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type AttributeValue,
  type ConsumedCapacity,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { TopicAlreadyExists, TopicConflict, TopicNotFound } from '../../errors.ts';
import type {
  BatchPage,
  DeletedTopic,
  LogStore,
  MetadataStore,
  PartitionState,
  ProducerState,
  ProducerStateWrite,
  PutBatchResult,
  Reservation,
  ReservationTime,
  SequencerTime,
  RollState,
  SegmentRecord,
  StoredBatch,
  TieringStore,
  TimeMark,
  TopicRecord,
} from '../../ports.ts';
import { DynamoPart } from './dynamoAtomic.ts';
import { LOG_TABLE, METADATA_TABLE, TIME_INDEX, metadataKeys, timeIndexKeys, type TableNames } from '../../schema.ts';
import type { Compression } from '../../log/topicConfig.ts';

const A = LOG_TABLE.attributes;
/** Segment records read per page while none reaches a timestamp (about 400 KB of them). */
const REACHING_PAGE = 1000;
const HEADER_PROJECTION = [
  'pk',
  'sk',
  A.recordCount,
  A.firstTimestamp,
  A.maxTimestamp,
  A.sizeBytes,
  A.codec,
  A.writerId,
  A.appendedAt,
  A.expiresAt,
  A.previousBase,
  A.txn,
  A.control,
  TIME_INDEX.sortKey.name,
].join(', ');

export interface DynamoStoreOptions {
  readonly client: DynamoDBClient;
  readonly tables: TableNames;
  /** Called with the capacity each request consumed; turns on `ReturnConsumedCapacity`. */
  readonly onConsumedCapacity?: (capacity: ConsumedCapacity[]) => void;
}

/**
 * DynamoDB storage (AWS SDK v3). Conditional-check failures are translated here into the port's
 * outcomes and domain errors, so nothing above this file sees a DynamoDB exception type.
 */
export class DynamoStore implements LogStore, MetadataStore, TieringStore {
  private readonly client: DynamoDBClient;
  private readonly tables: TableNames;
  private readonly onCapacity: ((capacity: ConsumedCapacity[]) => void) | undefined;

  constructor(options: DynamoStoreOptions) {
    this.client = options.client;
    this.tables = options.tables;
    this.onCapacity = options.onConsumedCapacity;
  }

  private get capacity(): { ReturnConsumedCapacity?: 'TOTAL' } {
    return this.onCapacity === undefined ? {} : { ReturnConsumedCapacity: 'TOTAL' };
  }

  private record(capacity: ConsumedCapacity | ConsumedCapacity[] | undefined): void {
    if (this.onCapacity === undefined || capacity === undefined) return;
    this.onCapacity(Array.isArray(capacity) ? capacity : [capacity]);
  }

  // ---------------------------------------------------------------- log

  async reserveOffsets(
    log: string,
    count: number,
    time: ReservationTime,
  ): Promise<Reservation | 'raise' | 'kept' | undefined> {
    try {
      // Values on the right are read before the update: `p` becomes this reservation's base while
      // `n` moves on; the time chain starts here unless it has (`c`), its maximum `m` rises only
      // when raised, and `b` counts the bytes reserved. The old values come back.
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tables.metadata,
          Key: marshall(metadataKeys.sequencer(log)),
          UpdateExpression: `SET p = n, n = n + :count, c = if_not_exists(c, n)${time.raise ? ', m = :m' : ''} ADD b :bytes`,
          ConditionExpression: `attribute_exists(n) AND ${time.raise ? '(attribute_not_exists(m) OR m < :m)' : 'm >= :m'}`,
          ExpressionAttributeValues: {
            ':count': { N: String(count) },
            ':m': { N: String(time.maxTimestamp) },
            ':bytes': { N: String(time.bytes) },
          },
          ReturnValues: 'ALL_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          ...this.capacity,
        }),
      );
      this.record(out.ConsumedCapacity);
      const old = out.Attributes ?? {};
      const base = Number(old.n!.N);
      return {
        base,
        ...(old.p === undefined ? {} : { previousBase: Number(old.p.N) }),
        time: {
          chainStart: old.c === undefined ? base : Number(old.c.N),
          maxTimestamp: time.raise ? time.maxTimestamp : Number(old.m!.N),
          bytes: (old.b === undefined ? 0 : Number(old.b.N)) + time.bytes,
        },
      };
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
      if (e.Item?.n === undefined) return undefined; // no sequencer yet
      return time.raise ? 'kept' : 'raise';
    }
  }

  async advanceSequencer(log: string, next: number): Promise<void> {
    try {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tables.metadata,
          Key: marshall(metadataKeys.sequencer(log)),
          // The time chain starts again here: what lies below was written without this sequencer.
          UpdateExpression: 'SET n = :next, c = :next REMOVE p, m, b',
          ConditionExpression: 'attribute_not_exists(n) OR n < :next',
          ExpressionAttributeValues: { ':next': { N: String(next) } },
          ...this.capacity,
        }),
      );
      this.record(out.ConsumedCapacity);
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e; // already there or beyond
    }
  }

  async sequencerTime(log: string): Promise<SequencerTime | undefined> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.tables.metadata,
        Key: marshall(metadataKeys.sequencer(log)),
        ConsistentRead: true,
        ...this.capacity,
      }),
    );
    this.record(out.ConsumedCapacity);
    const item = out.Item;
    if (item?.c === undefined || item.m === undefined) return undefined;
    return {
      chainStart: Number(item.c.N),
      maxTimestamp: Number(item.m.N),
      bytes: item.b === undefined ? 0 : Number(item.b.N),
    };
  }

  batchPart(batch: StoredBatch): DynamoPart {
    return new DynamoPart(
      [
        {
          Put: {
            TableName: this.tables.log,
            Item: batchToItem(batch),
            ConditionExpression: 'attribute_not_exists(sk)',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
      ],
      itemToBatch,
    );
  }

  async putBatch(batch: StoredBatch, producer?: ProducerStateWrite): Promise<PutBatchResult> {
    const put = {
      TableName: this.tables.log,
      Item: batchToItem(batch),
      ConditionExpression: 'attribute_not_exists(sk)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    };
    if (producer === undefined) {
      try {
        const out = await this.client.send(new PutItemCommand({ ...put, ...this.capacity }));
        this.record(out.ConsumedCapacity);
        return { outcome: 'written' };
      } catch (e) {
        if (e instanceof ConditionalCheckFailedException) {
          return { outcome: 'offset-taken', existing: e.Item === undefined ? undefined : itemToBatch(e.Item) };
        }
        throw e;
      }
    }
    const { next } = producer;
    try {
      const out = await this.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: put },
            {
              Put: {
                TableName: this.tables.metadata,
                Item: marshall({
                  ...metadataKeys.producer(producer.producerId, producer.log),
                  epoch: next.epoch,
                  nextSequence: next.nextSequence,
                  recent: next.recent,
                  version: next.version,
                  ...(next.expiresAt === undefined ? {} : { [METADATA_TABLE.timeToLive]: next.expiresAt }),
                }),
                ConditionExpression:
                  producer.expectedVersion === undefined ? 'attribute_not_exists(pk)' : 'version = :expected',
                ...(producer.expectedVersion === undefined
                  ? {}
                  : { ExpressionAttributeValues: { ':expected': { N: String(producer.expectedVersion) } } }),
              },
            },
          ],
          ...this.capacity,
        }),
      );
      this.record(out.ConsumedCapacity);
      return { outcome: 'written' };
    } catch (e) {
      if (!(e instanceof TransactionCanceledException)) throw e;
      // CancellationReasons[i] belongs to TransactItems[i]: 0 is the batch, 1 the producer state.
      const [batchReason, producerReason] = e.CancellationReasons ?? [];
      if (batchReason?.Code === 'ConditionalCheckFailed') {
        return {
          outcome: 'offset-taken',
          existing: batchReason.Item === undefined ? undefined : itemToBatch(batchReason.Item),
        };
      }
      if (producerReason?.Code === 'ConditionalCheckFailed') return { outcome: 'producer-state-changed' };
      throw e; // a transaction conflict or throttling: an unknown outcome, retried by the engine
    }
  }

  lastBatch(log: string): Promise<StoredBatch | undefined> {
    return this.lastHeader(log, undefined);
  }

  async getBatch(log: string, baseOffset: number): Promise<StoredBatch | undefined> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.tables.log,
        Key: { pk: { S: log }, sk: { N: String(baseOffset) } },
        ConsistentRead: true,
        ...this.capacity,
      }),
    );
    this.record(out.ConsumedCapacity);
    return out.Item === undefined ? undefined : itemToBatch(out.Item);
  }

  batchAtOrBefore(log: string, offset: number): Promise<StoredBatch | undefined> {
    return this.lastHeader(log, offset);
  }

  /** The header of the batch with the highest base offset (at or below `atMost`, when given). */
  private async lastHeader(log: string, atMost: number | undefined): Promise<StoredBatch | undefined> {
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.tables.log,
        KeyConditionExpression: atMost === undefined ? 'pk = :pk' : 'pk = :pk AND sk <= :offset',
        ExpressionAttributeValues: {
          ':pk': { S: log },
          ...(atMost === undefined ? {} : { ':offset': { N: String(atMost) } }),
        },
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
        ProjectionExpression: HEADER_PROJECTION,
        ...this.capacity,
      }),
    );
    this.record(out.ConsumedCapacity);
    const item = out.Items?.[0];
    return item === undefined ? undefined : itemToBatch(item);
  }

  readBatches(log: string, fromOffset: number, maxBatches: number): Promise<BatchPage> {
    return this.queryFrom(log, fromOffset, maxBatches, undefined);
  }

  scanBatchHeaders(log: string, fromOffset: number, maxBatches: number): Promise<BatchPage> {
    return this.queryFrom(log, fromOffset, maxBatches, HEADER_PROJECTION);
  }

  /**
   * Batches from the one containing `fromOffset`. Consumers usually read from a batch boundary,
   * so one ascending query suffices; otherwise one descending query finds the containing batch.
   */
  private async queryFrom(
    log: string,
    fromOffset: number,
    maxBatches: number,
    projection: string | undefined,
  ): Promise<BatchPage> {
    const common = {
      TableName: this.tables.log,
      ConsistentRead: true,
      ...(projection === undefined ? {} : { ProjectionExpression: projection }),
      ...this.capacity,
    };
    const after = await this.client.send(
      new QueryCommand({
        ...common,
        KeyConditionExpression: 'pk = :pk AND sk >= :from',
        ExpressionAttributeValues: { ':pk': { S: log }, ':from': { N: String(fromOffset) } },
        Limit: maxBatches + 1, // one more than asked, to know exactly whether the page reached the end
      }),
    );
    this.record(after.ConsumedCapacity);
    const items = (after.Items ?? []).map(itemToBatch);
    const reachedEnd = items.length <= maxBatches && after.LastEvaluatedKey === undefined;
    const batches = items.slice(0, maxBatches);
    if (fromOffset > 0 && batches[0]?.baseOffset !== fromOffset) {
      const before = await this.client.send(
        new QueryCommand({
          ...common,
          KeyConditionExpression: 'pk = :pk AND sk < :from',
          ExpressionAttributeValues: { ':pk': { S: log }, ':from': { N: String(fromOffset) } },
          ScanIndexForward: false,
          Limit: 1,
        }),
      );
      this.record(before.ConsumedCapacity);
      const containing = before.Items?.[0] === undefined ? undefined : itemToBatch(before.Items[0]);
      if (containing !== undefined && containing.baseOffset + containing.recordCount > fromOffset)
        batches.unshift(containing);
    }
    return { batches, reachedEnd };
  }

  async deleteLog(log: string, leaveExpiringBy?: number): Promise<void> {
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tables.log,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeNames: { '#x': A.expiresAt },
          ExpressionAttributeValues: { ':pk': { S: log } },
          ProjectionExpression: 'pk, sk, #x',
          ExclusiveStartKey: startKey,
        }),
      );
      const keys = (page.Items ?? [])
        .filter((item) => !expiresBy(item[A.expiresAt], leaveExpiringBy))
        .map(({ pk, sk }) => ({ pk: pk!, sk: sk! }));
      for (let i = 0; i < keys.length; i += 25) {
        await this.batchDelete(keys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } })));
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    await this.client.send(
      new DeleteItemCommand({ TableName: this.tables.metadata, Key: marshall(metadataKeys.sequencer(log)) }),
    );
  }

  private async batchDelete(requests: WriteRequest[]): Promise<void> {
    let pending = requests;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 25 * 2 ** attempt)));
      const out = await this.client.send(new BatchWriteItemCommand({ RequestItems: { [this.tables.log]: pending } }));
      pending = out.UnprocessedItems?.[this.tables.log] ?? [];
      if (attempt > 10) throw new Error('BatchWriteItem kept returning unprocessed items');
    }
  }

  async timeMarkBefore(log: string, chainStart: number, timestamp: number): Promise<TimeMark | undefined> {
    const range = timeIndexKeys.markRange(chainStart, timestamp);
    return this.lastInTimeIndex(this.tables.log, {
      KeyConditionExpression: 'pk = :pk AND tk BETWEEN :from AND :below',
      ExpressionAttributeValues: { ':pk': { S: log }, ':from': { S: range.from }, ':below': { S: range.below } },
    });
  }

  /** The last entry of a time index query (descending, one item); undefined too while the index cannot be read. */
  private async lastInTimeIndex(
    table: string,
    query: { KeyConditionExpression: string; ExpressionAttributeValues: Record<string, AttributeValue> },
  ): Promise<TimeMark | undefined> {
    try {
      const out = await this.client.send(
        new QueryCommand({
          TableName: table,
          IndexName: TIME_INDEX.name,
          ...query,
          ScanIndexForward: false,
          Limit: 1,
          ...this.capacity,
        }),
      );
      this.record(out.ConsumedCapacity);
      const key = out.Items?.[0]?.[TIME_INDEX.sortKey.name]?.S;
      return key === undefined ? undefined : timeIndexKeys.parse(key);
    } catch (e) {
      // An index still being built (just deployed) or not created: the look-up reads on without it.
      if (e instanceof Error && e.name === 'ValidationException' && /index/i.test(e.message)) return undefined;
      throw e;
    }
  }

  // ---------------------------------------------------------------- metadata

  async createTopic(topic: TopicRecord): Promise<void> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tables.metadata,
          Item: marshall({ ...metadataKeys.topic(topic.name), ...topic }),
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) throw new TopicAlreadyExists(topic.name);
      throw e;
    }
  }

  async getTopic(name: string): Promise<TopicRecord | undefined> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.tables.metadata,
        Key: marshall(metadataKeys.topic(name)),
        ConsistentRead: true,
      }),
    );
    return out.Item === undefined ? undefined : itemToTopic(out.Item);
  }

  async listTopics(): Promise<TopicRecord[]> {
    const topics: TopicRecord[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tables.metadata,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: metadataKeys.topicsPartition } },
          ExclusiveStartKey: startKey,
        }),
      );
      topics.push(...(page.Items ?? []).map(itemToTopic));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return topics;
  }

  async updateTopic(next: TopicRecord): Promise<void> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tables.metadata,
          Key: marshall(metadataKeys.topic(next.name)),
          UpdateExpression: 'SET config = :config, version = :next',
          ConditionExpression: 'topicId = :id AND version = :expected',
          ExpressionAttributeValues: marshall({
            ':config': next.config,
            ':next': next.version,
            ':expected': next.version - 1,
            ':id': next.topicId,
          }),
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) {
        const current = e.Item === undefined ? undefined : itemToTopic(e.Item);
        if (current === undefined || current.topicId !== next.topicId) throw new TopicNotFound(next.name);
        throw new TopicConflict(next.name);
      }
      throw e;
    }
  }

  async deleteTopic(name: string, topicId: string, deleted: DeletedTopic): Promise<void> {
    try {
      await this.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Delete: {
                TableName: this.tables.metadata,
                Key: marshall(metadataKeys.topic(name)),
                ConditionExpression: 'topicId = :id',
                ExpressionAttributeValues: { ':id': { S: topicId } },
              },
            },
            {
              Put: {
                TableName: this.tables.metadata,
                Item: marshall({ ...metadataKeys.deletedTopic(topicId), ...deleted }),
              },
            },
          ],
          ...this.capacity,
        }),
      );
    } catch (e) {
      if (e instanceof TransactionCanceledException && e.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed')
        throw new TopicNotFound(name);
      throw e;
    }
  }

  async listDeletedTopics(limit: number): Promise<DeletedTopic[]> {
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.tables.metadata,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: metadataKeys.deletedTopics } },
        Limit: limit,
        ConsistentRead: true,
        ...this.capacity,
      }),
    );
    this.record(out.ConsumedCapacity);
    return (out.Items ?? [])
      .map((item) => {
        const { name, topicId, partitions, deletedAt } = unmarshall(item);
        return { name, topicId, partitions, deletedAt };
      })
      .sort((a, b) => a.deletedAt - b.deletedAt);
  }

  async forgetDeletedTopic(topicId: string): Promise<void> {
    const out = await this.client.send(
      new DeleteItemCommand({
        TableName: this.tables.metadata,
        Key: marshall(metadataKeys.deletedTopic(topicId)),
        ...this.capacity,
      }),
    );
    this.record(out.ConsumedCapacity);
  }

  async getPartitionState(log: string): Promise<PartitionState> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.tables.metadata,
        Key: marshall(metadataKeys.partitionState(log)),
        ConsistentRead: true,
        ...this.capacity,
      }),
    );
    this.record(out.ConsumedCapacity);
    if (out.Item === undefined) return { logStartOffset: 0, tieredThrough: 0, version: 0 };
    const item = unmarshall(out.Item);
    return {
      logStartOffset: item.logStartOffset ?? 0,
      tieredThrough: item.tieredThrough ?? 0,
      version: item.version ?? 0,
      ...(item.roll === undefined ? {} : { roll: item.roll as RollState }),
      ...(item.segments === undefined ? {} : { segments: item.segments as { count: number; bytes: number } }),
      ...(item.tieredMaxTimestamp === undefined ? {} : { tieredMaxTimestamp: item.tieredMaxTimestamp as number }),
    };
  }

  private statePut(log: string, next: PartitionState) {
    return {
      TableName: this.tables.metadata,
      Item: marshall({
        ...metadataKeys.partitionState(log),
        logStartOffset: next.logStartOffset,
        tieredThrough: next.tieredThrough,
        version: next.version,
        ...(next.roll === undefined ? {} : { roll: next.roll }),
        ...(next.segments === undefined ? {} : { segments: next.segments }),
        ...(next.tieredMaxTimestamp === undefined ? {} : { tieredMaxTimestamp: next.tieredMaxTimestamp }),
      }),
      ...(next.version === 1
        ? { ConditionExpression: 'attribute_not_exists(pk)' }
        : {
            ConditionExpression: 'version = :v',
            ExpressionAttributeValues: { ':v': { N: String(next.version - 1) } },
          }),
    };
  }

  async setPartitionState(log: string, next: PartitionState): Promise<boolean> {
    try {
      await this.client.send(new PutItemCommand(this.statePut(log, next)));
      return true;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return false;
      throw e;
    }
  }

  async forgetPartitionState(log: string): Promise<void> {
    await this.client.send(
      new DeleteItemCommand({ TableName: this.tables.metadata, Key: marshall(metadataKeys.partitionState(log)) }),
    );
  }

  async recordSegment(segment: SegmentRecord, next: PartitionState): Promise<boolean> {
    try {
      await this.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tables.metadata,
                Item: segmentItem(segment),
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            { Put: this.statePut(segment.log, next) },
          ],
        }),
      );
      return true;
    } catch (e) {
      if (
        e instanceof TransactionCanceledException &&
        e.CancellationReasons?.some((r) => r.Code === 'ConditionalCheckFailed')
      )
        return false;
      throw e;
    }
  }

  async listSegments(log: string): Promise<SegmentRecord[]> {
    const out: SegmentRecord[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tables.metadata,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: metadataKeys.segmentsPartition(log) } },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
          ...this.capacity,
        }),
      );
      this.record(page.ConsumedCapacity);
      out.push(...(page.Items ?? []).map(itemToSegment));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return out;
  }

  async segmentsFrom(log: string, offset: number, limit: number): Promise<SegmentRecord[]> {
    const key = metadataKeys.segment(log, offset);
    const query = (condition: string, forward: boolean, count: number) =>
      this.client.send(
        new QueryCommand({
          TableName: this.tables.metadata,
          KeyConditionExpression: `pk = :pk AND sk ${condition} :sk`,
          ExpressionAttributeValues: { ':pk': { S: key.pk }, ':sk': { S: key.sk } },
          ScanIndexForward: forward,
          Limit: count,
          ConsistentRead: true,
          ...this.capacity,
        }),
      );
    const [before, after] = await Promise.all([query('<=', false, 1), query('>', true, limit)]);
    this.record(before.ConsumedCapacity);
    this.record(after.ConsumedCapacity);
    const containing = (before.Items ?? []).map(itemToSegment).filter((s) => s.end > offset);
    return [...containing, ...(after.Items ?? []).map(itemToSegment)].slice(0, limit);
  }

  segmentBefore(log: string, timestamp: number): Promise<TimeMark | undefined> {
    return this.lastInTimeIndex(this.tables.metadata, {
      KeyConditionExpression: 'pk = :pk AND tk < :below',
      ExpressionAttributeValues: {
        ':pk': { S: metadataKeys.segmentsPartition(log) },
        ':below': { S: timeIndexKeys.segmentBelow(timestamp) },
      },
    });
  }

  async firstSegmentReaching(log: string, offset: number, timestamp: number): Promise<SegmentRecord | undefined> {
    const key = metadataKeys.segment(log, offset);
    const common = { TableName: this.tables.metadata, ConsistentRead: true, ...this.capacity };
    const page = async (startKey: Record<string, AttributeValue> | undefined, limit: number) => {
      const out = await this.client.send(
        new QueryCommand({
          ...common,
          KeyConditionExpression: 'pk = :pk AND sk >= :sk',
          FilterExpression: 'maxTimestamp >= :t',
          ExpressionAttributeValues: { ':pk': { S: key.pk }, ':sk': { S: key.sk }, ':t': { N: String(timestamp) } },
          Limit: limit,
          ExclusiveStartKey: startKey,
        }),
      );
      this.record(out.ConsumedCapacity);
      return out;
    };
    // The segment starting at the offset, or the first after it: usually the answer, in one request.
    let current = await page(undefined, 1);
    const first = current.Items?.[0]?.sk?.S ?? current.LastEvaluatedKey?.sk?.S;
    if (first !== key.sk) {
      // The offset may lie inside the segment before: it comes first.
      const before = await this.client.send(
        new QueryCommand({
          ...common,
          KeyConditionExpression: 'pk = :pk AND sk < :sk',
          ExpressionAttributeValues: { ':pk': { S: key.pk }, ':sk': { S: key.sk } },
          ScanIndexForward: false,
          Limit: 1,
        }),
      );
      this.record(before.ConsumedCapacity);
      const containing = before.Items?.[0] === undefined ? undefined : itemToSegment(before.Items[0]);
      if (containing !== undefined && containing.end > offset && containing.maxTimestamp >= timestamp)
        return containing;
    }
    // Then segment records in offset order, those falling short filtered out by DynamoDB (still read and paid for).
    for (;;) {
      if (current.Items?.[0] !== undefined) return itemToSegment(current.Items[0]);
      if (current.LastEvaluatedKey === undefined) return undefined;
      current = await page(current.LastEvaluatedKey, REACHING_PAGE);
    }
  }

  async dropSegments(log: string, bases: readonly number[], next: PartitionState): Promise<boolean> {
    if (bases.length > 90) throw new RangeError('drop at most 90 segments at a time');
    try {
      await this.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            ...bases.map((base) => ({
              Delete: { TableName: this.tables.metadata, Key: marshall(metadataKeys.segment(log, base)) },
            })),
            { Put: this.statePut(log, next) },
          ],
        }),
      );
      return true;
    } catch (e) {
      if (
        e instanceof TransactionCanceledException &&
        e.CancellationReasons?.some((r) => r.Code === 'ConditionalCheckFailed')
      )
        return false;
      throw e;
    }
  }

  async replaceSegment(next: SegmentRecord, previousKey: string, state: PartitionState): Promise<boolean> {
    try {
      await this.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tables.metadata,
                Item: segmentItem(next),
                ConditionExpression: '#k = :previous',
                ExpressionAttributeNames: { '#k': 'key' },
                ExpressionAttributeValues: { ':previous': { S: previousKey } },
              },
            },
            { Put: this.statePut(next.log, state) },
          ],
          ...this.capacity,
        }),
      );
      return true;
    } catch (e) {
      if (
        e instanceof TransactionCanceledException &&
        e.CancellationReasons?.some((r) => r.Code === 'ConditionalCheckFailed')
      )
        return false;
      throw e;
    }
  }

  async deleteBatches(log: string, baseOffsets: readonly number[]): Promise<void> {
    for (let i = 0; i < baseOffsets.length; i += 25) {
      await this.batchDelete(
        baseOffsets
          .slice(i, i + 25)
          .map((base) => ({ DeleteRequest: { Key: { pk: { S: log }, sk: { N: String(base) } } } })),
      );
    }
  }

  async extendExpiry(log: string, baseOffsets: readonly number[], expiresAt: number): Promise<void> {
    for (const base of baseOffsets) {
      try {
        await this.client.send(
          new UpdateItemCommand({
            TableName: this.tables.log,
            Key: { pk: { S: log }, sk: { N: String(base) } },
            UpdateExpression: 'SET #x = :x',
            ConditionExpression: 'attribute_exists(sk)',
            ExpressionAttributeNames: { '#x': A.expiresAt },
            ExpressionAttributeValues: { ':x': { N: String(expiresAt) } },
          }),
        );
      } catch (e) {
        if (!(e instanceof ConditionalCheckFailedException)) throw e;
      }
    }
  }

  async getProducerState(producerId: string, log: string): Promise<ProducerState | undefined> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.tables.metadata,
        Key: marshall(metadataKeys.producer(producerId, log)),
        ConsistentRead: true,
        ...this.capacity,
      }),
    );
    this.record(out.ConsumedCapacity);
    if (out.Item === undefined) return undefined;
    const { epoch, nextSequence, recent, version, [METADATA_TABLE.timeToLive]: expiresAt } = unmarshall(out.Item);
    return { epoch, nextSequence, recent, version, ...(expiresAt === undefined ? {} : { expiresAt }) };
  }
}

function batchToItem(b: StoredBatch): Record<string, AttributeValue> {
  return {
    pk: { S: b.log },
    sk: { N: String(b.baseOffset) },
    [A.recordCount]: { N: String(b.recordCount) },
    [A.firstTimestamp]: { N: String(b.firstTimestamp) },
    [A.maxTimestamp]: { N: String(b.maxTimestamp) },
    [A.sizeBytes]: { N: String(b.sizeBytes) },
    [A.codec]: { S: b.codec },
    [A.payload]: { B: b.payload },
    [A.writerId]: { S: b.writerId },
    ...(b.appendedAt === undefined ? {} : { [A.appendedAt]: { N: String(b.appendedAt) } }),
    ...(b.expiresAt === undefined ? {} : { [A.expiresAt]: { N: String(b.expiresAt) } }),
    ...(b.previousBase === undefined ? {} : { [A.previousBase]: { N: String(b.previousBase) } }),
    ...(b.txn === undefined ? {} : { [A.txn]: { S: b.txn } }),
    ...(b.control === undefined ? {} : { [A.control]: { S: b.control } }),
    ...(b.pointer === undefined
      ? {}
      : {
          [A.pointerKey]: { S: b.pointer.key },
          [A.pointerPosition]: { N: String(b.pointer.position) },
          [A.pointerLength]: { N: String(b.pointer.length) },
          [A.pointerCrc]: { N: String(b.pointer.crc) },
        }),
    ...(b.timeMark === undefined
      ? {}
      : {
          [TIME_INDEX.sortKey.name]: {
            S: timeIndexKeys.mark(b.timeMark.chainStart, b.timeMark.maxTimestamp, b.baseOffset + b.recordCount),
          },
        }),
  };
}

function itemToBatch(item: Record<string, AttributeValue>): StoredBatch {
  return {
    log: item.pk!.S!,
    baseOffset: Number(item.sk!.N),
    recordCount: Number(item[A.recordCount]!.N),
    firstTimestamp: Number(item[A.firstTimestamp]!.N),
    maxTimestamp: Number(item[A.maxTimestamp]!.N),
    sizeBytes: Number(item[A.sizeBytes]!.N),
    codec: item[A.codec]!.S as Compression,
    payload: item[A.payload]?.B ?? new Uint8Array(0),
    writerId: item[A.writerId]!.S!,
    ...(item[A.appendedAt] === undefined ? {} : { appendedAt: Number(item[A.appendedAt]!.N) }),
    ...(item[A.expiresAt] === undefined ? {} : { expiresAt: Number(item[A.expiresAt]!.N) }),
    ...(item[A.previousBase] === undefined ? {} : { previousBase: Number(item[A.previousBase]!.N) }),
    ...(item[A.txn] === undefined ? {} : { txn: item[A.txn]!.S! }),
    ...(item[A.control] === undefined ? {} : { control: item[A.control]!.S as 'commit' | 'abort' }),
    ...(item[A.pointerKey] === undefined
      ? {}
      : {
          pointer: {
            key: item[A.pointerKey]!.S!,
            position: Number(item[A.pointerPosition]!.N),
            length: Number(item[A.pointerLength]!.N),
            crc: Number(item[A.pointerCrc]!.N),
          },
        }),
    ...(item[TIME_INDEX.sortKey.name] === undefined
      ? {}
      : { timeMark: timeIndexKeys.parseMark(item[TIME_INDEX.sortKey.name]!.S!) }),
  };
}

/** A segment record's item: with its time index key once it has a running maximum. */
function segmentItem(segment: SegmentRecord): Record<string, AttributeValue> {
  return marshall({
    ...metadataKeys.segment(segment.log, segment.base),
    ...segment,
    ...(segment.runningMaxTimestamp === undefined
      ? {}
      : { [TIME_INDEX.sortKey.name]: timeIndexKeys.segment(segment.runningMaxTimestamp, segment.end) }),
  });
}

function itemToSegment(item: Record<string, AttributeValue>): SegmentRecord {
  const { pk: _pk, sk: _sk, [TIME_INDEX.sortKey.name]: _tk, ...segment } = unmarshall(item);
  return segment as SegmentRecord;
}

function itemToTopic(item: Record<string, AttributeValue>): TopicRecord {
  const { name, topicId, config, createdAt, version } = unmarshall(item);
  return { name, topicId, config, createdAt, version };
}

/** Whether an item's TTL attribute falls at or before `by` (epoch seconds). */
function expiresBy(ttl: AttributeValue | undefined, by: number | undefined): boolean {
  return by !== undefined && ttl?.N !== undefined && Number(ttl.N) <= by;
}
