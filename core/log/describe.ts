import type { LogStore, MetadataStore, TopicRecord } from '../ports.ts';
import { logKey } from '../ports.ts';
import type { TopicConfig } from './topicConfig.ts';
import type { TxnResolver } from './read.ts';
import { parseTxnKey, type TransactionStore } from '../transactions/transactionStore.ts';

export interface PartitionInfo {
  readonly partition: number;
  readonly logStartOffset: number;
  readonly highWatermark: number;
  /** Offsets below this are in S3 segments. */
  readonly tieredThrough: number;
  /** Uncompressed record bytes in S3 segments (kept in the partition state; absent until counted). */
  readonly tieredBytes?: number;
  /** How many S3 segments hold the partition (absent until counted, as `tieredBytes`). */
  readonly segments?: number;
  /** Uncompressed record bytes in DynamoDB: only when asked for (`sizes`), as it reads every hot batch. */
  readonly hotBytes?: number;
  /**
   * Where `read_committed` readers stop: the first offset of the oldest transaction still open
   * here, else the high watermark (Kafka's last stable offset). Only where transactions are configured.
   */
  readonly lastStableOffset?: number;
  /** The multi-request transactions open here, with their first offsets. */
  readonly openTransactions?: { readonly transactionalId: string; readonly firstOffset: number }[];
}

/** A topic's record: what a describe with `offsets: false` returns, from one read. */
export interface TopicSummary {
  readonly name: string;
  readonly topicId: string;
  readonly config: TopicConfig;
  readonly createdAt: number;
}

export interface TopicDescription extends TopicSummary {
  readonly partitions: PartitionInfo[];
}

export interface DescribeOptions {
  /**
   * Each partition's offsets and segment figures: two reads per partition, whatever its history.
   * Without them, a describe reads the topic record only. @default true
   */
  readonly offsets?: boolean;
  /**
   * Each partition's hot bytes too: a scan of the batch headers in DynamoDB, whose cost grows with
   * the data in the hot tier (bounded by hot retention and the roller). @default false
   */
  readonly sizes?: boolean;
}

export interface DescribeStores {
  readonly log: LogStore;
  readonly metadata: MetadataStore;
  /** Transactions' open notes and outcomes, for the last stable offset. */
  readonly transactions?: { readonly store: TransactionStore; readonly outcomes: TxnResolver };
}

/** One partition's offsets and segment figures: a fixed number of reads (plus the scan with `sizes`). */
export async function describePartition(
  stores: DescribeStores,
  topic: TopicRecord,
  partition: number,
  sizes: boolean,
): Promise<PartitionInfo> {
  const log = logKey(topic.topicId, partition);
  const [state, last, hotBytes, open] = await Promise.all([
    stores.metadata.getPartitionState(log),
    stores.log.lastBatch(log),
    sizes ? hotBytesOf(stores.log, log) : undefined,
    stores.transactions?.store.openOn(log),
  ]);
  // As `PartitionTails.read`: the tiered end counts once the hot copies have expired.
  const highWatermark = Math.max(last === undefined ? 0 : last.baseOffset + last.recordCount, state.tieredThrough);
  // Nothing rolled yet means no segments, counted or not.
  const segments = state.segments ?? (state.tieredThrough === 0 ? { count: 0, bytes: 0 } : undefined);
  return {
    partition,
    logStartOffset: state.logStartOffset,
    highWatermark,
    tieredThrough: state.tieredThrough,
    ...(segments === undefined ? {} : { tieredBytes: segments.bytes, segments: segments.count }),
    ...(hotBytes === undefined ? {} : { hotBytes }),
    ...(open === undefined ? {} : await stable(stores.transactions!.outcomes, open, highWatermark)),
  };
}

/**
 * The last stable offset and the transactions open on a partition, from its open notes (one
 * query): notes of transactions decided meanwhile (their producer removes them) are left out.
 */
export async function stable(
  outcomes: TxnResolver,
  notes: readonly { readonly txn: string; readonly first: number }[],
  highWatermark: number,
): Promise<{ lastStableOffset: number; openTransactions: { transactionalId: string; firstOffset: number }[] }> {
  const statuses = notes.length === 0 ? new Map<string, string>() : await outcomes.resolve(notes.map((n) => n.txn));
  const open = notes.filter((n) => statuses.get(n.txn) === 'open').sort((a, b) => a.first - b.first);
  return {
    lastStableOffset: Math.min(highWatermark, ...open.map((n) => n.first)),
    openTransactions: open.map((n) => ({ transactionalId: parseTxnKey(n.txn).transactionalId, firstOffset: n.first })),
  };
}

/** Bytes of the batches from `tieredThrough` on would do, but every hot batch counts until TTL removes it. */
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
