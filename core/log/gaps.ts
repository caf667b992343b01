import { GAP_WRITER_ID, type LogStore, type StoredBatch, type TopicRecord } from '../ports.ts';

/**
 * Gaps in a partition's hot log, and how they are closed.
 *
 * Writers reserve offsets from the partition's sequencer (an atomic counter, which never
 * conflicts) and then write their batch at the reservation's base with a conditional put. Until
 * the put lands, the reserved range is a gap: readers and the roller stop before it, since it
 * will hold records. A writer that dies between its reservation and its put leaves the gap for
 * good, so once it is older than any live writer could be, a reader fills it with a gap filler: a
 * batch of no records that occupies the offsets, which every reader skips (as Kafka's readers skip
 * the offsets of transaction markers and aborted records). Offsets may therefore skip a range.
 *
 * Safety does not rest on the timing: a filler is only ever put at the base of a reservation
 * (where its writer would put), with the same `attribute_not_exists` condition, so the writer and
 * the filler conflict on one key and exactly one of them wins; a writer that loses reserves again.
 * Where the reservation's bounds are known (the batch after the gap records the base of the one
 * before it) one filler covers it; otherwise the gap is filled one offset at a time from its start,
 * so that every offset a writer could still put at is claimed in order.
 */

/** A writer starts no put for a reservation older than this; it fills its range itself and reserves again. */
export const RESERVATION_MAX_AGE_MS = 10_000;
/**
 * A gap is filled once the batch after it was appended this long ago: far longer than a live
 * writer keeps a reservation, so only dead writers' ranges are filled (timing matters for
 * liveness only, see above).
 */
export const GAP_FILL_AFTER_MS = 30_000;
/** Most single-offset fillers one call writes; a longer gap of unknown bounds is closed over several reads. */
const MAX_FILLS_PER_CALL = 64;

export function isGapFiller(batch: StoredBatch): boolean {
  return batch.writerId === GAP_WRITER_ID;
}

/** A batch of no records occupying `[base, base + count)`. */
export function gapFiller(
  log: string,
  base: number,
  count: number,
  appendedAt: number,
  expiresAt?: number,
): StoredBatch {
  return {
    log,
    baseOffset: base,
    recordCount: count,
    firstTimestamp: appendedAt,
    maxTimestamp: appendedAt,
    sizeBytes: 0,
    codec: 'none',
    payload: new Uint8Array(0),
    writerId: GAP_WRITER_ID,
    appendedAt,
    ...(expiresAt === undefined ? {} : { expiresAt }),
  };
}

export interface GapFillerOptions {
  readonly log: LogStore;
  readonly now: () => number;
  /** The TTL of a hot copy written now for the topic (see `hotCopyExpiry`). */
  readonly expiresAt: (topic: TopicRecord, appendedAt: number) => number | undefined;
}

export class GapFiller {
  private readonly log: LogStore;
  private readonly now: () => number;
  private readonly expiresAt: (topic: TopicRecord, appendedAt: number) => number | undefined;

  constructor(options: GapFillerOptions) {
    this.log = options.log;
    this.now = options.now;
    this.expiresAt = options.expiresAt;
  }

  /**
   * Closes the gap before `next` (the first batch after `offset`, which lies in the gap) if it is
   * stale. `floor` is a reservation boundary at or below the gap (the tiered end) used when no hot
   * batch precedes it. True when something may have changed (read again), false when the gap is
   * young (a writer may still fill it: wait).
   */
  async fill(topic: TopicRecord, log: string, offset: number, next: StoredBatch, floor: number): Promise<boolean> {
    const now = this.now();
    if ((next.appendedAt ?? 0) + GAP_FILL_AFTER_MS > now) return false;
    const put = async (base: number, count: number): Promise<StoredBatch | undefined> => {
      const result = await this.log.putBatch(gapFiller(log, base, count, now, this.expiresAt(topic, now)));
      return result.outcome === 'offset-taken' ? result.existing : undefined;
    };
    // The gap starts where the batch before it ends: a reservation boundary, unlike `offset`.
    const before = await this.log.batchAtOrBefore(log, offset);
    let start = Math.max(floor, before === undefined ? 0 : before.baseOffset + before.recordCount);
    let end = next.baseOffset;
    if (next.previousBase !== undefined && next.previousBase >= start && next.previousBase < end) {
      await put(next.previousBase, end - next.previousBase); // exactly the last reservation in the gap
      end = next.previousBase;
    }
    for (let fills = 0; start < end && fills < MAX_FILLS_PER_CALL; fills++) {
      const existing = await put(start, 1);
      start = existing === undefined ? start + 1 : existing.baseOffset + existing.recordCount;
    }
    return true;
  }
}
