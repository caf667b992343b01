import { DuplicateSequence, OutOfOrderSequence, ProducerFenced, UnknownProducer } from '../errors.ts';
import type { ProducerBatchRef, ProducerState } from '../ports.ts';

/**
 * How many earlier batches per producer and partition are remembered for de-duplication, beyond
 * those of the request in progress (Kafka keeps 5). A request's own batches are all remembered,
 * however many it splits into, so a retry of a whole request after an unknown outcome finds
 * every one of them; runs of batches contiguous in both sequence and offset merge into one.
 */
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
  requestFirstSequence: number = firstSequence,
): ProducerDecision {
  const expected = state === undefined || epoch > state.epoch ? 0 : state.nextSequence;
  if (state !== undefined && epoch < state.epoch) throw new ProducerFenced(producerId, epoch, state.epoch);
  if (state === undefined && firstSequence !== 0) throw new UnknownProducer(producerId, partition, firstSequence); // its state expired (or never was)

  if (firstSequence === expected) {
    const kept = state !== undefined && epoch === state.epoch ? state.recent : [];
    return {
      kind: 'append',
      nextState: (baseOffset) => ({
        epoch,
        nextSequence: firstSequence + recordCount,
        recent: remember(kept, { firstSequence, recordCount, baseOffset }, requestFirstSequence),
        version: (state?.version ?? 0) + 1,
      }),
    };
  }
  if (firstSequence > expected || state === undefined || epoch !== state.epoch) {
    throw new OutOfOrderSequence(producerId, partition, firstSequence, expected);
  }
  // A retry: the batch lies within a remembered run (merged runs hold it at its sequence's place).
  const seen = state.recent.find(
    (b) => b.firstSequence <= firstSequence && firstSequence + recordCount <= b.firstSequence + b.recordCount,
  );
  if (seen === undefined) throw new DuplicateSequence(producerId, partition, firstSequence);
  return { kind: 'duplicate', baseOffset: seen.baseOffset + (firstSequence - seen.firstSequence) };
}

/**
 * The refs after appending `added`: merged into the last when it continues it in both sequence
 * and offset; every ref of the current request (from `requestFirstSequence`) kept, and
 * RECENT_BATCHES before it.
 */
function remember(
  kept: readonly ProducerBatchRef[],
  added: ProducerBatchRef,
  requestFirstSequence: number,
): ProducerBatchRef[] {
  const last = kept.at(-1);
  const refs =
    last !== undefined &&
    last.firstSequence + last.recordCount === added.firstSequence &&
    last.baseOffset + last.recordCount === added.baseOffset
      ? [...kept.slice(0, -1), { ...last, recordCount: last.recordCount + added.recordCount }]
      : [...kept, added];
  const current = refs.filter((r) => r.firstSequence + r.recordCount > requestFirstSequence).length;
  return refs.slice(-(current + RECENT_BATCHES));
}
