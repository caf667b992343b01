import type { LogStore } from '../ports.ts';

/**
 * How long a learned partition tail is trusted. The roller never moves batches younger than
 * MIN_HOT_RETENTION_MS (60 s), far longer than this, so a claim at a cached tail can never land
 * on an offset whose batch has left the hot tier (where `attribute_not_exists` would not see it).
 */
export const TAIL_CACHE_MS = 5_000;

/** The last known end of each partition log and when it was learned: a hint only, corrected by conflicts. */
export class PartitionTails {
  private readonly tails = new Map<string, { offset: number; at: number }>();

  private readonly log: LogStore;
  private readonly now: () => number;

  constructor(log: LogStore, now: () => number) {
    this.log = log;
    this.now = now;
  }

  /** The end of the log: the last batch's end, read strongly consistently. */
  async read(log: string): Promise<number> {
    const last = await this.log.lastBatch(log);
    return last === undefined ? 0 : last.baseOffset + last.recordCount;
  }

  /** The cached tail while it is fresh, else the real one. */
  async guess(log: string): Promise<number> {
    const cached = this.tails.get(log);
    return cached !== undefined && cached.at + TAIL_CACHE_MS > this.now() ? cached.offset : this.read(log);
  }

  learn(log: string, offset: number): void {
    this.tails.set(log, { offset, at: this.now() });
  }
}
