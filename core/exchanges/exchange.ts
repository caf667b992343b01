import { createHash } from 'node:crypto';
import { InvalidArgument, describeValue } from '../errors.ts';
import { validateTopicName } from '../log/topicConfig.ts';

/**
 * RabbitMQ's exchange types (https://www.rabbitmq.com/tutorials/amqp-concepts#exchanges):
 * - `direct`: a binding matches when its key equals the routing key;
 * - `fanout`: every binding matches, keys are ignored;
 * - `topic`: binding keys are patterns of `.`-separated words, `*` one word, `#` zero or more;
 * - `headers`: bindings match the message's headers (`x-match` all or any), keys are ignored.
 */
export const EXCHANGE_TYPES = ['direct', 'fanout', 'topic', 'headers'] as const;
export type ExchangeType = (typeof EXCHANGE_TYPES)[number];

/** An exchange as declared. */
export interface Exchange {
  readonly name: string;
  readonly type: ExchangeType;
  /** Where messages no binding of this exchange matches go (RabbitMQ's alternate exchange). */
  readonly alternateExchange: string | null;
  readonly createdAt: number;
}

/** Where a binding sends what it matches: a topic, or another exchange. */
export type Destination = { readonly topic: string } | { readonly exchange: string };

/** `x-match` of a headers binding (RabbitMQ 3.x adds the `-with-x` kinds, which match `x-` arguments too). */
export const X_MATCH = ['all', 'any', 'all-with-x', 'any-with-x'] as const;
export type XMatch = (typeof X_MATCH)[number];

/**
 * A headers binding's arguments: header name → the value it must have, or `null` for "present,
 * whatever its value" (RabbitMQ's void-typed argument). Values are strings, as Sluice headers are.
 */
export type BindingArguments = Readonly<Record<string, string | null>>;

export interface Binding {
  readonly destination: Destination;
  /** The routing key (direct), pattern (topic), or ignored (fanout, headers). '' when absent. */
  readonly bindingKey: string;
  readonly arguments: BindingArguments;
}

/** A binding as stored and listed: with its id, derived from its content (binding twice is one binding). */
export interface StoredBinding extends Binding {
  readonly id: string;
}

/** RabbitMQ's limit on routing and binding keys (a shortstr): 255 bytes. */
export const MAX_KEY_BYTES = 255;
/** Most arguments one binding carries, so headers matching stays cheap. */
export const MAX_BINDING_ARGUMENTS = 32;

const DECLARATION_KEYS = ['type', 'alternateExchange'];
const BINDING_KEYS = ['destination', 'bindingKey', 'arguments'];

/** Exchange names follow topic names' rules (Kafka's: 1 to 249 of `[A-Za-z0-9._-]`). */
export function validateExchangeName(name: unknown, field = 'exchange'): asserts name is string {
  try {
    validateTopicName(name);
  } catch {
    throw new InvalidArgument(
      field,
      `${field} ${describeValue(name)} is not a valid exchange name: use 1 to 249 characters from A-Z, a-z, 0-9, ".", "_" and "-"`,
    );
  }
}

function objectOf(field: string, input: unknown, keys: readonly string[]): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new InvalidArgument(field, `${field} must be an object with ${keys.join(', ')}`);
  const body = input as Record<string, unknown>;
  const unknown = Object.keys(body).find((k) => !keys.includes(k));
  if (unknown !== undefined)
    throw new InvalidArgument(unknown.slice(0, 64), `unknown field; ${field} takes ${keys.join(', ')}`);
  return body;
}

/** A declaration `{type, alternateExchange?}` from a request body. */
export function parseDeclaration(name: string, input: unknown): Omit<Exchange, 'createdAt'> {
  validateExchangeName(name);
  const body = objectOf('body', input, DECLARATION_KEYS);
  const type = body.type;
  if (typeof type !== 'string' || !(EXCHANGE_TYPES as readonly string[]).includes(type))
    throw new InvalidArgument('type', `type must be one of ${EXCHANGE_TYPES.join(', ')}`);
  const alternate = body.alternateExchange ?? null;
  if (alternate !== null) validateExchangeName(alternate, 'alternateExchange');
  if (alternate === name)
    throw new InvalidArgument('alternateExchange', 'an exchange cannot be its own alternate exchange');
  return { name, type: type as ExchangeType, alternateExchange: alternate };
}

/** A routing or binding key: a string of at most 255 UTF-8 bytes. */
export function validateKey(field: string, key: unknown): asserts key is string {
  if (typeof key !== 'string' || Buffer.byteLength(key) > MAX_KEY_BYTES)
    throw new InvalidArgument(field, `${field} must be a string of at most ${MAX_KEY_BYTES} bytes`);
}

/** A binding `{destination, bindingKey?, arguments?}` from a request body. */
export function parseBinding(input: unknown): Binding {
  const body = objectOf('body', input, BINDING_KEYS);
  const destination = parseDestination(body.destination);
  const bindingKey = body.bindingKey ?? '';
  validateKey('bindingKey', bindingKey);
  return { destination, bindingKey, arguments: parseArguments(body.arguments) };
}

export function parseDestination(input: unknown): Destination {
  const field = 'destination';
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new InvalidArgument(field, 'destination must be { topic } or { exchange }');
  const keys = Object.keys(input);
  const value = input as Record<string, unknown>;
  if (keys.length === 1 && keys[0] === 'topic') {
    validateTopicName(value.topic);
    return { topic: value.topic };
  }
  if (keys.length === 1 && keys[0] === 'exchange') {
    validateExchangeName(value.exchange, 'destination.exchange');
    return { exchange: value.exchange };
  }
  throw new InvalidArgument(field, 'destination must be { topic } or { exchange }, one of them');
}

function parseArguments(input: unknown): BindingArguments {
  if (input === undefined) return {};
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new InvalidArgument('arguments', 'arguments must be an object of header name to string (or null)');
  const entries = Object.entries(input as Record<string, unknown>);
  if (entries.length > MAX_BINDING_ARGUMENTS)
    throw new InvalidArgument('arguments', `a binding has at most ${MAX_BINDING_ARGUMENTS} arguments`);
  const out: Record<string, string | null> = Object.create(null);
  for (const [name, value] of entries) {
    if (name === '' || Buffer.byteLength(name) > MAX_KEY_BYTES)
      throw new InvalidArgument('arguments', `argument names are 1 to ${MAX_KEY_BYTES} bytes`);
    if (value !== null && (typeof value !== 'string' || Buffer.byteLength(value) > 1024))
      throw new InvalidArgument(
        `arguments.${name.slice(0, 64)}`,
        'an argument is a string of at most 1024 bytes, or null (the header need only be present)',
      );
    out[name] = value;
  }
  const xMatch = out['x-match'];
  if (xMatch !== undefined && (xMatch === null || !(X_MATCH as readonly string[]).includes(xMatch)))
    throw new InvalidArgument('arguments.x-match', `x-match must be one of ${X_MATCH.join(', ')}`);
  return { ...out };
}

/** A binding's id: a hash of its destination, key and arguments (in name order), so equal bindings share one. */
export function bindingId(binding: Binding): string {
  const args = Object.keys(binding.arguments)
    .sort()
    .map((k) => [k, binding.arguments[k]]);
  const destination =
    'topic' in binding.destination ? ['t', binding.destination.topic] : ['x', binding.destination.exchange];
  const canonical = JSON.stringify([destination, binding.bindingKey, args]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}

/** `topic:<name>` or `exchange:<name>`: one string per destination, for sets. */
export function destinationKey(destination: Destination): string {
  return 'topic' in destination ? `topic:${destination.topic}` : `exchange:${destination.exchange}`;
}
