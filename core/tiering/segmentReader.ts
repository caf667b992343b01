import { decodeStoredBatch } from '../log/batching.ts';
import type { SegmentRecord, StoredBatch, TieringStore } from '../ports.ts';
import type { ObjectStore } from './objectStore.ts';
import { batchFromSegment, decodeSegmentIndex, type SegmentIndexEntry } from './segmentFormat.ts';

/** Segments one read looks at: the one holding the offset, and a few after it for compacted gaps. */
const SEGMENTS_PER_READ = 4;

/** How many segment indexes one process keeps (each is 56 bytes per batch). */
const INDEX_CACHE_ENTRIES = 512;

/**
 * Reads record batches out of S3 segments: finds the segment holding an offset (segment records
 * come from DynamoDB), fetches its index once (cached for the life of the container; segments are
 * immutable), then range-GETs only the batches a read needs, checking each one's CRC32C.
 */
export class SegmentReader {
  private readonly objects: ObjectStore;
  private readonly store: TieringStore;
  private readonly indexes = new Map<string, SegmentIndexEntry[]>();

  constructor(objects: ObjectStore, store: TieringStore) {
    this.objects = objects;
    this.store = store;
  }

  /**
   * Batches from the first one ending after `offset`, within one segment, up to about the limits.
   * Compacted segments have gaps, so this may start past `offset`; `[]` means no segment holds
   * anything at or after it (read on in the hot tier). Undefined when no segment reaches `offset`
   * at all (retention removed it).
   */
  async read(log: string, offset: number, maxRecords: number, maxBytes: number): Promise<StoredBatch[] | undefined> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.readOnce(log, offset, maxRecords, maxBytes);
      } catch (e) {
        // A compaction swapped the segment and deleted the old object after we listed it: list again.
        if (attempt > 0 || !(e instanceof Error && /object is missing/.test(e.message))) throw e;
      }
    }
  }

  private async readOnce(
    log: string,
    offset: number,
    maxRecords: number,
    maxBytes: number,
  ): Promise<StoredBatch[] | undefined> {
    // Keyed look-ups, not a listing: the cost does not grow with the number of segments. A few
    // segments after the containing one cover reads that start in a compacted-away gap.
    const segments = await this.store.segmentsFrom(log, offset, SEGMENTS_PER_READ);
    if (segments.length === 0 || segments[0]!.base > offset) return segments.length === 0 ? [] : undefined;
    let more = segments.length === SEGMENTS_PER_READ;
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i]!;

      const index = await this.index(segment);
      let first = index.findIndex((e) => e.baseOffset + e.recordCount > offset);
      if (first === -1) {
        // Compacted away past the offset: try the next segment, looking further when these are
        // all used up (each look is keyed).
        if (i === segments.length - 1 && more) {
          const next = await this.store.segmentsFrom(log, segment.end, SEGMENTS_PER_READ);
          more = next.length === SEGMENTS_PER_READ;
          segments.push(...next);
        }
        continue;
      }
      let last = first;
      let records = index[first]!.baseOffset + index[first]!.recordCount - Math.max(offset, index[first]!.baseOffset);
      let bytes = index[first]!.sizeBytes;
      while (last + 1 < index.length && records < maxRecords && bytes < maxBytes) {
        last++;
        records += index[last]!.recordCount;
        bytes += index[last]!.sizeBytes;
      }
      const start = index[first]!.position;
      const end = index[last]!.position + index[last]!.length - 1;
      const bytesRead = await this.objects.getRange(segment.key, start, end);
      const out: StoredBatch[] = [];
      for (; first <= last; first++) {
        const e = index[first]!;
        out.push(
          batchFromSegment(e, bytesRead.subarray(e.position - start, e.position - start + e.length), log, segment.key),
        );
      }
      return out;
    }
    return [];
  }

  /**
   * The first offset in [from, until) whose record is timestamped at or after `timestamp`, found
   * with the time index (see core/log/timeIndex.ts): the segments it proves older are skipped, the
   * others taken in offset order by their own maximum timestamp, and in each only the batches
   * that reach the timestamp are read. Undefined when none does.
   */
  async offsetForTimestamp(log: string, from: number, until: number, timestamp: number): Promise<number | undefined> {
    const older = await this.store.segmentBefore(log, timestamp);
    for (let offset = Math.max(from, older?.end ?? 0); offset < until;) {
      const segment = await this.store.firstSegmentReaching(log, offset, timestamp);
      if (segment === undefined || segment.base >= until) return undefined;
      const index = await this.index(segment);
      for (const entry of index) {
        if (entry.baseOffset + entry.recordCount <= offset || entry.maxTimestamp < timestamp) continue;
        const bytes = await this.objects.getRange(segment.key, entry.position, entry.position + entry.length - 1);
        const found = decodeStoredBatch(batchFromSegment(entry, bytes, log, segment.key)).find(
          (r) => r.offset >= offset && r.timestamp >= timestamp,
        );
        if (found !== undefined) return found.offset;
      }
      offset = segment.end; // its maximum was a record before `offset`, or one compaction since removed
    }
    return undefined;
  }

  private async index(segment: SegmentRecord): Promise<SegmentIndexEntry[]> {
    // Keyed by the log too: a topic re-created under the same name rewrites the same object keys.
    const cacheKey = `${segment.log}\u0000${segment.key}`;
    const cached = this.indexes.get(cacheKey);
    if (cached !== undefined) return cached;
    const bytes = await this.objects.getRange(
      segment.key,
      segment.indexPosition,
      segment.indexPosition + segment.indexLength - 1,
    );
    const index = decodeSegmentIndex(bytes, segment.key);
    if (this.indexes.size >= INDEX_CACHE_ENTRIES) this.indexes.delete(this.indexes.keys().next().value!);
    this.indexes.set(cacheKey, index);
    return index;
  }
}
