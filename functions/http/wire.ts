import { InvalidRecord } from '../../core/errors.ts';
import type { ConsumerRecord, JsonValue, RecordHeaders } from '../../core/log/records.ts';
import { InvalidRequest, RecordTooLargeForResponse } from './httpErrors.ts';

/**
 * JSON on the wire. Values are any JSON value. Bytes travel as base64 strings flagged per record:
 * `keyEncoding: "base64"`, `valueEncoding: "base64"`, and `headerEncodings: { name: "base64" }`.
 * Reads flag bytes the same way, so a record written as bytes reads back as bytes.
 */
export interface WireRecordIn {
  key?: string | null;
  value: JsonValue;
  headers?: Record<string, string>;
  partition?: number;
  timestamp?: number;
  keyEncoding?: 'base64';
  valueEncoding?: 'base64';
  headerEncodings?: Record<string, 'base64'>;
}

export interface WireRecordOut {
  offset: number;
  timestamp: number;
  key: string | null;
  value: JsonValue;
  headers: Record<string, string>;
  keyEncoding?: 'base64';
  valueEncoding?: 'base64';
  headerEncodings?: Record<string, 'base64'>;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function fromBase64(index: number, field: string, value: unknown): Uint8Array {
  if (typeof value !== 'string' || value.length % 4 !== 0 || !BASE64.test(value)) {
    throw new InvalidRecord(index, field, 'is flagged base64 but is not a base64 string');
  }
  return Uint8Array.from(Buffer.from(value, 'base64'));
}

function checkEncoding(index: number, field: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (value !== 'base64') throw new InvalidRecord(index, field, 'must be "base64" when given');
  return true;
}

/** Turns one wire record into a producer record (bytes decoded); the engine validates the rest. */
export function recordFromWire(input: unknown, index: number): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InvalidRecord(index, 'record', 'must be an object with a value');
  }
  const { keyEncoding, valueEncoding, headerEncodings, ...record } = input as Record<string, unknown>;
  if (checkEncoding(index, 'keyEncoding', keyEncoding) && record.key !== null && record.key !== undefined) {
    record.key = fromBase64(index, 'key', record.key);
  }
  if (checkEncoding(index, 'valueEncoding', valueEncoding) && record.value !== null) {
    record.value = fromBase64(index, 'value', record.value);
  }
  if (headerEncodings !== undefined) {
    if (typeof headerEncodings !== 'object' || headerEncodings === null || Array.isArray(headerEncodings)) {
      throw new InvalidRecord(index, 'headerEncodings', 'must be an object of header name to "base64"');
    }
    const headers = { ...((record.headers as Record<string, unknown> | undefined) ?? {}) };
    for (const [name, encoding] of Object.entries(headerEncodings)) {
      checkEncoding(index, `headerEncodings.${name}`, encoding);
      if (!Object.hasOwn(headers, name))
        throw new InvalidRecord(index, `headerEncodings.${name}`, 'names a header the record lacks');
      headers[name] = fromBase64(index, `headers.${name}`, headers[name]);
    }
    record.headers = headers;
  }
  return record;
}

/**
 * Most bytes of records one response carries: Lambda's 6 MB response limit (6,291,456 bytes) less
 * room for the envelope (offsets, membership, headers).
 */
export const MAX_RESPONSE_RECORD_BYTES = 6_000_000;

/** A record's size in a response: its JSON (base64 and escaping included) and a separating comma. */
export function wireBytes(record: ConsumerRecord, extra: Record<string, unknown> = {}): number {
  return Buffer.byteLength(JSON.stringify({ ...extra, ...recordToWire(record) })) + 1;
}

/**
 * Refuses a response that would not fit: it can only hold more than the limit when its one
 * record alone does (reads return the first record whatever its size), so that record is named.
 */
export function checkFits(
  topic: string,
  partition: number,
  records: readonly ConsumerRecord[],
  measure: (record: ConsumerRecord) => number,
): void {
  const first = records[0];
  if (records.length !== 1 || first === undefined) return;
  const bytes = measure(first);
  if (bytes > MAX_RESPONSE_RECORD_BYTES)
    throw new RecordTooLargeForResponse(topic, partition, first.offset, bytes, MAX_RESPONSE_RECORD_BYTES);
}

export function recordToWire(record: ConsumerRecord): WireRecordOut {
  const out: WireRecordOut = {
    offset: record.offset,
    timestamp: record.timestamp,
    key: null,
    value: null,
    headers: {},
  };
  if (record.key instanceof Uint8Array) {
    out.key = Buffer.from(record.key).toString('base64');
    out.keyEncoding = 'base64';
  } else out.key = record.key;
  if (record.value instanceof Uint8Array) {
    out.value = Buffer.from(record.value).toString('base64');
    out.valueEncoding = 'base64';
  } else out.value = record.value;
  out.headers = headersToWire(record.headers, out);
  return out;
}

function headersToWire(headers: RecordHeaders, out: WireRecordOut): Record<string, string> {
  const wire: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value instanceof Uint8Array) {
      wire[name] = Buffer.from(value).toString('base64');
      out.headerEncodings = { ...out.headerEncodings, [name]: 'base64' };
    } else wire[name] = value;
  }
  return wire;
}

/** Reads a JSON object body; anything else is `InvalidRequest`. */
export function objectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidRequest('body', 'The request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

/** Rejects keys a route does not know, so typos do not pass silently. */
export function onlyKeys(body: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key))
      throw new InvalidRequest(
        key,
        `Unknown field ${JSON.stringify(key.slice(0, 64))}; this route takes ${allowed.join(', ')}`,
      );
  }
}

/** Parses a `true`/`false` query parameter. */
export function booleanParam(name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw === '') return fallback;
  if (raw !== 'true' && raw !== 'false') throw new InvalidRequest(name, `${name} must be true or false`);
  return raw === 'true';
}

/** Rejects query parameters a route does not know. */
export function onlyQuery(
  query: Readonly<Record<string, string | undefined>> | undefined,
  allowed: readonly string[],
): void {
  for (const key of Object.keys(query ?? {})) {
    if (!allowed.includes(key))
      throw new InvalidRequest(
        key,
        `Unknown query parameter ${JSON.stringify(key.slice(0, 64))}; this route takes ${allowed.join(', ')}`,
      );
  }
}

/** Parses an integer query or path parameter. */
export function integerParam(name: string, raw: string | undefined, fallback?: number): number {
  if (raw === undefined || raw === '') {
    if (fallback === undefined) throw new InvalidRequest(name, `${name} is required`);
    return fallback;
  }
  if (!/^-?\d{1,16}$/.test(raw)) throw new InvalidRequest(name, `${name} must be an integer`);
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new InvalidRequest(name, `${name} is out of range`);
  return value;
}
