import { randomUUID } from 'node:crypto';
import { mapWithLimit, range } from '../async.ts';
import { AppendContention, InvalidArgument, OffsetOutOfRange } from '../errors.ts';
import type { ConsumerRecord } from './records.ts';
import {
  type AtomicOutcome,
  type AtomicPart,
  type AtomicWriter,
  type LogStore,
  type MetadataStore,
  type TieringStore,
  type TopicRecord,
} from '../ports.ts';
import type { ObjectStore } from '../tiering/objectStore.ts';
import { SegmentReader } from '../tiering/segmentReader.ts';
import {
  Appender,
  DEFAULT_RETRY,
  type AtomicBatch,
  type AppendOptions,
  type RecordMetadata,
  type RetryOptions,
} from './append.ts';
import { ClaimChecks } from './claimChecks.ts';
import { ObjectBatches, withExpressBatches } from './objectBatches.ts';
import type { TopicConfig } from './topicConfig.ts';
import { describePartition, type DescribeOptions, type TopicDescription, type TopicSummary } from './describe.ts';
import { integerOption } from './integerOption.ts';
import { TxnOutcomes } from '../transactions/outcomes.ts';
import type { TransactionStore } from '../transactions/transactionStore.ts';
import { PartitionReader, type OffsetSpec, type ReadOptions, type ReadResult } from './read.ts';
import { DEFAULT_HOT_COPY_MARGIN_MS, hotCopyExpiry } from './expiry.ts';
import { GapFiller } from './gaps.ts';
import { PartitionTails } from './tails.ts';
import { TopicCatalog, type CreateTopicOptions } from './topics.ts';

export {
  MAX_RECORDS_PER_APPEND,
  type AtomicBatch,
  type AtomicRecordMetadata,
  type AppendOptions,
  type RecordMetadata,
  type RetryOptions,
} from './append.ts';
export type { DescribeOptions, PartitionInfo, TopicDescription, TopicSummary } from './describe.ts';
export type { IdempotentProducer } from './idempotentProducer.ts';
export {
  MAX_READ_BYTES,
  MAX_READ_RECORDS,
  isolationOption,
  type Isolation,
  type OffsetSpec,
  type ReadOptions,
  type ReadResult,
} from './read.ts';
export type { CreateTopicOptions } from './topics.ts';

export interface SluiceOptions {
  readonly log: LogStore;
  readonly metadata: MetadataStore;
  /** Epoch-ms clock; tests pass a fake one. */
  readonly now?: () => number;
  readonly retry?: Partial<RetryOptions>;
  /** How long a topic's metadata is cached in this process, in ms. */
  readonly topicCacheMs?: number;
  /**
   * Config for topics created without those keys, as a Kafka broker’s topic defaults
   * (`log.retention.ms` …): e.g. `{ storage: 's3' }` makes S3-backed topics the default. Checked
   * as a topic’s config is. @default DEFAULT_TOPIC_CONFIG
   */
  readonly topicDefaults?: Partial<TopicConfig>;
  /**
   * Tiered storage: segment records and the object store holding segments (and the batch objects
   * of `storage: "s3"` topics). `expressObjects`, an S3 Express One Zone directory bucket, holds
   * the batch objects of `storage: "s3-express"` topics; without it such topics are refused.
   * Without tiering, everything is hot.
   */
  readonly tiering?: {
    readonly store: TieringStore;
    readonly objects: ObjectStore;
    readonly expressObjects?: ObjectStore;
  };
  /**
   * With tiering, hot copies get a DynamoDB TTL this long after the topic's hot retention, so
   * rolled copies expire for free (see `hotCopyExpiry`). @default DEFAULT_HOT_COPY_MARGIN_MS (24 h)
   */
  readonly hotCopyMarginMs?: number;
  /**
   * Writes several stores' items in one transaction (the adapter's `AtomicWriter`): what
   * transactions, the outbox and the event store append with. Without it they are unavailable.
   */
  readonly atomic?: AtomicWriter;
  /**
   * Where transactions keep their state (core/transactions): with `atomic`, `read_committed`
   * reads resolve the outcomes of the transactions whose batches they meet.
   */
  readonly transactions?: TransactionStore;
}

const DEFAULT_TOPIC_CACHE_MS = 1000; // partition increases become visible to other processes within 1 s

/**
 * The Sluice engine: topics and partitioned logs with Kafka's semantics over a storage port. It
 * composes the log's parts: the topic catalog (`topics.ts`), appends (`append.ts`), reads
 * (`read.ts`), claim checks (`claimChecks.ts`), describe (`describe.ts`) and deletion
 * (`deletion.ts`).
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
  private readonly retry: RetryOptions;
  private readonly topics: TopicCatalog;
  private readonly tails: PartitionTails;
  private readonly tiering: { readonly store: TieringStore; readonly objects: ObjectStore } | undefined;
  private readonly reader: PartitionReader;
  private readonly appender: Appender;
  private readonly atomic: AtomicWriter | undefined;
  private readonly transactionStore: TransactionStore | undefined;
  /** Outcomes of multi-request transactions, when transactions are configured. */
  readonly txnOutcomes: TxnOutcomes | undefined;

  constructor(options: SluiceOptions) {
    const now = options.now ?? Date.now;
    // With an object store, batches of `storage: "s3"` topics keep their bytes there, and reads
    // resolve them, for the batches they decode only (objectBatches.ts).
    const objects =
      options.tiering === undefined
        ? undefined
        : withExpressBatches(options.tiering.objects, options.tiering.expressObjects);
    const objectBatches = objects === undefined ? undefined : new ObjectBatches({ objects, now });
    const log = options.log;
    this.log = log;
    this.metadata = options.metadata;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.topics = new TopicCatalog(
      options.metadata,
      now,
      options.topicCacheMs ?? DEFAULT_TOPIC_CACHE_MS,
      options.topicDefaults,
      options.tiering?.expressObjects === undefined ? ['s3-express'] : [],
    );
    this.tails = new PartitionTails(log, options.metadata);
    this.tiering = options.tiering;
    this.atomic = options.atomic;
    this.transactionStore = options.transactions;
    this.txnOutcomes =
      options.transactions === undefined || options.atomic === undefined
        ? undefined
        : new TxnOutcomes({ store: options.transactions, writer: options.atomic, now });
    const claimChecks = new ClaimChecks(options.tiering?.objects);
    const segments =
      options.tiering === undefined ? undefined : new SegmentReader(options.tiering.objects, options.tiering.store);
    const hotCopyMarginMs =
      options.tiering === undefined ? undefined : (options.hotCopyMarginMs ?? DEFAULT_HOT_COPY_MARGIN_MS);
    const gaps = new GapFiller({
      log,
      now,
      expiresAt: (topic, appendedAt) =>
        hotCopyMarginMs === undefined ? undefined : hotCopyExpiry(topic, appendedAt, hotCopyMarginMs),
    });
    const parts = { log, metadata: options.metadata, topics: this.topics, tails: this.tails, claimChecks };
    this.reader = new PartitionReader({
      ...parts,
      segments,
      gaps,
      txns: () => this.txnOutcomes,
      ...(objectBatches === undefined ? {} : { resolve: (batches) => objectBatches.resolve(batches) }),
    });
    this.appender = new Appender({
      ...parts,
      reader: this.reader,
      now,
      retry: this.retry,
      hotCopyMarginMs,
      ...(objectBatches === undefined ? {} : { objectBatches }),
    });
  }

  // ---------------------------------------------------------------- topics

  createTopic(name: string, options: CreateTopicOptions = {}): Promise<TopicRecord> {
    return this.topics.create(name, options);
  }

  listTopics(): Promise<TopicRecord[]> {
    return this.topics.list();
  }

  /**
   * The topic's config and, per partition, its offsets and segment figures: a fixed number of
   * reads per partition, whatever its history (see `DescribeOptions` for less, or hot bytes too).
   */
  describeTopic(name: string, options: DescribeOptions & { readonly offsets: false }): Promise<TopicSummary>;
  describeTopic(name: string, options?: DescribeOptions): Promise<TopicDescription>;
  async describeTopic(name: string, options: DescribeOptions = {}): Promise<TopicSummary | TopicDescription> {
    if (typeof options !== 'object' || options === null)
      throw new InvalidArgument('options', 'options must be an object');
    const topic = await this.topics.get(name, { fresh: true });
    const described = { name: topic.name, topicId: topic.topicId, config: topic.config, createdAt: topic.createdAt };
    if (options.offsets === false) return described;
    const stores = {
      log: this.log,
      metadata: this.metadata,
      ...(this.transactionStore === undefined || this.txnOutcomes === undefined
        ? {}
        : { transactions: { store: this.transactionStore, outcomes: this.txnOutcomes } }),
    };
    const partitions = await mapWithLimit(range(topic.config.partitions), 16, (p) =>
      describePartition(stores, topic, p, options.sizes === true),
    );
    return { ...described, partitions };
  }

  /**
   * Changes a topic's config. Partitions may only grow (as in Kafka, keyed records may then map
   * to other partitions than before).
   */
  updateTopic(name: string, changes: CreateTopicOptions): Promise<TopicRecord> {
    return this.topics.update(name, changes);
  }

  /**
   * Deletes a topic in one write, whatever its size: the name is free at once (a topic created
   * again under it starts empty), and the roller removes the records, segments and claim checks
   * (`Tiering.purgeDeletedTopics`). Appends from processes that still cache the topic (for up to
   * `topicCacheMs`) may be acknowledged meanwhile; the purge removes them too.
   */
  async deleteTopic(name: string): Promise<void> {
    const topic = await this.topics.get(name, { fresh: true });
    await this.topics.delete(topic);
  }

  /**
   * Partition counts of the topics that exist (others are left out), from the topic cache. The
   * object has no prototype, so topic names such as `constructor` or `__proto__` are plain keys.
   */
  async partitionCounts(topics: readonly string[]): Promise<Record<string, number>> {
    const out = Object.create(null) as Record<string, number>;
    for (const [name, topic] of await this.topics.existing(topics)) out[name] = topic.config.partitions;
    return out;
  }

  /** Topic ids (one per incarnation of a name) of the topics that exist. */
  async topicIds(topics: readonly string[]): Promise<Map<string, string>> {
    return new Map([...(await this.topics.existing(topics))].map(([name, topic]) => [name, topic.topicId]));
  }

  // ---------------------------------------------------------------- records

  /**
   * Appends records and returns, in input order, the partition, offset and timestamp of each.
   *
   * Records for one partition are written as record batches, in order, each at offsets reserved
   * from the partition's sequencer (an atomic counter) with one conditional put. Bad input is
   * rejected before anything is written.
   */
  append(topicName: string, records: readonly unknown[], options: AppendOptions = {}): Promise<RecordMetadata[]> {
    return this.appender.append(topicName, records, options);
  }

  /**
   * Appends records to several topics and partitions, and writes `extra` parts (a transaction's
   * state, offsets a group commits, the caller's own rows), in one atomic write: readers see all
   * of it or none. See `Appender.appendAtomically`.
   */
  appendAtomically(
    appends: readonly { readonly topic: string; readonly records: readonly unknown[] }[],
    extra: (batches: readonly AtomicBatch[]) => readonly AtomicPart[],
    options: { readonly txn?: string } = {},
  ): ReturnType<Appender['appendAtomically']> {
    if (this.atomic === undefined) throw new Error('atomic writes need an AtomicWriter (SluiceOptions.atomic)');
    return this.appender.appendAtomically(appends, extra, { ...options, writer: this.atomic });
  }

  /** Writes parts of several stores in one atomic write (see `AtomicWriter`), under a fresh token. */
  writeAtomically(parts: readonly AtomicPart[]): Promise<AtomicOutcome> {
    if (this.atomic === undefined) throw new Error('atomic writes need an AtomicWriter (SluiceOptions.atomic)');
    return this.atomic.write(parts, randomUUID());
  }

  /** Writes a transaction marker (a control record) to a partition; its offset. */
  appendMarker(topic: TopicRecord, partition: number, control: 'commit' | 'abort', txn: string): Promise<number> {
    return this.appender.appendMarker(topic, partition, control, txn);
  }

  /** A topic's record (config, id), from the topic cache unless `fresh`. */
  topic(name: string, options: { readonly fresh?: boolean } = {}): Promise<TopicRecord> {
    return this.topics.get(name, options);
  }

  /**
   * Reads records of one partition from `fromOffset`. Reading at the high watermark returns no
   * records; an offset below the log start or above the high watermark throws `OffsetOutOfRange`
   * carrying both bounds.
   */
  read(topicName: string, partition: number, fromOffset: number, options: ReadOptions = {}): Promise<ReadResult> {
    return this.reader.read(topicName, partition, fromOffset, options);
  }

  /**
   * The records of the batch starting at `baseOffset` (one GetItem), or undefined when the hot
   * tier no longer holds it (then `read` finds it in S3): what the event store reads an append by.
   */
  readBatch(topicName: string, partition: number, baseOffset: number): Promise<ConsumerRecord[] | undefined> {
    return this.reader.readBatch(topicName, partition, baseOffset);
  }

  /**
   * The offset for `earliest` (log start), `latest` (high watermark), or `{ timestamp }`: the
   * earliest offset whose timestamp is at or after it, or the high watermark when none is.
   */
  offsetFor(topicName: string, partition: number, spec: OffsetSpec): Promise<number> {
    return this.reader.offsetFor(topicName, partition, spec);
  }

  /**
   * Deletes the records of a partition before an offset (Kafka's deleteRecords): the log start
   * moves at once, and retention drops the segments wholly below it on its next run.
   */
  async deleteRecords(topicName: string, partition: number, beforeOffset: number): Promise<{ logStartOffset: number }> {
    const topic = await this.topics.get(topicName);
    const log = await this.topics.partitionLog(topic, partition);
    const before = integerOption('beforeOffset', beforeOffset, undefined, 0, Number.MAX_SAFE_INTEGER);
    if (this.tiering === undefined)
      throw new InvalidArgument('beforeOffset', 'deleting records needs tiered storage to be configured');
    for (let attempt = 0; attempt < this.retry.maxConflicts; attempt++) {
      const state = await this.metadata.getPartitionState(log);
      const highWatermark = await this.tails.read(log, state);
      if (before > highWatermark)
        throw new OffsetOutOfRange(topic.name, partition, before, state.logStartOffset, highWatermark);
      if (before <= state.logStartOffset) return { logStartOffset: state.logStartOffset };
      if (
        await this.tiering.store.setPartitionState(log, {
          ...state,
          logStartOffset: before,
          version: state.version + 1,
        })
      )
        return { logStartOffset: before };
    }
    throw new AppendContention(topic.name, partition, this.retry.maxConflicts);
  }
}
