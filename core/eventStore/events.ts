import { CorruptData, InvalidArgument, describeValue } from '../errors.ts';
import type { ConsumerRecord, JsonValue } from '../log/records.ts';

/**
 * Events as records: the key is the stream id (so Kafka's partitioner puts a stream in one
 * partition), the value is the event's data (JSON), and headers carry the rest.
 */
export const EVENT_HEADERS = {
  type: 'es.type',
  schemaVersion: 'es.schema',
  /** The event's number in its stream, from 0. */
  version: 'es.version',
  /** The event's metadata as JSON text, when it has any. */
  metadata: 'es.metadata',
} as const;

/** An event to append. */
export interface EventInput {
  /** What happened, e.g. `Deposited`: 1 to 128 characters. */
  readonly type: string;
  /** The event's payload (JSON). */
  readonly data: JsonValue;
  /** Correlation ids, causation, the user: anything beside the payload (JSON object). */
  readonly metadata?: Record<string, JsonValue>;
  /** The shape `data` has, for upcasters (see `Upcasters`). @default 1 */
  readonly schemaVersion?: number;
}

/** An event as read: upcast to the current shape of its type. */
export interface RecordedEvent {
  readonly streamId: string;
  /** Its number in the stream, from 0. */
  readonly version: number;
  readonly type: string;
  /** The schema version of `data` as returned (after upcasting). */
  readonly schemaVersion: number;
  readonly data: JsonValue;
  readonly metadata?: Record<string, JsonValue>;
  /** When it was appended (epoch ms); never decreases within a stream. */
  readonly timestamp: number;
  /** Where it lives in the event store's topic. */
  readonly partition: number;
  readonly offset: number;
}

/**
 * What an append expects of the stream (EventStoreDB's expected versions): `any` (no check),
 * `noStream` (it has no events), `streamExists` (it has some), or the exact version of its last
 * event (-1: no events, as `noStream`).
 */
export type ExpectedVersion = 'any' | 'noStream' | 'streamExists' | number;

/** Stream ids: 1 to 200 characters that need no escaping in a URL path or a DynamoDB key. */
const STREAM_ID = /^[A-Za-z0-9._:@=+-]{1,200}$/;
const EVENT_TYPE = /^[A-Za-z0-9._:@/-]{1,128}$/;
/** Most events one append takes: they are one batch in one DynamoDB transaction. */
export const MAX_EVENTS_PER_APPEND = 1_000;
/** Largest `maxCount` of one stream read. */
export const MAX_STREAM_READ = 10_000;
/** Highest schema version an event may declare. */
const MAX_SCHEMA_VERSION = 1_000_000;

export function validateStreamId(streamId: unknown): asserts streamId is string {
  if (typeof streamId !== 'string' || !STREAM_ID.test(streamId))
    throw new InvalidArgument(
      'streamId',
      `${describeValue(streamId)} is not a stream id: use 1 to 200 characters from A-Z, a-z, 0-9 and . _ : @ = + -`,
    );
}

export function validateExpectedVersion(expected: unknown): asserts expected is ExpectedVersion {
  if (expected === 'any' || expected === 'noStream' || expected === 'streamExists') return;
  if (typeof expected === 'number' && Number.isSafeInteger(expected) && expected >= -1) return;
  throw new InvalidArgument(
    'expectedVersion',
    'expectedVersion must be "any", "noStream", "streamExists" or the version of the last event (-1 for none)',
  );
}

/** Throws `InvalidArgument` naming the first bad event; returns the events with their schema versions. */
export function validateEvents(events: unknown): (EventInput & { readonly schemaVersion: number })[] {
  if (!Array.isArray(events) || events.length === 0)
    throw new InvalidArgument('events', 'events must be a non-empty array');
  if (events.length > MAX_EVENTS_PER_APPEND)
    throw new InvalidArgument('events', `one append takes at most ${MAX_EVENTS_PER_APPEND} events`);
  return events.map((e: unknown, i) => {
    const at = `events[${i}]`;
    if (typeof e !== 'object' || e === null || Array.isArray(e))
      throw new InvalidArgument(at, 'an event is an object {type, data, metadata?, schemaVersion?}');
    const event = e as Record<string, unknown>;
    for (const key of Object.keys(event))
      if (!['type', 'data', 'metadata', 'schemaVersion'].includes(key))
        throw new InvalidArgument(
          `${at}.${key.slice(0, 64)}`,
          'an event has only type, data, metadata and schemaVersion',
        );
    if (typeof event.type !== 'string' || !EVENT_TYPE.test(event.type))
      throw new InvalidArgument(`${at}.type`, 'type is 1 to 128 characters from A-Z, a-z, 0-9 and . _ : @ / -');
    if (event.data === undefined) throw new InvalidArgument(`${at}.data`, 'data is required (JSON; null is fine)');
    const metadata = event.metadata;
    if (metadata !== undefined && (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)))
      throw new InvalidArgument(`${at}.metadata`, 'metadata must be a JSON object');
    const schemaVersion = event.schemaVersion ?? 1;
    if (
      !Number.isSafeInteger(schemaVersion) ||
      (schemaVersion as number) < 1 ||
      (schemaVersion as number) > MAX_SCHEMA_VERSION
    )
      throw new InvalidArgument(
        `${at}.schemaVersion`,
        `schemaVersion must be an integer from 1 to ${MAX_SCHEMA_VERSION}`,
      );
    return {
      type: event.type,
      data: event.data as JsonValue,
      ...(metadata === undefined ? {} : { metadata: metadata as Record<string, JsonValue> }),
      schemaVersion: schemaVersion as number,
    };
  });
}

/** The record an event is stored as. */
export function eventRecord(
  streamId: string,
  event: EventInput & { readonly schemaVersion: number },
  version: number,
  timestamp: number,
): { key: string; value: JsonValue; headers: Record<string, string>; timestamp: number } {
  return {
    key: streamId,
    value: event.data,
    headers: {
      [EVENT_HEADERS.type]: event.type,
      [EVENT_HEADERS.schemaVersion]: String(event.schemaVersion),
      [EVENT_HEADERS.version]: String(version),
      ...(event.metadata === undefined ? {} : { [EVENT_HEADERS.metadata]: JSON.stringify(event.metadata) }),
    },
    timestamp,
  };
}

/**
 * The event a record of the event store's topic holds, as stored (before upcasting); undefined
 * for a record that is not an event (one appended to the topic by other means).
 */
export function eventOf(record: ConsumerRecord, partition: number): RecordedEvent | undefined {
  const h = record.headers;
  const type = h[EVENT_HEADERS.type];
  const schema = h[EVENT_HEADERS.schemaVersion];
  const version = h[EVENT_HEADERS.version];
  const metadata = h[EVENT_HEADERS.metadata];
  if (
    typeof record.key !== 'string' ||
    typeof type !== 'string' ||
    typeof schema !== 'string' ||
    typeof version !== 'string'
  )
    return undefined;
  if (record.value instanceof Uint8Array || typeof metadata === 'object')
    throw new CorruptData(`partition ${partition} offset ${record.offset}`, 'an event holds bytes instead of JSON');
  return {
    streamId: record.key,
    version: Number(version),
    type,
    schemaVersion: Number(schema),
    data: record.value,
    ...(metadata === undefined ? {} : { metadata: JSON.parse(metadata) as Record<string, JsonValue> }),
    timestamp: record.timestamp,
    partition,
    offset: record.offset,
  };
}

/** Refuses options an object does not take, so a misspelt one does not pass silently. */
export function onlyOptions(what: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options))
    if (!known.includes(key))
      throw new InvalidArgument(
        key.slice(0, 64),
        `${what} takes ${known.join(', ')}; not ${JSON.stringify(key.slice(0, 64))}`,
      );
}
