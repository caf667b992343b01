import {
  MAX_ATOMIC_BYTES,
  MAX_ATOMIC_ITEMS,
  type AtomicOutcome,
  type AtomicPart,
  type AtomicWriter,
  type StoredBatch,
} from '../../ports.ts';

/**
 * A part of an in-memory transaction: a check of its conditions and the change it makes. The
 * writer runs every check, then every change, in one synchronous step, so nothing can interleave.
 */
export class MemoryPart implements AtomicPart {
  readonly items: number;
  readonly bytes: number;
  /** The first of its items whose condition fails (and the batch it met, for a batch), if any. */
  readonly check: () => { readonly item: number; readonly existing?: StoredBatch } | undefined;
  readonly apply: () => void;
  /** Charges what the transaction costs this part's store: twice a plain write, as DynamoDB does. */
  readonly charge: () => void;

  constructor(
    items: number,
    bytes: number,
    check: () => { readonly item: number; readonly existing?: StoredBatch } | undefined,
    apply: () => void,
    charge: () => void = () => {},
  ) {
    this.items = items;
    this.bytes = bytes;
    this.check = check;
    this.apply = apply;
    this.charge = charge;
  }
}

/** `AtomicWriter` in memory; each store makes its own parts (`MemoryStore.batchPart`, …). */
export class MemoryAtomicWriter implements AtomicWriter {
  /** Tokens of writes that landed: a repeat is answered as written, as DynamoDB's ClientRequestToken does. */
  private readonly tokens = new Set<string>();

  async write(parts: readonly AtomicPart[], token: string): Promise<AtomicOutcome> {
    await new Promise((resolve) => setImmediate(resolve));
    if (this.tokens.has(token)) return { outcome: 'written' };
    // DynamoDB refuses a transaction over its limits outright (a ValidationException).
    const items = parts.reduce((n, p) => n + p.items, 0);
    const bytes = parts.reduce((n, p) => n + p.bytes, 0);
    if (items > MAX_ATOMIC_ITEMS || bytes > MAX_ATOMIC_BYTES)
      throw new Error(
        `ValidationException: a transaction of ${items} items and ${bytes} bytes is over DynamoDB's limits`,
      );
    const memoryParts = parts.map((p) => {
      if (!(p instanceof MemoryPart))
        throw new Error('a part from another adapter cannot join an in-memory transaction');
      return p;
    });
    for (const p of memoryParts) p.charge();
    for (const [part, p] of memoryParts.entries()) {
      const failed = p.check();
      if (failed !== undefined) return { outcome: 'rejected', part, ...failed };
    }
    for (const p of memoryParts) p.apply();
    this.tokens.add(token);
    return { outcome: 'written' };
  }
}
