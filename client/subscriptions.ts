import { createHmac, timingSafeEqual } from 'node:crypto';
import type {
  Backoff,
  FilterMatcher,
  FilterPattern,
  Subscription,
  Target as SubscriptionTarget,
} from '../core/subscriptions/subscription.ts';
import type { RetryState } from '../core/subscriptions/subscriptionStore.ts';
import type { WireOut } from './records.ts';

export type { Backoff, FilterMatcher, FilterPattern, RetryState, Subscription, SubscriptionTarget };

/**
 * A subscription to create (`POST /v1/subscriptions`): what is left out takes the defaults
 * (batchSize 100, maxBatchingWindowMs 0, startingPosition `latest`, ordering `partition`,
 * maxRetries 3, backoff 100 ms × 2 up to 60 s, maxRecordAgeMs -1, parallelismPerPartition 1).
 */
export interface SubscriptionSpec {
  name: string;
  topic: string;
  /** `{type: 'lambda', functionName}` or `{type: 'https', url, secret?}` (`secret`: a Secrets Manager name or ARN, or `ssm:<parameter>`). */
  target: SubscriptionTarget;
  /** An EventBridge-style pattern over `key`, `headers` and `value`; records it does not match are skipped. */
  filter?: FilterPattern;
  /** 1 to 1,000. */
  batchSize?: number;
  /** 0 to 300,000: a batch smaller than `batchSize` waits until its oldest record is this old. */
  maxBatchingWindowMs?: number;
  startingPosition?: 'earliest' | 'latest';
  ordering?: 'partition' | 'key';
  /** 0 to 100 attempts after the first. */
  maxRetries?: number;
  /** Fields left out take their defaults. */
  backoff?: Partial<Backoff>;
  /** -1 (no limit), or 1,000 to 7 days: a failing record older than this is given up at once. */
  maxRecordAgeMs?: number;
  /** Where records given up on are appended (without it they are dropped, as Lambda does). */
  onFailure?: { topic: string };
  /** 1 to 10; above 1 only with `ordering: 'key'`. */
  parallelismPerPartition?: number;
  paused?: boolean;
  /** `read_committed`: deliver a transaction's records once it commits, never an aborted one's. @default 'read_uncommitted' */
  isolation?: 'read_committed' | 'read_uncommitted';
}

/**
 * Changes to a subscription (`PATCH`): its name, topic and starting position are fixed. `null`
 * removes the filter or the `onFailure` topic. A `backoff` replaces the whole backoff (its fields
 * left out take the defaults, not the current values).
 */
export interface SubscriptionChanges {
  target?: SubscriptionTarget;
  filter?: FilterPattern | null;
  batchSize?: number;
  maxBatchingWindowMs?: number;
  ordering?: 'partition' | 'key';
  maxRetries?: number;
  backoff?: Partial<Backoff>;
  maxRecordAgeMs?: number;
  onFailure?: { topic: string } | null;
  parallelismPerPartition?: number;
  paused?: boolean;
  isolation?: 'read_committed' | 'read_uncommitted';
}

/** One partition of a subscription: where delivery is, what is left, a retry in flight. */
export interface SubscriptionPartition {
  partition: number;
  /** The next offset to deliver (the group's committed offset); `null` before the first delivery. */
  position: number | null;
  highWatermark: number;
  lag: number;
  /** A batch being retried: the offsets left, the attempt, when the next is due and the last error. */
  retry: RetryState | null;
  delivered: number;
  deadLettered: number;
}

/** A key whose record exhausted its retries (ordering `key`): its records wait for a release or a skip. */
export interface QuarantinedKeyView {
  partition: number;
  /** A digest of the key's bytes. */
  keyId: string;
  /** The key as text (UTF-8), or base64 when it is not text; `null` for records without a key. */
  key: string | null;
  /** Records parked under the key, and the first one's offset. */
  records: number;
  firstOffset: number;
  since: number;
  lastError: string;
  /** Released: its records are being delivered again, in order. */
  releasing: boolean;
  attempts: number;
}

export interface SubscriptionDescription extends Subscription {
  partitions: SubscriptionPartition[];
  quarantined: QuarantinedKeyView[];
  /** The consumer group whose committed offsets are the positions: `subscriptions.<name>`. */
  group: string;
}

/** One record of a delivery, in the HTTP API's wire encoding (bytes as base64, flagged). */
export interface SubscriptionEventRecord extends WireOut {
  eventSource: 'sluice:subscription';
  topic: string;
  partition: number;
}

/**
 * What a target receives: a Lambda function's event, or an HTTPS endpoint's JSON body. Answer
 * `{batchItemFailures: [{itemIdentifier: "<offset>"}]}` to fail only some records; an error (a
 * throw, a non-2xx status, a timeout) fails the whole batch.
 */
export interface SubscriptionEvent {
  eventSource: 'sluice:subscription';
  subscription: string;
  records: SubscriptionEventRecord[];
}

/** A target's answer: the records (by offset) that failed; none or an empty list means all succeeded. */
export interface SubscriptionResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

/** The headers of a webhook delivery. */
export const SUBSCRIPTION_HEADERS = {
  signature: 'x-sluice-signature',
  timestamp: 'x-sluice-timestamp',
  subscription: 'x-sluice-subscription',
} as const;

/**
 * Checks a webhook delivery's signature, for an endpoint receiving a subscription: the
 * `x-sluice-signature` header is `v1=<hex HMAC-SHA256 of "<timestamp>.<body>">` with the
 * subscription's secret, and `x-sluice-timestamp` is in epoch seconds. True only when the
 * signature matches (compared in constant time) and the timestamp is within `toleranceSeconds` of
 * now (an old delivery replayed is refused). `body` is the raw body, as received: not parsed and
 * re-serialized. A header may carry several comma-separated signatures (any one may match).
 *
 * @example
 * const ok = verifySignature(secret, req.headers['x-sluice-timestamp'], rawBody, req.headers['x-sluice-signature']);
 * if (!ok) return res.writeHead(401).end();
 */
export function verifySignature(
  secret: string | Uint8Array,
  timestamp: string | undefined,
  body: string | Uint8Array,
  signatureHeader: string | undefined,
  toleranceSeconds = 300,
  nowMs: number = Date.now(),
): boolean {
  if (timestamp === undefined || signatureHeader === undefined || !/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > toleranceSeconds) return false;
  const expected = createHmac('sha256', secret)
    .update(`${timestamp}.`)
    .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
    .digest();
  let matched = false;
  for (const part of signatureHeader.split(',')) {
    const m = /^\s*v1=([0-9a-fA-F]{64})\s*$/.exec(part);
    if (m === null) continue;
    // Every candidate is compared, so the time taken does not say which one matched.
    if (timingSafeEqual(Buffer.from(m[1]!, 'hex'), expected)) matched = true;
  }
  return matched;
}

/** The `x-sluice-signature` value for a body (for tests of an endpoint; the dispatcher signs deliveries). */
export function signPayload(secret: string | Uint8Array, timestamp: string, body: string | Uint8Array): string {
  const mac = createHmac('sha256', secret)
    .update(`${timestamp}.`)
    .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
  return `v1=${mac.digest('hex')}`;
}
