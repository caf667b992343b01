import { MemoryPart } from '../adapters/memory/memoryAtomic.ts';
import { MAX_ITEM_BYTES, jsonItemBytes } from '../adapters/memory/capacity.ts';
import type { AtomicPart } from '../ports.ts';

/** A partition a transaction wrote to. */
export interface TxnPartition {
  readonly topic: string;
  readonly partition: number;
  readonly log: string;
}

/** A batch a transaction wrote: where, its first offset and how many records (what a retry is answered with). */
export interface TxnBatch {
  readonly topic: string;
  readonly partition: number;
  readonly baseOffset: number;
  readonly recordCount: number;
}

/** A multi-request transaction between `begin` and `commit`/`abort`. */
export interface OpenTxn {
  readonly sequence: number;
  readonly startedAt: number;
  readonly timeoutMs: number;
  /** Appends so far: the next append must say this number (a retried one says an earlier one). */
  readonly appends: number;
  /** The last append's batches, for its retry. */
  readonly lastAppend?: readonly TxnBatch[];
  /** Every partition written to, with the first offset there. */
  readonly partitions: readonly (TxnPartition & { readonly first: number })[];
}

/** A decided multi-request transaction whose markers and open entries are still being written and removed. */
export interface ClosingTxn {
  readonly sequence: number;
  readonly outcome: TxnOutcome;
  readonly partitions: readonly TxnPartition[];
}

export type TxnOutcome = 'committed' | 'aborted';

/** A transactional producer's state (Kafka's transaction coordinator's, in one item). */
export interface TxnProducerState {
  readonly transactionalId: string;
  /** Raised by every `init`: requests of an older epoch are fenced (zombies). */
  readonly epoch: number;
  /** The sequence of the next transaction within the epoch. */
  readonly nextSequence: number;
  /** Optimistic-lock version, bumped on every write. */
  readonly version: number;
  readonly open?: OpenTxn;
  readonly closing?: ClosingTxn;
  /** The last transaction decided, so that a retried request learns what became of it. */
  readonly last?: { readonly sequence: number; readonly outcome: TxnOutcome; readonly batches?: readonly TxnBatch[] };
}

/** Where transactions keep their state: producer states, outcomes, and per partition the open ones. */
export interface TransactionStore {
  getProducer(transactionalId: string): Promise<TxnProducerState | undefined>;
  /** Replaces the state if its version is still `next.version - 1` (absent when that is 0). */
  putProducer(next: TxnProducerState): Promise<boolean>;
  /** The same replacement as part of an atomic write (rejected when the version moved). */
  producerPart(next: TxnProducerState): AtomicPart;
  /** Records a transaction's outcome, once, as part of an atomic write (rejected when one exists). */
  outcomePart(transactionalId: string, epoch: number, sequence: number, outcome: TxnOutcome): AtomicPart;
  /** Outcomes of these transactions (by `txnKey`); undecided ones are left out. */
  getOutcomes(keys: readonly string[]): Promise<Map<string, TxnOutcome>>;
  /** Notes a transaction open on a partition with its first offset there (kept if noted already), in an atomic write. */
  openPart(log: string, txn: string, first: number): AtomicPart;
  /** The transactions noted open on a partition: one query (they are few). */
  openOn(log: string): Promise<{ readonly txn: string; readonly first: number }[]>;
  /** Removes a partition's note of a transaction (idempotent). */
  forgetOpen(log: string, txn: string): Promise<void>;
}

/** The key a transaction's batches carry: `<transactionalId>#<epoch>#<sequence>`. */
export function txnKey(transactionalId: string, epoch: number, sequence: number): string {
  return `${transactionalId}#${epoch}#${sequence}`;
}

export function parseTxnKey(key: string): { transactionalId: string; epoch: number; sequence: number } {
  const last = key.lastIndexOf('#');
  const middle = key.lastIndexOf('#', last - 1);
  return {
    transactionalId: key.slice(0, middle),
    epoch: Number(key.slice(middle + 1, last)),
    sequence: Number(key.slice(last + 1)),
  };
}

/** In-memory `TransactionStore`, with DynamoDB's item limits and costs (see capacity.ts). */
export class MemoryTransactionStore implements TransactionStore {
  private readonly producers = new Map<string, TxnProducerState>();
  private readonly outcomes = new Map<string, TxnOutcome>();
  private readonly open = new Map<string, Map<string, number>>();

  async getProducer(transactionalId: string): Promise<TxnProducerState | undefined> {
    await tick();
    const state = this.producers.get(transactionalId);
    return state === undefined ? undefined : structuredClone(state);
  }

  async putProducer(next: TxnProducerState): Promise<boolean> {
    await tick();
    checkItem(next);
    if ((this.producers.get(next.transactionalId)?.version ?? 0) !== next.version - 1) return false;
    this.producers.set(next.transactionalId, structuredClone(next));
    return true;
  }

  producerPart(next: TxnProducerState): AtomicPart {
    const copy = structuredClone(next);
    const bytes = checkItem(next);
    return new MemoryPart(
      1,
      bytes,
      () => ((this.producers.get(next.transactionalId)?.version ?? 0) !== next.version - 1 ? { item: 0 } : undefined),
      () => this.producers.set(next.transactionalId, copy),
    );
  }

  outcomePart(transactionalId: string, epoch: number, sequence: number, outcome: TxnOutcome): AtomicPart {
    const key = txnKey(transactionalId, epoch, sequence);
    return new MemoryPart(
      1,
      64,
      () => (this.outcomes.has(key) ? { item: 0 } : undefined),
      () => this.outcomes.set(key, outcome),
    );
  }

  async getOutcomes(keys: readonly string[]): Promise<Map<string, TxnOutcome>> {
    await tick();
    return new Map(keys.flatMap((k) => (this.outcomes.has(k) ? [[k, this.outcomes.get(k)!] as const] : [])));
  }

  openPart(log: string, txn: string, first: number): AtomicPart {
    return new MemoryPart(
      1,
      64,
      () => undefined,
      () => {
        const open = this.open.get(log) ?? new Map<string, number>();
        if (!open.has(txn)) open.set(txn, first);
        this.open.set(log, open);
      },
    );
  }

  async openOn(log: string): Promise<{ txn: string; first: number }[]> {
    await tick();
    return [...(this.open.get(log) ?? new Map<string, number>())].map(([txn, first]) => ({ txn, first }));
  }

  async forgetOpen(log: string, txn: string): Promise<void> {
    await tick();
    this.open.get(log)?.delete(txn);
  }
}

/** The producer state's item size, refused over DynamoDB's 400 KB as DynamoDB would. */
function checkItem(state: TxnProducerState): number {
  const bytes = jsonItemBytes(`txn#${state.transactionalId}`, 'state', state);
  if (bytes > MAX_ITEM_BYTES)
    throw new Error(`ValidationException: Item size ${bytes} has exceeded the maximum allowed size`);
  return bytes;
}

function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
