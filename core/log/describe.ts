import type { LogStore, MetadataStore, TieringStore, TopicRecord } from '../ports.ts';
import { logKey } from '../ports.ts';
import type { PartitionTails } from './tails.ts';
import type { TopicConfig } from './topicConfig.ts';

export interface PartitionInfo {
  readonly partition: number;
  readonly logStartOffset: number;
  readonly highWatermark: number;
  /** Offsets below this are in S3 segments. */
  readonly tieredThrough: number;
  /** Uncompressed record bytes in DynamoDB. */
  readonly hotBytes: number;
  /** Uncompressed record bytes in S3 segments. */
  readonly tieredBytes: number;
  readonly segments: number;
}

export interface TopicDescription {
  readonly name: string;
  readonly topicId: string;
  readonly config: TopicConfig;
  readonly createdAt: number;
  readonly partitions: PartitionInfo[];
}

export interface DescribeStores {
  readonly log: LogStore;
  readonly metadata: MetadataStore;
  readonly tails: PartitionTails;
  readonly segments: TieringStore | undefined;
}

/** One partition's offsets and the bytes it holds in each tier. */
export async function describePartition(
  stores: DescribeStores,
  topic: TopicRecord,
  partition: number,
): Promise<PartitionInfo> {
  const log = logKey(topic.topicId, partition);
  const [state, highWatermark, segments, hotBytes] = await Promise.all([
    stores.metadata.getPartitionState(log),
    stores.tails.read(log),
    stores.segments?.listSegments(log) ?? [],
    hotBytesOf(stores.log, log),
  ]);
  return {
    partition,
    logStartOffset: state.logStartOffset,
    highWatermark,
    tieredThrough: state.tieredThrough,
    hotBytes,
    tieredBytes: segments.reduce((n, seg) => n + seg.sizeBytes, 0),
    segments: segments.length,
  };
}

async function hotBytesOf(store: LogStore, log: string): Promise<number> {
  let total = 0;
  for (let offset = 0; ;) {
    const page = await store.scanBatchHeaders(log, offset, 1000);
    total += page.batches.filter((b) => b.baseOffset >= offset).reduce((n, b) => n + b.sizeBytes, 0);
    const last = page.batches.at(-1);
    if (page.reachedEnd || last === undefined) return total;
    offset = last.baseOffset + last.recordCount;
  }
}
