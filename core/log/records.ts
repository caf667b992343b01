import { InvalidRecord } from '../errors.ts';

/** Any value JSON can carry. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * A record value: raw bytes, a string, or any JSON value. Reads return the same kind that was
 * written (bytes stay bytes, a string stays a string, JSON comes back parsed). `null` is a
 * tombstone, as in Kafka.
 */
export type RecordValue = Uint8Array | JsonValue;
export type RecordKey = string | Uint8Array | null;
/** Header values are strings or bytes. One value per header name. */
export type RecordHeaders = Record<string, string | Uint8Array>;

/** What a producer hands to `append`. */
export interface ProducerRecord {
  readonly key?: RecordKey;
  readonly value: RecordValue;
  readonly headers?: RecordHeaders;
  /** Explicit partition; otherwise the key decides (murmur2), otherwise a sticky choice. */
  readonly partition?: number;
  /** Create time in epoch ms; defaults to the append time. */
  readonly timestamp?: number;
}

/** A record as read back from a partition. */
export interface ConsumerRecord {
  readonly offset: number;
  readonly timestamp: number;
  readonly key: RecordKey;
  readonly value: RecordValue;
  readonly headers: RecordHeaders;
}

/** Largest timestamp JavaScript dates can represent (year 275760). */
const MAX_TIMESTAMP = 8.64e15;
const utf8 = new TextEncoder();

/** Type tags of keys, values and header values; `claim` marks a value kept in S3 (a claim check). */
const TypeTag = { null: 0, bytes: 1, string: 2, json: 3, claim: 4 } as const;

/**
 * A value kept outside its batch: the object key, its size and CRC32C. Decoding yields this in
 * place of the value; the engine fetches and checks the object before a reader sees the record.
 */
export class ClaimCheck {
  readonly key: string;
  readonly size: number;
  readonly crc: number;
  constructor(key: string, size: number, crc: number) {
    this.key = key;
    this.size = size;
    this.crc = crc;
  }
}

/** A growable byte buffer with LEB128 varints; numbers up to 2^53 are exact. */
class ByteWriter {
  private buf = new Uint8Array(256);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.length++] = b;
  }

  varint(n: number): void {
    let v = n;
    while (v >= 0x80) {
      this.byte((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.byte(v);
  }

  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

class ByteReader {
  private pos = 0;
  private readonly buf: Uint8Array;
  constructor(buf: Uint8Array) {
    this.buf = buf;
  }

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  byte(): number {
    if (this.pos >= this.buf.length) throw new RangeError('record batch ends early');
    return this.buf[this.pos++]!;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 0x80;
      if (scale > 2 ** 56) throw new RangeError('varint too long');
    }
  }

  bytes(): Uint8Array {
    const n = this.varint();
    if (this.pos + n > this.buf.length) throw new RangeError('record batch ends early');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

/** A validated record, already encoded; `body` is what a batch stores for it. */
export interface EncodedRecord {
  readonly keyBytes: Uint8Array | null;
  readonly timestamp: number;
  readonly partition: number | undefined;
  readonly body: Uint8Array;
  /** The body's three parts, so a claim check can replace the value: timestamp and key, value, headers. */
  readonly parts: readonly [Uint8Array, Uint8Array, Uint8Array];
}

/** The record body with its value replaced by a claim check; `value` is what goes to S3. */
export function claimRecord(record: EncodedRecord, claim: ClaimCheck): { body: Uint8Array; value: Uint8Array } {
  const w = new ByteWriter();
  w.byte(TypeTag.claim);
  w.bytes(utf8.encode(claim.key));
  w.varint(claim.size);
  w.varint(claim.crc);
  const stub = w.result();
  const [head, value, tail] = record.parts;
  const body = new Uint8Array(head.length + stub.length + tail.length);
  body.set(head, 0);
  body.set(stub, head.length);
  body.set(tail, head.length + stub.length);
  return { body, value };
}

/** Decodes a claim-checked value (the object's bytes, as `claimRecord` produced them). */
export function decodeClaimedValue(bytes: Uint8Array): RecordValue {
  return decodeTyped(new ByteReader(bytes), true);
}

function encodeKey(w: ByteWriter, key: RecordKey): Uint8Array | null {
  if (key === null) {
    w.byte(TypeTag.null);
    return null;
  }
  if (typeof key === 'string') {
    const bytes = utf8.encode(key);
    w.byte(TypeTag.string);
    w.bytes(bytes);
    return bytes;
  }
  w.byte(TypeTag.bytes);
  w.bytes(key);
  return key;
}

function encodeValue(w: ByteWriter, value: RecordValue, index: number): void {
  if (value === null) return w.byte(TypeTag.null);
  if (value instanceof Uint8Array) {
    w.byte(TypeTag.bytes);
    return w.bytes(value);
  }
  if (typeof value === 'string') {
    w.byte(TypeTag.string);
    return w.bytes(utf8.encode(value));
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    throw new InvalidRecord(index, 'value', 'is not serialisable as JSON');
  }
  if (json === undefined) throw new InvalidRecord(index, 'value', 'is not a JSON value');
  w.byte(TypeTag.json);
  w.bytes(utf8.encode(json));
}

/**
 * Validates one producer record and encodes it. Throws `InvalidRecord` naming the field.
 * Size limits are checked by the caller, which knows the topic.
 */
export function encodeRecord(record: unknown, index: number, now: number): EncodedRecord {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    throw new InvalidRecord(index, 'record', 'must be an object with a value');
  }
  const r = record as Record<string, unknown>;
  for (const field of Object.keys(r)) {
    if (!['key', 'value', 'headers', 'partition', 'timestamp'].includes(field)) {
      throw new InvalidRecord(index, field, 'is not a record field (key, value, headers, partition, timestamp)');
    }
  }
  if (!('value' in r) || r.value === undefined)
    throw new InvalidRecord(index, 'value', 'is required (use null for a tombstone)');
  const key = r.key ?? null;
  if (key !== null && typeof key !== 'string' && !(key instanceof Uint8Array)) {
    throw new InvalidRecord(index, 'key', 'must be a string, bytes or null');
  }
  if (r.partition !== undefined && (!Number.isSafeInteger(r.partition) || (r.partition as number) < 0)) {
    throw new InvalidRecord(index, 'partition', 'must be a non-negative integer');
  }
  const timestamp = r.timestamp ?? now;
  if (!Number.isSafeInteger(timestamp) || (timestamp as number) < 0 || (timestamp as number) > MAX_TIMESTAMP) {
    throw new InvalidRecord(index, 'timestamp', `must be an integer epoch-ms timestamp from 0 to ${MAX_TIMESTAMP}`);
  }
  const headers = r.headers ?? {};
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers) || headers instanceof Uint8Array) {
    throw new InvalidRecord(index, 'headers', 'must be an object of string or bytes values');
  }

  const head = new ByteWriter();
  head.varint(timestamp as number);
  const keyBytes = encodeKey(head, key);
  const value = new ByteWriter();
  encodeValue(value, r.value as RecordValue, index);
  const w = new ByteWriter();
  const entries = Object.entries(headers);
  w.varint(entries.length);
  for (const [name, value] of entries) {
    if (name.length === 0) throw new InvalidRecord(index, 'headers', 'names must not be empty');
    w.bytes(utf8.encode(name));
    if (typeof value === 'string') {
      w.byte(TypeTag.string);
      w.bytes(utf8.encode(value));
    } else if (value instanceof Uint8Array) {
      w.byte(TypeTag.bytes);
      w.bytes(value);
    } else {
      throw new InvalidRecord(index, `headers.${name}`, 'must be a string or bytes');
    }
  }
  const parts = [head.result(), value.result(), w.result()] as const;
  const body = new Uint8Array(parts[0].length + parts[1].length + parts[2].length);
  body.set(parts[0], 0);
  body.set(parts[1], parts[0].length);
  body.set(parts[2], parts[0].length + parts[1].length);
  return { keyBytes, timestamp: timestamp as number, partition: r.partition as number | undefined, body, parts };
}

/** Concatenates encoded record bodies into one (uncompressed) batch payload. */
export function joinRecordBodies(bodies: readonly Uint8Array[]): Uint8Array {
  const w = new ByteWriter();
  for (const body of bodies) w.bytes(body);
  return w.result();
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

function decodeTyped(r: ByteReader, allowJson: boolean): RecordValue {
  const type = r.byte();
  switch (type) {
    case TypeTag.null:
      return null;
    case TypeTag.bytes:
      return Uint8Array.from(r.bytes());
    case TypeTag.string:
      return utf8Decoder.decode(r.bytes());
    case TypeTag.json:
      if (allowJson) return JSON.parse(utf8Decoder.decode(r.bytes())) as JsonValue;
      break;
    case TypeTag.claim:
      if (allowJson)
        return new ClaimCheck(utf8Decoder.decode(r.bytes()), r.varint(), r.varint()) as unknown as RecordValue;
  }
  throw new RangeError(`unknown type tag ${type}`);
}

/** Decodes an uncompressed batch payload into records numbered from `baseOffset`. */
export function decodeRecordBatch(payload: Uint8Array, baseOffset: number): ConsumerRecord[] {
  const outer = new ByteReader(payload);
  const records: ConsumerRecord[] = [];
  while (!outer.done) {
    const r = new ByteReader(outer.bytes());
    const timestamp = r.varint();
    const key = decodeTyped(r, false) as RecordKey;
    const value = decodeTyped(r, true);
    const headers: RecordHeaders = {};
    const count = r.varint();
    for (let i = 0; i < count; i++) {
      const name = utf8Decoder.decode(r.bytes());
      headers[name] = decodeTyped(r, false) as string | Uint8Array;
    }
    records.push({ offset: baseOffset + records.length, timestamp, key, value, headers });
  }
  return records;
}

/** The raw, length-prefixed record bodies of an uncompressed batch payload, in offset order. */
export function splitRecordBodies(payload: Uint8Array): Uint8Array[] {
  const outer = new ByteReader(payload);
  const bodies: Uint8Array[] = [];
  while (!outer.done) bodies.push(outer.bytes());
  return bodies;
}
