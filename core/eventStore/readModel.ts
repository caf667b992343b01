import { MemoryPart } from '../adapters/memory/memoryAtomic.ts';
import { MAX_ITEM_BYTES, jsonItemBytes } from '../adapters/memory/capacity.ts';
import { InvalidArgument } from '../errors.ts';
import type { JsonValue } from '../log/records.ts';
import type { AtomicPart } from '../ports.ts';

/** A read-model document: a JSON object (its `id` is the key). */
export type ReadModelDoc = Record<string, JsonValue>;

/**
 * A part that says which read-model items it writes, so that a projection never puts two writes
 * of one item in one transaction (DynamoDB refuses that). Parts without `keys` (a caller's raw
 * `DynamoAtomicWriter.userPart`) are committed one event per transaction.
 */
export interface KeyedPart extends AtomicPart {
  readonly keys: readonly string[];
}

/**
 * A key-value read model a projection writes in its checkpoint's transaction: each write is an
 * `AtomicPart` of the adapter's kind (a `TransactWriteItem` on the user's DynamoDB table through
 * `DynamoAtomicWriter.userPart`, a `MemoryPart` in memory).
 */
export interface ReadModel {
  /** Sets the document (replacing it). */
  put(id: string, doc: ReadModelDoc): KeyedPart;
  /** Adds `delta` to a numeric field, creating the document (and the field, from 0) when absent. */
  add(id: string, field: string, delta: number): KeyedPart;
  delete(id: string): KeyedPart;
  get(id: string): Promise<ReadModelDoc | undefined>;
  /** Every document (a scan: for tests, rebuild checks and small models). */
  all(): Promise<Map<string, ReadModelDoc>>;
}

/** Read models take document ids and field names that are plain (and `id` is the key). */
export function checkWrite(id: unknown, field?: unknown, doc?: unknown): void {
  if (typeof id !== 'string' || id.length === 0 || id.length > 1024)
    throw new InvalidArgument('id', 'a read-model id is a string of 1 to 1024 characters');
  if (
    field !== undefined &&
    (typeof field !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(field) || field === 'id')
  )
    throw new InvalidArgument('field', 'a read-model field is an identifier other than id');
  if (doc !== undefined && (typeof doc !== 'object' || doc === null || Array.isArray(doc) || 'id' in doc))
    throw new InvalidArgument('doc', 'a read-model document is a JSON object without id (the key)');
}

/**
 * `ReadModel` in memory, with DynamoDB's rules: items of at most 400 KB, and no two writes of one
 * item in one transaction (a `ValidationException` there, thrown here too).
 */
export class MemoryReadModel implements ReadModel {
  private readonly docs = new Map<string, ReadModelDoc>();
  /** Keys name this model's items apart from another model's. */
  private readonly prefix = `${Math.random()}\u0000`;
  /**
   * Items written by the transaction being checked: a memory transaction charges every part, then
   * checks them, then applies them in one synchronous step, so they are cleared on the next microtask.
   */
  private readonly inTransaction = new Set<string>();
  private duplicate = false;

  private part(id: string, bytes: number, check: () => { item: number } | undefined, apply: () => void): KeyedPart {
    const note = () => {
      if (this.inTransaction.size === 0)
        queueMicrotask(() => {
          this.inTransaction.clear();
          this.duplicate = false;
        });
      if (this.inTransaction.has(id)) this.duplicate = true;
      this.inTransaction.add(id);
    };
    const checked = () => {
      if (this.duplicate)
        throw new Error('ValidationException: Transaction request cannot include multiple operations on one item');
      return check();
    };
    return keyed(this.prefix + id, new MemoryPart(1, bytes, checked, apply, note));
  }

  put(id: string, doc: ReadModelDoc): KeyedPart {
    checkWrite(id, undefined, doc);
    const copy = structuredClone(doc);
    return this.part(
      id,
      size(id, copy),
      () => undefined,
      () => this.docs.set(id, structuredClone(copy)),
    );
  }

  add(id: string, field: string, delta: number): KeyedPart {
    checkWrite(id, field);
    if (!Number.isFinite(delta)) throw new InvalidArgument('delta', 'delta must be a finite number');
    return this.part(
      id,
      size(id, { [field]: delta }),
      () => {
        const now = this.docs.get(id)?.[field];
        return now === undefined || typeof now === 'number' ? undefined : { item: 0 };
      },
      () => {
        const doc = this.docs.get(id) ?? {};
        this.docs.set(id, { ...doc, [field]: ((doc[field] as number | undefined) ?? 0) + delta });
      },
    );
  }

  delete(id: string): KeyedPart {
    checkWrite(id);
    return this.part(
      id,
      id.length,
      () => undefined,
      () => this.docs.delete(id),
    );
  }

  async get(id: string): Promise<ReadModelDoc | undefined> {
    const doc = this.docs.get(id);
    return doc === undefined ? undefined : structuredClone(doc);
  }

  async all(): Promise<Map<string, ReadModelDoc>> {
    return new Map([...this.docs].map(([id, doc]) => [id, structuredClone(doc)]));
  }
}

function keyed<P extends AtomicPart>(id: string, part: P): P & KeyedPart {
  return Object.assign(part, { keys: [id] });
}

function size(id: string, doc: ReadModelDoc): number {
  const bytes = jsonItemBytes(id, '', doc);
  if (bytes > MAX_ITEM_BYTES)
    throw new Error(`ValidationException: Item size ${bytes} has exceeded the maximum allowed size`);
  return bytes;
}
