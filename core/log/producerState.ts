import { DuplicateSequence, OutOfOrderSequence, ProducerFenced } from '../errors.ts';
import type { ProducerBatchRef, ProducerState } from '../ports.ts';

/** How many recent batches per producer and partition are remembered for de-duplication (Kafka keeps 5). */
export const RECENT_BATCHES = 5;

export type ProducerDecision =
  /** Append; `nextState(baseOffset)` is the state to commit atomically with the batch. */
  | { readonly kind: 'append'; readonly nextState: (baseOffset: number) => ProducerState }
  /** The batch was appended before; these are its original offsets. */
  | { readonly kind: 'duplicate'; readonly baseOffset: number };

/**
 * Kafka's idempotent-producer rules for one batch on one partition:
 * - an older epoch than the stored one is fenced;
 * - a new producer, or a newer epoch, starts at sequence 0;
 * - within an epoch, the batch must start at `nextSequence`; a batch that starts earlier is a
 *   retry, answered with its original offsets when still remembered;
 * - a gap in sequence numbers is an error (something sent earlier never arrived).
 */
export function decideProducerBatch(
  producerId: string,
  partition: number,
  state: ProducerState | undefined,
  epoch: number,
  firstSequence: number,
  recordCount: number,
): ProducerDecision {
  const expected = state === undefined || epoch > state.epoch ? 0 : state.nextSequence;
  if (state !== undefined && epoch < state.epoch) throw new ProducerFenced(producerId, epoch, state.epoch);

  if (firstSequence === expected) {
    const kept = state !== undefined && epoch === state.epoch ? state.recent : [];
    return {
      kind: 'append',
      nextState: (baseOffset) => ({
        epoch,
        nextSequence: firstSequence + recordCount,
        recent: [...kept, { firstSequence, recordCount, baseOffset } satisfies ProducerBatchRef].slice(-RECENT_BATCHES),
        version: (state?.version ?? 0) + 1,
      }),
    };
  }
  if (firstSequence > expected || state === undefined || epoch !== state.epoch) {
    throw new OutOfOrderSequence(producerId, partition, firstSequence, expected);
  }
  const seen = state.recent.find((b) => b.firstSequence === firstSequence && b.recordCount === recordCount);
  if (seen === undefined) throw new DuplicateSequence(producerId, partition, firstSequence);
  return { kind: 'duplicate', baseOffset: seen.baseOffset };
}
