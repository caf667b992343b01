import { CorruptData, InvalidArgument, OffsetOutOfRange, isSluiceError } from '../errors.ts';
import type { LogStore, MetadataStore, PartitionState, StoredBatch, TopicRecord } from '../ports.ts';
import type { SegmentReader } from '../tiering/segmentReader.ts';
import { decodeStoredBatch } from './batching.ts';
import type { ClaimChecks } from './claimChecks.ts';
import type { GapFiller } from './gaps.ts';
import { integerOption } from './integerOption.ts';
import { ClaimCheck, type ConsumerRecord } from './records.ts';
import type { PartitionTails } from './tails.ts';
import { MARK_BATCHES } from './timeIndex.ts';
import type { TopicCatalog } from './topics.ts';

/** Largest `maxRecords` and `maxBytes` one read may ask for. */
export const MAX_READ_RECORDS = 10_000;
/** Largest `maxBytes` of one read: well inside Lambda's 6 MB response limit even with base64 and JSON framing. */
export const MAX_READ_BYTES = 4 * 1024 * 1024;

export interface ReadOptions {
  /** At most this many records (default 500). */
  readonly maxRecords?: number;
  /** At most this many bytes (default 1 MiB), as `measure` counts them; see `atLeastOne`. */
  readonly maxBytes?: number;
  /**
   * The first record is returned even when it alone exceeds `maxBytes`, so a consumer is never
   * stuck behind a large record (Kafka's fetch). A group poll sets it for its first partition
   * only, so that one response stays within one budget. @default true
   */
  readonly atLeastOne?: boolean;
  /**
   * A record's size as the caller will send it (the HTTP API: its JSON with base64 and escaping),
   * so that `maxBytes` bounds the response. Default: the record's stored, uncompressed size.
   */
  readonly measure?: (record: ConsumerRecord) => number;
  /**
   * Kafka's isolation level. `read_uncommitted` (the default) returns every data record, those of
   * open and aborted transactions included; `read_committed` stops before the first record of a
   * transaction still open (the last stable offset) and skips those of aborted ones. Records
   * appended outside multi-request transactions (single-request transactions included, which are
   * one atomic write) are committed when readable. Transaction markers are never returned.
   */
  readonly isolation?: Isolation;
}

export type Isolation = 'read_committed' | 'read_uncommitted';

export const ISOLATION_LEVELS: readonly Isolation[] = ['read_committed', 'read_uncommitted'];

/** Parses an isolation level (undefined → read_uncommitted). */
export function isolationOption(value: unknown): Isolation {
  if (value === undefined) return 'read_uncommitted';
  if (typeof value !== 'string' || !(ISOLATION_LEVELS as readonly string[]).includes(value))
    throw new InvalidArgument('isolation', 'isolation must be "read_committed" or "read_uncommitted"');
  return value as Isolation;
}

/** What a reader needs of transactions: the status of those whose batches it met. */
export interface TxnResolver {
  resolve(keys: readonly string[]): Promise<Map<string, 'committed' | 'aborted' | 'open'>>;
}

export interface ReadResult {
  readonly records: ConsumerRecord[];
  /** Where the next read continues. */
  readonly nextOffset: number;
  /** Offset the next appended record will get. */
  readonly highWatermark: number;
  readonly logStartOffset: number;
  /**
   * With `read_committed`, where the read stopped at a transaction still open (Kafka's last
   * stable offset): reading on from `nextOffset` waits until it is decided.
   */
  readonly lastStableOffset?: number;
}

export type OffsetSpec = 'earliest' | 'latest' | { readonly timestamp: number };

export interface PartitionReaderOptions {
  readonly log: LogStore;
  readonly metadata: MetadataStore;
  readonly topics: TopicCatalog;
  readonly tails: PartitionTails;
  readonly claimChecks: ClaimChecks;
  /** The S3 segment reader, when tiered storage is configured. */
  readonly segments: SegmentReader | undefined;
  readonly gaps: GapFiller;
  /** Transaction outcomes, for `read_committed` reads; without it every record counts as committed. */
  readonly txns?: () => TxnResolver | undefined;
  /**
   * Gives batches whose bytes are in S3 (`storage: "s3"` topics) their payloads: called on the
   * batches a read decodes, and on those only (objectBatches.ts). @default none: payloads are inline
   */
  readonly resolve?: (batches: StoredBatch[]) => Promise<StoredBatch[]>;
}

/** Reads of one partition, from the hot tier or from S3 segments below `tieredThrough`, and offset look-ups. */
export class PartitionReader {
  private readonly resolve: (batches: StoredBatch[]) => Promise<StoredBatch[]>;
  private readonly log: LogStore;
  private readonly metadata: MetadataStore;
  private readonly topics: TopicCatalog;
  private readonly tails: PartitionTails;
  private readonly claimChecks: ClaimChecks;
  private readonly segments: SegmentReader | undefined;
  private readonly gaps: GapFiller;
  private readonly txns: () => TxnResolver | undefined;

  constructor(options: PartitionReaderOptions) {
    this.txns = options.txns ?? (() => undefined);
    this.resolve = options.resolve ?? (async (batches) => batches);
    this.log = options.log;
    this.metadata = options.metadata;
    this.topics = options.topics;
    this.tails = options.tails;
    this.claimChecks = options.claimChecks;
    this.segments = options.segments;
    this.gaps = options.gaps;
  }

  /**
   * Reads records of one partition from `fromOffset`. Reading at the high watermark returns no
   * records; an offset below the log start or above the high watermark throws `OffsetOutOfRange`
   * carrying both bounds.
   */
  async read(topicName: string, partition: number, fromOffset: number, options: ReadOptions = {}): Promise<ReadResult> {
    const maxRecords = integerOption('maxRecords', options.maxRecords, 500, 1, MAX_READ_RECORDS);
    const maxBytes = integerOption('maxBytes', options.maxBytes, 1024 * 1024, 1, MAX_READ_BYTES);
    const offset = integerOption('offset', fromOffset, 0, 0, Number.MAX_SAFE_INTEGER);
    const committedOnly = isolationOption(options.isolation) === 'read_committed';
    const topic = await this.topics.get(topicName);
    const log = await this.topics.partitionLog(topic, partition);
    // An empty answer below the high watermark means a writer appended between the batch query and
    // the tail query, or the read crossed gap fillers only: go on, so that no records means the
    // reader is at the end or waits for a writer whose put has not landed yet.
    let from = offset;
    for (let attempt = 1; ; attempt++) {
      let result: ReadResult & { waiting?: boolean };
      try {
        result = await this.readOnce(
          topic,
          partition,
          log,
          from,
          maxRecords,
          maxBytes,
          options.atLeastOne !== false,
          committedOnly,
        );
      } catch (e) {
        // A claim check removed by retention or compaction after its batch was read: read again
        // (then the offset is below the log start, or the record was superseded).
        if (attempt < 5 && isSluiceError(e, 'CorruptData') && /object is missing/.test(e.message)) continue;
        throw e;
      }
      const { waiting, ...answer } = result;
      // Without atLeastOne, an empty answer may just mean the next record is over the budget.
      if (
        answer.records.length > 0 ||
        answer.highWatermark <= answer.nextOffset ||
        waiting === true ||
        attempt >= 5 ||
        options.atLeastOne === false
      ) {
        return options.measure === undefined ? answer : within(answer, maxBytes, options);
      }
      from = answer.nextOffset;
    }
  }

  private async readOnce(
    topic: TopicRecord,
    partition: number,
    log: string,
    offset: number,
    maxRecords: number,
    maxBytes: number,
    atLeastOne: boolean,
    committedOnly = false,
  ): Promise<ReadResult & { waiting?: boolean }> {
    // State and hot page in parallel: the checks below (the page must contain the offset and have
    // no holes, else the state is read again) make either order safe against a concurrent roll.
    const [firstState, page] = await Promise.all([
      this.metadata.getPartitionState(log),
      this.log.readBatches(log, offset, Math.min(FIRST_PAGE_BATCHES, batchLimit(maxRecords, maxBytes))),
    ]);
    let state = firstState;
    let batches: StoredBatch[] | undefined;
    let highWatermark: number | undefined;
    if (offset >= state.tieredThrough) {
      const first = page.batches[0];
      if (first === undefined || first.baseOffset <= offset) {
        // Up to the first break: a range reserved by a writer whose put has not landed yet.
        let reachedEnd = page.reachedEnd;
        batches = contiguousPrefix(page.batches);
        // A small first page, then pages sized by what the batches seen hold: read units are
        // billed per item read, and a poll should not read a 1 MB page to return five batches.
        while (!reachedEnd && batches.length === page.batches.length) {
          const wanted = pagesWanted(batches, offset, maxRecords, maxBytes);
          if (wanted === 0) break;
          const end = batches.at(-1)!.baseOffset + batches.at(-1)!.recordCount;
          const more = await this.log.readBatches(log, end, wanted);
          const next = contiguousPrefix(more.batches);
          if (next[0]?.baseOffset !== end) break; // a gap: the next read stops at it
          batches = [...batches, ...next];
          reachedEnd = more.reachedEnd;
          if (next.length < more.batches.length) break;
        }
        const last = batches.at(-1);
        if (reachedEnd && last !== undefined) highWatermark = last.baseOffset + last.recordCount;
      } else {
        state = await this.metadata.getPartitionState(log); // rolled to S3 while we looked: read it there
        if (offset >= state.tieredThrough) {
          // A gap at the offset: wait for its writer, or fill it if the writer looks dead.
          const hwm = await this.tails.read(log, state);
          if (offset < state.logStartOffset) {
            throw new OffsetOutOfRange(topic.name, partition, offset, state.logStartOffset, hwm);
          }
          const filled = await this.gaps.fill(topic, log, offset, first, state.tieredThrough);
          const { logStartOffset } = state;
          return { records: [], nextOffset: offset, highWatermark: hwm, logStartOffset, waiting: !filled };
        }
      }
    }
    highWatermark ??= await this.tails.read(log, state);
    if (offset < state.logStartOffset || offset > highWatermark) {
      throw new OffsetOutOfRange(topic.name, partition, offset, state.logStartOffset, highWatermark);
    }
    batches =
      batches === undefined
        ? await this.batchesFrom(log, state, offset, maxRecords, maxBytes)
        : await this.resolve(batches);
    if (batches === undefined) {
      const now = await this.metadata.getPartitionState(log); // retention removed the segment meanwhile
      throw new OffsetOutOfRange(topic.name, partition, offset, now.logStartOffset, highWatermark);
    }
    const records: ConsumerRecord[] = [];
    let bytes = 0;
    // Where the read ends when no budget cuts it: past the last batch looked at, gap fillers and
    // compacted-away records included.
    let through = offset;
    let cut = false;
    let stable: number | undefined;
    const statuses = committedOnly ? await this.statuses(batches) : undefined;
    outer: for (const batch of batches) {
      if (batch.control !== undefined) {
        through = Math.max(through, batch.baseOffset + batch.recordCount); // a marker: no data record
        continue;
      }
      if (statuses !== undefined) {
        const status =
          batch.aborted === true ? 'aborted' : batch.txn === undefined ? 'committed' : statuses.get(batch.txn);
        if (status === 'open') {
          stable = Math.max(offset, batch.baseOffset); // the last stable offset: wait here
          break;
        }
        if (status === 'aborted') {
          through = Math.max(through, batch.baseOffset + batch.recordCount);
          continue;
        }
      }
      const perRecord = batch.recordCount === 0 ? 0 : batch.sizeBytes / batch.recordCount;
      for (const record of decodeStoredBatch(batch)) {
        if (record.offset < offset) continue;
        const size = record.value instanceof ClaimCheck ? record.value.size : perRecord; // a claimed value counts whole
        if (records.length >= maxRecords || ((records.length > 0 || !atLeastOne) && bytes + size > maxBytes)) {
          cut = true;
          break outer;
        }
        records.push(record);
        bytes += size;
      }
      through = Math.max(through, batch.baseOffset + batch.recordCount);
    }
    const nextOffset = cut ? (records.length > 0 ? records.at(-1)!.offset + 1 : offset) : through;
    return {
      records: await this.claimChecks.resolve(records),
      nextOffset,
      highWatermark,
      logStartOffset: state.logStartOffset,
      ...(stable === undefined ? {} : { lastStableOffset: stable, waiting: records.length === 0 }),
    };
  }

  /** The status of every transaction the batches belong to (an open one stops a read_committed read). */
  private async statuses(batches: readonly StoredBatch[]): Promise<Map<string, 'committed' | 'aborted' | 'open'>> {
    const keys = batches.flatMap((b) => (b.txn === undefined || b.control !== undefined ? [] : [b.txn]));
    if (keys.length === 0) return new Map();
    const resolver = this.txns();
    // Without transactions configured no batch can carry one; if one does, wait rather than guess.
    if (resolver === undefined) return new Map(keys.map((k) => [k, 'open']));
    return resolver.resolve(keys);
  }

  /**
   * The records of the batch starting at `baseOffset`, read with one GetItem (claim checks
   * resolved); undefined when the hot tier no longer holds it (rolled to S3, or removed): then
   * `read` finds it.
   */
  async readBatch(topicName: string, partition: number, baseOffset: number): Promise<ConsumerRecord[] | undefined> {
    const topic = await this.topics.get(topicName);
    const log = await this.topics.partitionLog(topic, partition);
    const batch = await this.log.getBatch(log, baseOffset);
    if (batch === undefined) return undefined;
    const [resolved] = await this.resolve([batch]);
    return this.claimChecks.resolve(decodeStoredBatch(resolved!));
  }

  /**
   * The offset for `earliest` (log start), `latest` (high watermark), or `{ timestamp }`: the
   * earliest offset whose timestamp is at or after it, or the high watermark when none is. A
   * timestamp costs a fixed number of requests whatever the partition's history (timeIndex.ts).
   */
  async offsetFor(topicName: string, partition: number, spec: OffsetSpec): Promise<number> {
    const topic = await this.topics.get(topicName);
    const log = await this.topics.partitionLog(topic, partition);
    if (spec === 'earliest') return (await this.metadata.getPartitionState(log)).logStartOffset;
    if (spec === 'latest') return this.tails.read(log);
    if (typeof spec !== 'object' || spec === null || !Number.isSafeInteger(spec.timestamp)) {
      throw new InvalidArgument('at', 'offset spec must be "earliest", "latest" or { timestamp: epoch ms }');
    }
    // Everything before `offset` is known to be older than the target; it only moves forward.
    for (let offset = 0, attempt = 1; ; attempt++) {
      const state = await this.metadata.getPartitionState(log);
      offset = Math.max(offset, state.logStartOffset);
      try {
        if (this.segments !== undefined && offset < state.tieredThrough) {
          const found = await this.segments.offsetForTimestamp(log, offset, state.tieredThrough, spec.timestamp);
          if (found !== undefined) return found;
        }
      } catch (e) {
        // Compaction swapped a segment, or retention dropped it, while we looked: look again.
        if (attempt < 5 && isSluiceError(e, 'CorruptData') && /object is missing/.test(e.message)) continue;
        throw e;
      }
      offset = Math.max(offset, state.tieredThrough);
      const found = await this.hotOffsetForTimestamp(log, state, offset, spec.timestamp);
      if (typeof found === 'number') return found;
      if (attempt >= 5) throw new CorruptData(log, `hot batches from offset ${found.movedFrom} are missing`);
      offset = found.movedFrom; // rolled to S3 while we looked: go on there
    }
  }

  /**
   * The first offset from `from` on in the hot tier whose record is timestamped at or after
   * `timestamp`, or the high watermark when none is: the time chain's last mark proven older is
   * skipped to, and batches are read from there (see timeIndex.ts). Says where, when batches
   * there have moved to S3 and their hot copies are gone.
   */
  private async hotOffsetForTimestamp(
    log: string,
    state: PartitionState,
    from: number,
    timestamp: number,
  ): Promise<number | { movedFrom: number }> {
    // The high watermark first: every batch below it was reserved before the chain is read, so
    // its timestamps are in the chain's maximum.
    const highWatermark = await this.tails.read(log, state);
    if (highWatermark <= from) return highWatermark;
    const chain = await this.log.sequencerTime(log);
    let offset = from;
    if (chain !== undefined && chain.chainStart > offset) {
      // Batches written before the chain started (by an older version, or past a sequencer that fell behind).
      const scanned = await this.scanHot(log, offset, timestamp, chain.chainStart);
      if (!('end' in scanned)) return 'found' in scanned ? scanned.found : scanned;
      offset = scanned.end;
    }
    if (chain !== undefined) {
      if (chain.maxTimestamp < timestamp) return highWatermark; // nothing reserved since the chain's start reaches it
      const older = await this.log.timeMarkBefore(log, chain.chainStart, timestamp);
      if (older !== undefined && older.end > offset) offset = older.end;
    }
    const scanned = await this.scanHot(log, offset, timestamp, Number.POSITIVE_INFINITY);
    if ('end' in scanned) return Math.max(scanned.end, highWatermark);
    return 'found' in scanned ? scanned.found : scanned;
  }

  /**
   * Reads hot batches from `from` up to `until` for the first record timestamped at or after
   * `timestamp`: where it is, or where the batches end (at most `until`), or where they moved to
   * S3. One run of batches between two marks holds the answer, unless a removed record made the
   * time index useless here; then pages as large as a query reads.
   */
  private async scanHot(
    log: string,
    from: number,
    timestamp: number,
    until: number,
  ): Promise<{ found: number } | { end: number } | { movedFrom: number }> {
    let offset = from;
    for (let pageSize = MARK_BATCHES; offset < until; pageSize = 1000) {
      const page = await this.log.readBatches(log, offset, pageSize);
      for (const batch of page.batches) {
        if (batch.baseOffset >= until) return { end: until };
        // A hole: offsets reserved by a writer whose put has not landed (no record there yet), or
        // hot copies a roll removed (read them in S3).
        if (batch.baseOffset > offset && (await this.metadata.getPartitionState(log)).tieredThrough > offset)
          return { movedFrom: offset };
        if (batch.maxTimestamp >= timestamp) {
          const [resolved] = await this.resolve([batch]);
          const found = decodeStoredBatch(resolved!).find((r) => r.offset >= offset && r.timestamp >= timestamp);
          if (found !== undefined) return { found: found.offset };
        }
        offset = batch.baseOffset + batch.recordCount;
      }
      if (page.reachedEnd) return { end: Math.min(offset, until) };
    }
    return { end: until };
  }

  /**
   * Batches from the one containing `offset`: from S3 segments below `tieredThrough`, else from
   * the hot tier. Undefined when a segment the state pointed at has gone (retention ran).
   */
  async batchesFrom(
    log: string,
    state: PartitionState,
    offset: number,
    maxRecords: number,
    maxBytes: number,
  ): Promise<StoredBatch[] | undefined> {
    if (offset < state.tieredThrough && this.segments !== undefined) {
      try {
        const tiered = await this.segments.read(log, offset, maxRecords, maxBytes);
        if (tiered?.length !== 0) return tiered;
        // Nothing in the segments after the offset (compacted away, or retention dropped them since
        // the state was read): look at the state again before going on in the hot tier.
        const now = await this.metadata.getPartitionState(log);
        if (offset < now.logStartOffset) return undefined;
        const hot = contiguousPrefix(
          (await this.log.readBatches(log, now.tieredThrough, batchLimit(maxRecords, maxBytes))).batches,
        );
        // The hot tier must start where the segments end, else a roll landed meanwhile: answer nothing, read again.
        return hot.length === 0 || hot[0]!.baseOffset <= now.tieredThrough ? this.resolve(hot) : [];
      } catch (e) {
        if (isSluiceError(e, 'CorruptData') && /object is missing/.test(e.message)) {
          const now = await this.metadata.getPartitionState(log);
          if (offset < now.logStartOffset) return undefined;
        }
        throw e;
      }
    }
    return this.resolve((await this.log.readBatches(log, offset, batchLimit(maxRecords, maxBytes))).batches);
  }
}

/** Batches up to the first break in offsets (a batch not starting where the previous ended). */
function contiguousPrefix(batches: StoredBatch[]): StoredBatch[] {
  for (let i = 1; i < batches.length; i++) {
    if (batches[i]!.baseOffset !== batches[i - 1]!.baseOffset + batches[i - 1]!.recordCount) return batches.slice(0, i);
  }
  return batches;
}

/**
 * The read cut to `maxBytes` as `measure` counts (records only shrink on the stored side, so this
 * runs after the stored-size cut and the claim checks' values are in): the first record stays
 * when `atLeastOne`, and `nextOffset` follows the last record kept.
 */
function within(result: ReadResult, maxBytes: number, options: ReadOptions): ReadResult {
  let bytes = 0;
  let kept = 0;
  for (const record of result.records) {
    bytes += options.measure!(record);
    if (bytes > maxBytes && (kept > 0 || options.atLeastOne === false)) break;
    kept++;
  }
  if (kept === result.records.length) return result;
  const records = result.records.slice(0, kept);
  return { ...result, records, nextOffset: kept > 0 ? records.at(-1)!.offset + 1 : result.records[0]!.offset };
}

/** Batches the first query of a hot read asks for; more follow, sized by what these hold. */
const FIRST_PAGE_BATCHES = 2;

/**
 * How many more batches a read needs after `batches` to fill its budgets, estimated from the
 * records and bytes per batch seen so far (0 when the budgets are met).
 */
function pagesWanted(batches: readonly StoredBatch[], offset: number, maxRecords: number, maxBytes: number): number {
  let records = 0;
  let bytes = 0;
  for (const b of batches) {
    const skipped = Math.max(0, offset - b.baseOffset);
    records += Math.max(0, b.recordCount - skipped);
    bytes += b.sizeBytes;
  }
  if (records >= maxRecords || bytes >= maxBytes) return 0;
  const perBatch = { records: Math.max(1, records / batches.length), bytes: Math.max(1, bytes / batches.length) };
  const needed = Math.min((maxRecords - records) / perBatch.records, (maxBytes - bytes) / perBatch.bytes);
  return Math.max(1, Math.min(100, Math.ceil(needed)));
}

/**
 * How many batches one query asks for: enough for the read's budgets, not a fixed page, so a small
 * read does not pay for a 1 MB page. Sized as if batches held 4 KB each; a read of smaller
 * batches returns less than its budget and the next read goes on.
 */
function batchLimit(maxRecords: number, maxBytes: number): number {
  return Math.min(100, maxRecords, Math.max(2, Math.ceil(maxBytes / 4096)));
}
