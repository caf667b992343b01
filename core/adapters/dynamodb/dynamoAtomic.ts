import {
  TransactionCanceledException,
  TransactWriteItemsCommand,
  type AttributeValue,
  type ConsumedCapacity,
  type DynamoDBClient,
  type TransactWriteItem,
} from '@aws-sdk/client-dynamodb';
import { InvalidArgument } from '../../errors.ts';
import type { AtomicOutcome, AtomicPart, AtomicWriter, StoredBatch } from '../../ports.ts';

/** A part of a DynamoDB transaction: its items, and how to read back the batch a rejected put met. */
export class DynamoPart implements AtomicPart {
  readonly items: number;
  readonly bytes: number;
  readonly writes: readonly TransactWriteItem[];
  readonly existing: ((item: Record<string, AttributeValue>) => StoredBatch) | undefined;

  constructor(writes: readonly TransactWriteItem[], existing?: (item: Record<string, AttributeValue>) => StoredBatch) {
    this.writes = writes;
    this.existing = existing;
    this.items = writes.length;
    this.bytes = writes.reduce((n, w) => n + writeBytes(w), 0);
  }
}

/** Conflicts with other transactions retried before giving up (nothing of a conflicting write lands). */
const CONFLICT_RETRIES = 6;

export interface DynamoAtomicWriterOptions {
  readonly client: DynamoDBClient;
  readonly onConsumedCapacity?: (capacity: ConsumedCapacity[]) => void;
}

/** `AtomicWriter` on DynamoDB: one `TransactWriteItems` of every part's items, in order. */
export class DynamoAtomicWriter implements AtomicWriter {
  private readonly client: DynamoDBClient;
  private readonly onCapacity: ((capacity: ConsumedCapacity[]) => void) | undefined;

  constructor(options: DynamoAtomicWriterOptions) {
    this.client = options.client;
    this.onCapacity = options.onConsumedCapacity;
  }

  /**
   * The caller's own items as a part (the outbox: `sluice.transact({ writes })`): DynamoDB's
   * `TransactWriteItem`s, with `AttributeValue`s, on tables in this account and region.
   */
  userPart(writes: readonly TransactWriteItem[]): DynamoPart {
    return new DynamoPart(writes);
  }

  async write(parts: readonly AtomicPart[], token: string): Promise<AtomicOutcome> {
    const dynamoParts = parts.map((p) => {
      if (!(p instanceof DynamoPart)) throw new Error('a part from another adapter cannot join a DynamoDB transaction');
      return p;
    });
    const items = dynamoParts.flatMap((p) => p.writes);
    for (let attempt = 0; ; attempt++) {
      try {
        const out = await this.client.send(
          new TransactWriteItemsCommand({
            TransactItems: [...items],
            ClientRequestToken: token,
            ...(this.onCapacity === undefined ? {} : { ReturnConsumedCapacity: 'TOTAL' }),
          }),
        );
        if (this.onCapacity !== undefined && out.ConsumedCapacity !== undefined) this.onCapacity(out.ConsumedCapacity);
        return { outcome: 'written' };
      } catch (e) {
        if (!(e instanceof TransactionCanceledException)) throw e; // unknown: the caller retries with the token
        const reasons = e.CancellationReasons ?? [];
        const failed = reasons.findIndex((r) => r.Code === 'ConditionalCheckFailed');
        if (failed >= 0) return rejection(dynamoParts, failed, reasons[failed]!.Item);
        // An item DynamoDB refuses (over 400 KB, two actions on one item, a bad expression): the
        // caller's mistake, refused the same way however often it is tried (DynamoDB's message
        // is not passed on: it may quote the caller's data).
        if (reasons.some((r) => r.Code === 'ValidationError'))
          throw new InvalidArgument(
            'writes',
            'DynamoDB refused an item of the transaction (an item over 400 KB, two actions on one item, or an invalid expression)',
          );
        // Another transaction held an item (TransactionConflict), or throttling: nothing was
        // written. A new token, as DynamoDB remembers the cancelled one's outcome.
        if (attempt >= CONFLICT_RETRIES) throw e;
        token = `${token.slice(0, 30)}-r${attempt}`;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * 2 ** attempt));
      }
    }
  }
}

function rejection(
  parts: readonly DynamoPart[],
  index: number,
  item: Record<string, AttributeValue> | undefined,
): AtomicOutcome {
  let at = index;
  for (const [part, p] of parts.entries()) {
    if (at < p.items) {
      return {
        outcome: 'rejected',
        part,
        item: at,
        ...(item === undefined || p.existing === undefined ? {} : { existing: p.existing(item) }),
      };
    }
    at -= p.items;
  }
  throw new Error(`a cancellation reason at ${index} has no item`);
}

/** What an item adds to a transaction's 4 MB: its attribute names and values (an estimate for updates). */
function writeBytes(w: TransactWriteItem): number {
  const item = w.Put?.Item ?? w.Update?.Key ?? w.Delete?.Key ?? w.ConditionCheck?.Key ?? {};
  let bytes = attributesBytes(item);
  if (w.Update?.ExpressionAttributeValues !== undefined) bytes += attributesBytes(w.Update.ExpressionAttributeValues);
  return bytes;
}

/** An item's size as DynamoDB counts it, roughly (numbers by their digits: a little over): names plus values. */
export function attributesBytes(attributes: Record<string, AttributeValue>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(attributes)) bytes += Buffer.byteLength(name) + valueBytes(value);
  return bytes;
}

function valueBytes(v: AttributeValue): number {
  if (v.S !== undefined) return Buffer.byteLength(v.S);
  if (v.N !== undefined) return v.N.length;
  if (v.B !== undefined) return v.B.length;
  if (v.M !== undefined) return 3 + attributesBytes(v.M);
  if (v.L !== undefined) return 3 + v.L.reduce((n, x) => n + 1 + valueBytes(x), 0);
  if (v.SS !== undefined) return v.SS.reduce((n, x) => n + Buffer.byteLength(x), 0);
  if (v.NS !== undefined) return v.NS.reduce((n, x) => n + x.length, 0);
  if (v.BS !== undefined) return v.BS.reduce((n, x) => n + x.length, 0);
  return 1;
}
