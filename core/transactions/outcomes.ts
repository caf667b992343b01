import { randomUUID } from 'node:crypto';
import { TransactionTooLarge } from '../errors.ts';
import { MAX_ATOMIC_BYTES, MAX_ATOMIC_ITEMS, type AtomicPart, type AtomicWriter } from '../ports.ts';
import {
  parseTxnKey,
  txnKey,
  type TransactionStore,
  type TxnOutcome,
  type TxnProducerState,
} from './transactionStore.ts';

/** What a reader needs to know of a transaction its batches belong to. */
export type TxnStatus = TxnOutcome | 'open';

/** Outcomes kept per process: they never change once decided. */
const CACHE_LIMIT = 10_000;

export interface TxnOutcomesOptions {
  readonly store: TransactionStore;
  readonly writer: AtomicWriter;
  readonly now: () => number;
}

/**
 * Outcomes of multi-request transactions, for `read_committed` readers and the roller: one
 * batched look-up per transaction not seen before (decided outcomes are cached), and an
 * abandoned transaction (open past its timeout) is aborted by whoever finds it, so no reader
 * waits for it for ever.
 */
export class TxnOutcomes {
  private readonly store: TransactionStore;
  private readonly writer: AtomicWriter;
  private readonly now: () => number;
  private readonly decided = new Map<string, TxnOutcome>();

  constructor(options: TxnOutcomesOptions) {
    this.store = options.store;
    this.writer = options.writer;
    this.now = options.now;
  }

  async resolve(keys: readonly string[]): Promise<Map<string, TxnStatus>> {
    const out = new Map<string, TxnStatus>();
    const unknown = [...new Set(keys)].filter((k) => {
      const known = this.decided.get(k);
      if (known !== undefined) out.set(k, known);
      return known === undefined;
    });
    if (unknown.length === 0) return out;
    const found = await this.store.getOutcomes(unknown);
    for (const key of unknown) {
      let outcome = found.get(key);
      if (outcome === undefined) outcome = await this.abortIfExpired(key);
      if (outcome === undefined) {
        out.set(key, 'open');
        continue;
      }
      this.remember(key, outcome);
      out.set(key, outcome);
    }
    return out;
  }

  /** Records an outcome decided in this process. */
  remember(key: string, outcome: TxnOutcome): void {
    if (this.decided.size >= CACHE_LIMIT) this.decided.delete(this.decided.keys().next().value!);
    this.decided.set(key, outcome);
  }

  /**
   * Aborts the transaction if it is still its producer's open one and its timeout has passed;
   * its outcome (either way) when it is decided, undefined while it stays open.
   */
  private async abortIfExpired(key: string): Promise<TxnOutcome | undefined> {
    const { transactionalId } = parseTxnKey(key);
    for (let attempt = 0; attempt < 5; attempt++) {
      const state = await this.store.getProducer(transactionalId);
      const open = state?.open;
      if (state === undefined || open === undefined || txnKey(transactionalId, state.epoch, open.sequence) !== key) {
        // Decided meanwhile (or by a producer being fenced): its outcome is written by now.
        return (await this.store.getOutcomes([key])).get(key);
      }
      if (open.startedAt + open.timeoutMs > this.now()) return undefined;
      if (await decide(this.store, this.writer, state, 'aborted')) return 'aborted';
    }
    return undefined;
  }
}

/**
 * Decides the producer's open transaction: its outcome item and its state (open → closing) in
 * one atomic write, with `extra` parts (a commit's group offsets). False when the state moved
 * meanwhile (nothing written); the rejected part's index otherwise, when an extra part failed.
 */
export async function decide(
  store: TransactionStore,
  writer: AtomicWriter,
  state: TxnProducerState,
  outcome: TxnOutcome,
  extra: readonly AtomicPart[] = [],
): Promise<boolean | { rejectedPart: number; item: number }> {
  const open = state.open!;
  const next: TxnProducerState = {
    transactionalId: state.transactionalId,
    epoch: state.epoch,
    nextSequence: open.sequence + 1,
    version: state.version + 1,
    closing: {
      sequence: open.sequence,
      outcome,
      partitions: open.partitions.map(({ topic, partition, log }) => ({ topic, partition, log })),
    },
    last: { sequence: open.sequence, outcome },
  };
  const parts = [
    store.producerPart(next),
    store.outcomePart(state.transactionalId, state.epoch, open.sequence, outcome),
    ...extra,
  ];
  const items = parts.reduce((n, p) => n + p.items, 0);
  const bytes = parts.reduce((n, p) => n + p.bytes, 0);
  if (items > MAX_ATOMIC_ITEMS || bytes > MAX_ATOMIC_BYTES)
    throw new TransactionTooLarge(items, bytes, MAX_ATOMIC_ITEMS, MAX_ATOMIC_BYTES);
  const result = await writer.write(parts, randomUUID());
  if (result.outcome === 'written') return true;
  if (result.part <= 1) return false;
  return { rejectedPart: result.part - 2, item: result.item };
}
