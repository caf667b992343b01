import { CorruptData } from '../errors.ts';
import type { StoredBatch } from '../ports.ts';
import type { Compression } from '../log/topicConfig.ts';
import { crc32c } from './crc32c.ts';

/**
 * The S3 segment format (version 1), documented in docs/segment-format.md:
 *
 *   header   "SLSG" | u16 version | u16 flags | u64 base offset                       16 bytes
 *   batches  each batch's stored payload, as in the hot tier, back to back
 *   index    u32 count | count × entry                                         4 + 56 × count
 *   trailer  u64 index position | u32 index length | u32 CRC32C of the index | "SLIX" 20 bytes
 *
 *   entry    u64 base offset | u32 record count | u64 first timestamp | u64 max timestamp |
 *            u32 uncompressed size | u8 codec | u8 flags | 2 bytes zero | u64 position | u32 length |
 *            u32 CRC32C of the payload | 4 bytes zero
 *
 * Entry flags: 1 = the batch belongs to a transaction that aborted (read_committed readers skip
 * it; the roller only rolls decided transactions, so segments need no outcome look-up), 2 = a
 * transaction marker. Zero in segments written before transactions existed.
 *
 * Integers are big-endian. A reader range-GETs the index once (its position and length are also
 * kept in DynamoDB, as S3 emulators lack suffix ranges), then only the batches it needs.
 */
export const SEGMENT_VERSION = 1;
const HEADER_BYTES = 16;
const ENTRY_BYTES = 56;
const TRAILER_BYTES = 20;
const CODECS: Compression[] = ['none', 'gzip', 'zstd'];

export interface SegmentIndexEntry {
  readonly baseOffset: number;
  readonly recordCount: number;
  readonly firstTimestamp: number;
  readonly maxTimestamp: number;
  readonly sizeBytes: number;
  readonly codec: Compression;
  readonly position: number;
  readonly length: number;
  readonly crc: number;
  /** The batch belongs to an aborted transaction. */
  readonly aborted?: boolean;
  /** The batch is a transaction marker. */
  readonly control?: boolean;
}

const ABORTED_FLAG = 1;
const CONTROL_FLAG = 2;

export interface EncodedSegment {
  readonly bytes: Uint8Array;
  readonly index: SegmentIndexEntry[];
  readonly indexPosition: number;
  /** Index plus trailer: what a reader fetches to learn the layout. */
  readonly indexLength: number;
}

/** Object key of a segment: 20-digit base offsets sort lexically in offset order (as Kafka's). */
/**
 * Object key of a segment. The topic id (one per incarnation of a name) is part of it, so a topic
 * deleted and created again never shares an object with its predecessor. A compacted rewrite gets
 * a unique suffix: two compactors racing never write different bytes under one key.
 */
export function segmentKey(
  topic: string,
  topicId: string,
  partition: number,
  baseOffset: number,
  rewrite?: string,
): string {
  return `segments/${topic}/${partition}/${String(baseOffset).padStart(20, '0')}.${topicId}${rewrite === undefined ? '' : `.${rewrite}`}.seg`;
}

export function encodeSegment(
  batches: readonly StoredBatch[],
  baseOffset = batches[0]?.baseOffset ?? 0,
): EncodedSegment {
  // A compacted segment may hold no batch at all (every record superseded): it still marks its range.
  const index: SegmentIndexEntry[] = [];
  let position = HEADER_BYTES;
  for (const b of batches) {
    index.push({
      baseOffset: b.baseOffset,
      recordCount: b.recordCount,
      firstTimestamp: b.firstTimestamp,
      maxTimestamp: b.maxTimestamp,
      sizeBytes: b.sizeBytes,
      codec: b.codec,
      position,
      length: b.payload.length,
      crc: crc32c(b.payload),
      ...(b.aborted === true ? { aborted: true } : {}),
      ...(b.control === undefined ? {} : { control: true }),
    });
    position += b.payload.length;
  }
  const indexPosition = position;
  const indexLength = 4 + ENTRY_BYTES * index.length + TRAILER_BYTES;
  const bytes = new Uint8Array(indexPosition + indexLength);
  const view = new DataView(bytes.buffer);
  bytes.set(new TextEncoder().encode('SLSG'), 0);
  view.setUint16(4, SEGMENT_VERSION);
  view.setUint16(6, 0);
  view.setBigUint64(8, BigInt(baseOffset));
  for (let i = 0; i < batches.length; i++) bytes.set(batches[i]!.payload, index[i]!.position);
  let at = indexPosition;
  view.setUint32(at, index.length);
  at += 4;
  for (const e of index) {
    view.setBigUint64(at, BigInt(e.baseOffset));
    view.setUint32(at + 8, e.recordCount);
    view.setBigUint64(at + 12, BigInt(e.firstTimestamp));
    view.setBigUint64(at + 20, BigInt(e.maxTimestamp));
    view.setUint32(at + 28, e.sizeBytes);
    view.setUint8(at + 32, CODECS.indexOf(e.codec));
    view.setUint8(at + 33, (e.aborted === true ? ABORTED_FLAG : 0) | (e.control === true ? CONTROL_FLAG : 0));
    view.setBigUint64(at + 36, BigInt(e.position));
    view.setUint32(at + 44, e.length);
    view.setUint32(at + 48, e.crc);
    at += ENTRY_BYTES;
  }
  const indexCrc = crc32c(bytes.subarray(indexPosition, at));
  view.setBigUint64(at, BigInt(indexPosition));
  view.setUint32(at + 8, indexLength - TRAILER_BYTES);
  view.setUint32(at + 12, indexCrc);
  bytes.set(new TextEncoder().encode('SLIX'), at + 16);
  return { bytes, index, indexPosition, indexLength };
}

/** Parses the index (with its trailer) of a segment; `location` names it in errors. */
export function decodeSegmentIndex(indexAndTrailer: Uint8Array, location: string): SegmentIndexEntry[] {
  const view = new DataView(indexAndTrailer.buffer, indexAndTrailer.byteOffset, indexAndTrailer.byteLength);
  const end = indexAndTrailer.length;
  if (end < 4 + TRAILER_BYTES || new TextDecoder().decode(indexAndTrailer.subarray(end - 4)) !== 'SLIX')
    throw new CorruptData(location, 'segment trailer missing');
  const length = view.getUint32(end - TRAILER_BYTES + 8);
  if (length !== end - TRAILER_BYTES) throw new CorruptData(location, 'segment index length mismatch');
  if (crc32c(indexAndTrailer.subarray(0, length)) !== view.getUint32(end - TRAILER_BYTES + 12))
    throw new CorruptData(location, 'segment index CRC32C mismatch');
  const count = view.getUint32(0);
  if (4 + count * ENTRY_BYTES !== length) throw new CorruptData(location, 'segment index entry count mismatch');
  const entries: SegmentIndexEntry[] = [];
  for (let i = 0, at = 4; i < count; i++, at += ENTRY_BYTES) {
    const codec = CODECS[view.getUint8(at + 32)];
    if (codec === undefined) throw new CorruptData(location, `unknown codec in index entry ${i}`);
    entries.push({
      baseOffset: Number(view.getBigUint64(at)),
      recordCount: view.getUint32(at + 8),
      firstTimestamp: Number(view.getBigUint64(at + 12)),
      maxTimestamp: Number(view.getBigUint64(at + 20)),
      sizeBytes: view.getUint32(at + 28),
      codec,
      position: Number(view.getBigUint64(at + 36)),
      length: view.getUint32(at + 44),
      ...((view.getUint8(at + 33) & ABORTED_FLAG) !== 0 ? { aborted: true } : {}),
      ...((view.getUint8(at + 33) & CONTROL_FLAG) !== 0 ? { control: true } : {}),
      crc: view.getUint32(at + 48),
    });
  }
  return entries;
}

/** Turns a batch's bytes back into a stored batch, after checking its CRC32C. */
export function batchFromSegment(
  entry: SegmentIndexEntry,
  payload: Uint8Array,
  log: string,
  location: string,
): StoredBatch {
  if (payload.length !== entry.length)
    throw new CorruptData(
      location,
      `batch at offset ${entry.baseOffset} is ${payload.length} bytes, expected ${entry.length}`,
    );
  if (crc32c(payload) !== entry.crc)
    throw new CorruptData(location, `CRC32C mismatch in the batch at offset ${entry.baseOffset}`);
  return {
    log,
    baseOffset: entry.baseOffset,
    recordCount: entry.recordCount,
    firstTimestamp: entry.firstTimestamp,
    maxTimestamp: entry.maxTimestamp,
    sizeBytes: entry.sizeBytes,
    codec: entry.codec,
    payload,
    writerId: 'segment',
    ...(entry.aborted === true ? { aborted: true } : {}),
    ...(entry.control === true ? { control: 'commit' as const } : {}),
  };
}
