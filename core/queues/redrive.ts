import { createHash } from 'node:crypto';
import { InvalidArgument, TopicNotFound, isSluiceError } from '../errors.ts';
import type { ConsumerRecord, RecordHeaders } from '../log/records.ts';
import type { Sluice } from '../log/sluice.ts';
import { validateTopicName } from '../log/topicConfig.ts';
import type { RedrivePositions } from './shareStore.ts';

/** Headers a dead letter carries about its failure; a redriven record is sent without them. */
export const DEAD_LETTER_HEADERS = [
  'original_topic',
  'original_partition',
  'original_offset',
  'error_message',
  'failed_at',
  'delivery_count',
  'reason',
  'share_group',
] as const;

export interface Redriven {
  /** Where the dead letter was. */
  readonly from: { readonly partition: number; readonly offset: number };
  /** Where it went again (none: skipped, with why). */
  readonly to?: { readonly topic: string; readonly partition: number; readonly offset: number };
  readonly skipped?: string;
}

const MAX_REDRIVE = 1_000;
/** How often a redrive whose position moved under it (another redrive) tries again. */
const MAX_CONFLICTS = 5;

/**
 * Redrive (SQS's DLQ redrive, Kafka's re-processing of a dead-letter topic): re-appends dead
 * letters, oldest first, to their original topic (the `original_topic` header) or another, without
 * the failure headers and with `redriven_from`. Each dead letter goes once, even if a redrive is
 * repeated or interrupted: a position per partition records how far it got, and each append is
 * idempotent, keyed by the dead letter (its own producer id, sequence 0).
 */
export class Redrive {
  private readonly sluice: Sluice;
  private readonly positions: RedrivePositions;

  constructor(options: { readonly sluice: Sluice; readonly positions: RedrivePositions }) {
    this.sluice = options.sluice;
    this.positions = options.positions;
  }

  /**
   * `authorizeTargets` is called with the topics a batch would write to (the `toTopic`, or the
   * dead letters' original topics) before anything is written; it throws to refuse.
   */
  async redrive(
    dlq: string,
    options: {
      maxRecords?: number;
      toTopic?: string;
      authorizeTargets?: (topics: readonly string[]) => Promise<void>;
    } = {},
  ): Promise<{ redriven: Redriven[]; remaining: number }> {
    for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
      const { batch, topicId, positions, remaining } = await this.next(dlq, options);
      await options.authorizeTargets?.([
        ...new Set(batch.map((b) => target(b.record, options.toTopic)).filter((t): t is string => t !== undefined)),
      ]);
      const out: Redriven[] = [];
      const advanced = new Map<number, number>();
      for (const { partition, record } of batch) {
        const to = target(record, options.toTopic);
        advanced.set(partition, record.offset + 1);
        if (to === undefined) {
          out.push({ from: { partition, offset: record.offset }, skipped: 'no original_topic header and no toTopic' });
          continue;
        }
        const headers: RecordHeaders = { ...record.headers, redriven_from: `${dlq}/${partition}/${record.offset}` };
        for (const h of DEAD_LETTER_HEADERS) delete headers[h];
        const producerId = `redrive-${createHash('sha256').update(`${topicId}\n${partition}\n${record.offset}`).digest('hex').slice(0, 40)}`;
        try {
          const [meta] = await this.sluice.append(
            to,
            [{ ...(record.key === null ? {} : { key: record.key }), value: record.value, headers }],
            { producer: { id: producerId, epoch: 0, sequence: 0 } },
          );
          out.push({
            from: { partition, offset: record.offset },
            to: { topic: to, partition: meta!.partition, offset: meta!.offset },
          });
        } catch (e) {
          if (!isSluiceError(e, 'TopicNotFound')) throw e;
          out.push({ from: { partition, offset: record.offset }, skipped: `topic ${to} does not exist` });
        }
      }
      let moved = true;
      for (const [partition, next] of advanced) {
        const at = positions.get(partition);
        if (!(await this.positions.putRedrivePosition(topicId, partition, next, at?.version))) moved = false;
      }
      if (moved) return { redriven: out, remaining: remaining - batch.length };
      // Another redrive moved the position meanwhile: what this one appended is de-duplicated on
      // the next attempt (same producer ids), which starts from the new position.
    }
    throw new InvalidArgument('dlq', `${dlq} is being redriven by another call; try again`);
  }

  private async next(dlq: string, options: { maxRecords?: number; toTopic?: string }) {
    validateTopicName(dlq);
    if (options.toTopic !== undefined) validateTopicName(options.toTopic);
    const max = options.maxRecords ?? 100;
    if (!Number.isSafeInteger(max) || max < 1 || max > MAX_REDRIVE)
      throw new InvalidArgument('maxRecords', `maxRecords must be an integer from 1 to ${MAX_REDRIVE}`);
    const topicId = (await this.sluice.topicIds([dlq])).get(dlq);
    if (topicId === undefined) throw new TopicNotFound(dlq);
    const partitions = (await this.sluice.partitionCounts([dlq]))[dlq] ?? 0;
    const candidates: { partition: number; record: ConsumerRecord }[] = [];
    const positions = new Map<number, { next: number; version: number } | undefined>();
    let remaining = 0;
    for (let partition = 0; partition < partitions; partition++) {
      const at = await this.positions.getRedrivePosition(topicId, partition);
      positions.set(partition, at);
      const start = Math.max(at?.next ?? 0, await this.sluice.offsetFor(dlq, partition, 'earliest'));
      const end = await this.sluice.offsetFor(dlq, partition, 'latest');
      remaining += Math.max(0, end - start);
      if (start >= end) continue;
      const got = await this.sluice.read(dlq, partition, start, { maxRecords: max });
      candidates.push(...got.records.map((record) => ({ partition, record })));
    }
    // Oldest first across partitions (append time order within each partition is kept).
    const batch = candidates
      .sort((a, b) => a.record.timestamp - b.record.timestamp || a.partition - b.partition)
      .slice(0, max);
    // Keep each partition's records a prefix of what it read, so its position moves past exactly them.
    const taken = new Map<number, number>();
    for (const b of batch) taken.set(b.partition, Math.max(taken.get(b.partition) ?? -1, b.record.offset));
    const prefix = candidates.filter((c) => c.record.offset <= (taken.get(c.partition) ?? -1));
    return {
      batch: prefix.sort((a, b) => a.partition - b.partition || a.record.offset - b.record.offset),
      topicId,
      positions,
      remaining,
    };
  }
}

function target(record: ConsumerRecord, toTopic: string | undefined): string | undefined {
  if (toTopic !== undefined) return toTopic;
  const original = record.headers.original_topic;
  return typeof original === 'string' ? original : undefined;
}
