import { randomUUID } from 'node:crypto';
import { claimKeys, decodeStoredBatch, splitIntoBatches, ITEM_PAYLOAD_BUDGET, type PreparedBatch } from './batching.ts';
import {
  AppendContention,
  CorruptData,
  DuplicateSequence,
  InvalidArgument,
  InvalidTopicConfig,
  OffsetOutOfRange,
  PartitionNotFound,
  RecordTooLarge,
  TooManyRecords,
  TopicNotFound,
  isSluiceError,
} from './errors.ts';
import { partitionForKey } from './murmur2.ts';
import { logKey, type LogStore, type MetadataStore, type PartitionState, type ProducerStateWrite, type StoredBatch, type TieringStore, type TopicRecord } from './ports.ts';
import type { ObjectStore } from './tiering/objectStore.ts';
import { SegmentReader } from './tiering/segmentReader.ts';
import { segmentClaimObjects } from './tiering/tiering.ts';
import { decideProducerBatch } from './producerState.ts';
import { ClaimCheck, claimRecord, decodeClaimedValue, encodeRecord, type ConsumerRecord, type EncodedRecord } from './records.ts';
import { crc32c } from './tiering/crc32c.ts';
import { resolveTopicConfig, validateTopicName, type TopicConfig } from './topicConfig.ts';

/** Room a claim-check reference takes in a batch: the object key (about 100 bytes) and its size and checksum. */
const CLAIM_REFERENCE_BYTES = 400;

/** Most records one `append` call takes; larger inputs should be split by the caller. */
export const MAX_RECORDS_PER_APPEND = 10_000;
/** Largest `maxRecords` and `maxBytes` one read may ask for. */
export const MAX_READ_RECORDS = 10_000;
/** Largest `maxBytes` of one read: well inside Lambda's 6 MB response limit even with base64 and JSON framing. */
export const MAX_READ_BYTES = 4 * 1024 * 1024;

export interface SluiceOptions {
  readonly log: LogStore;
  readonly metadata: MetadataStore;
  /** Epoch-ms clock; tests pass a fake one. */
  readonly now?: () => number;
  readonly retry?: Partial<RetryOptions>;
  /** How long a topic's metadata is cached in this process, in ms. */
  readonly topicCacheMs?: number;
  /** Tiered storage: segment records and the object store holding segments. Without it, everything is hot. */
  readonly tiering?: { readonly store: TieringStore; readonly objects: ObjectStore };
}

export interface RetryOptions {
  /** Conditional-put attempts per batch before `AppendContention`. */
  readonly maxConflicts: number;
  /** Consecutive retries of a put whose outcome is unknown (network error, throttling), with the same writer id. */
  readonly maxUnknownOutcomeRetries: number;
  /** Upper bound of the random pause between conflicting attempts, in ms (doubles per attempt). */
  readonly maxJitterMs: number;
}

const DEFAULT_RETRY: RetryOptions = {
  maxConflicts: 200, // enough for dozens of writers on one partition; each conflict costs one failed put
  maxUnknownOutcomeRetries: 4, // SDK already retried; these cover errors it gave up on
  maxJitterMs: 50, // pauses stay short: a conflict means the tail moved, not that storage is slow
};
const DEFAULT_TOPIC_CACHE_MS = 1000; // partition increases become visible to other processes within 1 s
/**
 * How long a learned partition tail is trusted. The roller never moves batches younger than
 * MIN_HOT_RETENTION_MS (60 s), far longer than this, so a claim at a cached tail can never land
 * on an offset whose batch has left the hot tier (where `attribute_not_exists` would not see it).
 */
export const TAIL_CACHE_MS = 5_000;

export interface AppendOptions {
  /** Idempotent producer: retries of an appended batch return the original offsets. */
  readonly producer?: IdempotentProducer;
}

export interface IdempotentProducer {
  readonly id: string;
  readonly epoch: number;
  /**
   * Sequence number of this call's first record on each partition it writes to: a number when all
   * records go to one partition, or a map from partition to sequence.
   */
  readonly sequence: number | Readonly<Record<number, number>>;
}

export interface RecordMetadata {
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
}

export interface ReadOptions {
  /** At most this many records (default 500). */
  readonly maxRecords?: number;
  /** At most about this many bytes, but always at least one record (default 1 MiB). */
  readonly maxBytes?: number;
}

export interface ReadResult {
  readonly records: ConsumerRecord[];
  /** Where the next read continues. */
  readonly nextOffset: number;
  /** Offset the next appended record will get. */
  readonly highWatermark: number;
  readonly logStartOffset: number;
}

export type OffsetSpec = 'earliest' | 'latest' | { readonly timestamp: number };

export interface PartitionInfo {
  readonly partition: number;
  readonly logStartOffset: number;
  readonly highWatermark: number;
  /** Offsets below this are in S3 segments. */
  readonly tieredThrough: number;
  /** Uncompressed record bytes in DynamoDB. */
  readonly hotBytes: number;
  /** Uncompressed record bytes in S3 segments. */
  readonly tieredBytes: number;
  readonly segments: number;
}

export interface TopicDescription {
  readonly name: string;
  readonly topicId: string;
  readonly config: TopicConfig;
  readonly createdAt: number;
  readonly partitions: PartitionInfo[];
}

export interface CreateTopicOptions {
  readonly partitions?: number;
  readonly config?: Partial<TopicConfig>;
}

/**
 * The Sluice engine: topics and partitioned logs with Kafka's semantics over a storage port.
 *
 * @example
 * const sluice = new Sluice({ log: store, metadata: store });
 * await sluice.createTopic('orders', { partitions: 3 });
 * const [meta] = await sluice.append('orders', [{ key: 'user-1', value: { total: 42 } }]);
 * const { records } = await sluice.read('orders', meta.partition, meta.offset);
 */
export class Sluice {
  private readonly log: LogStore;
  private readonly metadata: MetadataStore;
  private readonly now: () => number;
  private readonly retry: RetryOptions;
  private readonly topicCacheMs: number;
  private readonly topics = new Map<string, { topic: TopicRecord; until: number }>();
  /** Last known end of each partition log and when it was learned; a hint only, corrected by conflicts. */
  private readonly tails = new Map<string, { offset: number; at: number }>();
  private readonly tiering: { readonly store: TieringStore; readonly objects: ObjectStore; readonly reader: SegmentReader } | undefined;
  private readonly sticky = new Map<string, number>();

  constructor(options: SluiceOptions) {
    this.log = options.log;
    this.metadata = options.metadata;
    this.now = options.now ?? Date.now;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.topicCacheMs = options.topicCacheMs ?? DEFAULT_TOPIC_CACHE_MS;
    this.tiering = options.tiering === undefined ? undefined : { ...options.tiering, reader: new SegmentReader(options.tiering.objects, options.tiering.store) };
  }

  // ---------------------------------------------------------------- topics

  async createTopic(name: string, options: CreateTopicOptions = {}): Promise<TopicRecord> {
    validateTopicName(name);
    if (typeof options !== 'object' || options === null) throw new InvalidArgument('options', 'options must be an object');
    const config = resolveTopicConfig({
      ...(options.config ?? {}),
      ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
    });
    const topic: TopicRecord = { name, topicId: randomUUID().replaceAll('-', ''), config, createdAt: this.now(), version: 1 };
    await this.metadata.createTopic(topic);
    this.cacheTopic(topic);
    return topic;
  }

  async listTopics(): Promise<TopicRecord[]> {
    return this.metadata.listTopics();
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    const topic = await this.topic(name, { fresh: true });
    const partitions = await mapWithLimit(range(topic.config.partitions), 16, (p) => this.partitionInfo(topic, p));
    return { name: topic.name, topicId: topic.topicId, config: topic.config, createdAt: topic.createdAt, partitions };
  }

  /**
   * Changes a topic's config. Partitions may only grow (as in Kafka, keyed records may then map
   * to other partitions than before).
   */
  async updateTopic(name: string, changes: CreateTopicOptions): Promise<TopicRecord> {
    if (typeof changes !== 'object' || changes === null) throw new InvalidArgument('changes', 'changes must be an object');
    const current = await this.topic(name, { fresh: true });
    const config = resolveTopicConfig(
      { ...(changes.config ?? {}), ...(changes.partitions === undefined ? {} : { partitions: changes.partitions }) },
      current.config,
    );
    if (config.partitions < current.config.partitions) {
      throw new InvalidTopicConfig(
        'partitions',
        `partitions can only grow: ${name} has ${current.config.partitions}, asked for ${config.partitions}`,
      );
    }
    const next: TopicRecord = { ...current, config, version: current.version + 1 };
    await this.metadata.updateTopic(next);
    this.cacheTopic(next);
    return next;
  }

  /** Deletes a topic and its records. A topic created again later under the same name starts empty. */
  async deleteTopic(name: string): Promise<void> {
    const topic = await this.topic(name, { fresh: true });
    await this.metadata.deleteTopic(name, topic.topicId);
    this.topics.delete(name);
    // The log keys carry the topic id, so leftovers of a crash here are unreachable, never read.
    await mapWithLimit(range(topic.config.partitions), 8, async (p) => {
      const log = logKey(topic.topicId, p);
      if (this.tiering !== undefined) await this.tiering.objects.delete(await this.hotClaims(log));
      await this.log.deleteLog(log);
      await this.dropAllSegments(log);
    });
  }

  /** Claim-check keys referenced from a partition's hot batches. */
  private async hotClaims(log: string): Promise<string[]> {
    const keys: string[] = [];
    for (let offset = 0; ; ) {
      const page = await this.log.readBatches(log, offset, 100);
      keys.push(...page.batches.flatMap(claimKeys));
      const last = page.batches.at(-1);
      if (page.reachedEnd || last === undefined) return keys;
      offset = last.baseOffset + last.recordCount;
    }
  }

  /** Removes a deleted partition's segments: objects first, then their records. */
  private async dropAllSegments(log: string): Promise<void> {
    if (this.tiering === undefined) return;
    for (;;) {
      const segments = (await this.tiering.store.listSegments(log)).slice(0, 90);
      if (segments.length === 0) return;
      for (const s of segments) await this.tiering.objects.delete([s.key, ...(await segmentClaimObjects(this.tiering.objects, s))]);
      const state = await this.metadata.getPartitionState(log);
      await this.tiering.store.dropSegments(log, segments.map((s) => s.base), { ...state, version: state.version + 1 });
    }
  }

  // ---------------------------------------------------------------- append

  /**
   * Appends records and returns, in input order, the partition, offset and timestamp of each.
   *
   * Records for one partition are written as record batches, each claimed with one conditional
   * put at the partition's expected tail; a writer that loses a race learns the real tail from
   * the conflicting batch and tries again. Bad input is rejected before anything is written.
   */
  async append(topicName: string, records: readonly unknown[], options: AppendOptions = {}): Promise<RecordMetadata[]> {
    if (!Array.isArray(records)) throw new InvalidArgument('records', 'records must be an array');
    if (records.length === 0) throw new InvalidArgument('records', 'an append needs at least one record');
    if (records.length > MAX_RECORDS_PER_APPEND) throw new TooManyRecords(records.length, MAX_RECORDS_PER_APPEND);
    const producer = options.producer === undefined ? undefined : validateProducer(options.producer);
    const topic = await this.topic(topicName);
    const now = this.now();
    const encoded = records.map((r, i) => encodeRecord(r, i, now));
    encoded.forEach((r, i) => {
      if (r.body.length > topic.config.maxRecordBytes) throw new RecordTooLarge(i, r.body.length, topic.config.maxRecordBytes, 'maxRecordBytes');
      if (r.body.length <= ITEM_PAYLOAD_BUDGET) return;
      // Too big for an item: its value goes to S3 as a claim check, if tiered storage is configured
      // and what stays in the batch (timestamp, key, headers, the reference) fits.
      const stays = r.parts[0].length + r.parts[2].length + CLAIM_REFERENCE_BYTES;
      if (this.tiering === undefined || stays > ITEM_PAYLOAD_BUDGET) throw new RecordTooLarge(i, r.body.length, ITEM_PAYLOAD_BUDGET, 'itemPayloadBytes');
    });

    const byPartition = await this.assignPartitions(topic, encoded);
    const sequences = producer === undefined ? undefined : producerSequences(producer, [...byPartition.keys()]);
    const results = new Array<RecordMetadata>(records.length);
    await Promise.all(
      [...byPartition].map(async ([partition, indexes]) => {
        const metas = await this.appendToPartition(
          topic,
          partition,
          indexes.map((i) => encoded[i]!),
          producer === undefined ? undefined : { ...producer, firstSequence: sequences!.get(partition)! },
        );
        indexes.forEach((recordIndex, k) => (results[recordIndex] = metas[k]!));
      }),
    );
    return results;
  }

  private async assignPartitions(topic: TopicRecord, encoded: readonly EncodedRecord[]): Promise<Map<number, number[]>> {
    let partitions = topic.config.partitions;
    if (encoded.some((r) => r.partition !== undefined && r.partition >= partitions)) {
      partitions = (await this.topic(topic.name, { fresh: true })).config.partitions; // maybe just grown elsewhere
    }
    // Kafka's sticky partitioner: records without key or partition go together to one partition per call.
    const stickyStart = this.sticky.get(topic.name) ?? Math.floor(Math.random() * partitions);
    this.sticky.set(topic.name, stickyStart + 1);
    const byPartition = new Map<number, number[]>();
    encoded.forEach((r, i) => {
      let partition: number;
      if (r.partition !== undefined) {
        if (r.partition >= partitions) throw new PartitionNotFound(topic.name, r.partition, partitions);
        partition = r.partition;
      } else if (r.keyBytes !== null) {
        partition = partitionForKey(r.keyBytes, partitions);
      } else {
        partition = stickyStart % partitions;
      }
      const list = byPartition.get(partition) ?? [];
      list.push(i);
      byPartition.set(partition, list);
    });
    return byPartition;
  }

  private async appendToPartition(
    topic: TopicRecord,
    partition: number,
    input: readonly EncodedRecord[],
    producer: (IdempotentProducer & { firstSequence: number }) | undefined,
  ): Promise<RecordMetadata[]> {
    let records = input;
    const log = logKey(topic.topicId, partition);
    const out: RecordMetadata[] = [];
    let sequence = producer?.firstSequence ?? 0;
    records = await Promise.all(input.map((r) => (r.body.length > ITEM_PAYLOAD_BUDGET ? this.claimCheck(topic, partition, r) : r)));
    // Batches of one call go in order: batch i+1 is only attempted once batch i is durable.
    for (const batch of splitIntoBatches(records, topic.config.compression)) {
      if (producer === undefined) {
        const baseOffset = (await this.claim(topic, partition, log, batch)) as number; // no producer state: always a number
        batch.records.forEach((r, k) => out.push({ partition, offset: baseOffset + k, timestamp: r.timestamp }));
      } else {
        out.push(...(await this.claimIdempotent(topic, partition, log, batch, producer, sequence)));
      }
      sequence += batch.records.length;
    }
    return out;
  }

  private async claimIdempotent(
    topic: TopicRecord,
    partition: number,
    log: string,
    batch: PreparedBatch,
    producer: IdempotentProducer,
    firstSequence: number,
  ): Promise<RecordMetadata[]> {
    for (let attempt = 0; attempt < this.retry.maxConflicts; attempt++) {
      const state = await this.metadata.getProducerState(producer.id, log);
      const decision = decideProducerBatch(producer.id, partition, state, producer.epoch, firstSequence, batch.records.length);
      if (decision.kind === 'duplicate') {
        // A retry: answer with the original offsets and timestamps, read back from the log.
        // The offsets are known; the timestamps come from the stored records where they still exist
        // (compaction may have removed some; then the retried record's own timestamp stands in).
        const state = await this.metadata.getPartitionState(log);
        if (decision.baseOffset < state.logStartOffset) throw new DuplicateSequence(producer.id, partition, firstSequence); // retention removed it
        const stored = new Map<number, number>();
        for (const b of (await this.batchesFrom(log, state, decision.baseOffset, batch.records.length, MAX_READ_BYTES)) ?? []) {
          for (const r of decodeBatch(b)) stored.set(r.offset, r.timestamp);
        }
        return batch.records.map((r, k) => ({ partition, offset: decision.baseOffset + k, timestamp: stored.get(decision.baseOffset + k) ?? r.timestamp }));
      }
      const written = await this.claim(topic, partition, log, batch, (baseOffset) => ({
        producerId: producer.id,
        log,
        expectedVersion: state?.version,
        next: decision.nextState(baseOffset),
      }));
      if (written !== 'producer-state-changed') {
        return batch.records.map((r, k) => ({ partition, offset: written + k, timestamp: r.timestamp }));
      }
    }
    throw new AppendContention(topic.name, partition, this.retry.maxConflicts);
  }

  /**
   * Claims the next offsets of a partition for one batch with conditional puts and returns the
   * batch's base offset; with `producerWrite`, returns 'producer-state-changed' when the producer
   * state moved under us (the caller re-reads it and decides again).
   */
  private async claim(
    topic: TopicRecord,
    partition: number,
    log: string,
    batch: PreparedBatch,
    producerWrite?: (baseOffset: number) => ProducerStateWrite,
  ): Promise<number | 'producer-state-changed'> {
    const writerId = randomUUID();
    const cached = this.tails.get(log);
    let baseOffset = cached !== undefined && cached.at + TAIL_CACHE_MS > this.now() ? cached.offset : await this.tailOf(log);
    let unknownOutcomes = 0;
    for (let conflicts = 0; conflicts < this.retry.maxConflicts; ) {
      const item: StoredBatch = {
        log,
        baseOffset,
        recordCount: batch.records.length,
        firstTimestamp: batch.firstTimestamp,
        maxTimestamp: batch.maxTimestamp,
        sizeBytes: batch.sizeBytes,
        codec: topic.config.compression,
        payload: batch.payload,
        writerId,
        appendedAt: this.now(),
      };
      let result;
      try {
        result = await this.log.putBatch(item, producerWrite?.(baseOffset));
      } catch (e) {
        // Unknown outcome: the write may have landed. Retry the same put; if it did land, the
        // conflict shows our own writer id and counts as success, so nothing is written twice.
        if (isSluiceError(e) || ++unknownOutcomes > this.retry.maxUnknownOutcomeRetries) throw e;
        await sleep(Math.random() * this.retry.maxJitterMs * unknownOutcomes);
        continue;
      }
      unknownOutcomes = 0; // the bound is on consecutive unknown outcomes
      if (result.outcome === 'offset-taken') {
        const existing = result.existing ?? (await this.log.readBatches(log, baseOffset, 1)).batches[0];
        if (existing?.writerId === writerId) result = { outcome: 'written' as const };
        else {
          conflicts++;
          // Jump to the end of the batch that beat us; after repeated losses ask for the real tail.
          baseOffset = conflicts % 4 === 0 || existing === undefined ? await this.tailOf(log) : existing.baseOffset + existing.recordCount;
          if (conflicts > 2) await sleep(Math.random() * Math.min(this.retry.maxJitterMs, 2 ** conflicts));
          continue;
        }
      }
      if (result.outcome === 'producer-state-changed') return result.outcome;
      this.tails.set(log, { offset: baseOffset + item.recordCount, at: this.now() });
      return baseOffset;
    }
    throw new AppendContention(topic.name, partition, this.retry.maxConflicts);
  }

  private async tailOf(log: string): Promise<number> {
    const last = await this.log.lastBatch(log);
    return last === undefined ? 0 : last.baseOffset + last.recordCount;
  }

  // ---------------------------------------------------------------- read

  /**
   * Reads records of one partition from `fromOffset`. Reading at the high watermark returns no
   * records; an offset below the log start or above the high watermark throws `OffsetOutOfRange`
   * carrying both bounds.
   */
  async read(topicName: string, partition: number, fromOffset: number, options: ReadOptions = {}): Promise<ReadResult> {
    const maxRecords = integerOption('maxRecords', options.maxRecords, 500, 1, MAX_READ_RECORDS);
    const maxBytes = integerOption('maxBytes', options.maxBytes, 1024 * 1024, 1, MAX_READ_BYTES);
    const offset = integerOption('offset', fromOffset, 0, 0, Number.MAX_SAFE_INTEGER);
    const topic = await this.topic(topicName);
    const log = await this.partitionLog(topic, partition);
    // An empty answer below the high watermark means a writer appended between the batch query and
    // the tail query: look again, so that no records always means the reader is at the end.
    for (let attempt = 1; ; attempt++) {
      let result: ReadResult;
      try {
        result = await this.readOnce(topic, partition, log, offset, maxRecords, maxBytes);
      } catch (e) {
        // A claim check removed by retention or compaction after its batch was read: read again
        // (then the offset is below the log start, or the record was superseded).
        if (attempt < 5 && isSluiceError(e, 'CorruptData') && /object is missing/.test(e.message)) continue;
        throw e;
      }
      if (result.records.length > 0 || result.highWatermark <= offset || attempt >= 5) return result;
    }
  }

  private async readOnce(topic: TopicRecord, partition: number, log: string, offset: number, maxRecords: number, maxBytes: number): Promise<ReadResult> {
    // State and hot page in parallel: the checks below (the page must contain the offset and have
    // no holes, else the state is read again) make either order safe against a concurrent roll.
    const [firstState, page] = await Promise.all([this.metadata.getPartitionState(log), this.log.readBatches(log, offset, Math.min(100, maxRecords))]);
    let state = firstState;
    let batches: StoredBatch[] | undefined;
    let highWatermark: number | undefined;
    if (offset >= state.tieredThrough) {
      const first = page.batches[0];
      if (first === undefined || (first.baseOffset <= offset && offset < first.baseOffset + first.recordCount)) {
        // A roller deleting hot copies (in any order) can leave holes: stop at the first one; the
        // next read finds the moved batches in S3.
        batches = contiguousPrefix(page.batches);
        const last = batches.at(-1);
        if (page.reachedEnd && last !== undefined && batches.length === page.batches.length) highWatermark = last.baseOffset + last.recordCount;
      } else {
        state = await this.metadata.getPartitionState(log); // rolled to S3 while we looked: read it there
      }
    }
    highWatermark ??= await this.tailOf(log);
    if (offset < state.logStartOffset || offset > highWatermark) {
      throw new OffsetOutOfRange(topic.name, partition, offset, state.logStartOffset, highWatermark);
    }
    batches ??= await this.batchesFrom(log, state, offset, maxRecords, maxBytes);
    if (batches === undefined) {
      const now = await this.metadata.getPartitionState(log); // retention removed the segment meanwhile
      throw new OffsetOutOfRange(topic.name, partition, offset, now.logStartOffset, highWatermark);
    }
    const records: ConsumerRecord[] = [];
    let bytes = 0;
    outer: for (const batch of batches) {
      const perRecord = batch.sizeBytes / batch.recordCount;
      for (const record of decodeBatch(batch)) {
        if (record.offset < offset) continue;
        const size = record.value instanceof ClaimCheck ? record.value.size : perRecord; // a claimed value counts whole
        if (records.length >= maxRecords || (records.length > 0 && bytes + size > maxBytes)) break outer;
        records.push(record);
        bytes += size;
      }
    }
    const nextOffset = records.length > 0 ? records.at(-1)!.offset + 1 : offset;
    return { records: await this.resolveClaims(records), nextOffset, highWatermark, logStartOffset: state.logStartOffset };
  }

  /**
   * The offset for `earliest` (log start), `latest` (high watermark), or `{ timestamp }`: the
   * earliest offset whose timestamp is at or after it, or the high watermark when none is.
   */
  async offsetFor(topicName: string, partition: number, spec: OffsetSpec): Promise<number> {
    const topic = await this.topic(topicName);
    const log = await this.partitionLog(topic, partition);
    if (spec === 'earliest') return (await this.metadata.getPartitionState(log)).logStartOffset;
    if (spec === 'latest') return this.tailOf(log);
    if (typeof spec !== 'object' || spec === null || !Number.isSafeInteger(spec.timestamp)) {
      throw new InvalidArgument('at', 'offset spec must be "earliest", "latest" or { timestamp: epoch ms }');
    }
    const state = await this.metadata.getPartitionState(log);
    const target = spec.timestamp;
    // Timestamps are create times and need not grow with offsets, so candidates are found by the
    // batch's largest timestamp, in offset order, and then checked record by record.
    // @debt: a time index would make this O(log n) instead of a scan of batch headers.
    const firstMatch = (batch: StoredBatch): number | undefined =>
      decodeBatch(batch).find((r) => r.timestamp >= target && r.offset >= state.logStartOffset)?.offset;
    if (this.tiering !== undefined && state.tieredThrough > state.logStartOffset) {
      for (const { index } of await this.tiering.reader.headers(log)) {
        for (const entry of index) {
          if (entry.maxTimestamp < target || entry.baseOffset + entry.recordCount <= state.logStartOffset) continue;
          const [batch] = (await this.tiering.reader.read(log, entry.baseOffset, 1, 1)) ?? [];
          const found = batch === undefined ? undefined : firstMatch(batch);
          if (found !== undefined) return found;
        }
      }
    }
    for (let from = Math.max(state.logStartOffset, state.tieredThrough); ; ) {
      const page = await this.log.scanBatchHeaders(log, from, 100);
      for (const header of page.batches) {
        if (header.maxTimestamp < target || header.baseOffset + header.recordCount <= state.logStartOffset) continue;
        const [batch] = (await this.log.readBatches(log, header.baseOffset, 1)).batches;
        const found = batch === undefined ? undefined : firstMatch(batch);
        if (found !== undefined) return found;
      }
      const last = page.batches.at(-1);
      if (page.reachedEnd || last === undefined) return last === undefined ? this.tailOf(log) : last.baseOffset + last.recordCount;
      from = last.baseOffset + last.recordCount;
    }
  }


  /**
   * Partition counts of the topics that exist (others are left out), from the topic cache. The
   * object has no prototype, so topic names such as `constructor` or `__proto__` are plain keys.
   */
  async partitionCounts(topics: readonly string[]): Promise<Record<string, number>> {
    const out = Object.create(null) as Record<string, number>;
    for (const [name, topic] of await this.existingTopics(topics)) out[name] = topic.config.partitions;
    return out;
  }

  /** Topic ids (one per incarnation of a name) of the topics that exist. */
  async topicIds(topics: readonly string[]): Promise<Map<string, string>> {
    return new Map([...(await this.existingTopics(topics))].map(([name, topic]) => [name, topic.topicId]));
  }

  private async existingTopics(topics: readonly string[]): Promise<Map<string, TopicRecord>> {
    const out = new Map<string, TopicRecord>();
    await Promise.all(
      [...new Set(topics)].map(async (name) => {
        try {
          out.set(name, await this.topic(name));
        } catch (e) {
          if (!isSluiceError(e, 'TopicNotFound')) throw e;
        }
      }),
    );
    return out;
  }

  /**
   * Deletes the records of a partition before an offset (Kafka's deleteRecords): the log start
   * moves at once, and retention drops the segments wholly below it on its next run.
   */
  async deleteRecords(topicName: string, partition: number, beforeOffset: number): Promise<{ logStartOffset: number }> {
    const topic = await this.topic(topicName);
    const log = await this.partitionLog(topic, partition);
    const before = integerOption('beforeOffset', beforeOffset, undefined, 0, Number.MAX_SAFE_INTEGER);
    if (this.tiering === undefined) throw new InvalidArgument('beforeOffset', 'deleting records needs tiered storage to be configured');
    for (let attempt = 0; attempt < this.retry.maxConflicts; attempt++) {
      const state = await this.metadata.getPartitionState(log);
      const highWatermark = await this.tailOf(log);
      if (before > highWatermark) throw new OffsetOutOfRange(topic.name, partition, before, state.logStartOffset, highWatermark);
      if (before <= state.logStartOffset) return { logStartOffset: state.logStartOffset };
      if (await this.tiering.store.setPartitionState(log, { ...state, logStartOffset: before, version: state.version + 1 })) return { logStartOffset: before };
    }
    throw new AppendContention(topic.name, partition, this.retry.maxConflicts);
  }

  // ---------------------------------------------------------------- helpers

  /**
   * Writes a large record's value to S3 under a new key and returns the record with a reference in
   * its place. The object is written before the batch that points at it; an append that then
   * fails leaves an unreferenced object behind, never a reference to nothing.
   */
  private async claimCheck(topic: TopicRecord, partition: number, record: EncodedRecord): Promise<EncodedRecord> {
    const value = record.parts[1];
    const claim = new ClaimCheck(`claims/${topic.name}/${partition}/${randomUUID()}`, value.length, crc32c(value));
    await this.tiering!.objects.put(claim.key, value);
    return { ...record, body: claimRecord(record, claim).body };
  }

  /** Replaces claim checks in decoded records with their values, fetched and checked. */
  private async resolveClaims(records: ConsumerRecord[]): Promise<ConsumerRecord[]> {
    if (!records.some((r) => r.value instanceof ClaimCheck)) return records;
    return Promise.all(
      records.map(async (r) => {
        if (!(r.value instanceof ClaimCheck)) return r;
        const claim = r.value;
        if (this.tiering === undefined) throw new CorruptData(claim.key, 'a claim-checked record needs tiered storage configured to be read');
        const bytes = await this.tiering.objects.getRange(claim.key, 0, claim.size - 1);
        if (bytes.length !== claim.size || crc32c(bytes) !== claim.crc) throw new CorruptData(claim.key, `claim check of offset ${r.offset} failed its size or CRC32C check`);
        return { ...r, value: decodeClaimedValue(bytes) };
      }),
    );
  }

  /**
   * Batches from the one containing `offset`: from S3 segments below `tieredThrough`, else from
   * the hot tier. Undefined when a segment the state pointed at has gone (retention ran).
   */
  private async batchesFrom(log: string, state: PartitionState, offset: number, maxRecords: number, maxBytes: number): Promise<StoredBatch[] | undefined> {
    if (offset < state.tieredThrough && this.tiering !== undefined) {
      try {
        const tiered = await this.tiering.reader.read(log, offset, maxRecords, maxBytes);
        if (tiered?.length !== 0) return tiered;
        // Nothing in the segments after the offset (compacted away, or retention dropped them since
        // the state was read): look at the state again before going on in the hot tier.
        const now = await this.metadata.getPartitionState(log);
        if (offset < now.logStartOffset) return undefined;
        const hot = contiguousPrefix((await this.log.readBatches(log, now.tieredThrough, Math.min(100, maxRecords))).batches);
        // The hot tier must start where the segments end, else a roll landed meanwhile: answer nothing, read again.
        return hot.length === 0 || hot[0]!.baseOffset <= now.tieredThrough ? hot : [];
      } catch (e) {
        if (isSluiceError(e, 'CorruptData') && /object is missing/.test(e.message)) {
          const now = await this.metadata.getPartitionState(log);
          if (offset < now.logStartOffset) return undefined;
        }
        throw e;
      }
    }
    return (await this.log.readBatches(log, offset, Math.min(100, maxRecords))).batches;
  }

  private async partitionInfo(topic: TopicRecord, partition: number): Promise<PartitionInfo> {
    const log = logKey(topic.topicId, partition);
    const [state, highWatermark, segments, hotBytes] = await Promise.all([
      this.metadata.getPartitionState(log),
      this.tailOf(log),
      this.tiering?.store.listSegments(log) ?? [],
      this.hotBytes(log),
    ]);
    return {
      partition,
      logStartOffset: state.logStartOffset,
      highWatermark,
      tieredThrough: state.tieredThrough,
      hotBytes,
      tieredBytes: segments.reduce((n, seg) => n + seg.sizeBytes, 0),
      segments: segments.length,
    };
  }

  private async hotBytes(log: string): Promise<number> {
    let total = 0;
    for (let offset = 0; ; ) {
      const page = await this.log.scanBatchHeaders(log, offset, 1000);
      total += page.batches.filter((b) => b.baseOffset >= offset).reduce((n, b) => n + b.sizeBytes, 0);
      const last = page.batches.at(-1);
      if (page.reachedEnd || last === undefined) return total;
      offset = last.baseOffset + last.recordCount;
    }
  }

  private async partitionLog(topic: TopicRecord, partition: number): Promise<string> {
    if (!Number.isSafeInteger(partition) || partition < 0) {
      throw new InvalidArgument('partition', 'partition must be a non-negative integer');
    }
    if (partition >= topic.config.partitions) {
      const fresh = await this.topic(topic.name, { fresh: true });
      if (partition >= fresh.config.partitions) throw new PartitionNotFound(topic.name, partition, fresh.config.partitions);
    }
    return logKey(topic.topicId, partition);
  }

  private async topic(name: string, { fresh = false } = {}): Promise<TopicRecord> {
    validateTopicName(name);
    const cached = this.topics.get(name);
    if (!fresh && cached !== undefined && cached.until > this.now()) return cached.topic;
    const topic = await this.metadata.getTopic(name);
    if (topic === undefined) {
      this.topics.delete(name);
      throw new TopicNotFound(name);
    }
    this.cacheTopic(topic);
    return topic;
  }

  private cacheTopic(topic: TopicRecord): void {
    this.topics.set(topic.name, { topic, until: this.now() + this.topicCacheMs });
  }
}

const decodeBatch = decodeStoredBatch;

/** Batches up to the first break in offsets (a batch not starting where the previous ended). */
function contiguousPrefix(batches: StoredBatch[]): StoredBatch[] {
  for (let i = 1; i < batches.length; i++) {
    if (batches[i]!.baseOffset !== batches[i - 1]!.baseOffset + batches[i - 1]!.recordCount) return batches.slice(0, i);
  }
  return batches;
}

function validateProducer(producer: unknown): IdempotentProducer {
  const p = producer as Partial<IdempotentProducer> | null;
  if (typeof p !== 'object' || p === null) throw new InvalidArgument('producer', 'producer must be { id, epoch, sequence }');
  if (typeof p.id !== 'string' || p.id.length === 0 || p.id.length > 256) {
    throw new InvalidArgument('producer.id', 'producer.id must be a string of 1 to 256 characters');
  }
  integerOption('producer.epoch', p.epoch, undefined, 0, 2 ** 31 - 1);
  const seqs = typeof p.sequence === 'number' ? [p.sequence] : typeof p.sequence === 'object' && p.sequence !== null ? Object.values(p.sequence) : [undefined];
  for (const s of seqs) integerOption('producer.sequence', s, undefined, 0, 2 ** 31 - 1);
  return p as IdempotentProducer;
}

function producerSequences(producer: IdempotentProducer, partitions: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const partition of partitions) {
    const seq = typeof producer.sequence === 'number' ? producer.sequence : producer.sequence[partition];
    if (seq === undefined || (typeof producer.sequence === 'number' && partitions.length > 1)) {
      throw new InvalidArgument(
        'producer.sequence',
        'give producer.sequence as { partition: sequence } for every partition this append writes to',
      );
    }
    out.set(partition, seq);
  }
  return out;
}

function integerOption(name: string, value: unknown, fallback: number | undefined, min: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) {
    throw new InvalidArgument(name, `${name} must be an integer from ${min} to ${max}`);
  }
  return v as number;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

async function mapWithLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
