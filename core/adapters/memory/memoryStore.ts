import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb';
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
  SegmentRecord,
  SequencerTime,
  StoredBatch,
  TieringStore,
  TimeMark,
  TopicRecord,
} from '../../ports.ts';
import { metadataKeys, timeIndexKeys } from '../../schema.ts';
import {
  MAX_ITEM_BYTES,
  batchItemBytes,
  consumed,
  indexEntryBytes,
  indexReadUnits,
  jsonItemBytes,
  queryPage,
  readUnits,
  timeIndexKeyOf,
  writeUnits,
} from './capacity.ts';
import { MemoryPart } from './memoryAtomic.ts';

/** Segment records read per page while none reaches a timestamp, as the DynamoDB adapter asks. */
const REACHING_PAGE = 1000;

export interface MemoryStoreOptions {
  /**
   * Called with what each request would consume in DynamoDB (one call per request, in the AWS
   * SDK's shape), as the DynamoDB adapter's `onConsumedCapacity` is.
   */
  readonly onConsumedCapacity?: (capacity: ConsumedCapacity[]) => void;
}

/** A sequencer item's size: its keys and a few numbers. */
const SEQUENCER_BYTES = 96;

const EMPTY_STATE: PartitionState = { logStartOffset: 0, tieredThrough: 0, version: 0 };

/**
 * In-memory storage with the same rules as the DynamoDB adapter (and the same contract tests).
 * Every method yields to the event loop once, so concurrent callers interleave as they would
 * against a real store. Values are copied in and out so callers cannot mutate stored state.
 *
 * It also models DynamoDB's limits and costs (see capacity.ts): items over 400 KB are refused,
 * a Query page ends at 1 MB, and every request reports the read and write units it would consume,
 * so tests on this store catch cost that grows with history.
 */
export class MemoryStore implements LogStore, MetadataStore, TieringStore {
  private readonly onCapacity: ((capacity: ConsumedCapacity[]) => void) | undefined;
  private readonly logs = new Map<string, StoredBatch[]>();
  private readonly topics = new Map<string, TopicRecord>();
  private readonly producers = new Map<string, ProducerState>();
  private readonly partitionStates = new Map<string, PartitionState>();
  private readonly segments = new Map<string, SegmentRecord[]>();
  private readonly deletedTopics = new Map<string, DeletedTopic>();
  /** Per partition log: the next offset to hand out, the last reservation's base, and the time chain. */
  private readonly sequencers = new Map<
    string,
    { next: number; last?: number; time?: { chainStart: number; maxTimestamp?: number; bytes: number } }
  >();

  constructor(options: MemoryStoreOptions = {}) {
    this.onCapacity = options.onConsumedCapacity;
  }

  private charge(table: 'log' | 'metadata', units: { read?: number; write?: number }): void {
    this.onCapacity?.([consumed(table, units)]);
  }

  async reserveOffsets(
    log: string,
    count: number,
    time: ReservationTime,
  ): Promise<Reservation | 'raise' | 'kept' | undefined> {
    await tick();
    this.charge('metadata', { write: writeUnits(SEQUENCER_BYTES) }); // a failed condition costs the same
    const sequencer = this.sequencers.get(log);
    if (sequencer === undefined) return undefined;
    // As the DynamoDB adapter's conditional update: the maximum rises with the reservation, or not at all.
    const current = sequencer.time?.maxTimestamp;
    if (time.raise && current !== undefined && current >= time.maxTimestamp) return 'kept';
    if (!time.raise && (current === undefined || current < time.maxTimestamp)) return 'raise';
    const chain = {
      chainStart: sequencer.time?.chainStart ?? sequencer.next,
      maxTimestamp: time.raise ? time.maxTimestamp : current!,
      bytes: (sequencer.time?.bytes ?? 0) + time.bytes,
    };
    const reservation = {
      base: sequencer.next,
      ...(sequencer.last === undefined ? {} : { previousBase: sequencer.last }),
      time: chain,
    };
    this.sequencers.set(log, { next: sequencer.next + count, last: sequencer.next, time: chain });
    return reservation;
  }

  async advanceSequencer(log: string, next: number): Promise<void> {
    await tick();
    this.charge('metadata', { write: writeUnits(SEQUENCER_BYTES) });
    const sequencer = this.sequencers.get(log);
    // The time chain starts again here: what lies below was written without this sequencer.
    if (sequencer === undefined || sequencer.next < next)
      this.sequencers.set(log, { next, time: { chainStart: next, bytes: 0 } });
  }

  async sequencerTime(log: string): Promise<SequencerTime | undefined> {
    await tick();
    this.charge('metadata', { read: readUnits(this.sequencers.has(log) ? SEQUENCER_BYTES : 0) });
    const time = this.sequencers.get(log)?.time;
    return time?.maxTimestamp === undefined ? undefined : { ...time, maxTimestamp: time.maxTimestamp };
  }

  /**
   * What DynamoDB's TTL does some time after an item's `expiresAt`: removes the batches that
   * expired by `nowMs` (a test calls it to age the store).
   */
  expireBatches(nowMs: number): number {
    let removed = 0;
    for (const [log, batches] of this.logs) {
      const kept = batches.filter((b) => b.expiresAt === undefined || b.expiresAt * 1000 > nowMs);
      removed += batches.length - kept.length;
      this.logs.set(log, kept);
    }
    return removed;
  }

  batchPart(batch: StoredBatch): MemoryPart {
    const size = batchItemBytes(batch);
    if (size > MAX_ITEM_BYTES)
      throw new Error(`ValidationException: Item size ${size} has exceeded the maximum allowed size`);
    const copy = copyBatch(batch);
    const existing = () => {
      const batches = this.logs.get(batch.log) ?? [];
      const at = firstAtOrAfter(batches, batch.baseOffset);
      return batches[at]?.baseOffset === batch.baseOffset ? batches[at] : undefined;
    };
    return new MemoryPart(
      1,
      size,
      () => {
        const held = existing();
        return held === undefined ? undefined : { item: 0, existing: copyBatch(held) };
      },
      () => {
        const batches = this.logs.get(batch.log) ?? [];
        batches.splice(firstAtOrAfter(batches, batch.baseOffset), 0, copy);
        this.logs.set(batch.log, batches);
      },
      () => this.charge('log', { write: 2 * writeUnits(size) + indexWrites([batch]) }),
    );
  }

  async putBatch(batch: StoredBatch, producer?: ProducerStateWrite): Promise<PutBatchResult> {
    await tick();
    const size = batchItemBytes(batch);
    if (size > MAX_ITEM_BYTES)
      throw new Error(`ValidationException: Item size ${size} has exceeded the maximum allowed size`);
    const batches = this.logs.get(batch.log) ?? [];
    const at = firstAtOrAfter(batches, batch.baseOffset);
    const existing = batches[at]?.baseOffset === batch.baseOffset ? batches[at] : undefined;
    const stateChanged =
      producer !== undefined &&
      this.producers.get(producerKey(producer.producerId, producer.log))?.version !== producer.expectedVersion;
    // A failed condition costs what a write would; a transaction (with the producer state) twice; a
    // mark written also writes its time index entry.
    const indexUnits = existing === undefined && !stateChanged ? indexWrites([batch]) : 0;
    const producerBytes = producer === undefined ? 0 : jsonItemBytes(producer.producerId, producer.log, producer.next);
    this.charge('log', { write: writeUnits(size) * (producer === undefined ? 1 : 2) + indexUnits });
    if (producer !== undefined) this.charge('metadata', { write: 2 * writeUnits(producerBytes) });
    if (existing !== undefined) return { outcome: 'offset-taken', existing: copyBatch(existing) };
    if (stateChanged) return { outcome: 'producer-state-changed' };
    if (producer !== undefined)
      this.producers.set(producerKey(producer.producerId, producer.log), structuredClone(producer.next));
    batches.splice(at, 0, copyBatch(batch)); // kept sorted by base offset
    this.logs.set(batch.log, batches);
    return { outcome: 'written' };
  }

  async getBatch(log: string, baseOffset: number): Promise<StoredBatch | undefined> {
    await tick();
    const batches = this.logs.get(log) ?? [];
    const found = batches[firstAtOrAfter(batches, baseOffset)];
    const batch = found?.baseOffset === baseOffset ? found : undefined;
    this.charge('log', { read: readUnits(batch === undefined ? 0 : batchItemBytes(batch)) });
    return batch === undefined ? undefined : copyBatch(batch);
  }

  async lastBatch(log: string): Promise<StoredBatch | undefined> {
    await tick();
    const last = this.logs.get(log)?.at(-1);
    this.charge('log', { read: readUnits(last === undefined ? 0 : batchItemBytes(last)) });
    return last === undefined ? undefined : copyBatch(last);
  }

  async batchAtOrBefore(log: string, offset: number): Promise<StoredBatch | undefined> {
    await tick();
    const batches = this.logs.get(log) ?? [];
    const at = firstAtOrAfter(batches, offset);
    const found = batches[at]?.baseOffset === offset ? batches[at] : batches[at - 1];
    this.charge('log', { read: readUnits(found === undefined ? 0 : batchItemBytes(found)) });
    return found === undefined ? undefined : { ...copyBatch(found), payload: new Uint8Array(0) };
  }

  async readBatches(log: string, fromOffset: number, maxBatches: number): Promise<BatchPage> {
    await tick();
    const batches = this.logs.get(log) ?? [];
    // As the DynamoDB adapter queries: batches from fromOffset on (one more than asked, a 1 MB
    // page at most), then, when the first does not start at fromOffset, the one before it.
    const first = firstAtOrAfter(batches, fromOffset);
    // Only the items the page can reach are sized: at most maxBatches + 1, and 1 MB of them.
    const after = batches.slice(first, first + maxBatches + 2);
    const page = queryPage(after.map(batchItemBytes), maxBatches + 1);
    this.charge('log', { read: readUnits(page.bytes) });
    const out = after.slice(0, Math.min(page.count, maxBatches));
    const reachedEnd = page.count <= maxBatches && !(page.cut || first + page.count < batches.length);
    if (fromOffset > 0 && out[0]?.baseOffset !== fromOffset) {
      const before = batches[first - 1];
      this.charge('log', { read: readUnits(before === undefined ? 0 : batchItemBytes(before)) });
      if (before !== undefined && before.baseOffset + before.recordCount > fromOffset) out.unshift(before);
    }
    return { batches: out.map(copyBatch), reachedEnd };
  }

  async scanBatchHeaders(log: string, fromOffset: number, maxBatches: number): Promise<BatchPage> {
    const page = await this.readBatches(log, fromOffset, maxBatches);
    return { ...page, batches: page.batches.map((b) => ({ ...b, payload: new Uint8Array(0) })) };
  }

  async deleteLog(log: string, leaveExpiringBy?: number): Promise<void> {
    await tick();
    const all = this.logs.get(log) ?? [];
    this.chargePages('log', all.map(batchItemBytes)); // the keys are found with a Query, which reads whole items
    const expiring = (b: StoredBatch) =>
      leaveExpiringBy !== undefined && b.expiresAt !== undefined && b.expiresAt <= leaveExpiringBy;
    const batches = all.filter((b) => !expiring(b));
    const sizes = batches.map(batchItemBytes);
    for (let i = 0; i < sizes.length; i += 25) {
      this.charge('log', {
        write: sizes.slice(i, i + 25).reduce((n, b) => n + writeUnits(b), 0) + indexWrites(batches.slice(i, i + 25)),
      });
    }
    const left = all.filter(expiring);
    if (left.length > 0) this.logs.set(log, left);
    else this.logs.delete(log);
    this.charge('metadata', { write: writeUnits(SEQUENCER_BYTES) });
    this.sequencers.delete(log);
  }

  async timeMarkBefore(log: string, chainStart: number, timestamp: number): Promise<TimeMark | undefined> {
    await tick();
    const range = timeIndexKeys.markRange(chainStart, timestamp);
    let last: { key: string; batch: StoredBatch } | undefined;
    for (const batch of this.logs.get(log) ?? []) {
      const key = timeIndexKeyOf(batch);
      if (key !== undefined && key > range.from && key < range.below && (last === undefined || key > last.key))
        last = { key, batch };
    }
    this.charge('log', {
      read: indexReadUnits(last === undefined ? 0 : indexEntryBytes(log, last.batch.baseOffset, last.key)),
    });
    return last === undefined ? undefined : timeIndexKeys.parse(last.key);
  }

  async createTopic(topic: TopicRecord): Promise<void> {
    await tick();
    this.charge('metadata', { write: writeUnits(topicBytes(topic)) });
    if (this.topics.has(topic.name)) throw new TopicAlreadyExists(topic.name);
    this.topics.set(topic.name, structuredClone(topic));
  }

  async getTopic(name: string): Promise<TopicRecord | undefined> {
    await tick();
    const topic = this.topics.get(name);
    this.charge('metadata', { read: readUnits(topic === undefined ? 0 : topicBytes(topic)) });
    return topic === undefined ? undefined : structuredClone(topic);
  }

  async listTopics(): Promise<TopicRecord[]> {
    await tick();
    this.chargePages('metadata', [...this.topics.values()].map(topicBytes));
    return [...this.topics.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((t) => structuredClone(t));
  }

  async updateTopic(next: TopicRecord): Promise<void> {
    await tick();
    const current = this.topics.get(next.name);
    this.charge('metadata', { write: writeUnits(topicBytes(next)) });
    if (current === undefined || current.topicId !== next.topicId) throw new TopicNotFound(next.name);
    if (current.version !== next.version - 1) throw new TopicConflict(next.name);
    this.topics.set(next.name, structuredClone(next));
  }

  async deleteTopic(name: string, topicId: string, deleted: DeletedTopic): Promise<void> {
    await tick();
    const topic = this.topics.get(name);
    const units =
      writeUnits(topic === undefined ? 0 : topicBytes(topic)) +
      writeUnits(jsonItemBytes('deleted-topic', topicId, deleted));
    this.charge('metadata', { write: 2 * units });
    if (topic?.topicId !== topicId) throw new TopicNotFound(name);
    this.topics.delete(name);
    this.deletedTopics.set(topicId, structuredClone(deleted));
  }

  async listDeletedTopics(limit: number): Promise<DeletedTopic[]> {
    await tick();
    const all = [...this.deletedTopics.values()].slice(0, limit);
    this.charge('metadata', {
      read: readUnits(all.reduce((n, d) => n + jsonItemBytes('deleted-topic', d.topicId, d), 0)),
    });
    return structuredClone(all.sort((a, b) => a.deletedAt - b.deletedAt));
  }

  async forgetDeletedTopic(topicId: string): Promise<void> {
    await tick();
    this.charge('metadata', { write: 1 });
    this.deletedTopics.delete(topicId);
  }

  async getPartitionState(log: string): Promise<PartitionState> {
    await tick();
    this.charge('metadata', { read: readUnits(stateBytes(log, this.partitionStates.get(log))) });
    return structuredClone(this.partitionStates.get(log) ?? EMPTY_STATE);
  }

  /** A Query over items of these sizes, page by page (at least one request, even when empty). */
  private chargePages(table: 'log' | 'metadata', sizes: readonly number[]): void {
    let i = 0;
    do {
      const page = queryPage(sizes.slice(i), Number.MAX_SAFE_INTEGER);
      this.charge(table, { read: readUnits(page.bytes) });
      i += page.count;
    } while (i < sizes.length);
  }

  private stateIs(log: string, version: number): boolean {
    return (this.partitionStates.get(log)?.version ?? 0) === version;
  }

  async setPartitionState(log: string, next: PartitionState): Promise<boolean> {
    await tick();
    this.charge('metadata', { write: writeUnits(stateBytes(log, next)) });
    if (!this.stateIs(log, next.version - 1)) return false;
    this.partitionStates.set(log, structuredClone(next));
    return true;
  }

  async forgetPartitionState(log: string): Promise<void> {
    await tick();
    this.charge('metadata', { write: 1 });
    this.partitionStates.delete(log);
  }

  async recordSegment(segment: SegmentRecord, next: PartitionState): Promise<boolean> {
    await tick();
    const list = this.segments.get(segment.log) ?? [];
    this.charge('metadata', {
      write: 2 * (writeUnits(segmentBytes(segment)) + writeUnits(stateBytes(segment.log, next))),
    });
    if (!this.stateIs(segment.log, next.version - 1) || list.some((s) => s.base === segment.base)) return false;
    this.segments.set(
      segment.log,
      [...list, structuredClone(segment)].sort((a, b) => a.base - b.base),
    );
    this.partitionStates.set(segment.log, structuredClone(next));
    return true;
  }

  async listSegments(log: string): Promise<SegmentRecord[]> {
    await tick();
    this.chargePages('metadata', (this.segments.get(log) ?? []).map(segmentBytes));
    return structuredClone(this.segments.get(log) ?? []);
  }

  async segmentsFrom(log: string, offset: number, limit: number): Promise<SegmentRecord[]> {
    await tick();
    const all = this.segments.get(log) ?? [];
    const before = all.filter((s) => s.base <= offset).at(-1);
    const after = all.filter((s) => s.base > offset).slice(0, limit);
    this.charge('metadata', { read: readUnits(before === undefined ? 0 : segmentBytes(before)) });
    this.charge('metadata', { read: readUnits(after.reduce((n, s) => n + segmentBytes(s), 0)) });
    return structuredClone(
      [...(before !== undefined && before.end > offset ? [before] : []), ...after].slice(0, limit),
    );
  }

  async segmentBefore(log: string, timestamp: number): Promise<TimeMark | undefined> {
    await tick();
    const below = timeIndexKeys.segmentBelow(timestamp);
    let last: { key: string; segment: SegmentRecord } | undefined;
    for (const segment of this.segments.get(log) ?? []) {
      const key = segmentTimeKey(segment);
      if (key !== undefined && key < below && (last === undefined || key > last.key)) last = { key, segment };
    }
    const entry =
      last === undefined
        ? 0
        : indexEntryBytes(`segments#${log}`, metadataKeys.segment(log, last.segment.base).sk, last.key);
    this.charge('metadata', { read: indexReadUnits(entry) });
    return last === undefined ? undefined : timeIndexKeys.parse(last.key);
  }

  async firstSegmentReaching(log: string, offset: number, timestamp: number): Promise<SegmentRecord | undefined> {
    await tick();
    // As the DynamoDB adapter queries: a page of one from the offset on; the segment before when
    // none starts at the offset (it may hold it); then pages of the rest, each item read (and paid
    // for) and filtered.
    const all = this.segments.get(log) ?? [];
    const from = all.filter((s) => s.base >= offset);
    const page = (start: number, limit: number) => {
      const read = queryPage(from.slice(start, start + limit).map(segmentBytes), limit);
      this.charge('metadata', { read: readUnits(read.bytes) });
      const found = from.slice(start, start + read.count).find((s) => s.maxTimestamp >= timestamp);
      // DynamoDB returns a LastEvaluatedKey whenever a page stops at its limit or at 1 MB.
      return { found, next: read.count === limit || read.cut ? start + read.count : undefined };
    };
    let current = page(0, 1);
    if (from[0]?.base !== offset) {
      const containing = all.filter((s) => s.base < offset).at(-1);
      this.charge('metadata', { read: readUnits(containing === undefined ? 0 : segmentBytes(containing)) });
      if (containing !== undefined && containing.end > offset && containing.maxTimestamp >= timestamp)
        return structuredClone(containing);
    }
    for (;;) {
      if (current.found !== undefined) return structuredClone(current.found);
      if (current.next === undefined) return undefined;
      current = page(current.next, REACHING_PAGE);
    }
  }

  async dropSegments(log: string, bases: readonly number[], next: PartitionState): Promise<boolean> {
    await tick();
    const dropped = (this.segments.get(log) ?? []).filter((s) => bases.includes(s.base));
    const units = dropped.reduce((n, seg) => n + writeUnits(segmentBytes(seg)), writeUnits(stateBytes(log, next)));
    this.charge('metadata', { write: 2 * units });
    if (!this.stateIs(log, next.version - 1)) return false;
    this.segments.set(
      log,
      (this.segments.get(log) ?? []).filter((s) => !bases.includes(s.base)),
    );
    this.partitionStates.set(log, structuredClone(next));
    return true;
  }

  async replaceSegment(next: SegmentRecord, previousKey: string, state: PartitionState): Promise<boolean> {
    await tick();
    const list = this.segments.get(next.log) ?? [];
    this.charge('metadata', { write: 2 * (writeUnits(segmentBytes(next)) + writeUnits(stateBytes(next.log, state))) });
    const i = list.findIndex((s) => s.base === next.base && s.key === previousKey);
    if (i === -1 || !this.stateIs(next.log, state.version - 1)) return false;
    list[i] = structuredClone(next);
    this.partitionStates.set(next.log, structuredClone(state));
    return true;
  }

  async extendExpiry(log: string, baseOffsets: readonly number[], expiresAt: number): Promise<void> {
    await tick();
    const batches = this.logs.get(log) ?? [];
    for (const base of baseOffsets) {
      const at = batches.findIndex((b) => b.baseOffset === base);
      this.charge('log', { write: at < 0 ? 1 : writeUnits(batchItemBytes(batches[at]!)) }); // an update costs the item's size
      if (at >= 0) batches[at] = { ...batches[at]!, expiresAt };
    }
  }

  async deleteBatches(log: string, baseOffsets: readonly number[]): Promise<void> {
    await tick();
    const sizes = new Map((this.logs.get(log) ?? []).map((b) => [b.baseOffset, batchItemBytes(b)]));
    const byBase = new Map((this.logs.get(log) ?? []).map((b) => [b.baseOffset, b]));
    for (let i = 0; i < baseOffsets.length; i += 25) {
      const chunk = baseOffsets.slice(i, i + 25);
      const items = chunk.flatMap((base) => (byBase.has(base) ? [byBase.get(base)!] : []));
      this.charge('log', {
        write: chunk.reduce((n, base) => n + writeUnits(sizes.get(base) ?? 0), 0) + indexWrites(items), // a missing key costs 1 too
      });
    }
    const gone = new Set(baseOffsets);
    this.logs.set(
      log,
      (this.logs.get(log) ?? []).filter((b) => !gone.has(b.baseOffset)),
    );
  }

  async getProducerState(producerId: string, log: string): Promise<ProducerState | undefined> {
    await tick();
    const state = this.producers.get(producerKey(producerId, log));
    this.charge('metadata', { read: readUnits(state === undefined ? 0 : jsonItemBytes(producerId, log, state)) });
    return state === undefined ? undefined : structuredClone(state);
  }
}

function topicBytes(topic: TopicRecord): number {
  return jsonItemBytes('topic', topic.name, topic);
}

function stateBytes(log: string, state: PartitionState | undefined): number {
  return state === undefined ? 0 : jsonItemBytes(`state#${log}`, 'state', state);
}

function segmentBytes(segment: SegmentRecord): number {
  const key = segmentTimeKey(segment);
  return jsonItemBytes(`segments#${segment.log}`, String(segment.base).padStart(20, '0'), segment) + (key?.length ?? 0);
}

/** A segment's key in the metadata table's time index, once it has a running maximum. */
function segmentTimeKey(segment: SegmentRecord): string | undefined {
  return segment.runningMaxTimestamp === undefined
    ? undefined
    : timeIndexKeys.segment(segment.runningMaxTimestamp, segment.end);
}

/** Write units of the time index entries of these batches: one per mark (a keys-only entry is small). */
function indexWrites(batches: readonly StoredBatch[]): number {
  return batches.filter((b) => timeIndexKeyOf(b) !== undefined).length;
}

/** The index of the first batch whose base offset is at least `offset` (binary search; the list is sorted). */
function firstAtOrAfter(batches: readonly StoredBatch[], offset: number): number {
  let lo = 0;
  let hi = batches.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (batches[mid]!.baseOffset < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function producerKey(producerId: string, log: string): string {
  return `${producerId}\u0000${log}`;
}

function copyBatch(b: StoredBatch): StoredBatch {
  return { ...b, payload: Uint8Array.from(b.payload) };
}

function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
