import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { attributesBytes } from '../adapters/dynamodb/dynamoAtomic.ts';
import { MemoryPart } from '../adapters/memory/memoryAtomic.ts';
import { MAX_ITEM_BYTES } from '../adapters/memory/capacity.ts';
import { InvalidArgument, TableItemTooLarge } from '../errors.ts';
import type { JsonValue } from '../log/records.ts';
import type { AtomicPart } from '../ports.ts';
import type { TimeWindow } from './windows.ts';

/**
 * Table sinks (`.to(topic).toTable(table)`): a job’s results upserted into a DynamoDB table, in the
 * same atomic write as the step’s topic outputs, late records and state (see runner.ts).
 *
 * Each result becomes one item, put whole (an idempotent upsert): its attributes are the result’s
 * (a result that is not a JSON object is stored under `value`), plus the key and, for window
 * results, `windowStart` and `windowEnd` (epoch ms). The default key is `pk` = the stream’s key
 * (what `keyBy` gave) and `sk` = the window’s start as ISO 8601 UTC (`2026-01-01T00:05:00.000Z`,
 * whose lexical order is time order), so a window that fires again within its allowed lateness
 * overwrites its item with the updated result, and a retried step writes the same item again.
 * Results that are not window results (`process`) need a `key` function.
 *
 * The item is the result as its topic record carries it (JSON: a `Date` becomes its ISO string,
 * `undefined` attributes vanish), converted with `@aws-sdk/util-dynamodb`’s `marshall`.
 *
 * Each item is one of the 100 a DynamoDB transaction holds, beside the step’s batches and state:
 * a step with more items is retried on fewer records (runner.ts), so a table sink commits at most
 * some 95 results a step.
 *
 * @debt A session window that a late event extends to an earlier start is a new item (a new `sk`);
 * the item of its old extent stays. A step that still has more items than a transaction holds with
 * one record per partition (idleness firing many keys’ windows at once, with nothing to halve)
 * throws `TransactionTooLarge`, as the runner does for records. A job always has a topic sink:
 * `.toTable` follows `.to` (the runner and the local stack create topics from `spec.sink`).
 */

/** The attribute names a table item’s key uses: `pk` (partition key) and `sk` (sort key), both strings. */
export interface TableKey {
  readonly pk: string;
  /** Absent for a table with a partition key only. */
  readonly sk?: string;
}

/** Options of `toTable()`. */
export interface TableSinkOptions<O> {
  /**
   * The item’s key for a result.
   * @default `{ pk: key, sk: new Date(window.start).toISOString() }`, for window results only
   */
  readonly key?: (value: O) => TableKey;
}

/** A table sink as a job holds it. */
export interface TableSink {
  /** The logical table name; a `TableSinkWriter` maps it to a physical table. */
  readonly table: string;
  readonly key: ((value: never) => TableKey) | undefined;
}

/** One item for a table sink to put, as plain JSON: what a step produces, pure. */
export interface TableWrite {
  /** The sink’s logical table name. */
  readonly table: string;
  readonly key: TableKey;
  /** The whole item, key attributes included. */
  readonly item: { [attribute: string]: JsonValue };
}

/** Makes a step’s table writes one part of the runner’s atomic write, on the adapter’s tables. */
export interface TableSinkWriter {
  /**
   * The writes as a part (one put per write). Throws `TableItemTooLarge` for an item over
   * DynamoDB’s 400 KB; never given two writes of one item (the step keeps the last).
   */
  part(writes: readonly TableWrite[]): AtomicPart;
}

/** DynamoDB’s item limit; an item’s size is its attribute names plus values. */
export const MAX_TABLE_ITEM_BYTES = MAX_ITEM_BYTES;

/** Attribute names the sink sets itself: a result (object) must not have them. */
const RESERVED = ['pk', 'sk', 'windowStart', 'windowEnd'] as const;
/** DynamoDB’s table-name rule. */
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;
const MAX_PK_BYTES = 2048; // DynamoDB: a partition key value is at most 2048 bytes
const MAX_SK_BYTES = 1024; // and a sort key value at most 1024 bytes

/** Checks `toTable`’s arguments against the job so far; the sink to add. */
export function tableSinkOf(
  job: { readonly windowed: boolean; readonly tables: readonly TableSink[] },
  table: unknown,
  options: unknown,
): TableSink {
  if (typeof table !== 'string' || !TABLE_NAME.test(table))
    throw new InvalidArgument('table', 'toTable() needs a table name: 3 to 255 characters from A-Z, a-z, 0-9, _ . -');
  if (job.tables.some((t) => t.table === table))
    throw new InvalidArgument('table', `the job writes to table ${table} already; one toTable() per table`);
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new InvalidArgument('options', 'toTable() options must be an object, e.g. { key: (r) => ({ pk, sk }) }');
  const unknown = Object.keys(options).find((k) => k !== 'key');
  if (unknown !== undefined)
    throw new InvalidArgument(`options.${unknown}`, `${unknown} is not a toTable() option; the only one is key`);
  const key = (options as { key?: unknown }).key;
  if (key !== undefined && typeof key !== 'function')
    throw new InvalidArgument(
      'options.key',
      'key must be a function of a result, e.g. (r) => ({ pk: r.id, sk: r.day })',
    );
  if (key === undefined && !job.windowed)
    throw new InvalidArgument(
      'options.key',
      'results that are not window results have no default item key: give toTable() a key, e.g. { key: (r) => ({ pk: r.userId, sk: r.at }) }',
    );
  return { table, key: key as TableSink['key'] };
}

/**
 * The item a sink writes for one result: the result’s attributes (as JSON), its key and window.
 * `key` is the stream’s key; `window` the window result’s, when the pipeline has windows.
 */
export function tableWriteOf(sink: TableSink, key: string, window: TimeWindow | undefined, value: unknown): TableWrite {
  const field = `toTable(${sink.table})`;
  const itemKey: TableKey = sink.key
    ? (sink.key as (value: unknown) => TableKey)(value)
    : { pk: key, sk: isoStart(field, window as TimeWindow) };
  checkKey(field, itemKey);
  const json = value === undefined ? null : (JSON.parse(JSON.stringify(value)) as JsonValue);
  const attributes: { [attribute: string]: JsonValue } =
    typeof json === 'object' && json !== null && !Array.isArray(json) ? json : { value: json };
  if (Object.hasOwn(attributes, ''))
    throw new InvalidArgument(field, 'a result has an attribute with an empty name, which DynamoDB refuses');
  const clash = RESERVED.find((name) => Object.hasOwn(attributes, name));
  if (clash !== undefined)
    throw new InvalidArgument(
      field,
      `a result has an attribute ${clash}, which the table sink sets itself (${RESERVED.join(', ')}); rename it with map()`,
    );
  const item: { [attribute: string]: JsonValue } = { ...attributes, pk: itemKey.pk };
  if (itemKey.sk !== undefined) item.sk = itemKey.sk;
  if (window !== undefined) {
    item.windowStart = window.start;
    item.windowEnd = window.end;
  }
  return { table: sink.table, key: itemKey.sk === undefined ? { pk: itemKey.pk } : itemKey, item };
}

/** Where a write lands: two writes with one address are one item. */
export function tableWriteAddress(write: TableWrite): string {
  return JSON.stringify([write.table, write.key.pk, write.key.sk ?? null]);
}

/** The item as DynamoDB attribute values, checked against the 400 KB item limit. */
export function encodeTableItem(write: TableWrite): { item: Record<string, AttributeValue>; bytes: number } {
  const item = marshall(write.item, { removeUndefinedValues: true });
  const bytes = attributesBytes(item);
  if (bytes > MAX_TABLE_ITEM_BYTES)
    throw new TableItemTooLarge(write.table, write.key.pk, write.key.sk, bytes, MAX_TABLE_ITEM_BYTES);
  return { item, bytes };
}

function isoStart(field: string, window: TimeWindow): string {
  const date = new Date(window.start);
  if (Number.isNaN(date.getTime()))
    throw new InvalidArgument(field, `a window start ${window.start} has no date; give toTable() a key`);
  return date.toISOString();
}

function checkKey(field: string, key: unknown): asserts key is TableKey {
  const { pk, sk } = (typeof key === 'object' && key !== null ? key : {}) as { pk?: unknown; sk?: unknown };
  if (typeof pk !== 'string' || pk.length === 0 || Buffer.byteLength(pk) > MAX_PK_BYTES)
    throw new InvalidArgument(`${field}.key`, `an item key needs pk, a string of 1 to ${MAX_PK_BYTES} bytes`);
  if (sk !== undefined && (typeof sk !== 'string' || sk.length === 0 || Buffer.byteLength(sk) > MAX_SK_BYTES))
    throw new InvalidArgument(
      `${field}.key`,
      `an item key’s sk, when given, is a string of 1 to ${MAX_SK_BYTES} bytes`,
    );
  const extra = Object.keys(key as object).find((k) => k !== 'pk' && k !== 'sk');
  if (extra !== undefined) throw new InvalidArgument(`${field}.key`, `an item key has pk and sk only, not ${extra}`);
}

/**
 * `TableSinkWriter` in memory, for tests and the in-memory examples: tables are maps from key to
 * item, written in the runner’s in-memory transaction, with DynamoDB’s 400 KB item limit and its
 * refusal of two writes of one item in one transaction.
 */
export class MemoryTableSink implements TableSinkWriter {
  private readonly tables = new Map<string, Map<string, Record<string, JsonValue>>>();

  part(writes: readonly TableWrite[]): AtomicPart {
    const encoded = writes.map((w) => ({ address: tableWriteAddress(w), table: w.table, ...encodeTableItem(w) }));
    if (new Set(encoded.map((e) => e.address)).size !== encoded.length)
      throw new Error('ValidationException: Transaction request cannot include multiple operations on one item');
    return new MemoryPart(
      writes.length,
      encoded.reduce((n, e) => n + e.bytes, 0),
      () => undefined,
      () => {
        for (const e of encoded) {
          const table = this.tables.get(e.table) ?? new Map<string, Record<string, JsonValue>>();
          table.set(e.address, unmarshall(e.item) as Record<string, JsonValue>);
          this.tables.set(e.table, table);
        }
      },
    );
  }

  /** A table’s items, by pk then sk. */
  items(table: string): Record<string, JsonValue>[] {
    return [...(this.tables.get(table)?.values() ?? [])]
      .map((item) => structuredClone(item))
      .sort((a, b) => compare(a.pk, b.pk) || compare(a.sk ?? '', b.sk ?? ''));
  }

  /** One item, if the table has it. */
  get(table: string, key: TableKey): Record<string, JsonValue> | undefined {
    const item = this.tables.get(table)?.get(JSON.stringify([table, key.pk, key.sk ?? null]));
    return item === undefined ? undefined : structuredClone(item);
  }
}

/** Keys are strings (`checkKey`): their order, as a query’s by code unit. */
function compare(a: JsonValue | undefined, b: JsonValue | undefined): number {
  const [x, y] = [typeof a === 'string' ? a : '', typeof b === 'string' ? b : ''];
  return x < y ? -1 : x > y ? 1 : 0;
}
