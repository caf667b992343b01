import { compress, decompress } from './compression.ts';
import type { BatchPointer, StoredBatch } from '../ports.ts';
import { ClaimCheck, decodeRecordBatch, joinRecordBodies, type ConsumerRecord, type EncodedRecord } from './records.ts';
import type { Compression } from './topicConfig.ts';

/**
 * Bytes of stored payload one log item may carry. A DynamoDB item is at most 400 KB including
 * attribute names and the other attributes; 350,000 bytes leaves ample room for those.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
 */
export const ITEM_PAYLOAD_BUDGET = 350_000;

/**
 * With compression on, a batch is first filled with up to this many raw bytes, then compressed;
 * a batch whose compressed form still exceeds the item budget is split in half.
 */
const COMPRESSED_RAW_TARGET = 4 * ITEM_PAYLOAD_BUDGET;
/** Bound on records per batch so one decode never builds a huge array. */
const MAX_RECORDS_PER_BATCH = 5000;
/** Bytes a length prefix adds to each record body (a varint; 3 bytes cover 2 MB). */
const FRAMING_BYTES = 5;

export interface PreparedBatch {
  readonly records: readonly EncodedRecord[];
  /** The encoded records, compressed; empty when `pointer` says where they are (objectBatches.ts). */
  readonly payload: Uint8Array;
  readonly pointer?: BatchPointer;
  readonly sizeBytes: number;
  readonly firstTimestamp: number;
  readonly maxTimestamp: number;
}

function prepare(records: readonly EncodedRecord[], codec: Compression): PreparedBatch {
  const raw = joinRecordBodies(records.map((r) => r.body));
  let maxTimestamp = records[0]!.timestamp;
  for (const r of records) if (r.timestamp > maxTimestamp) maxTimestamp = r.timestamp;
  return {
    records,
    payload: compress(codec, raw),
    sizeBytes: raw.length,
    firstTimestamp: records[0]!.timestamp,
    maxTimestamp,
  };
}

/**
 * Splits one partition's records, in order, into batches that each fit one log item.
 * Every record must already be at most `ITEM_PAYLOAD_BUDGET` bytes encoded.
 */
export function splitIntoBatches(records: readonly EncodedRecord[], codec: Compression): PreparedBatch[] {
  const rawLimit = codec === 'none' ? ITEM_PAYLOAD_BUDGET : COMPRESSED_RAW_TARGET;
  const groups: EncodedRecord[][] = [];
  let current: EncodedRecord[] = [];
  let currentBytes = 0;
  for (const record of records) {
    const size = record.body.length + FRAMING_BYTES;
    if (current.length > 0 && (currentBytes + size > rawLimit || current.length >= MAX_RECORDS_PER_BATCH)) {
      groups.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(record);
    currentBytes += size;
  }
  if (current.length > 0) groups.push(current);

  const batches: PreparedBatch[] = [];
  const fit = (group: readonly EncodedRecord[]): void => {
    const batch = prepare(group, codec);
    if (batch.payload.length <= ITEM_PAYLOAD_BUDGET || group.length === 1) {
      batches.push(batch);
      return;
    }
    const half = Math.ceil(group.length / 2);
    fit(group.slice(0, half));
    fit(group.slice(half));
  };
  for (const group of groups) fit(group);
  return batches;
}

/** The records of a stored batch (claim checks still unresolved). */
export function decodeStoredBatch(batch: StoredBatch): ConsumerRecord[] {
  return decodeRecordBatch(decompress(batch.codec, batch.payload), batch.baseOffset);
}

/** The S3 keys of the claim checks a batch refers to. */
export function claimKeys(batch: StoredBatch): string[] {
  return decodeStoredBatch(batch).flatMap((r) => (r.value instanceof ClaimCheck ? [r.value.key] : []));
}
