import type { TxnResolver } from '../log/read.ts';
import { randomUUID } from 'node:crypto';
import { isSluiceError } from '../errors.ts';
import { segmentClaimObjects, segmentClaims } from './segmentClaims.ts';
import { deletePartitionData } from './purge.ts';
import { DEFAULT_TOPIC_CONFIG, MIN_HOT_RETENTION_MS, isObjectStorage } from '../log/topicConfig.ts';
import { DEFAULT_HOT_COPY_MARGIN_MS, hotCopyExpiry } from '../log/expiry.ts';
import { GapFiller } from '../log/gaps.ts';
import {
  BATCH_OBJECT_ROOTS,
  ObjectBatches,
  batchObjectPrefix,
  objectBackedLog,
  objectWrittenAt,
  withExpressBatches,
} from '../log/objectBatches.ts';
import {
  logKey,
  type LogStore,
  type MetadataStore,
  type PartitionState,
  type SegmentRecord,
  type StoredBatch,
  type TieringStore,
  type TopicRecord,
} from '../ports.ts';
import { claimKeys, decodeStoredBatch } from '../log/batching.ts';
import { compress, decompress } from '../log/compression.ts';
import { ClaimCheck, joinRecordBodies, splitRecordBodies, type ConsumerRecord } from '../log/records.ts';
import type { ObjectStore } from './objectStore.ts';
import type { WorkUnit } from './workUnits.ts';
import { batchFromSegment, decodeSegmentIndex, encodeSegment, segmentKey } from './segmentFormat.ts';

/** Most batches one segment holds (its index: 56 bytes each); a longer backlog becomes several segments. */
const MAX_SEGMENT_BATCHES = 100_000;
/** Batches asked for per query while paging through the hot tier (a query page ends at 1 MB anyway). */
const PAGE_BATCHES = 1000;
/** Deleted topics purged per run (the others wait for the next). */
const PURGES_PER_RUN = 20;
/**
 * How long a deleted topic's data waits before the purge: longer than any process caches a topic
 * (TopicCatalog, 1 s) plus the longest append already under way (a produce function's 29 s), so
 * late appends are purged with the rest.
 */
export const PURGE_GRACE_MS = 60_000;
/** How old an unreferenced object must be before the sweep deletes it. */
export const ORPHAN_MIN_AGE_MS = 24 * 60 * 60 * 1000;
/**
 * How long after its batch object's time a batch may be appended: a request's claims (a Lambda's
 * 15 minutes at most) plus clock skew between writers, with room to spare.
 */
export const BATCH_CLAIM_WINDOW_MS = 30 * 60 * 1000;

export interface TieringOptions {
  readonly log: LogStore;
  readonly metadata: MetadataStore;
  readonly store: TieringStore;
  readonly objects: ObjectStore;
  /** The S3 Express One Zone directory bucket of `storage: "s3-express"` topics’ batch objects, if any. */
  readonly expressObjects?: ObjectStore;
  readonly now?: () => number;
  /**
   * Batches younger than this never move, whatever the byte budget says (see MIN_HOT_RETENTION_MS).
   * Lower it only where one writer appends at a time (a benchmark, a test).
   * @default MIN_HOT_RETENTION_MS (60 s)
   */
  readonly minRollAgeMs?: number;
  /** As the engine's `hotCopyMarginMs`: batches are rolled well before their TTL, whatever their hot retention. */
  readonly hotCopyMarginMs?: number;
  /**
   * Outcomes of multi-request transactions (`Sluice.txnOutcomes`): a roll stops before a batch
   * of a transaction still open, and marks those of aborted ones in the segment, so tiered reads
   * need no look-up. Without it, no batch may carry a transaction.
   */
  readonly txns?: TxnResolver;
}

export interface PartitionReport {
  readonly topic: string;
  readonly partition: number;
  /** Segments written (or finished after an earlier roller died). */
  readonly rolled: number;
  /** Segments removed by retention. */
  readonly expired: number;
  /** Segments rewritten by compaction. */
  readonly compacted: number;
  /**
   * Steps that failed for this partition (the others still ran), each with the error's code (a
   * Sluice error) or name: never its message, which may carry an AWS message or data.
   */
  readonly errors?: { readonly step: string; readonly code: string }[];
  /** The partition of a deleted topic whose data this run removed. */
  readonly purged?: boolean;
  /** Objects the sweeps deleted (daily: unreferenced objects; hourly: batch objects). */
  readonly swept?: number;
  /**
   * How far the oldest batch left in the hot tier is past its hot retention, in ms (0 when the
   * roller keeps up): the roller's lag, published as a metric with an alarm.
   */
  readonly lagMs?: number;
}

/**
 * The segment roller and retention. Per partition it takes the contiguous run of batches older
 * than the topic's `hotRetentionMs` (or beyond `hotRetentionBytes`), writes them as one immutable
 * S3 object, records the segment with a conditional write, and only then deletes the hot items;
 * the steps are the `RollState` machine in the partition state, so a roller that dies anywhere is
 * finished by the next run. Retention then drops whole segments and advances the log start.
 */
export class Tiering {
  private readonly log: LogStore;
  private readonly metadata: MetadataStore;
  private readonly store: TieringStore;
  private readonly objects: ObjectStore;
  /** The batch object prefixes' roots this roller sweeps: `batches/`, and `express-batches/` with a directory bucket. */
  private readonly batchStorages: readonly (keyof typeof BATCH_OBJECT_ROOTS)[];
  private readonly now: () => number;
  private readonly minRollAgeMs: number;
  private readonly hotCopyMarginMs: number;
  private readonly txns: TxnResolver | undefined;
  private readonly gaps: GapFiller;
  /** Per log, when the oldest batch still in the hot tier was appended, as the last roll saw it. */
  private readonly oldestUnrolled = new Map<string, number>();

  constructor(options: TieringOptions) {
    this.now = options.now ?? Date.now;
    // Batches of `storage: "s3"` topics are read with their bytes, as segments need them.
    this.objects = withExpressBatches(options.objects, options.expressObjects);
    this.batchStorages = options.expressObjects === undefined ? ['s3'] : ['s3', 's3-express'];
    this.log = objectBackedLog(options.log, new ObjectBatches({ objects: this.objects, now: this.now }));
    this.metadata = options.metadata;
    this.store = options.store;
    this.minRollAgeMs = options.minRollAgeMs ?? MIN_HOT_RETENTION_MS;
    this.hotCopyMarginMs = options.hotCopyMarginMs ?? DEFAULT_HOT_COPY_MARGIN_MS;
    this.txns = options.txns;
    const margin = this.hotCopyMarginMs;
    this.gaps = new GapFiller({
      log: this.log,
      now: this.now,
      expiresAt: (topic, appendedAt) => hotCopyExpiry(topic, appendedAt, margin),
    });
  }

  /** One pass over every partition of every topic. */
  /** One pass over every partition of every topic; a failing partition does not stop the others. */
  async runOnce(): Promise<PartitionReport[]> {
    return (await this.runUntil(Number.POSITIVE_INFINITY)).reports;
  }

  /**
   * One pass, stopping before `deadline` (epoch ms, this roller's clock): no partition is started
   * after it, and a partition's rolls stop between segments. Every step is resumable, so what is
   * left (`complete: false`, `remaining` partitions) is done by the next run.
   */
  async runUntil(deadline: number): Promise<{ reports: PartitionReport[]; complete: boolean; remaining: number }> {
    const reports: PartitionReport[] = await this.purgeDeletedTopics(deadline);
    const all = (await this.metadata.listTopics()).flatMap((topic) =>
      Array.from({ length: topic.config.partitions }, (_, partition) => ({ topic, partition })),
    );
    // A run cut short by its deadline must not leave the same partitions behind every time: a
    // run with a deadline starts at a random place in the list (one without, at its start).
    const start = Number.isFinite(deadline) ? Math.floor(Math.random() * all.length) : 0;
    const work = all.map((_, i) => all[(start + i) % all.length]!);
    for (let i = 0; i < work.length; i++) {
      if (this.now() >= deadline) return { reports, complete: false, remaining: work.length - i };
      reports.push(await this.runPartition(work[i]!.topic, work[i]!.partition, deadline));
    }
    return { reports, complete: true, remaining: 0 };
  }

  /**
   * The roller's work as independent units (see `WorkUnit`): one per partition of every topic, then
   * the purge of deleted topics. One query, whatever the topics hold.
   */
  async plan(options: { readonly sweep?: boolean; readonly sweepBatches?: boolean } = {}): Promise<WorkUnit[]> {
    const topics = await this.metadata.listTopics();
    return [
      ...topics.flatMap((topic) =>
        Array.from({ length: topic.config.partitions }, (_, partition) => ({
          kind: 'partition' as const,
          topic: topic.name,
          topicId: topic.topicId,
          partition,
          ...(options.sweep === true ? { sweep: true } : {}),
          // Hourly, only where appends write objects now (the daily sweep covers topics changed back).
          ...(options.sweepBatches === true && partition === 0 && isObjectStorage(topic.config.storage)
            ? { sweepBatches: true }
            : {}),
        })),
      ),
      { kind: 'purge' },
    ];
  }

  /**
   * Runs one unit before `deadline`. A partition of a topic deleted since the unit was planned (its
   * name gone or re-created with another id) has nothing to do: the purge removes its data.
   */
  async runUnit(unit: WorkUnit, deadline = Number.POSITIVE_INFINITY): Promise<PartitionReport[]> {
    if (unit.kind === 'purge') return this.purgeDeletedTopics(deadline);
    const topic = await this.metadata.getTopic(unit.topic);
    if (topic?.topicId !== unit.topicId || unit.partition >= topic.config.partitions) return [];
    const report = await this.runPartition(topic, unit.partition, deadline);
    if (unit.sweep !== true && unit.sweepBatches === true && this.now() < deadline) {
      try {
        return [{ ...report, swept: unit.partition === 0 ? await this.sweepBatchObjects(topic) : 0 }];
      } catch (e) {
        const code = isSluiceError(e) ? e.code : e instanceof Error ? e.name : 'Unknown';
        return [{ ...report, errors: [...(report.errors ?? []), { step: 'sweep', code }] }];
      }
    }
    if (unit.sweep !== true || this.now() >= deadline) return [report];
    try {
      // A topic's batch objects span its partitions: partition 0's unit sweeps them.
      const batches = unit.partition === 0 ? await this.sweepBatchObjects(topic) : 0;
      return [{ ...report, swept: batches + (await this.sweepOrphans(topic, unit.partition)) }];
    } catch (e) {
      const code = isSluiceError(e) ? e.code : e instanceof Error ? e.name : 'Unknown';
      return [{ ...report, errors: [...(report.errors ?? []), { step: 'sweep', code }] }];
    }
  }

  /**
   * Removes the data of deleted topics, partition by partition (each step idempotent: a purge that
   * dies is finished by the next run), then forgets each deletion. A deletion younger than
   * PURGE_GRACE_MS waits, so appends from processes that still cached the topic are purged too.
   */
  async purgeDeletedTopics(deadline = Number.POSITIVE_INFINITY): Promise<PartitionReport[]> {
    const reports: PartitionReport[] = [];
    const stores = { log: this.log, metadata: this.metadata, tiering: { store: this.store, objects: this.objects } };
    for (const deleted of await this.metadata.listDeletedTopics(PURGES_PER_RUN)) {
      if (deleted.deletedAt + PURGE_GRACE_MS > this.now()) continue;
      let failed = false;
      for (let partition = 0; partition < deleted.partitions; partition++) {
        if (this.now() >= deadline) return reports; // the rest (each step idempotent) next run
        try {
          await deletePartitionData(stores, logKey(deleted.topicId, partition), this.now());
          reports.push({ topic: deleted.name, partition, rolled: 0, expired: 0, compacted: 0, purged: true });
        } catch (e) {
          failed = true;
          const code = isSluiceError(e) ? e.code : e instanceof Error ? e.name : 'Unknown';
          reports.push({
            topic: deleted.name,
            partition,
            rolled: 0,
            expired: 0,
            compacted: 0,
            errors: [{ step: 'purge', code }],
          });
        }
      }
      if (failed) continue;
      // Last, the batch objects of an S3-backed topic: the steps above read claim keys through them.
      for (const storage of this.batchStorages) await this.deleteObjectsUnder(batchObjectPrefix(deleted, storage));
      await this.metadata.forgetDeletedTopic(deleted.topicId);
    }
    return reports;
  }

  async runPartition(
    topic: TopicRecord,
    partition: number,
    deadline = Number.POSITIVE_INFINITY,
  ): Promise<PartitionReport> {
    const errors: { step: string; code: string }[] = [];
    const attempt = async <T>(step: string, fn: () => Promise<T>, fallback: T): Promise<T> => {
      try {
        return await fn();
      } catch (e) {
        errors.push({ step, code: isSluiceError(e) ? e.code : e instanceof Error ? e.name : 'Unknown' });
        return fallback;
      }
    };
    await attempt('count segments', () => this.countSegments(topic, partition), undefined);
    await attempt('index segments', () => this.indexSegments(topic, partition), undefined);
    const rolled = await attempt(
      'roll',
      async () => {
        let n = 0;
        // A long backlog takes several segments; each is whole, so stopping between them is safe.
        while (n < 1000 && this.now() < deadline && (await this.rollOnce(topic, partition))) n++;
        return n;
      },
      0,
    );
    // A roller that cannot roll (S3 down, a bug) must not let DynamoDB's TTL take batches that are
    // only in the hot tier: their TTL is pushed out, which costs writes only while rolls fail.
    if (errors.some((e) => e.step === 'roll'))
      await attempt('protect', () => this.protectUnrolled(topic, partition), 0);
    const compacted =
      topic.config.cleanupPolicy === 'compact' ? await attempt('compact', () => this.compact(topic, partition), 0) : 0;
    const expired = await attempt('retention', () => this.applyRetention(topic, partition), 0);
    const oldest = this.oldestUnrolled.get(logKey(topic.topicId, partition));
    const lagMs = oldest === undefined ? 0 : Math.max(0, this.now() - topic.config.hotRetentionMs - oldest);
    return {
      topic: topic.name,
      partition,
      rolled,
      expired,
      compacted,
      lagMs,
      ...(errors.length > 0 ? { errors } : {}),
    };
  }

  /**
   * Pushes out the TTL of unrolled hot batches whose expiry is less than a quarter of the margin
   * away, to a full margin from now. Returns how many it extended.
   */
  async protectUnrolled(topic: TopicRecord, partition: number): Promise<number> {
    const log = logKey(topic.topicId, partition);
    const state = await this.metadata.getPartitionState(log);
    const now = this.now();
    const soon = (now + this.hotCopyMarginMs / 4) / 1000;
    let extended = 0;
    for (let offset = state.tieredThrough; ;) {
      const page = await this.log.scanBatchHeaders(log, offset, PAGE_BATCHES);
      const due = page.batches.filter((b) => b.baseOffset >= offset && b.expiresAt !== undefined && b.expiresAt < soon);
      await this.store.extendExpiry(
        log,
        due.map((b) => b.baseOffset),
        Math.ceil((now + this.hotCopyMarginMs) / 1000),
      );
      extended += due.length;
      const last = page.batches.at(-1);
      if (page.reachedEnd || last === undefined) return extended;
      offset = last.baseOffset + last.recordCount;
    }
  }

  /**
   * Deletes a topic's batch objects (objectBatches.ts) that no hot batch can refer to any more:
   * those written before `BATCH_CLAIM_WINDOW_MS` ahead of every partition's oldest hot batch. The
   * roller runs it every hour for object-storage topics (`sweepBatches` units), so a batch's bytes
   * stay in S3 about its hot retention and 30 minutes to an hour and a half more.
   *
   * Why that is safe: an object is written just before its batches reserve their offsets, and each
   * batch is claimed within the request that wrote the object (a Lambda's time at most), so every
   * batch pointing at an object was appended less than the window after the object's time (both
   * read off the writer's clock; the window covers clock skew between writers too). Offsets are
   * reserved in time order, so once a partition's hot tier starts (at `tieredThrough`) with a
   * batch appended at T, no hot batch of it points at an object written before T − window: those
   * batches are in segments now, or were never claimed. A directory bucket (`s3-express`) lists
   * keys in no order, so the listing reads every object left (those younger than the cutoff: a
   * day's at most, one LIST per 1,000) rather than stopping at the first young one.
   */
  async sweepBatchObjects(topic: TopicRecord): Promise<number> {
    let cutoff = this.now() - BATCH_CLAIM_WINDOW_MS;
    for (let partition = 0; partition < topic.config.partitions; partition++) {
      const log = logKey(topic.topicId, partition);
      const state = await this.metadata.getPartitionState(log);
      const page = await this.log.scanBatchHeaders(log, state.tieredThrough, 1);
      const first = page.batches.find((b) => b.baseOffset + b.recordCount > state.tieredThrough);
      if (first?.appendedAt !== undefined) cutoff = Math.min(cutoff, first.appendedAt - BATCH_CLAIM_WINDOW_MS);
      else if (first !== undefined) return 0; // a batch without an append time: keep everything
    }
    let swept = 0;
    for (const storage of this.batchStorages) {
      let keys: string[] = [];
      for await (const { key } of this.objects.list(batchObjectPrefix(topic, storage))) {
        const writtenAt = objectWrittenAt(key);
        if (writtenAt === undefined || writtenAt >= cutoff) continue;
        keys.push(key);
        if (keys.length === 1000) {
          await this.objects.delete(keys);
          swept += keys.length;
          keys = [];
        }
      }
      await this.objects.delete(keys);
      swept += keys.length;
    }
    return swept;
  }

  /**
   * Deletes a partition's objects that nothing refers to and that are older than `minAgeMs`: claim
   * checks of appends that failed after writing them, and segments of compactions that died
   * between writing and swapping in. Referenced are the segments recorded (and a roll's object in
   * progress), their claim lists and the claim checks those list, and the claim checks of hot
   * batches from `tieredThrough` on. The age guard (a day by default) is far longer than any
   * append or roll takes, so nothing is taken from under one. A scan of the partition's objects:
   * the roller runs it once a day.
   */
  async sweepOrphans(topic: TopicRecord, partition: number, minAgeMs = ORPHAN_MIN_AGE_MS): Promise<number> {
    const log = logKey(topic.topicId, partition);
    const state = await this.metadata.getPartitionState(log);
    const referenced = new Set<string>(state.roll === undefined ? [] : [state.roll.key, `${state.roll.key}.claims`]);
    for (const segment of await this.store.listSegments(log)) {
      referenced.add(segment.key);
      for (const key of await segmentClaimObjects(this.objects, segment)) referenced.add(key);
    }
    for (let offset = state.tieredThrough; ;) {
      const page = await this.log.readBatches(log, offset, 100);
      for (const b of page.batches.filter((x) => x.baseOffset + x.recordCount > offset))
        for (const key of claimKeys(b)) referenced.add(key);
      const last = page.batches.at(-1);
      if (page.reachedEnd || last === undefined) break;
      offset = last.baseOffset + last.recordCount;
    }
    const cutoff = this.now() - minAgeMs;
    const orphans: string[] = [];
    for (const prefix of [`segments/${topic.name}/${partition}/`, `claims/${topic.name}/${partition}/`]) {
      for await (const o of this.objects.list(prefix)) {
        // Another incarnation's segments are its purge's business.
        if (prefix.startsWith('segments/') && !o.key.includes(`.${topic.topicId}`)) continue;
        if (!referenced.has(o.key) && o.modifiedAt < cutoff) orphans.push(o.key);
      }
    }
    await this.objects.delete(orphans);
    return orphans.length;
  }

  /**
   * Partition states written before the segment counters existed get them once, from a listing
   * (the roller exists to scan); every later segment change keeps them.
   */
  async countSegments(topic: TopicRecord, partition: number): Promise<void> {
    const log = logKey(topic.topicId, partition);
    const state = await this.metadata.getPartitionState(log);
    if (state.segments !== undefined || state.version === 0) return;
    const segments = await this.store.listSegments(log);
    const counted = { count: segments.length, bytes: segments.reduce((n, s) => n + s.sizeBytes, 0) };
    await this.store.setPartitionState(log, { ...state, segments: counted, version: state.version + 1 });
  }

  /**
   * Segments rolled before the time index existed get their running maximum timestamp, once, in
   * offset order (the roller exists to scan); then the partition state carries it for every later
   * roll. Each segment is updated on its own, so a run that stops is resumed by the next.
   */
  async indexSegments(topic: TopicRecord, partition: number): Promise<void> {
    const log = logKey(topic.topicId, partition);
    let state = await this.metadata.getPartitionState(log);
    if (state.tieredMaxTimestamp !== undefined || state.tieredThrough === 0) return;
    let running = 0;
    for (const segment of await this.store.listSegments(log)) {
      running = Math.max(running, segment.runningMaxTimestamp ?? segment.maxTimestamp);
      if (segment.runningMaxTimestamp !== undefined) continue; // indexed by a run that stopped
      const next = { ...state, version: state.version + 1 };
      if (!(await this.store.replaceSegment({ ...segment, runningMaxTimestamp: running }, segment.key, next))) return;
      state = next;
    }
    await this.store.setPartitionState(log, { ...state, tieredMaxTimestamp: running, version: state.version + 1 });
  }

  /** Advances the roll state machine by one whole roll; false when there was nothing to do. */
  async rollOnce(topic: TopicRecord, partition: number): Promise<boolean> {
    const log = logKey(topic.topicId, partition);
    let state = await this.metadata.getPartitionState(log);
    if (state.tieredMaxTimestamp === undefined && state.tieredThrough > 0) {
      // Segments rolled before the time index: index them first, as the next one continues from them.
      await this.indexSegments(topic, partition);
      state = await this.metadata.getPartitionState(log);
      if (state.tieredMaxTimestamp === undefined) return false; // another roller moved the state: next run
    }
    // The batches this call read to begin the roll: uploading them needs no second read.
    let known: StoredBatch[] | undefined;
    if (state.roll === undefined) {
      const batches = await this.eligible(topic, log, state);
      if (batches.length === 0) return false;
      const base = batches[0]!.baseOffset;
      const last = batches.at(-1)!;
      const next: PartitionState = {
        ...state,
        version: state.version + 1,
        roll: {
          phase: 'uploading',
          base,
          end: last.baseOffset + last.recordCount,
          key: segmentKey(topic.name, topic.topicId, partition, base),
          startedAt: this.now(),
          deleteHot: batches.some((b) => b.expiresAt === undefined),
        },
      };
      if (!(await this.store.setPartitionState(log, next))) return true; // someone else moved it: look again
      state = next;
      known = batches;
    }
    const roll = state.roll!;
    if (roll.phase === 'uploading') {
      const batches = known ?? (await this.hotRange(log, roll.base, roll.end));
      const segment = encodeSegment(await this.markAborted(batches));
      await this.objects.put(roll.key, segment.bytes); // deterministic key and bytes: repeating this is harmless
      const claims = await this.writeClaimList(roll.key, batches.flatMap(claimKeys));
      const maxTimestamp = Math.max(...batches.map((b) => b.maxTimestamp));
      // The time index: the running maximum continues from everything rolled before (timeIndex.ts).
      const runningMaxTimestamp = Math.max(state.tieredMaxTimestamp ?? 0, maxTimestamp);
      const record: SegmentRecord = {
        log,
        base: roll.base,
        end: roll.end,
        key: roll.key,
        ...layout(segment, batches),
        maxTimestamp,
        runningMaxTimestamp,
        appendedUntil: Math.max(...batches.map((b) => b.appendedAt ?? b.maxTimestamp)),
        createdAt: this.now(),
        ...(claims === undefined ? {} : { claims }),
      };
      const next: PartitionState = {
        ...state,
        version: state.version + 1,
        tieredThrough: roll.end,
        roll: { ...roll, phase: 'deleting' },
        segments: addSegments(state, 1, record.sizeBytes),
        tieredMaxTimestamp: runningMaxTimestamp,
      };
      if (!(await this.store.recordSegment(record, next))) return true; // another roller recorded it; it will finish
      state = next;
    }
    // deleting: the segment is recorded and readers use it. Hot copies with a TTL expire by
    // themselves (and keep their offsets visibly taken until then); older ones are deleted.
    for (let offset = roll.base; roll.deleteHot !== false && offset < roll.end;) {
      const hot = await this.log.scanBatchHeaders(log, offset, PAGE_BATCHES);
      const inRoll = hot.batches.filter((b) => b.baseOffset >= offset && b.baseOffset < roll.end);
      await this.store.deleteBatches(
        log,
        inRoll.filter((b) => b.expiresAt === undefined).map((b) => b.baseOffset),
      );
      const last = inRoll.at(-1);
      if (hot.reachedEnd || last === undefined) break;
      offset = last.baseOffset + last.recordCount;
    }
    const { roll: _done, ...rest } = state;
    await this.store.setPartitionState(log, { ...rest, version: state.version + 1 });
    return true;
  }

  /**
   * The contiguous run of hot batches from `tieredThrough` that may move, paged through up to the
   * topic's `segmentBytes`: never the tail batch (unless near its TTL), and never past a gap (a
   * range whose writer has not put its batch yet; one whose writer died is filled here, for the
   * next roll to take). Memory is bounded by the segment size.
   */
  private async txnStatus(txn: string): Promise<'committed' | 'aborted' | 'open'> {
    if (this.txns === undefined) return 'open'; // cannot know: keep it hot
    return (await this.txns.resolve([txn])).get(txn) ?? 'open';
  }

  /** The batches with those of aborted transactions marked (outcomes never change: the bytes are deterministic). */
  private async markAborted(batches: readonly StoredBatch[]): Promise<StoredBatch[]> {
    const keys = batches.flatMap((b) => (b.txn === undefined || b.control !== undefined ? [] : [b.txn]));
    if (keys.length === 0 || this.txns === undefined) return [...batches];
    const statuses = await this.txns.resolve(keys);
    return batches.map((b) =>
      b.txn !== undefined && b.control === undefined && statuses.get(b.txn) === 'aborted' ? { ...b, aborted: true } : b,
    );
  }

  private async eligible(topic: TopicRecord, log: string, state: PartitionState): Promise<StoredBatch[]> {
    const tail = await this.log.lastBatch(log);
    if (tail === undefined) return [];
    const now = this.now();
    const cutoff = now - topic.config.hotRetentionMs;
    const youngest = now - this.minRollAgeMs;
    // A batch this close to its TTL moves whatever the topic's hot retention says (it may have grown since).
    const expiring = (b: StoredBatch) =>
      b.expiresAt !== undefined && b.expiresAt * 1000 <= now + this.hotCopyMarginMs / 2;
    const target = topic.config.segmentBytes ?? DEFAULT_TOPIC_CONFIG.segmentBytes!;
    let hotBytes = topic.config.hotRetentionBytes < 0 ? 0 : await this.hotBytes(log, state.tieredThrough);
    const out: StoredBatch[] = [];
    let storedBytes = 0;
    let expected = state.tieredThrough;
    // The oldest batch not yet rolled (the first this roll takes, or where it stops): what the
    // roller's lag is measured by.
    const stop = (b: StoredBatch | undefined): StoredBatch[] => {
      const oldest = out[0] ?? b;
      if (oldest === undefined) this.oldestUnrolled.delete(log);
      else this.oldestUnrolled.set(log, oldest.appendedAt ?? now);
      return out;
    };
    for (let reachedEnd = false; ;) {
      if (reachedEnd) return stop(undefined);
      // Whole batches (a header-only query costs the same read units), kept for the upload.
      const page = await this.log.readBatches(log, expected, PAGE_BATCHES);
      reachedEnd = page.reachedEnd || page.batches.length === 0;
      for (const b of page.batches) {
        if (b.baseOffset < expected) continue;
        // The tail batch stays hot while it can (readers at the end stay on DynamoDB); near its TTL
        // it moves too, and the high watermark is then the tiered end.
        if (b.baseOffset >= tail.baseOffset && !expiring(b)) return stop(undefined); // the tail is not behind
        if (b.baseOffset !== expected) {
          if (out.length === 0) await this.gaps.fill(topic, log, expected, b, state.tieredThrough);
          return stop(b);
        }
        // A transaction still open: its outcome must be known before its batches leave the hot tier.
        if (b.txn !== undefined && b.control === undefined && (await this.txnStatus(b.txn)) === 'open') return stop(b);
        const old = (b.appendedAt ?? 0) <= cutoff || expiring(b);
        const overBudget = topic.config.hotRetentionBytes >= 0 && hotBytes > topic.config.hotRetentionBytes;
        if ((!old && !overBudget) || (b.appendedAt ?? 0) > youngest) return stop(b);
        if (out.length >= MAX_SEGMENT_BATCHES || (out.length > 0 && storedBytes + b.payload.length > target))
          return stop(b);
        out.push(b);
        hotBytes -= b.sizeBytes;
        storedBytes += b.payload.length;
        expected = b.baseOffset + b.recordCount;
      }
    }
  }

  private async hotBytes(log: string, from: number): Promise<number> {
    let total = 0;
    for (let offset = from; ;) {
      const page = await this.log.scanBatchHeaders(log, offset, 1000);
      total += page.batches.filter((b) => b.baseOffset >= offset).reduce((n, b) => n + b.sizeBytes, 0);
      const last = page.batches.at(-1);
      if (page.reachedEnd || last === undefined) return total;
      offset = last.baseOffset + last.recordCount;
    }
  }

  /** Every hot batch in [base, end), checked to be complete and contiguous. */
  private async hotRange(log: string, base: number, end: number): Promise<StoredBatch[]> {
    const out: StoredBatch[] = [];
    for (let offset = base; offset < end;) {
      const page = await this.log.readBatches(log, offset, 100);
      const next = page.batches.filter((b) => b.baseOffset >= offset && b.baseOffset < end);
      if (next.length === 0 || next[0]!.baseOffset !== offset)
        throw new Error(`hot batches of ${log} from ${offset} are missing; cannot roll [${base}, ${end})`);
      for (const b of next) {
        if (b.baseOffset !== offset) throw new Error(`hot batches of ${log} are not contiguous at ${offset}`);
        out.push(b);
        offset = b.baseOffset + b.recordCount;
      }
    }
    return out;
  }

  /**
   * Retention by time (`retentionMs`, on when the newest batch of a segment was appended) and by size
   * (`retentionBytes`, tiered plus hot), and after delete-records: drops whole segments from the
   * start and advances the log start offset. Returns how many segments went.
   */
  async applyRetention(topic: TopicRecord, partition: number): Promise<number> {
    const log = logKey(topic.topicId, partition);
    const state = await this.metadata.getPartitionState(log);
    const segments = await this.store.listSegments(log);
    if (segments.length === 0) return 0;
    // A compacted topic keeps the latest value of every key: only delete-records shortens it.
    const compacted = topic.config.cleanupPolicy === 'compact';
    const retentionMs = compacted ? -1 : topic.config.retentionMs;
    const retentionBytes = compacted ? -1 : topic.config.retentionBytes;
    let total =
      retentionBytes < 0
        ? 0
        : segments.reduce((n, s) => n + s.sizeBytes, 0) + (await this.hotBytes(log, state.tieredThrough));
    const doomed: SegmentRecord[] = [];
    for (const s of segments) {
      // By append time: a record's own timestamp (set by its producer) neither pins nor expires it.
      const expired = retentionMs >= 0 && (s.appendedUntil ?? s.maxTimestamp) < this.now() - retentionMs;
      const oversize = retentionBytes >= 0 && total > retentionBytes;
      const deletedRecords = s.end <= state.logStartOffset;
      if (!expired && !oversize && !deletedRecords) break;
      doomed.push(s);
      total -= s.sizeBytes;
      if (doomed.length >= 90) break;
    }
    if (doomed.length === 0) return 0;
    const logStartOffset = Math.max(state.logStartOffset, doomed.at(-1)!.end);
    // The log start moves first (with the records), so no reader is sent to an object about to go.
    if (
      !(await this.store.dropSegments(
        log,
        doomed.map((s) => s.base),
        {
          ...state,
          logStartOffset,
          version: state.version + 1,
          segments: addSegments(state, -doomed.length, -doomed.reduce((n, s) => n + s.sizeBytes, 0)),
        },
      ))
    )
      return 0;
    for (const s of doomed) await this.objects.delete([s.key, ...(await this.claimList(s))]);
    return doomed.length;
  }

  /**
   * Compaction (cleanupPolicy `compact`): keeps the latest record per key in the tiered segments,
   * and drops a key whose latest record is a tombstone once its segment is older than
   * `deleteRetentionMs`. The hot tier is left alone but counts: a key updated there supersedes its
   * tiered records. Offsets are kept, so compacted segments have gaps, as in Kafka. A rewritten
   * segment is a new object under a new deterministic key; its record is swapped conditionally,
   * then the old object and the claim checks of dropped records are deleted.
   *
   * Memory is bounded as Kafka's cleaner bounds it: a first pass builds an offset map (each key's
   * latest offset, not its records) reading one segment at a time, then the hot tier page by page;
   * a second pass rewrites one segment at a time.
   */
  async compact(topic: TopicRecord, partition: number): Promise<number> {
    const log = logKey(topic.topicId, partition);
    const state = await this.metadata.getPartitionState(log);
    const segments = await this.store.listSegments(log);
    if (segments.length === 0) return 0;
    const latest = new Map<string, number>();
    const note = (records: ConsumerRecord[]) => {
      for (const r of records) if (r.key !== null) latest.set(keyId(r.key), r.offset);
    };
    // Records of aborted transactions never supersede anything (they are removed below), nor do
    // those of open ones (they may abort): Kafka's cleaner ignores them too.
    for (const segment of segments) {
      const batches = await this.batchesUnlessReplaced(segment);
      // Another compactor replaced a segment since the listing: it is at work, so leave it to it.
      if (batches === undefined) return 0;
      for (const b of batches) if (b.aborted !== true) note(decodeStoredBatch(b));
    }
    for (let offset = state.tieredThrough; ;) {
      const page = await this.log.readBatches(log, offset, 100);
      for (const b of page.batches.filter((b) => b.baseOffset >= offset)) {
        if (b.txn === undefined || b.control !== undefined || (await this.txnStatus(b.txn)) === 'committed')
          note(decodeStoredBatch(b));
      }
      const last = page.batches.at(-1);
      if (page.reachedEnd || last === undefined) break;
      offset = last.baseOffset + last.recordCount;
    }
    let rewritten = 0;
    for (const segment of segments) {
      const batches = await this.batchesUnlessReplaced(segment);
      if (batches === undefined) continue; // compacted by another compactor meanwhile
      const tombstonesExpire = segment.createdAt + topic.config.deleteRetentionMs <= this.now();
      const kept: StoredBatch[] = [];
      const dropped: string[] = [];
      let changed = false;
      for (const batch of batches) {
        const records = decodeStoredBatch(batch);
        if (batch.aborted === true) {
          // An aborted transaction's records: removed, their offsets a gap, as compaction's others.
          changed = true;
          records.forEach((r) => r.value instanceof ClaimCheck && dropped.push(r.value.key));
          continue;
        }
        const bodies = splitRecordBodies(decompress(batch.codec, batch.payload));
        const keep = records.map(
          (r) => r.key === null || (latest.get(keyId(r.key)) === r.offset && !(r.value === null && tombstonesExpire)),
        );
        if (keep.every(Boolean)) {
          kept.push(batch);
          continue;
        }
        changed = true;
        records.forEach((r, k) => !keep[k] && r.value instanceof ClaimCheck && dropped.push(r.value.key));
        // Runs of consecutive kept offsets become batches; the offsets between them are gaps.
        for (let k = 0; k < records.length;) {
          if (!keep[k]) {
            k++;
            continue;
          }
          let end = k;
          while (end + 1 < records.length && keep[end + 1]) end++;
          const run = records.slice(k, end + 1);
          const raw = joinRecordBodies(bodies.slice(k, end + 1));
          kept.push({
            log,
            baseOffset: run[0]!.offset,
            recordCount: run.length,
            firstTimestamp: run[0]!.timestamp,
            maxTimestamp: Math.max(...run.map((r) => r.timestamp)),
            sizeBytes: raw.length,
            codec: batch.codec,
            payload: compress(batch.codec, raw),
            writerId: 'compaction',
          });
          k = end + 1;
        }
      }
      if (!changed) continue;
      const compactions = (segment.compactions ?? 0) + 1;
      const key = segmentKey(
        topic.name,
        topic.topicId,
        partition,
        segment.base,
        `c${compactions}-${randomUUID().slice(0, 8)}`,
      );
      const encoded = encodeSegment(kept, segment.base);
      await this.objects.put(key, encoded.bytes);
      const claimed = await this.unlessReplaced(segment, () => segmentClaims(this.objects, segment));
      if (claimed === undefined) {
        await this.objects.delete([key]); // compacted by another compactor meanwhile: ours is unreferenced
        continue;
      }
      const remaining = claimed.filter((c) => !dropped.includes(c));
      const claims = await this.writeClaimList(key, remaining);
      const { claims: _previous, ...rest } = segment;
      const next: SegmentRecord = {
        ...rest,
        ...(claims === undefined ? {} : { claims }),
        key,
        compactions,
        ...layout(encoded, kept),
        // Its own maximum shrinks with it, so look-ups by timestamp skip what compaction removed;
        // the running maximum stays (an upper bound, as it must be to keep segments in order).
        maxTimestamp: kept.length === 0 ? -1 : Math.max(...kept.map((b) => b.maxTimestamp)),
      };
      const now = await this.metadata.getPartitionState(log);
      const counted = {
        ...now,
        version: now.version + 1,
        segments: addSegments(now, 0, next.sizeBytes - segment.sizeBytes),
      };
      if (!(await this.store.replaceSegment(next, segment.key, counted))) {
        await this.objects.delete([key, ...(claims === undefined ? [] : [claims.key])]); // another compactor won: ours is unreferenced
        continue;
      }
      await this.objects.delete([
        segment.key,
        ...(segment.claims === undefined ? [] : [segment.claims.key]),
        ...dropped,
      ]);
      rewritten++;
    }
    return rewritten;
  }

  /**
   * A segment's batches, or undefined when its object is gone because another compactor (or
   * retention) replaced or removed the segment after it was listed. A missing object the segment
   * list still names is corruption, and throws.
   */
  private batchesUnlessReplaced(segment: SegmentRecord): Promise<StoredBatch[] | undefined> {
    return this.unlessReplaced(segment, () => this.segmentBatches(segment));
  }

  /** Reads one of a segment's objects; undefined when the segment was replaced or removed meanwhile. */
  private async unlessReplaced<T>(segment: SegmentRecord, read: () => Promise<T>): Promise<T | undefined> {
    try {
      return await read();
    } catch (e) {
      if (!(isSluiceError(e, 'CorruptData') && /object is missing/.test(e.message))) throw e;
      const current = await this.store.listSegments(segment.log);
      if (current.some((s) => s.key === segment.key)) throw e;
      return undefined;
    }
  }

  /** Deletes every object under `prefix`, a page of keys at a time. */
  private async deleteObjectsUnder(prefix: string): Promise<void> {
    let keys: string[] = [];
    for await (const { key } of this.objects.list(prefix)) {
      keys.push(key);
      if (keys.length === 1000) {
        await this.objects.delete(keys);
        keys = [];
      }
    }
    if (keys.length > 0) await this.objects.delete(keys);
  }

  /** Every batch of a segment, read whole from S3 and checked. */
  private async segmentBatches(segment: SegmentRecord): Promise<StoredBatch[]> {
    const bytes = await this.objects.getRange(segment.key, 0, segment.objectSize - 1);
    const index = decodeSegmentIndex(
      bytes.subarray(segment.indexPosition, segment.indexPosition + segment.indexLength),
      segment.key,
    );
    return index.map((e) =>
      batchFromSegment(e, bytes.subarray(e.position, e.position + e.length), segment.log, segment.key),
    );
  }

  /** Writes a segment's claim-check list beside it (nothing when there are none). */
  private async writeClaimList(segmentKey: string, claims: readonly string[]): Promise<SegmentRecord['claims']> {
    if (claims.length === 0) return undefined;
    const bytes = new TextEncoder().encode(JSON.stringify(claims));
    const key = `${segmentKey}.claims`;
    await this.objects.put(key, bytes);
    return { key, size: bytes.length, count: claims.length };
  }

  /** The claim checks a segment refers to, plus the list object itself. */
  claimList(segment: SegmentRecord): Promise<string[]> {
    return segmentClaimObjects(this.objects, segment);
  }
}

/** Where a segment's parts lie in its object, and how much it holds. */
function layout(
  encoded: { bytes: Uint8Array; indexPosition: number; indexLength: number },
  batches: readonly StoredBatch[],
) {
  return {
    objectSize: encoded.bytes.length,
    indexPosition: encoded.indexPosition,
    indexLength: encoded.indexLength,
    batches: batches.length,
    storedBytes: batches.reduce((n, b) => n + b.payload.length, 0),
    sizeBytes: batches.reduce((n, b) => n + b.sizeBytes, 0),
  };
}

function keyId(key: string | Uint8Array): string {
  return typeof key === 'string' ? `s:${key}` : `b:${Buffer.from(key).toString('base64')}`;
}

/**
 * The segment counters after a change; a state without counters (written before they existed)
 * stays without, for `countSegments` to fill in from a listing.
 */
function addSegments(state: PartitionState, count: number, bytes: number): PartitionState['segments'] {
  if (state.segments === undefined && state.version > 0 && state.tieredThrough > 0) return undefined;
  const current = state.segments ?? { count: 0, bytes: 0 };
  return { count: current.count + count, bytes: current.bytes + bytes };
}
