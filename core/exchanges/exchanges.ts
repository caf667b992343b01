import { createHash } from 'node:crypto';
import { mapWithLimit } from '../async.ts';
import {
  BindingLoop,
  BindingNotFound,
  ExchangeAlreadyExists,
  ExchangeNotFound,
  InvalidArgument,
  NoRoute,
  PublishIncomplete,
  TopicNotFound,
  isSluiceError,
} from '../errors.ts';
import { partitionForKey } from '../log/murmur2.ts';
import type { RecordHeaders } from '../log/records.ts';
import type { Sluice } from '../log/sluice.ts';
import {
  parseBinding,
  parseDeclaration,
  validateExchangeName,
  validateKey,
  type Binding,
  type Exchange,
  type StoredBinding,
} from './exchange.ts';
import type { ExchangeStore, LoadedExchange } from './exchangeStore.ts';
import { RoutingIndex, type RoutedMessage } from './routingIndex.ts';

/** How long a container keeps an exchange's routing index: a change elsewhere is seen within this. */
export const EXCHANGE_CACHE_MS = 5_000;

/** Headers a publish adds to every record it appends (and that a publisher may not set itself). */
export const EXCHANGE_HEADERS = {
  exchange: 'x-exchange',
  routingKey: 'x-routing-key',
  messageId: 'x-message-id',
  expiration: 'x-expiration',
} as const;
const RESERVED_HEADERS: ReadonlySet<string> = new Set(Object.values(EXCHANGE_HEADERS));

/** Longest message id (it names the idempotent producer, with the exchange and the topic). */
export const MAX_MESSAGE_ID_CHARS = 256;

/** Appends of one publish in flight at once. */
const PUBLISH_CONCURRENCY = 8;

export interface PublishRequest {
  readonly routingKey: string;
  /** The record's key, value and headers, as the engine takes them (bytes or strings). */
  readonly key?: string | Uint8Array | null;
  readonly value: unknown;
  readonly headers?: RecordHeaders;
  /** Makes retries land once per destination (for 7 days: the idempotent producer state's life). */
  readonly messageId?: string;
  /** Per-message TTL in ms, as RabbitMQ's `expiration` (a header for consumers such as queues). */
  readonly expiration?: number;
  /** No route → `NoRoute` instead of `routed: []`. */
  readonly mandatory?: boolean;
}

export interface PublishResult {
  /** One entry per destination topic, in topic-name order. */
  readonly routed: { topic: string; partition: number; offset: number }[];
  /** Destinations a binding names that no longer exist (a topic or exchange deleted since the bind). */
  readonly skipped: { topic?: string; exchange?: string; reason: 'TopicNotFound' | 'ExchangeNotFound' | 'QueueFull' }[];
}

/** An exchange as described: its declaration and bindings. */
export interface ExchangeDescription extends Exchange {
  readonly bindings: readonly StoredBinding[];
}

export interface ExchangesOptions {
  readonly store: ExchangeStore;
  readonly sluice: Sluice;
  readonly now?: () => number;
  /** @default EXCHANGE_CACHE_MS (5 s) */
  readonly cacheMs?: number;
  /** Queues' admission: a full `reject-publish` queue refuses a message (`QueueFull`); the others still get it. */
  readonly admission?: Admission;
}

/** Whether a destination topic takes more messages now (a queue may be full). */
export interface Admission {
  /** Throws (`QueueFull`) to refuse `count` records for `topic`. */
  admit(topic: string, count: number): Promise<void>;
}

interface Cached {
  readonly loaded: LoadedExchange;
  readonly index: RoutingIndex;
  readonly until: number;
}

/**
 * RabbitMQ-style exchanges over Sluice topics: declare exchanges, bind topics (or other exchanges)
 * to them, and publish messages that are appended to every topic a binding routes them to.
 *
 * Routing follows RabbitMQ's (rabbit_exchange:route): each exchange reached matches its bindings;
 * exchange destinations are followed, each exchange at most once; an exchange whose own bindings
 * match nothing passes the message to its alternate exchange; each topic gets the message once
 * however many paths reach it. Each container keeps each exchange's routing index for `cacheMs`
 * (forgotten at once when this container changes the exchange).
 *
 * @example
 * const exchanges = new Exchanges({ store, sluice });
 * await exchanges.declare('logs', { type: 'topic' });
 * await exchanges.bind('logs', { destination: { topic: 'errors' }, bindingKey: '*.error' });
 * const { routed } = await exchanges.publish('logs', { routingKey: 'billing.error', value: { msg: 'x' } });
 */
export class Exchanges {
  private readonly store: ExchangeStore;
  private readonly sluice: Sluice;
  private readonly now: () => number;
  private readonly cacheMs: number;
  private readonly admission: Admission | undefined;
  private readonly cache = new Map<string, Cached>();
  private readonly loading = new Map<string, Promise<Cached | undefined>>();

  constructor(options: ExchangesOptions) {
    this.store = options.store;
    this.sluice = options.sluice;
    this.now = options.now ?? Date.now;
    this.cacheMs = options.cacheMs ?? EXCHANGE_CACHE_MS;
    this.admission = options.admission;
  }

  /**
   * Declares an exchange; declaring it again as it is changes nothing (`created: false`), and
   * differently is `ExchangeAlreadyExists`. The alternate exchange need not exist yet (as in RabbitMQ).
   */
  async declare(name: string, declaration: unknown): Promise<{ exchange: Exchange; created: boolean }> {
    const wanted = parseDeclaration(name, declaration);
    const result = await this.store.createExchange({ ...wanted, createdAt: this.now() });
    const { exchange } = result;
    if (!result.created && (exchange.type !== wanted.type || exchange.alternateExchange !== wanted.alternateExchange))
      throw new ExchangeAlreadyExists(name, exchange.type, exchange.alternateExchange);
    this.cache.delete(name);
    return result;
  }

  async delete(name: string): Promise<void> {
    validateExchangeName(name);
    if (!(await this.store.deleteExchange(name))) throw new ExchangeNotFound(name);
    this.cache.clear(); // bindings of other exchanges to it went too
  }

  async list(): Promise<Exchange[]> {
    return this.store.listExchanges();
  }

  async describe(name: string): Promise<ExchangeDescription> {
    validateExchangeName(name);
    const loaded = await this.store.loadExchange(name);
    if (loaded === undefined) throw new ExchangeNotFound(name);
    return { ...loaded.exchange, bindings: loaded.bindings };
  }

  /**
   * Binds a destination to an exchange (binding twice is one binding). A topic destination must
   * exist; an exchange destination must exist and must not lead back to `name` through exchange
   * bindings (`BindingLoop`).
   */
  async bind(name: string, input: unknown): Promise<{ binding: StoredBinding; created: boolean }> {
    validateExchangeName(name);
    const binding = parseBinding(input);
    const source = await this.store.loadExchange(name);
    if (source === undefined) throw new ExchangeNotFound(name);
    if ('topic' in binding.destination) {
      const { topic } = binding.destination;
      if ((await this.sluice.partitionCounts([topic]))[topic] === undefined) throw new TopicNotFound(topic);
    } else {
      await this.refuseLoop(name, binding.destination.exchange);
    }
    const result = await this.store.putBinding(name, binding);
    this.cache.delete(name);
    return result;
  }

  async unbind(name: string, input: unknown): Promise<void> {
    validateExchangeName(name);
    const binding: Binding = parseBinding(input);
    if (!(await this.store.deleteBinding(name, binding))) {
      if ((await this.store.loadExchange(name)) === undefined) throw new ExchangeNotFound(name);
      throw new BindingNotFound(name);
    }
    this.cache.delete(name);
  }

  /**
   * The topics a message reaches from `name`, following exchange bindings and alternate
   * exchanges, each exchange once; destinations that no longer exist are reported as skipped.
   */
  async route(name: string, message: RoutedMessage): Promise<{ topics: string[]; skipped: PublishResult['skipped'] }> {
    const first = await this.cached(name);
    if (first === undefined) throw new ExchangeNotFound(name);
    const topics = new Set<string>();
    const skipped: PublishResult['skipped'] = [];
    const seen = new Set<string>([name]);
    let frontier: Cached[] = [first];
    while (frontier.length > 0) {
      const next: string[] = [];
      for (const at of frontier) {
        const matched = at.index.match(message);
        for (const b of matched) {
          if ('topic' in b.destination) topics.add(b.destination.topic);
          else if (!seen.has(b.destination.exchange)) {
            seen.add(b.destination.exchange);
            next.push(b.destination.exchange);
          }
        }
        const alternate = at.loaded.exchange.alternateExchange;
        if (matched.length === 0 && alternate !== null && !seen.has(alternate)) {
          seen.add(alternate);
          next.push(alternate);
        }
      }
      const loaded = await Promise.all(next.map((x) => this.cached(x)));
      frontier = [];
      loaded.forEach((c, i) => {
        if (c === undefined) skipped.push({ exchange: next[i]!, reason: 'ExchangeNotFound' });
        else frontier.push(c);
      });
    }
    return { topics: [...topics].sort(), skipped };
  }

  /**
   * Appends the message to every topic it routes to, one append per topic, and answers where
   * each landed. With a `messageId`, each append uses an idempotent producer of its own (derived
   * from the exchange, the message id and the topic; epoch 0, sequence 0, and the partition from
   * the key, else from the message id): a retried publish lands once per destination and answers
   * the original offsets, for as long as the producer state lives (7 days after its write).
   */
  async publish(name: string, input: PublishRequest): Promise<PublishResult> {
    validateExchangeName(name);
    const request = validatePublish(input);
    const { topics: routedTopics, skipped } = await this.route(name, request);
    const counts = await this.sluice.partitionCounts(routedTopics);
    const topics = routedTopics.filter((t) => {
      if (counts[t] !== undefined) return true;
      skipped.push({ topic: t, reason: 'TopicNotFound' });
      return false;
    });
    if (topics.length === 0) {
      if (request.mandatory === true) throw new NoRoute(name, request.routingKey);
      return { routed: [], skipped };
    }
    const headers: RecordHeaders = {
      ...request.headers,
      [EXCHANGE_HEADERS.exchange]: name,
      [EXCHANGE_HEADERS.routingKey]: request.routingKey,
      ...(request.messageId === undefined ? {} : { [EXCHANGE_HEADERS.messageId]: request.messageId }),
      ...(request.expiration === undefined ? {} : { [EXCHANGE_HEADERS.expiration]: String(request.expiration) }),
    };
    const results = await mapWithLimit(topics, PUBLISH_CONCURRENCY, async (topic) => {
      const record = {
        ...(request.key === undefined ? {} : { key: request.key }),
        value: request.value,
        headers,
        ...(request.messageId !== undefined && (request.key === undefined || request.key === null)
          ? { partition: partitionForKey(new TextEncoder().encode(request.messageId), counts[topic]!) }
          : {}),
      };
      try {
        await this.admission?.admit(topic, 1);
      } catch (e) {
        if (isSluiceError(e, 'QueueFull')) return { topic, full: e };
        throw e;
      }
      try {
        const [meta] = await this.sluice.append(topic, [record], {
          ...(request.messageId === undefined
            ? {}
            : { producer: { id: producerId(name, request.messageId, topic), epoch: 0, sequence: 0 } }),
        });
        return { topic, partition: meta!.partition, offset: meta!.offset };
      } catch (e) {
        if (isSluiceError(e, 'TopicNotFound')) return { topic, skipped: true as const };
        return { topic, failed: isSluiceError(e) ? e.code : 'StorageError', error: e };
      }
    });
    const routed = results.flatMap((r) =>
      r.offset === undefined ? [] : [{ topic: r.topic, partition: r.partition, offset: r.offset }],
    );
    for (const r of results) if ('skipped' in r) skipped.push({ topic: r.topic, reason: 'TopicNotFound' });
    for (const r of results) if ('full' in r) skipped.push({ topic: r.topic, reason: 'QueueFull' });
    // Routed to full queues only: refused, as RabbitMQ nacks a publish to a `reject-publish` queue.
    const [full] = results.flatMap((r) => ('full' in r && r.full instanceof Error ? [r.full] : []));
    if (routed.length === 0 && full !== undefined) throw full;
    const failed = results.flatMap((r) => (r.failed === undefined ? [] : [{ ...r, failed: r.failed }]));
    // Bad input (a malformed or too large record) that no topic took: nothing was written, so say it as it is.
    const refused = failed.find((f) => isSluiceError(f.error) && !f.error.retriable);
    if (routed.length === 0 && refused !== undefined) throw refused.error;
    if (failed.length > 0)
      throw new PublishIncomplete(
        name,
        routed,
        failed.map((f) => ({ topic: f.topic, reason: f.failed })),
      );
    if (routed.length === 0 && request.mandatory === true) throw new NoRoute(name, request.routingKey);
    return { routed, skipped };
  }

  /** Forget every cached routing index (tests; a container's own changes forget theirs already). */
  invalidate(): void {
    this.cache.clear();
  }

  /** The exchange's routing index, from the cache or one store read (concurrent misses share it). */
  private async cached(name: string): Promise<Cached | undefined> {
    const hit = this.cache.get(name);
    if (hit !== undefined && this.now() < hit.until) return hit;
    let pending = this.loading.get(name);
    if (pending === undefined) {
      pending = this.store
        .loadExchange(name)
        .then((loaded) => {
          if (loaded === undefined) {
            this.cache.delete(name);
            return undefined; // not cached: an exchange declared elsewhere is usable at once
          }
          const entry = {
            loaded,
            index: new RoutingIndex(loaded.exchange.type, loaded.bindings),
            until: this.now() + this.cacheMs,
          };
          this.cache.set(name, entry);
          return entry;
        })
        .finally(() => this.loading.delete(name));
      this.loading.set(name, pending);
    }
    return pending;
  }

  /** Refuses a binding of `source` to `destination` when `source` is reachable from `destination`. */
  private async refuseLoop(source: string, destination: string): Promise<void> {
    if (destination === source) throw new BindingLoop(source, destination, [source]);
    // Breadth-first over exchange bindings from the destination, with the path that reached each.
    const paths = new Map<string, string[]>([[destination, [source, destination]]]);
    let frontier = [destination];
    while (frontier.length > 0) {
      const next: string[] = [];
      for (const x of frontier) {
        const loaded = await this.store.loadExchange(x);
        if (loaded === undefined) {
          if (x === destination) throw new ExchangeNotFound(destination);
          continue;
        }
        for (const b of loaded.bindings) {
          if (!('exchange' in b.destination)) continue;
          const to = b.destination.exchange;
          if (to === source) throw new BindingLoop(source, destination, paths.get(x)!);
          if (!paths.has(to)) {
            paths.set(to, [...paths.get(x)!, to]);
            next.push(to);
          }
        }
      }
      frontier = next;
    }
  }
}

/** The idempotent producer id of one message's append to one topic: a hash, so retries find it. */
export function producerId(exchange: string, messageId: string, topic: string): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([exchange, messageId, topic]))
    .digest('hex');
  return `exchange-${digest.slice(0, 40)}`;
}

function validatePublish(input: PublishRequest): PublishRequest {
  if (typeof input !== 'object' || input === null) throw new InvalidArgument('body', 'a publish is an object');
  validateKey('routingKey', input.routingKey);
  if (input.messageId !== undefined) {
    if (
      typeof input.messageId !== 'string' ||
      input.messageId.length === 0 ||
      input.messageId.length > MAX_MESSAGE_ID_CHARS
    )
      throw new InvalidArgument('messageId', `messageId must be a string of 1 to ${MAX_MESSAGE_ID_CHARS} characters`);
  }
  if (
    input.expiration !== undefined &&
    (!Number.isSafeInteger(input.expiration) || input.expiration < 0 || input.expiration > 2 ** 32)
  )
    throw new InvalidArgument('expiration', 'expiration is a time to live in ms: an integer from 0 to 4294967296');
  if (input.mandatory !== undefined && typeof input.mandatory !== 'boolean')
    throw new InvalidArgument('mandatory', 'mandatory must be true or false');
  if (input.headers !== undefined) {
    if (typeof input.headers !== 'object' || input.headers === null || Array.isArray(input.headers))
      throw new InvalidArgument('headers', 'headers must be an object of name to string');
    for (const name of Object.keys(input.headers))
      if (RESERVED_HEADERS.has(name))
        throw new InvalidArgument(`headers.${name}`, `${name} is set by the exchange; a publisher may not set it`);
  }
  return input;
}
