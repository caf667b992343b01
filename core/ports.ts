import type { Compression, TopicConfig } from './log/topicConfig.ts';

/**
 * The storage ports. The engine talks to storage only through these few functions; the DynamoDB
 * adapter and the in-memory adapter implement them with the same rules and pass the same
 * contract suite (test/contract).
 */

/** One record batch: one item in the log table, covering offsets [baseOffset, baseOffset + recordCount). */
/** A batch payload’s place in an S3 object. */
export interface BatchPointer {
  readonly key: string;
  readonly position: number;
  readonly length: number;
  /** CRC32C of the payload bytes, checked on every read. */
  readonly crc: number;
}

export interface StoredBatch {
  /** The partition's log key, from `logKey(topicId, partition)`. */
  readonly log: string;
  readonly baseOffset: number;
  readonly recordCount: number;
  readonly firstTimestamp: number;
  readonly maxTimestamp: number;
  /** Uncompressed payload size, used for `maxBytes` and retention by size. */
  readonly sizeBytes: number;
  /** When the batch was appended (epoch ms): what hot-tier retention ages by. Absent in segments. */
  readonly appendedAt?: number;
  readonly codec: Compression;
  /** The encoded records, compressed with `codec`. */
  readonly payload: Uint8Array;
  /**
   * Where the payload is when it is not in the item (topics with `storage: 's3'`): a byte range of
   * an S3 object, and its CRC32C. The payload is then empty until a reader resolves it
   * (core/log/objectBatches.ts); everything above the store sees batches with their payload.
   */
  readonly pointer?: BatchPointer;
  /**
   * Random id of the append attempt that wrote this batch. A writer whose conditional put "fails"
   * because its own earlier attempt already landed (an ambiguous failure, retried) recognises the
   * item by this id and counts it as success instead of appending a duplicate.
   */
  readonly writerId: string;
  /**
   * When DynamoDB's TTL may remove this hot copy (epoch seconds): its append time plus the topic's
   * hot retention plus a margin (a day by default), written only where a roller tiers the log.
   * Rolled copies then expire for free instead of being deleted (a delete costs what the write
   * did), and until then `attribute_not_exists` still sees them, so a late writer cannot claim
   * their offsets. Absent on segments and on logs that are never tiered.
   */
  readonly expiresAt?: number;
  /**
   * The base offset of the reservation handed out just before this batch's, when the sequencer
   * knew it: the exact start of the range below this batch that a writer may still claim, so
   * that a gap left by a writer that died is filled with one item (see `gaps.ts`).
   */
  readonly previousBase?: number;
  /**
   * On a mark, one batch per `MARK_BYTES` reserved (core/log/timeIndex.ts): the sequencer's time
   * chain as this batch's reservation left it, which puts the batch in the log table's time index.
   */
  readonly timeMark?: { readonly chainStart: number; readonly maxTimestamp: number };
  /**
   * The transaction this batch belongs to, when it was appended inside a multi-request
   * transaction (core/transactions): `read_committed` readers deliver it only once that
   * transaction committed, skip it when it aborted, and stop before it while it is open.
   */
  readonly txn?: string;
  /**
   * A transaction marker (Kafka's control record): one offset, no data record, written to every
   * partition a multi-request transaction touched once it committed or aborted. Readers skip it.
   */
  readonly control?: 'commit' | 'abort';
  /**
   * Set by the roller on a batch of a transaction that aborted (segments keep the outcome, so
   * reading tiered data needs no look-up): `read_committed` readers skip it.
   */
  readonly aborted?: boolean;
}

/** The writer id of a gap filler: a batch of no records occupying offsets whose writer died. */
export const GAP_WRITER_ID = 'gap';

/** Offsets handed out by a partition's sequencer for one batch: `[base, base + count)`. */
export interface Reservation {
  readonly base: number;
  /** The base of the reservation handed out just before this one, if the sequencer knew it. */
  readonly previousBase?: number;
  /** The sequencer's time chain as this reservation left it. */
  readonly time: SequencerTime;
}

/**
 * What a partition's sequencer keeps for the time index (core/log/timeIndex.ts): from
 * `chainStart` on, the running maximum timestamp of the batches reserved, and their bytes.
 */
export interface SequencerTime {
  /** Where the chain starts: the sequencer's first offset, or where it was last moved up to. */
  readonly chainStart: number;
  /** The largest timestamp of every batch reserved since `chainStart`, rounded up to a step (timeIndex.ts). */
  readonly maxTimestamp: number;
  /** Bytes of the batches reserved since `chainStart`. */
  readonly bytes: number;
}

/** What a reservation tells the sequencer about its batch, so that the time chain moves with it. */
export interface ReservationTime {
  /** The batch's largest timestamp, rounded up to a step. */
  readonly maxTimestamp: number;
  readonly bytes: number;
  /**
   * Whether to raise the running maximum to `maxTimestamp`: refused (`'kept'`) when it is that
   * high already; without it, refused (`'raise'`) when it is lower. Either way the maximum moves
   * in the same atomic update as the offsets, so no later reservation can miss this batch.
   */
  readonly raise: boolean;
}

/** An entry of the time index: every record before `end` is timestamped at most `maxTimestamp`. */
export interface TimeMark {
  readonly maxTimestamp: number;
  readonly end: number;
}

/** An idempotent producer's state on one partition. */
export interface ProducerState {
  readonly epoch: number;
  /** The sequence number the next batch must start with. */
  readonly nextSequence: number;
  /** The last few batches, so that a retry of one of them returns its original offsets. */
  readonly recent: readonly ProducerBatchRef[];
  /** Optimistic-lock version, bumped on every write. */
  readonly version: number;
  /**
   * When DynamoDB's TTL may remove the state (epoch seconds): `PRODUCER_STATE_TTL_MS` after its
   * last write, so producers that went away (and those of deleted topics) leave nothing behind.
   */
  readonly expiresAt?: number;
}

export interface ProducerBatchRef {
  readonly firstSequence: number;
  readonly recordCount: number;
  readonly baseOffset: number;
}

/** A producer-state change to commit atomically with a batch. */
export interface ProducerStateWrite {
  readonly producerId: string;
  readonly log: string;
  /** The version read before deciding; `undefined` when there was no state. */
  readonly expectedVersion: number | undefined;
  readonly next: ProducerState;
}

export type PutBatchResult =
  | { readonly outcome: 'written' }
  /** Another batch already starts at this offset; its end is where to try next. */
  | { readonly outcome: 'offset-taken'; readonly existing: StoredBatch | undefined }
  /** The producer state changed since it was read; re-read and decide again. */
  | { readonly outcome: 'producer-state-changed' };

export interface BatchPage {
  /** Batches in offset order, the first one containing `fromOffset` when the log holds it. */
  readonly batches: StoredBatch[];
  /** True when no batch after the last one returned exists (so its end is the high watermark). */
  readonly reachedEnd: boolean;
}

/**
 * One store's share of an atomic write (`AtomicWriter`): a batch, a producer or transaction
 * state, offsets a consumer group commits, a caller's own rows. What it holds is the adapter's
 * business; the engine only adds parts up, within DynamoDB's limits.
 */
export interface AtomicPart {
  /** Items it adds to the transaction: DynamoDB takes at most `MAX_ATOMIC_ITEMS` in one. */
  readonly items: number;
  /** Bytes it adds: DynamoDB takes at most `MAX_ATOMIC_BYTES` in one. */
  readonly bytes: number;
}

/** Most items one atomic write may hold (DynamoDB's `TransactWriteItems`). */
export const MAX_ATOMIC_ITEMS = 100;
/** Most bytes one atomic write may hold (DynamoDB's `TransactWriteItems`). */
export const MAX_ATOMIC_BYTES = 4 * 1024 * 1024;

export type AtomicOutcome =
  | { readonly outcome: 'written' }
  /**
   * A condition of part `part` (its item `item`) failed, so nothing was written. A batch part
   * says which batch holds its offsets instead (`existing`), when DynamoDB returned it.
   */
  | { readonly outcome: 'rejected'; readonly part: number; readonly item: number; readonly existing?: StoredBatch };

/**
 * Writes parts of several stores all together or not at all: one DynamoDB `TransactWriteItems`
 * (one synchronous step in memory). An unknown outcome (a timeout, a lost answer) is retried with
 * the same `token` (DynamoDB's `ClientRequestToken`, honoured for ten minutes), so a write that
 * landed is not applied twice; a conflict with another transaction on one of the items is
 * retried too, as nothing of it was written. Throws when it still cannot tell.
 */
export interface AtomicWriter {
  write(parts: readonly AtomicPart[], token: string): Promise<AtomicOutcome>;
}

export interface LogStore {
  /**
   * A batch as part of an atomic write: put only if no batch starts at its base offset (as
   * `putBatch` does); rejected with the batch that holds it.
   */
  batchPart(batch: StoredBatch): AtomicPart;
  /**
   * Hands out the next `count` offsets of a partition with one atomic counter update, which never
   * conflicts however many writers call it, and moves the time chain with them (see
   * `ReservationTime`: `'raise'` or `'kept'` when the raise was wrongly guessed, nothing handed
   * out); undefined when the partition's sequencer does not exist yet (`advanceSequencer` creates it).
   */
  reserveOffsets(
    log: string,
    count: number,
    time: ReservationTime,
  ): Promise<Reservation | 'raise' | 'kept' | undefined>;
  /**
   * Creates the sequencer at `next`, or moves it up to `next`; never moves it down. Its time chain
   * starts again there: batches below were written without it.
   */
  advanceSequencer(log: string, next: number): Promise<void>;
  /** The sequencer's time chain (strongly consistent); undefined when it keeps none. */
  sequencerTime(log: string): Promise<SequencerTime | undefined>;
  /**
   * Writes the batch only if no batch starts at `batch.baseOffset` (`attribute_not_exists`), and,
   * with `producer`, only if the producer state still has the expected version; both or neither.
   */
  putBatch(batch: StoredBatch, producer?: ProducerStateWrite): Promise<PutBatchResult>;
  /**
   * The batch starting at `baseOffset`, if the hot tier holds it (one strongly consistent GetItem:
   * it costs that item only, whatever else the partition holds). The event store reads an
   * append's events with it.
   */
  getBatch(log: string, baseOffset: number): Promise<StoredBatch | undefined>;
  /** The batch with the highest base offset, if any (strongly consistent). */
  lastBatch(log: string): Promise<StoredBatch | undefined>;
  /** The header of the batch with the highest base offset at or below `offset`, if any (strongly consistent). */
  batchAtOrBefore(log: string, offset: number): Promise<StoredBatch | undefined>;
  /** Up to `maxBatches` batches from the one containing `fromOffset` (strongly consistent). */
  readBatches(log: string, fromOffset: number, maxBatches: number): Promise<BatchPage>;
  /** Batch headers (no payload) from `fromOffset` in offset order, one page at a time. */
  scanBatchHeaders(log: string, fromOffset: number, maxBatches: number): Promise<BatchPage>;
  /**
   * Removes every batch of a partition's log, and its sequencer; batches whose TTL (epoch seconds)
   * falls at or before `leaveExpiringBy` are left for DynamoDB's TTL, which deletes for nothing.
   */
  deleteLog(log: string, leaveExpiringBy?: number): Promise<void>;
  /**
   * Of the marks of the time chain starting at `chainStart`, the last whose running maximum is
   * below `timestamp`: one query of the time index (eventually consistent, so a mark written an
   * instant ago may be missing). Undefined when there is none, or the index cannot be read.
   */
  timeMarkBefore(log: string, chainStart: number, timestamp: number): Promise<TimeMark | undefined>;
}

/** A topic's metadata record. */
export interface TopicRecord {
  readonly name: string;
  /** Unique per incarnation: a topic deleted and created again gets a new id and an empty log. */
  readonly topicId: string;
  readonly config: TopicConfig;
  readonly createdAt: number;
  /** Optimistic-lock version, bumped on every update. */
  readonly version: number;
}

export interface PartitionState {
  /** First offset still readable; advanced by retention and delete-records. */
  readonly logStartOffset: number;
  /** Offsets below this live in S3 segments; at and above it, in the hot tier. */
  readonly tieredThrough: number;
  /** Optimistic-lock version; 0 when the partition has no state item yet. */
  readonly version: number;
  /** A segment roll in progress (the roll state machine), if any. */
  readonly roll?: RollState;
  /**
   * The largest record timestamp ever rolled below `tieredThrough`, records since removed
   * included (0 before the first roll): the running maximum the next segment continues from.
   * Absent on states written before the time index existed until the roller indexes the segments.
   */
  readonly tieredMaxTimestamp?: number;
  /**
   * The partition's S3 segments: how many, and their uncompressed record bytes. Kept by every
   * write that records, drops or rewrites a segment (all conditional on the version), so a
   * describe reads them instead of listing segments. Absent on states written before they
   * existed until the roller counts them once.
   */
  readonly segments?: { readonly count: number; readonly bytes: number };
}

/**
 * A segment roll, stored in the partition state and advanced only by conditional writes:
 *
 *   (none) ──begin──▶ uploading ──segment recorded, tieredThrough = end──▶ deleting ──hot items gone──▶ (none)
 *
 * Every step is idempotent, so a roller that dies anywhere is finished by the next run: the
 * object key is deterministic and the batches are immutable, so uploading again writes the same
 * bytes; deleting again deletes nothing new.
 */
export interface RollState {
  readonly phase: 'uploading' | 'deleting';
  readonly base: number;
  readonly end: number;
  readonly key: string;
  readonly startedAt: number;
  /**
   * Some of the rolled batches have no TTL (written before TTLs existed) and must be deleted once
   * the segment is recorded. Absent on rolls begun before this was kept: then the hot range is
   * scanned for them.
   */
  readonly deleteHot?: boolean;
}

/** A segment in S3 covering offsets [base, end), as recorded in DynamoDB. */
export interface SegmentRecord {
  readonly log: string;
  readonly base: number;
  readonly end: number;
  readonly key: string;
  readonly objectSize: number;
  readonly indexPosition: number;
  readonly indexLength: number;
  readonly batches: number;
  /** Bytes as stored (compressed). */
  readonly storedBytes: number;
  /** Uncompressed payload bytes, for retention by size. */
  readonly sizeBytes: number;
  /** Its largest record timestamp: kept up to date by compaction; -1 when compaction emptied it. */
  readonly maxTimestamp: number;
  /**
   * The largest record timestamp from the partition's first offset through this segment, records
   * since removed by retention or compaction included: it never decreases from one segment to the
   * next, so the time index orders segments by it. Absent on segments rolled before the time index
   * existed until the roller indexes them.
   */
  readonly runningMaxTimestamp?: number;
  /**
   * When its newest batch was appended (epoch ms): what retention by time ages the segment by, so
   * a record's own timestamp can neither pin a segment nor expire it early. Absent on segments
   * rolled before it was kept; retention then uses `maxTimestamp`.
   */
  readonly appendedUntil?: number;
  readonly createdAt: number;
  /**
   * The S3 object listing the claim checks its batches refer to (deleted with the segment). Kept
   * beside the segment, not in this record, whose item must stay under DynamoDB's 400 KB.
   */
  readonly claims?: { readonly key: string; readonly size: number; readonly count: number };
  /** How many times compaction rewrote it (0 for a segment as rolled). */
  readonly compactions?: number;
}

/** Tiering's metadata: partition state changes and segment records, all conditional on the state version. */
export interface TieringStore {
  /** Replaces the partition state if its version is still `next.version - 1`. */
  setPartitionState(log: string, next: PartitionState): Promise<boolean>;
  /** Removes a partition's state item (its topic was deleted and its data purged); idempotent. */
  forgetPartitionState(log: string): Promise<void>;
  /** Records a segment (once) and sets the partition state, atomically. */
  recordSegment(segment: SegmentRecord, next: PartitionState): Promise<boolean>;
  listSegments(log: string): Promise<SegmentRecord[]>;
  /**
   * Up to `limit` segments in offset order, from the one containing `offset` (or, when none does,
   * the first after it): two keyed queries, whatever the number of segments.
   */
  segmentsFrom(log: string, offset: number, limit: number): Promise<SegmentRecord[]>;
  /**
   * Of the segments in the time index, the last whose running maximum timestamp is below
   * `timestamp`: one query (eventually consistent, so a segment recorded an instant ago may be
   * missing). Undefined when there is none, or the index cannot be read.
   */
  segmentBefore(log: string, timestamp: number): Promise<TimeMark | undefined>;
  /**
   * The first segment, in offset order, that ends after `offset` and whose `maxTimestamp` is at
   * least `timestamp`: one keyed query when it starts at `offset` or is the next one, one more
   * when `offset` lies inside a segment, then pages of segment records read past (about 2,500 a
   * request).
   */
  firstSegmentReaching(log: string, offset: number, timestamp: number): Promise<SegmentRecord | undefined>;
  /** Removes segment records and sets the partition state, atomically (at most 90 at a time). */
  dropSegments(log: string, bases: readonly number[], next: PartitionState): Promise<boolean>;
  /** Deletes hot batches by base offset (idempotent). */
  deleteBatches(log: string, baseOffsets: readonly number[]): Promise<void>;
  /** Moves the TTL of existing hot batches to `expiresAt` (epoch seconds); a batch gone meanwhile is skipped. */
  extendExpiry(log: string, baseOffsets: readonly number[], expiresAt: number): Promise<void>;
  /**
   * Swaps a segment's record for its compacted successor, if it still points at `previousKey`,
   * and sets the partition state (its segment counters), atomically.
   */
  replaceSegment(next: SegmentRecord, previousKey: string, state: PartitionState): Promise<boolean>;
}

export interface MetadataStore {
  /** Creates the topic unless one with the name exists (then `TopicAlreadyExists`). */
  createTopic(topic: TopicRecord): Promise<void>;
  getTopic(name: string): Promise<TopicRecord | undefined>;
  listTopics(): Promise<TopicRecord[]>;
  /** Replaces the topic if its version is still `next.version - 1` (else `TopicConflict`). */
  updateTopic(next: TopicRecord): Promise<void>;
  /**
   * Deletes the topic record if it still has this topic id (else `TopicNotFound`) and, in the same
   * write, records the deleted topic for the roller, which removes its data later: the name is
   * free at once, and a topic of any size is deleted in one request.
   */
  deleteTopic(name: string, topicId: string, deleted: DeletedTopic): Promise<void>;
  /**
   * Deleted topics whose data is still to be removed, at most `limit`, in topic-id order (ids are
   * random, so no deletion waits long behind newer ones; each is forgotten once purged).
   */
  listDeletedTopics(limit: number): Promise<DeletedTopic[]>;
  /** Forgets a deleted topic once its data is gone. */
  forgetDeletedTopic(topicId: string): Promise<void>;
  getPartitionState(log: string): Promise<PartitionState>;
  getProducerState(producerId: string, log: string): Promise<ProducerState | undefined>;
}

/** A deleted topic whose partitions' data (batches, segments, claim checks) the roller removes. */
export interface DeletedTopic {
  readonly name: string;
  readonly topicId: string;
  readonly partitions: number;
  readonly deletedAt: number;
}

/** The log key of one partition of one topic incarnation. */
export function logKey(topicId: string, partition: number): string {
  return `${topicId}#${partition}`;
}
