import type { SegmentRecord, StoredBatch, TieringStore } from '../ports.ts';
import type { ObjectStore } from './objectStore.ts';
import { batchFromSegment, decodeSegmentIndex, type SegmentIndexEntry } from './segmentFormat.ts';

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

  /** Batches from the one containing `offset`, within one segment, up to about the limits. */
  async read(log: string, offset: number, maxRecords: number, maxBytes: number): Promise<StoredBatch[] | undefined> {
    const segment = (await this.store.listSegments(log)).find((s) => s.base <= offset && offset < s.end);
    if (segment === undefined) return undefined;
    const index = await this.index(segment);
    let first = index.findIndex((e) => e.baseOffset + e.recordCount > offset);
    if (first === -1) return [];
    let last = first;
    let records = index[first]!.baseOffset + index[first]!.recordCount - offset;
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
      out.push(batchFromSegment(e, bytesRead.subarray(e.position - start, e.position - start + e.length), log, segment.key));
    }
    return out;
  }

  /** Index entries (no payloads) of every segment of a partition, for look-ups by timestamp. */
  async headers(log: string): Promise<{ segment: SegmentRecord; index: SegmentIndexEntry[] }[]> {
    return Promise.all((await this.store.listSegments(log)).map(async (segment) => ({ segment, index: await this.index(segment) })));
  }

  private async index(segment: SegmentRecord): Promise<SegmentIndexEntry[]> {
    // Keyed by the log too: a topic re-created under the same name rewrites the same object keys.
    const cacheKey = `${segment.log}\u0000${segment.key}`;
    const cached = this.indexes.get(cacheKey);
    if (cached !== undefined) return cached;
    const bytes = await this.objects.getRange(segment.key, segment.indexPosition, segment.indexPosition + segment.indexLength - 1);
    const index = decodeSegmentIndex(bytes, segment.key);
    if (this.indexes.size >= INDEX_CACHE_ENTRIES) this.indexes.delete(this.indexes.keys().next().value!);
    this.indexes.set(cacheKey, index);
    return index;
  }
}
