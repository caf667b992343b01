import { isolationOption } from '../log/read.ts';
import { InvalidArgument, describeValue } from '../errors.ts';
import type { ConsumerRecord } from '../log/records.ts';
import { validateTopicName } from '../log/topicConfig.ts';

/**
 * A subscription pushes a topic's records to a target, as Lambda's event source mappings push
 * Kinesis, Kafka and SQS records: in batches, in order (per partition, or per key), retried with
 * backoff when the target fails, bisected to find the record that fails, and then dead-lettered,
 * or (per key) quarantined while the key's later records wait.
 */

/** Where records go: a Lambda function (name or ARN), or an HTTPS endpoint signed with an HMAC secret. */
export type Target =
  | { readonly type: 'lambda'; readonly functionName: string }
  | {
      readonly type: 'https';
      readonly url: string;
      /** A Secrets Manager secret (name or ARN), or `ssm:<parameter name>`, holding the HMAC key. */
      readonly secret?: string;
    };

export interface Backoff {
  readonly initialMs: number;
  readonly multiplier: number;
  readonly maxMs: number;
}

export interface Subscription {
  readonly name: string;
  readonly topic: string;
  readonly target: Target;
  /** An EventBridge-style pattern over `key`, `headers` and `value`; records it does not match are skipped. */
  readonly filter?: FilterPattern;
  readonly batchSize: number;
  /** A batch smaller than `batchSize` waits until its oldest record is this old. */
  readonly maxBatchingWindowMs: number;
  readonly startingPosition: 'earliest' | 'latest';
  /**
   * With `latest`: each partition's high watermark when the subscription was created, where its
   * delivery starts (partitions added later start at their beginning, as in Kafka).
   */
  readonly startOffsets?: readonly number[];
  readonly ordering: 'partition' | 'key';
  /** Attempts after the first before a record is dead-lettered (or its key quarantined). */
  readonly maxRetries: number;
  readonly backoff: Backoff;
  /** A failing record older than this is given up at once (-1: no limit). */
  readonly maxRecordAgeMs: number;
  readonly onFailure?: { readonly topic: string };
  /** With `ordering: "key"`: batches of different keys in flight at once per partition. */
  readonly parallelismPerPartition: number;
  readonly paused: boolean;
  /**
   * `read_committed`: deliver a transaction's records only once it committed, never an aborted
   * one's (Kafka's isolation.level). Absent: `read_uncommitted`, every record as appended.
   */
  readonly isolation?: 'read_committed' | 'read_uncommitted';
  readonly createdAt: number;
  /** Bumped on every change; changes are conditional on it. */
  readonly version: number;
}

export const SUBSCRIPTION_DEFAULTS = {
  batchSize: 100,
  maxBatchingWindowMs: 0,
  startingPosition: 'latest',
  ordering: 'partition',
  maxRetries: 3,
  // The reference's consumer: 100 ms × 2^attempt.
  backoff: { initialMs: 100, multiplier: 2, maxMs: 60_000 },
  maxRecordAgeMs: -1,
  parallelismPerPartition: 1,
} as const;

const NAME = /^[a-zA-Z0-9._-]{1,128}$/;
const CREATE_KEYS = [
  'name',
  'topic',
  'target',
  'filter',
  'batchSize',
  'maxBatchingWindowMs',
  'startingPosition',
  'ordering',
  'maxRetries',
  'backoff',
  'maxRecordAgeMs',
  'onFailure',
  'parallelismPerPartition',
  'paused',
  'isolation',
] as const;
/** What a PATCH may change (the topic, name and starting position are fixed at creation). */
export const MUTABLE_KEYS = [
  'target',
  'filter',
  'batchSize',
  'maxBatchingWindowMs',
  'ordering',
  'maxRetries',
  'backoff',
  'maxRecordAgeMs',
  'onFailure',
  'parallelismPerPartition',
  'paused',
  'isolation',
] as const;

export function validateSubscriptionName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !NAME.test(name))
    throw new InvalidArgument(
      'name',
      `subscription name ${describeValue(name)} is invalid: use 1 to 128 characters from A-Z, a-z, 0-9, ".", "_" and "-"`,
    );
}

function object(field: string, input: unknown, keys: readonly string[]): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new InvalidArgument(field, `${field} must be an object with ${keys.join(', ')}`);
  const body = input as Record<string, unknown>;
  const unknown = Object.keys(body).find((k) => !keys.includes(k));
  if (unknown !== undefined)
    throw new InvalidArgument(`${field}.${unknown.slice(0, 64)}`, `unknown field; ${field} takes ${keys.join(', ')}`);
  return body;
}

function integer(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max)
    throw new InvalidArgument(field, `${field} must be an integer from ${min} to ${max}`);
  return value;
}

function parseTarget(input: unknown): Target {
  const body = object('target', input, ['type', 'functionName', 'url', 'secret']);
  if (body.type === 'lambda') {
    object('target', input, ['type', 'functionName']);
    const fn = body.functionName;
    // A function name, a partial ARN or a full ARN, optionally with a version or alias (Lambda's rule).
    if (typeof fn !== 'string' || !/^[a-zA-Z0-9:_.$-]{1,170}$/.test(fn) || !/[a-zA-Z0-9_-]/.test(fn))
      throw new InvalidArgument('target.functionName', 'functionName must be a Lambda function name or ARN');
    return { type: 'lambda', functionName: fn };
  }
  if (body.type === 'https') {
    object('target', input, ['type', 'url', 'secret']);
    let url: URL;
    try {
      url = new URL(String(body.url));
    } catch {
      throw new InvalidArgument('target.url', 'url must be an absolute https URL');
    }
    const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
    if (
      typeof body.url !== 'string' ||
      body.url.length > 2048 ||
      (url.protocol !== 'https:' && !(loopback && url.protocol === 'http:'))
    )
      throw new InvalidArgument('target.url', 'url must be an absolute https URL (http only for a loopback address)');
    if (url.username !== '' || url.password !== '')
      throw new InvalidArgument('target.url', 'url must not carry credentials: name a secret instead');
    if (
      body.secret !== undefined &&
      (typeof body.secret !== 'string' || !/^[a-zA-Z0-9:/_+=.@-]{1,2048}$/.test(body.secret))
    )
      throw new InvalidArgument(
        'target.secret',
        'secret is a Secrets Manager secret name or ARN, or ssm:<parameter name>',
      );
    return { type: 'https', url: body.url, ...(body.secret === undefined ? {} : { secret: body.secret }) };
  }
  throw new InvalidArgument('target.type', 'target.type must be lambda or https');
}

function parseBackoff(input: unknown): Backoff {
  const body = object('backoff', input, ['initialMs', 'multiplier', 'maxMs']);
  const initialMs = integer(
    'backoff.initialMs',
    body.initialMs ?? SUBSCRIPTION_DEFAULTS.backoff.initialMs,
    0,
    3_600_000,
  );
  const multiplier = body.multiplier ?? SUBSCRIPTION_DEFAULTS.backoff.multiplier;
  if (typeof multiplier !== 'number' || !Number.isFinite(multiplier) || multiplier < 1 || multiplier > 10)
    throw new InvalidArgument('backoff.multiplier', 'backoff.multiplier must be a number from 1 to 10');
  const maxMs = integer('backoff.maxMs', body.maxMs ?? SUBSCRIPTION_DEFAULTS.backoff.maxMs, initialMs, 3_600_000);
  return { initialMs, multiplier, maxMs };
}

/** The settings of a PATCH body, checked (the others keep their values). */
export function parseChanges(input: unknown): Partial<Subscription> {
  const body = object('body', input, MUTABLE_KEYS);
  const out: Record<string, unknown> = {};
  if (body.target !== undefined) out.target = parseTarget(body.target);
  if (body.filter !== undefined) out.filter = body.filter === null ? null : parseFilter(body.filter);
  if (body.batchSize !== undefined) out.batchSize = integer('batchSize', body.batchSize, 1, 1_000);
  if (body.maxBatchingWindowMs !== undefined)
    out.maxBatchingWindowMs = integer('maxBatchingWindowMs', body.maxBatchingWindowMs, 0, 300_000);
  if (body.ordering !== undefined) {
    if (body.ordering !== 'partition' && body.ordering !== 'key')
      throw new InvalidArgument('ordering', 'ordering must be partition or key');
    out.ordering = body.ordering;
  }
  if (body.maxRetries !== undefined) out.maxRetries = integer('maxRetries', body.maxRetries, 0, 100);
  if (body.backoff !== undefined) out.backoff = parseBackoff(body.backoff);
  if (body.maxRecordAgeMs !== undefined) {
    out.maxRecordAgeMs = integer('maxRecordAgeMs', body.maxRecordAgeMs, -1, 7 * 86_400_000);
    if (out.maxRecordAgeMs !== -1 && (out.maxRecordAgeMs as number) < 1_000)
      throw new InvalidArgument('maxRecordAgeMs', 'maxRecordAgeMs is -1 (no limit) or at least 1000');
  }
  if (body.onFailure !== undefined) {
    if (body.onFailure === null) out.onFailure = null;
    else {
      const f = object('onFailure', body.onFailure, ['topic']);
      validateTopicName(f.topic);
      out.onFailure = { topic: f.topic };
    }
  }
  if (body.parallelismPerPartition !== undefined)
    out.parallelismPerPartition = integer('parallelismPerPartition', body.parallelismPerPartition, 1, 10);
  if (body.paused !== undefined) {
    if (typeof body.paused !== 'boolean') throw new InvalidArgument('paused', 'paused must be true or false');
    out.paused = body.paused;
  }
  if (body.isolation !== undefined) out.isolation = isolationOption(body.isolation);
  return out;
}

/** A subscription from a create request, checked, with defaults filled in. */
export function parseSubscription(input: unknown, now: number): Subscription {
  const body = object('body', input, CREATE_KEYS);
  validateSubscriptionName(body.name);
  validateTopicName(body.topic);
  if (body.target === undefined) throw new InvalidArgument('target', 'a subscription needs a target');
  if (body.startingPosition !== undefined && body.startingPosition !== 'earliest' && body.startingPosition !== 'latest')
    throw new InvalidArgument('startingPosition', 'startingPosition must be earliest or latest');
  const { name: _name, topic: _topic, startingPosition: _start, ...mutable } = body;
  const changes = parseChanges(mutable);
  const sub = {
    name: body.name,
    topic: body.topic,
    ...SUBSCRIPTION_DEFAULTS,
    startingPosition: body.startingPosition ?? SUBSCRIPTION_DEFAULTS.startingPosition,
    paused: false,
    ...changes,
    createdAt: now,
    version: 0,
  } as Subscription;
  return withoutNulls(sub);
}

/** The subscription with `changes` applied (a `null` removes an optional setting). */
export function applyChanges(sub: Subscription, changes: Partial<Subscription>): Subscription {
  return withoutNulls({ ...sub, ...changes, version: sub.version + 1 });
}

function withoutNulls(sub: Subscription): Subscription {
  const out: Record<string, unknown> = { ...sub };
  for (const k of Object.keys(out)) if (out[k] === null || out[k] === undefined) delete out[k];
  if (sub.ordering !== 'key' && sub.parallelismPerPartition > 1)
    throw new InvalidArgument('parallelismPerPartition', 'parallelismPerPartition above 1 needs ordering "key"');
  return out as unknown as Subscription;
}

// ---------------------------------------------------------------- filters

/**
 * A filter in EventBridge's pattern syntax (as Lambda's event filtering uses), over an object
 * `{key, headers, value}`: each leaf is an array of alternatives, each a literal, or
 * `{prefix}`, `{exists}`, `{"anything-but": [...]}` or `{numeric: [op, n, op, n]}`.
 */
export type FilterPattern = { readonly [field: string]: FilterPattern | readonly FilterMatcher[] };
export type FilterMatcher =
  | string
  | number
  | boolean
  | null
  | { readonly prefix: string }
  | { readonly exists: boolean }
  | { readonly 'anything-but': readonly (string | number)[] }
  | { readonly numeric: readonly (string | number)[] };

const MAX_FILTER_CHARS = 4_096;
const NUMERIC_OPS = ['<', '<=', '=', '>', '>='];

export function parseFilter(input: unknown): FilterPattern {
  if (JSON.stringify(input ?? null).length > MAX_FILTER_CHARS)
    throw new InvalidArgument('filter', `filter must be at most ${MAX_FILTER_CHARS} characters of JSON`);
  const top = object('filter', input, ['key', 'headers', 'value']);
  const check = (field: string, node: unknown, depth: number): void => {
    if (depth > 8) throw new InvalidArgument(field, 'filter is nested too deeply');
    if (Array.isArray(node)) {
      if (node.length === 0 || node.length > 100)
        throw new InvalidArgument(field, `${field} must list 1 to 100 alternatives`);
      for (const m of node) checkMatcher(field, m);
      return;
    }
    if (typeof node !== 'object' || node === null)
      throw new InvalidArgument(field, `${field} must be an object of fields or an array of alternatives`);
    for (const [k, v] of Object.entries(node)) check(`${field}.${k.slice(0, 64)}`, v, depth + 1);
  };
  for (const [k, v] of Object.entries(top)) check(`filter.${k}`, v, 0);
  return top as FilterPattern;
}

function checkMatcher(field: string, m: unknown): void {
  if (m === null || ['string', 'number', 'boolean'].includes(typeof m)) return;
  if (typeof m !== 'object' || Array.isArray(m) || Object.keys(m).length !== 1)
    throw new InvalidArgument(
      field,
      `${field}: a matcher is a literal, {prefix}, {exists}, {anything-but} or {numeric}`,
    );
  const [[op, arg]] = Object.entries(m) as [[string, unknown]];
  if (op === 'prefix' && typeof arg === 'string') return;
  if (op === 'exists' && typeof arg === 'boolean') return;
  if (op === 'anything-but' && Array.isArray(arg) && arg.every((a) => typeof a === 'string' || typeof a === 'number'))
    return;
  if (
    op === 'numeric' &&
    Array.isArray(arg) &&
    (arg.length === 2 || arg.length === 4) &&
    arg.every((a, i) => (i % 2 === 0 ? NUMERIC_OPS.includes(a as string) : typeof a === 'number' && Number.isFinite(a)))
  )
    return;
  throw new InvalidArgument(field, `${field}: ${op.slice(0, 32)} is not a matcher this filter takes`);
}

/** Whether a record matches the pattern (no pattern: every record). */
export function matches(pattern: FilterPattern | undefined, record: ConsumerRecord): boolean {
  if (pattern === undefined) return true;
  const text = (v: unknown) => (v instanceof Uint8Array ? new TextDecoder().decode(v) : v);
  const headers: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record.headers)) headers[k] = text(v);
  let value: unknown = record.value;
  if (value instanceof Uint8Array) {
    try {
      value = JSON.parse(new TextDecoder().decode(value)) as unknown;
    } catch {
      value = undefined;
    }
  }
  return matchNode(pattern, { key: text(record.key), headers, value });
}

function matchNode(pattern: FilterPattern, subject: unknown): boolean {
  for (const [field, node] of Object.entries(pattern)) {
    const present = typeof subject === 'object' && subject !== null && Object.hasOwn(subject, field);
    const value = present ? (subject as Record<string, unknown>)[field] : undefined;
    if (Array.isArray(node)) {
      if (!(node as readonly FilterMatcher[]).some((m) => matchOne(m, present && value !== undefined, value)))
        return false;
    } else if (!matchNode(node as FilterPattern, value)) return false;
  }
  return true;
}

function matchOne(m: FilterMatcher, present: boolean, value: unknown): boolean {
  const values = Array.isArray(value) ? value : [value];
  if (m === null || typeof m !== 'object') return present && values.some((v) => v === m);
  if ('exists' in m) return m.exists === present;
  if (!present) return false;
  if ('prefix' in m) return values.some((v) => typeof v === 'string' && v.startsWith(m.prefix));
  if ('anything-but' in m) return values.every((v) => !m['anything-but'].includes(v as string));
  const ops = m.numeric;
  return values.some((v) => {
    if (typeof v !== 'number') return false;
    for (let i = 0; i < ops.length; i += 2) {
      const [op, n] = [ops[i] as string, ops[i + 1] as number];
      const ok = op === '<' ? v < n : op === '<=' ? v <= n : op === '=' ? v === n : op === '>' ? v > n : v >= n;
      if (!ok) return false;
    }
    return true;
  });
}
