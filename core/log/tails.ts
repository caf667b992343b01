import type { LogStore, MetadataStore, PartitionState } from '../ports.ts';

/** Partition tails: where each log ends. */
export class PartitionTails {
  private readonly log: LogStore;
  private readonly metadata: MetadataStore;

  constructor(log: LogStore, metadata: MetadataStore) {
    this.log = log;
    this.metadata = metadata;
  }

  /**
   * The end of the log (strongly consistent): the last hot batch's end, or the tiered end when the
   * hot copies of an idle partition have all expired. Offsets reserved by a writer whose put has
   * not landed yet are below it only once a later batch has landed. Pass the partition state when
   * it was just read.
   */
  async read(log: string, state?: Pick<PartitionState, 'tieredThrough'>): Promise<number> {
    const [last, known] = await Promise.all([this.log.lastBatch(log), state ?? this.metadata.getPartitionState(log)]);
    return Math.max(last === undefined ? 0 : last.baseOffset + last.recordCount, known.tieredThrough);
  }
}
