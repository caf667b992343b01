import { randomUUID } from 'node:crypto';
import { sleep } from '../async.ts';
import {
  AppendContention,
  AppendIncomplete,
  InvalidTimestamp,
  DuplicateSequence,
  InvalidArgument,
  PartitionNotFound,
  TooManyRecords,
  TransactionTooLarge,
  isSluiceError,
} from '../errors.ts';
import {
  MAX_ATOMIC_BYTES,
  MAX_ATOMIC_ITEMS,
  logKey,
  type AtomicOutcome,
  type AtomicPart,
  type AtomicWriter,
  type LogStore,
  type MetadataStore,
  type ProducerStateWrite,
  type PutBatchResult,
  type Reservation,
  type StoredBatch,
  type TopicRecord,
} from '../ports.ts';
import { decodeStoredBatch, splitIntoBatches, type PreparedBatch } from './batching.ts';
import { hotCopyExpiry } from './expiry.ts';
import { RESERVATION_MAX_AGE_MS, gapFiller, isGapFiller } from './gaps.ts';
import type { ClaimChecks } from './claimChecks.ts';
import type { ObjectBatches } from './objectBatches.ts';
import { producerSequences, validateProducer, type IdempotentProducer } from './idempotentProducer.ts';
import { partitionForKey } from './murmur2.ts';
import { decideProducerBatch } from './producerState.ts';
import { MAX_READ_BYTES, type PartitionReader } from './read.ts';
import { encodeRecord, type EncodedRecord } from './records.ts';
import { isObjectStorage } from './topicConfig.ts';
import type { PartitionTails } from './tails.ts';
import { reservationTime, timeMarkOf, type ChainKnowledge } from './timeIndex.ts';
import type { TopicCatalog } from './topics.ts';

/**
 * How long an idempotent producer's state on a partition outlives its last write before DynamoDB's
 * TTL removes it (Kafka's transactional.id.expiration.ms). A producer that comes back later gets
 * `UnknownProducer` and starts a new epoch, as Kafka's client does on UNKNOWN_PRODUCER_ID.
 */
export const PRODUCER_STATE_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/** Most records one `append` call takes; larger inputs should be split by the caller. */
export const MAX_RECORDS_PER_APPEND = 10_000;

export interface RetryOptions {
  /**
   * Reservations per batch before `AppendContention`. One is lost only when the writer looked dead
   * (a gap filler took it) or the sequencer was behind the log, so a few suffice.
   */
  readonly maxConflicts: number;
  /** Consecutive retries of a put whose outcome is unknown (network error, throttling), with the same writer id. */
  readonly maxUnknownOutcomeRetries: number;
  /** Upper bound of the random pause between attempts, in ms. */
  readonly maxJitterMs: number;
}

export const DEFAULT_RETRY: RetryOptions = {
  maxConflicts: 20, // reservations do not conflict; losing one is rare (see `claim`)
  maxUnknownOutcomeRetries: 4, // SDK already retried; these cover errors it gave up on
  maxJitterMs: 50, // pauses stay short: a conflict means the tail moved, not that storage is slow
};

export interface AppendOptions {
  /** Idempotent producer: retries of an appended batch return the original offsets. */
  readonly producer?: IdempotentProducer;
  /**
   * No batch is started after this (epoch ms, the engine's clock): an append that cannot finish
   * in time stops between batches and throws `AppendIncomplete` saying what was written.
   */
  readonly deadline?: number;
}

export interface RecordMetadata {
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
}

/** A batch an atomic append reserved offsets for (what `extra` parts may depend on). */
export interface AtomicBatch {
  readonly topic: TopicRecord;
  readonly partition: number;
  readonly log: string;
  readonly baseOffset: number;
  readonly recordCount: number;
}

export interface AtomicRecordMetadata extends RecordMetadata {
  readonly topic: string;
}

export interface AppenderOptions {
  readonly log: LogStore;
  readonly metadata: MetadataStore;
  readonly topics: TopicCatalog;
  readonly tails: PartitionTails;
  readonly claimChecks: ClaimChecks;
  /** Reads back the offsets of a retried idempotent batch. */
  readonly reader: PartitionReader;
  readonly now: () => number;
  readonly retry: RetryOptions;
  /** Hot copies get a TTL this long after their hot retention (see `hotCopyExpiry`); none when undefined (never tiered). */
  readonly hotCopyMarginMs: number | undefined;
  /**
   * Where `storage: "s3"` topics put record bytes; undefined without an object store, and then
   * such topics keep them in the item as `dynamodb` topics do.
   */
  readonly objectBatches?: ObjectBatches;
}

/**
 * Appends: records are assigned partitions (explicit, by key hash, or sticky), split into record
 * batches, and each batch is written with one conditional put at offsets reserved from the
 * partition's sequencer.
 */
export class Appender {
  private readonly log: LogStore;
  private readonly metadata: MetadataStore;
  private readonly topics: TopicCatalog;
  private readonly tails: PartitionTails;
  private readonly claimChecks: ClaimChecks;
  private readonly reader: PartitionReader;
  private readonly now: () => number;
  private readonly retry: RetryOptions;
  private readonly hotCopyMarginMs: number | undefined;
  private readonly objectBatches: ObjectBatches | undefined;
  /** Kafka's sticky partitioner: the next partition for unkeyed records, per topic. */
  private readonly sticky = new Map<string, number>();
  /** Per partition, what this writer knows of the time chain (for guesses only, see `ChainKnowledge`). */
  private readonly chains = new Map<string, ChainKnowledge>();

  constructor(options: AppenderOptions) {
    this.log = options.log;
    this.metadata = options.metadata;
    this.topics = options.topics;
    this.tails = options.tails;
    this.claimChecks = options.claimChecks;
    this.objectBatches = options.objectBatches;
    this.reader = options.reader;
    this.now = options.now;
    this.retry = options.retry;
    this.hotCopyMarginMs = options.hotCopyMarginMs;
  }

  /**
   * Appends records and returns, in input order, the partition, offset and timestamp of each.
   *
   * Records for one partition are written as record batches, in order, each at offsets reserved
   * from the partition's sequencer. Bad input is rejected before anything is written.
   */
  async append(topicName: string, records: readonly unknown[], options: AppendOptions = {}): Promise<RecordMetadata[]> {
    if (!Array.isArray(records)) throw new InvalidArgument('records', 'records must be an array');
    if (records.length === 0) throw new InvalidArgument('records', 'an append needs at least one record');
    if (records.length > MAX_RECORDS_PER_APPEND) throw new TooManyRecords(records.length, MAX_RECORDS_PER_APPEND);
    const producer = options.producer === undefined ? undefined : validateProducer(options.producer);
    const topic = await this.topics.get(topicName);
    const now = this.now();
    const encoded = records.map((r, i) => encodeRecord(r, i, now));
    // Too big for an item: its value goes to S3 as a claim check, if tiered storage is configured
    // and what stays in the batch (timestamp, key, headers, the reference) fits.
    encoded.forEach((r, i) => this.claimChecks.check(topic, r, i));
    checkTimestamps(topic, encoded, now);

    const byPartition = await this.assignPartitions(topic, encoded);
    const sequences = producer === undefined ? undefined : producerSequences(producer, [...byPartition.keys()]);
    const results: (RecordMetadata | undefined)[] = Array.from({ length: records.length }, () => undefined);
    const stopped: { partition: number; reason: string; error?: unknown }[] = [];
    const batches = await this.prepare(
      topic,
      [...byPartition].map(([partition, indexes]) => ({ partition, records: indexes.map((i) => encoded[i]!) })),
    );
    await Promise.all(
      [...byPartition].map(async ([partition, indexes], p) => {
        const out: RecordMetadata[] = [];
        try {
          const complete = await this.appendToPartition(
            topic,
            partition,
            batches[p]!,
            producer === undefined ? undefined : { ...producer, firstSequence: sequences!.get(partition)! },
            out,
            options.deadline,
          );
          if (!complete) stopped.push({ partition, reason: 'Deadline' });
        } catch (e) {
          stopped.push({ partition, reason: isSluiceError(e) ? e.code : 'StorageError', error: e });
        } finally {
          out.forEach((meta, k) => (results[indexes[k]!] = meta));
        }
      }),
    );
    if (stopped.length === 0) return results as RecordMetadata[];
    stopped.sort((a, b) => a.partition - b.partition);
    const appended = results.flatMap((m, index) => (m === undefined ? [] : [{ index, ...m }]));
    // Nothing written anywhere and a failure: the failure itself, as an append of one batch reports it.
    const failure = stopped.find((s) => s.error !== undefined);
    if (appended.length === 0 && failure !== undefined) throw failure.error;
    const notAppended = results.flatMap((m, index) => (m === undefined ? [index] : []));
    // Retrying the whole append is safe only with an idempotent producer (what was written is
    // recognised); without one it would write those records twice, so the caller must send only
    // `notAppended`.
    const retriable =
      producer !== undefined &&
      stopped.every((s) => s.error === undefined || (isSluiceError(s.error) && s.error.retriable));
    throw new AppendIncomplete(
      topic.name,
      appended,
      notAppended,
      stopped.map(({ partition, reason }) => ({ partition, reason })),
      retriable,
    );
  }

  /**
   * Appends records to several topics and partitions in one atomic write with `extra` parts (a
   * transaction's state, offsets a group commits, the caller's own rows): every batch at offsets
   * reserved from its partition's sequencer, all put with the extra parts in one transaction, so
   * readers see all of them or none. `extra` is called with the batches reserved (a part may
   * depend on their offsets). A rejected extra part gives its offsets back (gap fillers) and
   * answers which part; a batch whose offsets were taken meanwhile (a filler written when this
   * writer looked dead) is reserved again.
   */
  async appendAtomically(
    appends: readonly { readonly topic: string; readonly records: readonly unknown[] }[],
    extra: (batches: readonly AtomicBatch[]) => readonly AtomicPart[],
    options: { readonly txn?: string; readonly writer: AtomicWriter },
  ): Promise<
    { outcome: 'written'; records: AtomicRecordMetadata[][] } | { outcome: 'rejected'; part: number; item: number }
  > {
    const total = appends.reduce((n, a) => n + (Array.isArray(a.records) ? a.records.length : 0), 0);
    if (total > MAX_RECORDS_PER_APPEND) throw new TooManyRecords(total, MAX_RECORDS_PER_APPEND);
    const now = this.now();
    // Validate and lay out everything before any write.
    const planned: {
      topic: TopicRecord;
      partition: number;
      batch: PreparedBatch;
      indexes: number[];
      append: number;
    }[] = [];
    for (const [a, { topic: topicName, records }] of appends.entries()) {
      if (!Array.isArray(records)) throw new InvalidArgument(`append[${a}].records`, 'records must be an array');
      const topic = await this.topics.get(topicName);
      const encoded = records.map((r, i) => encodeRecord(r, i, now));
      encoded.forEach((r, i) => this.claimChecks.check(topic, r, i));
      checkTimestamps(topic, encoded, now);
      const assigned = [...(await this.assignPartitions(topic, encoded))];
      const batches = await this.prepare(
        topic,
        assigned.map(([partition, indexes]) => ({ partition, records: indexes.map((i) => encoded[i]!) })),
      );
      assigned.forEach(([partition, indexes], p) => {
        let at = 0;
        for (const batch of batches[p]!) {
          planned.push({ topic, partition, batch, indexes: indexes.slice(at, at + batch.records.length), append: a });
          at += batch.records.length;
        }
      });
    }
    for (let lost = 0; lost < this.retry.maxConflicts; lost++) {
      const writerId = randomUUID();
      const items: StoredBatch[] = [];
      for (const p of planned) {
        const log = logKey(p.topic.topicId, p.partition);
        const reservation = await this.reserve(log, p.batch);
        const reservedAt = this.now();
        items.push({
          log,
          baseOffset: reservation.base,
          recordCount: p.batch.records.length,
          firstTimestamp: p.batch.firstTimestamp,
          maxTimestamp: p.batch.maxTimestamp,
          sizeBytes: p.batch.sizeBytes,
          codec: p.topic.config.compression,
          payload: p.batch.payload,
          ...(p.batch.pointer === undefined ? {} : { pointer: p.batch.pointer }),
          writerId,
          appendedAt: reservedAt,
          ...(reservation.previousBase === undefined ? {} : { previousBase: reservation.previousBase }),
          ...(reservation.timeMark === undefined ? {} : { timeMark: reservation.timeMark }),
          ...(options.txn === undefined ? {} : { txn: options.txn }),
          ...this.expiry(p.topic, reservedAt),
        });
      }
      const reserved = planned.map((p, i) => ({
        topic: p.topic,
        partition: p.partition,
        log: items[i]!.log,
        baseOffset: items[i]!.baseOffset,
        recordCount: items[i]!.recordCount,
      }));
      let parts: AtomicPart[];
      try {
        parts = [...items.map((b) => this.log.batchPart(b)), ...extra(reserved)];
      } catch (e) {
        // Refused before anything was sent (a part too large, too many partitions): give the offsets back.
        await this.giveBack(
          planned.map((p) => p.topic),
          items,
        );
        throw e;
      }
      const count = parts.reduce((n, p) => n + p.items, 0);
      const bytes = parts.reduce((n, p) => n + p.bytes, 0);
      if (count > MAX_ATOMIC_ITEMS || bytes > MAX_ATOMIC_BYTES) {
        await this.giveBack(
          planned.map((p) => p.topic),
          items,
        );
        throw new TransactionTooLarge(count, bytes, MAX_ATOMIC_ITEMS, MAX_ATOMIC_BYTES);
      }
      let result: AtomicOutcome | undefined;
      for (let unknown = 0; result === undefined; unknown++) {
        try {
          result = await options.writer.write(parts, writerId);
        } catch (e) {
          // Unknown outcome: the same token again, so a write that landed is not applied twice.
          if (isSluiceError(e) || unknown >= this.retry.maxUnknownOutcomeRetries) throw e;
          await sleep(Math.random() * this.retry.maxJitterMs * (unknown + 1));
        }
      }
      const ours =
        result.outcome === 'rejected' && result.part < items.length && result.existing?.writerId === writerId;
      if (result.outcome === 'written' || ours) {
        // (`ours`: a repeat of a write that landed, found by its batch, as `put` recognises its own.)
        const out: AtomicRecordMetadata[][] = appends.map((a) => Array.from({ length: a.records.length }));
        planned.forEach((p, i) =>
          p.batch.records.forEach((r, k) => {
            out[p.append]![p.indexes[k]!] = {
              topic: p.topic.name,
              partition: p.partition,
              offset: items[i]!.baseOffset + k,
              timestamp: r.timestamp,
            };
          }),
        );
        return { outcome: 'written', records: out };
      }
      await this.giveBack(
        planned.map((p) => p.topic),
        items,
      );
      if (result.part >= items.length)
        return { outcome: 'rejected', part: result.part - items.length, item: result.item };
      const existing = result.existing;
      if (existing !== undefined && !isGapFiller(existing) && existing.writerId !== writerId) {
        // A batch we did not reserve for holds our base: the sequencer is behind the log.
        const log = items[result.part]!.log;
        await this.log.advanceSequencer(log, await this.tails.read(log));
      }
      await sleep(Math.random() * Math.min(this.retry.maxJitterMs, 2 ** lost));
    }
    throw new AppendContention(planned[0]?.topic.name ?? '', planned[0]?.partition ?? 0, this.retry.maxConflicts);
  }

  /** Fills the offsets of batches that were not written, so readers need not wait for them. */
  private async giveBack(topics: readonly TopicRecord[], items: readonly StoredBatch[]): Promise<void> {
    await Promise.all(items.map((item, i) => this.abandon(topics[i]!, item)));
  }

  /**
   * Writes a transaction marker (a control record: one offset, no data) to a partition, and
   * returns its offset.
   */
  async appendMarker(topic: TopicRecord, partition: number, control: 'commit' | 'abort', txn: string): Promise<number> {
    const log = logKey(topic.topicId, partition);
    const now = this.now();
    const marker: PreparedBatch = {
      records: [{ timestamp: now } as EncodedRecord],
      payload: new Uint8Array(0),
      sizeBytes: 0,
      firstTimestamp: now,
      maxTimestamp: now,
    };
    const written = await this.claim(topic, partition, log, marker, undefined, { control, txn, codec: 'none' });
    return written as number;
  }

  private async assignPartitions(
    topic: TopicRecord,
    encoded: readonly EncodedRecord[],
  ): Promise<Map<number, number[]>> {
    let partitions = topic.config.partitions;
    if (encoded.some((r) => r.partition !== undefined && r.partition >= partitions)) {
      partitions = (await this.topics.get(topic.name, { fresh: true })).config.partitions; // maybe just grown elsewhere
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

  /**
   * Each partition’s records as batches (large values claim-checked first). For a `storage: "s3"`
   * topic, every partition’s batches go into one S3 object now, before any offset is claimed,
   * and the batches carry pointers to it (see objectBatches.ts).
   */
  private async prepare(
    topic: TopicRecord,
    partitions: readonly { partition: number; records: readonly EncodedRecord[] }[],
  ): Promise<PreparedBatch[][]> {
    const batches = await Promise.all(
      partitions.map(async ({ partition, records }) => {
        const stored = await Promise.all(
          records.map(async (r) => (this.claimChecks.needed(r) ? this.claimChecks.store(topic, partition, r) : r)),
        );
        return splitIntoBatches(stored, topic.config.compression);
      }),
    );
    if (!isObjectStorage(topic.config.storage) || this.objectBatches === undefined) return batches;
    const offloaded = await this.objectBatches.offload(topic, batches.flat());
    let at = 0;
    return batches.map((list) => offloaded.slice(at, (at += list.length)));
  }

  private async appendToPartition(
    topic: TopicRecord,
    partition: number,
    batches: readonly PreparedBatch[],
    producer: (IdempotentProducer & { firstSequence: number }) | undefined,
    out: RecordMetadata[],
    deadline: number | undefined,
  ): Promise<boolean> {
    const log = logKey(topic.topicId, partition);
    let sequence = producer?.firstSequence ?? 0;
    // Batches of one call go in order: batch i+1 is only attempted once batch i is durable.
    for (const batch of batches) {
      if (deadline !== undefined && this.now() >= deadline) return false; // out of time: report, don't start
      if (producer === undefined) {
        const baseOffset = (await this.claim(topic, partition, log, batch)) as number; // no producer state: always a number
        batch.records.forEach((r, k) => out.push({ partition, offset: baseOffset + k, timestamp: r.timestamp }));
      } else {
        out.push(...(await this.claimIdempotent(topic, partition, log, batch, { ...producer, sequence })));
      }
      sequence += batch.records.length;
    }
    return true;
  }

  private async claimIdempotent(
    topic: TopicRecord,
    partition: number,
    log: string,
    batch: PreparedBatch,
    producer: IdempotentProducer & { readonly firstSequence: number; readonly sequence: number },
  ): Promise<RecordMetadata[]> {
    const firstSequence = producer.sequence;
    for (let attempt = 0; attempt < this.retry.maxConflicts; attempt++) {
      const state = await this.metadata.getProducerState(producer.id, log);
      const decision = decideProducerBatch(
        producer.id,
        partition,
        state,
        producer.epoch,
        firstSequence,
        batch.records.length,
        producer.firstSequence, // the request's first: all of its batches are remembered
      );
      if (decision.kind === 'duplicate') {
        // A retry: answer with the original offsets and timestamps, read back from the log.
        // The offsets are known; the timestamps come from the stored records where they still exist
        // (compaction may have removed some; then the retried record's own timestamp stands in).
        const state = await this.metadata.getPartitionState(log);
        if (decision.baseOffset < state.logStartOffset)
          throw new DuplicateSequence(producer.id, partition, firstSequence); // retention removed it
        const stored = new Map<number, number>();
        for (const b of (await this.reader.batchesFrom(
          log,
          state,
          decision.baseOffset,
          batch.records.length,
          MAX_READ_BYTES,
        )) ?? []) {
          for (const r of decodeStoredBatch(b)) stored.set(r.offset, r.timestamp);
        }
        return batch.records.map((r, k) => ({
          partition,
          offset: decision.baseOffset + k,
          timestamp: stored.get(decision.baseOffset + k) ?? r.timestamp,
        }));
      }
      const written = await this.claim(topic, partition, log, batch, (baseOffset) => ({
        producerId: producer.id,
        log,
        expectedVersion: state?.version,
        next: { ...decision.nextState(baseOffset), expiresAt: Math.ceil((this.now() + PRODUCER_STATE_TTL_MS) / 1000) },
      }));
      if (written !== 'producer-state-changed') {
        return batch.records.map((r, k) => ({ partition, offset: written + k, timestamp: r.timestamp }));
      }
    }
    throw new AppendContention(topic.name, partition, this.retry.maxConflicts);
  }

  /**
   * Writes one batch at offsets reserved from the partition's sequencer and returns its base
   * offset; with `producerWrite`, returns 'producer-state-changed' when the producer state moved
   * under us (the caller re-reads it and decides again).
   *
   * The reservation is an atomic counter update, which never conflicts, so n writers cost n
   * reservations and n puts, not the n² failed puts of writers racing for the tail. The put is
   * still conditional (`attribute_not_exists`): it loses only to a gap filler, written when this
   * writer looked dead (see `gaps.ts`), or to a batch written past a sequencer that fell behind.
   */
  private async claim(
    topic: TopicRecord,
    partition: number,
    log: string,
    batch: PreparedBatch,
    producerWrite?: (baseOffset: number) => ProducerStateWrite,
    control?: { control: 'commit' | 'abort'; txn: string; codec: 'none' },
  ): Promise<number | 'producer-state-changed'> {
    const writerId = randomUUID();
    for (let lost = 0; lost < this.retry.maxConflicts; lost++) {
      const reservation = await this.reserve(log, batch);
      const reservedAt = this.now();
      const item: StoredBatch = {
        log,
        baseOffset: reservation.base,
        recordCount: batch.records.length,
        firstTimestamp: batch.firstTimestamp,
        maxTimestamp: batch.maxTimestamp,
        sizeBytes: batch.sizeBytes,
        codec: control?.codec ?? topic.config.compression,
        payload: batch.payload,
        ...(batch.pointer === undefined ? {} : { pointer: batch.pointer }),
        writerId,
        appendedAt: reservedAt,
        ...(reservation.previousBase === undefined ? {} : { previousBase: reservation.previousBase }),
        ...(reservation.timeMark === undefined ? {} : { timeMark: reservation.timeMark }),
        ...(control === undefined ? {} : { control: control.control, txn: control.txn }),
        ...this.expiry(topic, reservedAt),
      };
      const outcome = await this.put(topic, item, reservedAt, producerWrite?.(reservation.base));
      if (outcome === 'written') return reservation.base;
      if (outcome === 'producer-state-changed') return outcome;
      if (outcome !== 'abandoned' && !isGapFiller(outcome)) {
        // A batch we did not reserve for sits at our base: the sequencer is behind the log (it
        // started late, or was lost). Move it past what exists, then reserve again.
        await this.log.advanceSequencer(log, await this.tails.read(log));
      }
      await sleep(Math.random() * Math.min(this.retry.maxJitterMs, 2 ** lost));
    }
    throw new AppendContention(topic.name, partition, this.retry.maxConflicts);
  }

  /**
   * The next offsets of a partition for a batch, starting its sequencer at the log's end when it
   * has none. The reservation moves the time chain (see timeIndex.ts): it raises the running
   * maximum if the batch does, as far as this writer knows, and is refused when that guess was
   * wrong (at most once more each way: the maximum only rises). It says whether the batch is a mark.
   */
  private async reserve(
    log: string,
    batch: PreparedBatch,
  ): Promise<Reservation & { timeMark?: StoredBatch['timeMark'] }> {
    // What the batch's item weighs towards the next time mark (MARK_BYTES of items per query page):
    // a pointer item, whatever its batch's size, the least.
    const bytes = batch.pointer === undefined ? batch.payload.length : 0;
    let time = reservationTime(batch.maxTimestamp, bytes, this.chains.get(log));
    for (let attempt = 0; attempt < 5; attempt++) {
      const reservation = await this.log.reserveOffsets(log, batch.records.length, time);
      if (reservation === undefined) await this.log.advanceSequencer(log, await this.tails.read(log));
      else if (reservation === 'raise' || reservation === 'kept') {
        time = { ...time, raise: reservation === 'raise' };
        const known = this.chains.get(log);
        this.chains.set(log, { maxTimestamp: known?.maxTimestamp ?? 0, othersRaise: reservation === 'kept' });
      } else {
        const othersRaise = this.chains.get(log)?.othersRaise ?? false;
        this.chains.set(log, { maxTimestamp: reservation.time.maxTimestamp, othersRaise });
        return { ...reservation, timeMark: timeMarkOf(reservation, time) };
      }
    }
    throw new Error(`the sequencer of ${log} kept changing while reserving`);
  }

  /**
   * Puts a batch at its reserved base: 'written' (by this attempt or an earlier one whose outcome
   * was unknown), the batch that holds the base instead, 'producer-state-changed', or 'abandoned'
   * when the reservation grew too old to use and this writer closed it with a gap filler.
   */
  private async put(
    topic: TopicRecord,
    item: StoredBatch,
    reservedAt: number,
    producerWrite: ProducerStateWrite | undefined,
  ): Promise<'written' | 'producer-state-changed' | 'abandoned' | StoredBatch> {
    for (let unknownOutcomes = 0; ;) {
      if (this.now() - reservedAt > RESERVATION_MAX_AGE_MS) return this.abandon(topic, item);
      let result: PutBatchResult;
      try {
        result = await this.log.putBatch(item, producerWrite);
      } catch (e) {
        // Unknown outcome: the write may have landed. Retry the same put; if it did land, the
        // conflict shows our own writer id and counts as success, so nothing is written twice.
        if (isSluiceError(e)) throw e;
        if (++unknownOutcomes > this.retry.maxUnknownOutcomeRetries) {
          // Still unknown: a filler at our base settles it (it lands, or finds our batch there).
          if ((await this.abandon(topic, item)) === 'written') return 'written';
          throw e;
        }
        await sleep(Math.random() * this.retry.maxJitterMs * unknownOutcomes);
        continue;
      }
      if (result.outcome === 'written' || result.outcome === 'producer-state-changed') {
        if (result.outcome === 'producer-state-changed') await this.abandon(topic, item); // nothing of ours landed
        return result.outcome;
      }
      const existing = result.existing ?? (await this.log.batchAtOrBefore(item.log, item.baseOffset));
      if (existing?.baseOffset === item.baseOffset && existing.writerId === item.writerId) return 'written';
      // The holder of our base is gone already (expired): give the reservation up rather than guess.
      if (existing === undefined || existing.baseOffset !== item.baseOffset) return this.abandon(topic, item);
      return existing;
    }
  }

  /**
   * Gives a reservation up: fills its range so that readers need not wait for it. If our own
   * earlier put turns out to hold the base, the batch was written after all.
   */
  private async abandon(topic: TopicRecord, item: StoredBatch): Promise<'written' | 'abandoned'> {
    const now = this.now();
    const filler = gapFiller(item.log, item.baseOffset, item.recordCount, now, this.expiry(topic, now).expiresAt);
    try {
      const result = await this.log.putBatch(filler);
      if (result.outcome === 'offset-taken' && result.existing?.writerId === item.writerId) return 'written';
    } catch {
      // Unknown again: a reader fills the range once it is stale (or finds our batch there).
    }
    return 'abandoned';
  }

  private expiry(topic: TopicRecord, appendedAt: number): { expiresAt?: number } {
    return this.hotCopyMarginMs === undefined
      ? {}
      : { expiresAt: hotCopyExpiry(topic, appendedAt, this.hotCopyMarginMs) };
  }
}

/**
 * Refuses timestamps too far from now for the topic (Kafka's message.timestamp.before/after.max.ms):
 * a timestamp far in the future would otherwise make its batch look young to time-based
 * look-ups forever. Retention ages segments by append time, so old timestamps pin nothing.
 */
function checkTimestamps(topic: TopicRecord, records: readonly EncodedRecord[], now: number): void {
  const { timestampBeforeMaxMs: before, timestampAfterMaxMs: after } = topic.config;
  const earliest = before === undefined || before < 0 ? null : now - before;
  const latest = after === undefined || after < 0 ? null : now + after;
  records.forEach((r, i) => {
    if ((earliest !== null && r.timestamp < earliest) || (latest !== null && r.timestamp > latest)) {
      throw new InvalidTimestamp(i, r.timestamp, earliest, latest);
    }
  });
}
