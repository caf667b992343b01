import { InvalidTopicConfig, InvalidTopicName, describeValue } from '../errors.ts';

/** Kafka's legal topic characters and length (Topic.java: `[a-zA-Z0-9._-]`, at most 249). */
const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;

/** Throws `InvalidTopicName` unless `name` is a legal Kafka topic name. */
export function validateTopicName(name: unknown): asserts name is string {
  if (typeof name !== 'string') throw new InvalidTopicName(describeValue(name), 'a topic name is a string');
  if (name === '.' || name === '..') throw new InvalidTopicName(name, '"." and ".." are reserved');
  if (!TOPIC_NAME.test(name)) {
    throw new InvalidTopicName(name, 'use 1 to 249 characters from A-Z, a-z, 0-9, ".", "_" and "-"');
  }
}

export type Compression = 'none' | 'gzip' | 'zstd';
export type CleanupPolicy = 'delete' | 'compact';
/**
 * Where a topic’s record bytes go on append. `dynamodb`: into the batch item (lowest latency).
 * `s3`: into one S3 object per append request, the batch item holding only a pointer (an order of
 * magnitude fewer write units; see core/log/objectBatches.ts). `s3-express`: the same, in an S3
 * Express One Zone directory bucket (a quarter of the PUT price and single-digit-ms writes, in one
 * Availability Zone; only where the deployment has one).
 */
export type Storage = 'dynamodb' | 's3' | 's3-express';

/** The storage kinds whose record bytes are in object storage (batch items hold pointers). */
export const OBJECT_STORAGES: readonly Storage[] = ['s3', 's3-express'];

/** Whether a topic’s appends put their bytes in object storage. */
export function isObjectStorage(storage: Storage | undefined): storage is 's3' | 's3-express' {
  return storage === 's3' || storage === 's3-express';
}

export interface TopicConfig {
  /** Number of partitions; may grow, never shrink. */
  readonly partitions: number;
  /** How long records are kept, in ms; -1 keeps them forever. */
  readonly retentionMs: number;
  /** How many bytes a partition keeps before the oldest segments go; -1 means no size limit. */
  readonly retentionBytes: number;
  /** Largest encoded record (key + value + headers) the topic accepts, in bytes. */
  readonly maxRecordBytes: number;
  /** How batch payloads are compressed at rest. */
  readonly compression: Compression;
  /** `delete` drops old segments; `compact` keeps the latest record per key. */
  readonly cleanupPolicy: CleanupPolicy;
  /** Batches older than this (since append) move from DynamoDB to S3 segments, in ms. */
  readonly hotRetentionMs: number;
  /** Beyond this many bytes per partition in DynamoDB, the oldest batches move to S3; -1: no limit. */
  readonly hotRetentionBytes: number;
  /** How long tombstones survive compaction, in ms (Kafka's delete.retention.ms). */
  readonly deleteRetentionMs: number;
  /**
   * Most stored bytes one S3 segment holds (Kafka's segment.bytes): a roll takes every batch that
   * is due, up to this. Absent on topics created before it existed: then the default.
   */
  readonly segmentBytes?: number;
  /**
   * Where appended record bytes go (`Storage`). It may change at any time: each batch records where
   * its bytes are, so a change applies to appends from then on. Absent on topics created before it
   * existed: `dynamodb`.
   */
  readonly storage?: Storage;
  /** How far before now a record's timestamp may be, in ms; -1: any (Kafka's message.timestamp.before.max.ms). */
  readonly timestampBeforeMaxMs: number;
  /** How far after now a record's timestamp may be, in ms; -1: any (Kafka's message.timestamp.after.max.ms). */
  readonly timestampAfterMaxMs: number;
}

/**
 * The shortest hot retention allowed, and the youngest a batch may be when it is rolled: readers
 * at the tail stay on DynamoDB, and hot copies written before they carried a TTL (which a roll
 * deletes) were claimed by writers that trusted a learned tail for a few seconds at most.
 */
export const MIN_HOT_RETENTION_MS = 60_000;

export const MAX_PARTITIONS = 1024;
/** Segment sizes a topic may choose: large enough to be worth a PUT, small enough for the roller's memory. */
export const MIN_SEGMENT_BYTES = 1024 * 1024;
export const MAX_SEGMENT_BYTES = 128 * 1024 * 1024;
/**
 * Largest maxRecordBytes: one record must fit a Lambda response (6 MB) as base64 JSON. Records
 * above what one DynamoDB item holds are stored in S3 as claim checks.
 */
const MAX_RECORD_BYTES_LIMIT = 4 * 1024 * 1024;

export const DEFAULT_TOPIC_CONFIG: TopicConfig = {
  partitions: 1, // Kafka's num.partitions default
  retentionMs: 7 * 24 * 60 * 60 * 1000, // 7 days, Kafka's retention.ms default
  retentionBytes: -1, // no size limit, Kafka's retention.bytes default
  maxRecordBytes: 1024 * 1024, // 1 MiB, Kafka's message.max.bytes is about the same
  compression: 'none', // records stored as sent; gzip or zstd trade CPU for write units
  cleanupPolicy: 'delete',
  hotRetentionMs: 60 * 60 * 1000, // 1 hour in DynamoDB, then S3
  hotRetentionBytes: -1, // no byte limit on the hot tier
  deleteRetentionMs: 24 * 60 * 60 * 1000, // 1 day, Kafka's delete.retention.ms default
  segmentBytes: 64 * 1024 * 1024, // 64 MiB per S3 segment (Kafka's segment.bytes is 1 GiB)
  storage: 'dynamodb', // record bytes in DynamoDB: the lowest latency; 's3' for the lowest cost
  timestampBeforeMaxMs: -1, // old timestamps are fine: retention ages segments by append time
  timestampAfterMaxMs: 60 * 60 * 1000, // 1 hour ahead at most, Kafka 4's message.timestamp.after.max.ms default
};

type Rule = (key: string, value: unknown) => void;

function integerIn(min: number, max: number, allowMinusOne = false): Rule {
  return (key, value) => {
    const ok = Number.isSafeInteger(value) && ((value as number) >= min || (allowMinusOne && value === -1));
    if (!ok || (value as number) > max) {
      const range = `${allowMinusOne ? '-1 (unlimited) or ' : ''}an integer from ${min} to ${max}`;
      throw new InvalidTopicConfig(key, `${key} must be ${range}; got ${describeValue(value)}`);
    }
  };
}

function oneOf(...allowed: string[]): Rule {
  return (key, value) => {
    if (typeof value !== 'string' || !allowed.includes(value)) {
      throw new InvalidTopicConfig(key, `${key} must be one of ${allowed.join(', ')}; got ${describeValue(value)}`);
    }
  };
}

const RULES: Record<keyof TopicConfig, Rule> = {
  partitions: integerIn(1, MAX_PARTITIONS),
  retentionMs: integerIn(1, Number.MAX_SAFE_INTEGER, true),
  retentionBytes: integerIn(1, Number.MAX_SAFE_INTEGER, true),
  maxRecordBytes: integerIn(1, MAX_RECORD_BYTES_LIMIT),
  compression: oneOf('none', 'gzip', 'zstd'),
  cleanupPolicy: oneOf('delete', 'compact'),
  hotRetentionMs: integerIn(MIN_HOT_RETENTION_MS, Number.MAX_SAFE_INTEGER),
  hotRetentionBytes: integerIn(1, Number.MAX_SAFE_INTEGER, true),
  deleteRetentionMs: integerIn(0, Number.MAX_SAFE_INTEGER),
  segmentBytes: integerIn(MIN_SEGMENT_BYTES, MAX_SEGMENT_BYTES),
  storage: oneOf('dynamodb', 's3', 's3-express'),
  timestampBeforeMaxMs: integerIn(0, Number.MAX_SAFE_INTEGER, true),
  timestampAfterMaxMs: integerIn(0, Number.MAX_SAFE_INTEGER, true),
};

/**
 * Validates a partial config and returns it with defaults (or `base`) filled in.
 * Unknown keys and out-of-range values throw `InvalidTopicConfig` naming the key.
 */
export function resolveTopicConfig(input: unknown, base: TopicConfig = DEFAULT_TOPIC_CONFIG): TopicConfig {
  if (input === undefined || input === null) return base;
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new InvalidTopicConfig('config', 'config must be an object');
  }
  const resolved: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(input)) {
    const rule = (RULES as Record<string, Rule | undefined>)[key];
    if (!Object.hasOwn(RULES, key) || rule === undefined) {
      throw new InvalidTopicConfig(
        key,
        `Unknown config key ${describeValue(key)}; known keys: ${Object.keys(RULES).join(', ')}`,
      );
    }
    rule(key, value);
    resolved[key] = value;
  }
  return resolved as unknown as TopicConfig;
}
