import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import { LOG_TABLE, TIME_INDEX, timeIndexKeys } from '../../schema.ts';
import type { StoredBatch } from '../../ports.ts';

/**
 * DynamoDB's size and capacity rules, so that the in-memory store costs what the real one would
 * and tests catch requests whose cost grows with history.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
 */

/** Largest item DynamoDB stores. */
export const MAX_ITEM_BYTES = 400 * 1024;
/** A Query or Scan reads at most this much (before projections and filters) per page. */
export const QUERY_PAGE_BYTES = 1024 * 1024;
const READ_UNIT_BYTES = 4096; // one strongly consistent read unit (two eventually consistent ones)
const WRITE_UNIT_BYTES = 1024; // one write unit
const INDEX_ENTRY_OVERHEAD = 100; // what DynamoDB adds to the size of each index entry

/** What DynamoDB counts for one attribute value: strings and binaries by length, numbers by digits. */
function valueBytes(value: string | number | Uint8Array): number {
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (typeof value === 'number') return Math.ceil(String(Math.abs(value)).replace(/^0+|\./g, '').length / 2) + 1;
  return value.length;
}

/** The size of an item: each attribute's name plus its value. */
export function itemBytes(attributes: Readonly<Record<string, string | number | Uint8Array | undefined>>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(attributes))
    if (value !== undefined) bytes += name.length + valueBytes(value);
  return bytes;
}

const A = LOG_TABLE.attributes;

/** A batch's item in the log table, as the DynamoDB adapter writes it. */
export function batchItemBytes(b: StoredBatch): number {
  return itemBytes({
    pk: b.log,
    sk: b.baseOffset,
    [A.recordCount]: b.recordCount,
    [A.firstTimestamp]: b.firstTimestamp,
    [A.maxTimestamp]: b.maxTimestamp,
    [A.sizeBytes]: b.sizeBytes,
    [A.codec]: b.codec,
    [A.payload]: b.payload,
    [A.writerId]: b.writerId,
    [A.appendedAt]: b.appendedAt,
    [A.expiresAt]: b.expiresAt,
    [A.previousBase]: b.previousBase,
    [A.txn]: b.txn,
    [A.control]: b.control,
    [A.pointerKey]: b.pointer?.key,
    [A.pointerPosition]: b.pointer?.position,
    [A.pointerLength]: b.pointer?.length,
    [A.pointerCrc]: b.pointer?.crc,
    [TIME_INDEX.sortKey.name]: timeIndexKeyOf(b),
  });
}

/** A batch's key in the log table's time index: only marks have one. */
export function timeIndexKeyOf(b: StoredBatch): string | undefined {
  return b.timeMark === undefined
    ? undefined
    : timeIndexKeys.mark(b.timeMark.chainStart, b.timeMark.maxTimestamp, b.baseOffset + b.recordCount);
}

/** An item's entry in a keys-only index: the table's keys and the index's sort key. */
export function indexEntryBytes(pk: string, sk: string | number, indexKey: string): number {
  return itemBytes({ pk, sk, [TIME_INDEX.sortKey.name]: indexKey }) + INDEX_ENTRY_OVERHEAD;
}

/** A metadata item's size, estimated from its JSON (close to DynamoDB's count for maps and lists). */
export function jsonItemBytes(pk: string, sk: string, value: unknown): number {
  return itemBytes({ pk, sk }) + Buffer.byteLength(JSON.stringify(value ?? null));
}

/** Read units of a strongly consistent read of `bytes` (a Query sums its items first). */
export function readUnits(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / READ_UNIT_BYTES));
}

/** Read units of an eventually consistent read, the only kind a global secondary index serves: half. */
export function indexReadUnits(bytes: number): number {
  return readUnits(bytes) / 2;
}

/** Write units of writing (or deleting, or failing a condition on) an item of `bytes`. */
export function writeUnits(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / WRITE_UNIT_BYTES));
}

/**
 * How many of `sizes` (in key order) one Query page returns with `limit`: DynamoDB stops at the
 * limit or once it has read 1 MB, whichever comes first. `cut` is true when the page stopped
 * before the items ran out (a LastEvaluatedKey).
 */
export function queryPage(sizes: readonly number[], limit: number): { count: number; bytes: number; cut: boolean } {
  let count = 0;
  let bytes = 0;
  while (count < sizes.length && count < limit && bytes < QUERY_PAGE_BYTES) bytes += sizes[count++]!;
  return { count, bytes, cut: count < sizes.length };
}

/** One request's consumption, in the shape the AWS SDK reports it. */
export function consumed(table: 'log' | 'metadata', units: { read?: number; write?: number }): ConsumedCapacity {
  const read = units.read ?? 0;
  const write = units.write ?? 0;
  return {
    TableName: table,
    CapacityUnits: read + write,
    ...(read > 0 ? { ReadCapacityUnits: read } : {}),
    ...(write > 0 ? { WriteCapacityUnits: write } : {}),
  };
}
