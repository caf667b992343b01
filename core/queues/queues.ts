import { InvalidArgument, SluiceError, isSluiceError } from '../errors.ts';
import { validateTopicName } from '../log/topicConfig.ts';
import type { Sluice } from '../log/sluice.ts';
import { ShareGroupNotFound, type ShareGroupDescription, type ShareGroups } from './shareGroups.ts';
import type { ShareGroupSettings, ShareStore } from './shareStore.ts';

/**
 * Queues in RabbitMQ's vocabulary (https://www.rabbitmq.com/docs/queues): a declared queue is a
 * one-partition topic and a share group of the same name, so everything about both applies (bind
 * the topic to exchanges, produce to it, consume it with share-group members, describe its lag).
 * A queue adds what RabbitMQ's queue arguments do:
 * - `messageTtlMs` (`x-message-ttl`): a message older than this is dead-lettered (`expired`)
 *   instead of delivered, as is one whose own `expiration` has run out;
 * - `maxLength` (`x-max-length`) with `overflow` (`x-overflow`): over it, `drop-head` dead-letters
 *   the oldest ready messages (`max-length`) and `reject-publish` refuses publishes (`QueueFull`);
 * - `deadLetterExchange`/`deadLetterRoutingKey` (`x-dead-letter-exchange`/`-routing-key`), or a
 *   `deadLetterTopic`; `deliveryLimit` (quorum queues' `x-delivery-limit`).
 */

/** How long a container keeps what it learned about a topic being a queue (declarations elsewhere show within this). */
export const QUEUE_CACHE_MS = 5_000;

const DECLARATION_KEYS = [
  'name',
  'messageTtlMs',
  'maxLength',
  'overflow',
  'deadLetterExchange',
  'deadLetterRoutingKey',
  'deadLetterTopic',
  'deliveryLimit',
  'lockMs',
  'maxInFlight',
] as const;

export interface QueueDeclaration {
  readonly name: string;
  readonly messageTtlMs?: number;
  readonly maxLength?: number;
  /** @default 'drop-head' (RabbitMQ's default) */
  readonly overflow?: 'drop-head' | 'reject-publish';
  readonly deadLetterExchange?: string;
  readonly deadLetterRoutingKey?: string;
  readonly deadLetterTopic?: string;
  readonly deliveryLimit?: number;
  readonly lockMs?: number;
  readonly maxInFlight?: number;
}

export interface QueueDescription {
  readonly name: string;
  readonly settings: ShareGroupSettings;
  /** Messages not done: ready and unacknowledged (RabbitMQ's `messages`). */
  readonly messages: number;
  /** Messages a consumer may be given now (RabbitMQ's `messages_ready`). */
  readonly ready: number;
  /** Messages delivered and not yet acknowledged (RabbitMQ's `messages_unacknowledged`). */
  readonly unacknowledged: number;
  /** Messages archived (and dead-lettered, when the queue names where to). */
  readonly archived: number;
  readonly consumers: number;
}

export class QueueNotFound extends SluiceError {
  readonly queue: string;
  constructor(queue: string) {
    super(`Queue ${queue} does not exist`);
    this.queue = queue;
  }
}

/** A declaration that differs from the queue (or topic) of that name (RabbitMQ's PRECONDITION_FAILED). */
export class QueueConflict extends SluiceError {
  readonly queue: string;
  constructor(queue: string, reason: string) {
    super(`Queue ${queue}: ${reason}`);
    this.queue = queue;
  }
}

/** A publish refused because the queue is at its `maxLength` and overflows with `reject-publish`. Nothing was written. */
export class QueueFull extends SluiceError {
  readonly queue: string;
  readonly maxLength: number;
  constructor(queue: string, maxLength: number) {
    super(`Queue ${queue} holds its maximum of ${maxLength} messages; consume some or try again later`, {
      retriable: true,
    });
    this.queue = queue;
    this.maxLength = maxLength;
  }
}

export class Queues {
  private readonly sluice: Sluice;
  private readonly store: ShareStore;
  private readonly shareGroups: ShareGroups;
  private readonly now: () => number;
  private readonly cacheMs: number;
  private readonly cache = new Map<string, { settings: ShareGroupSettings | undefined; until: number }>();

  constructor(options: {
    readonly sluice: Sluice;
    readonly store: ShareStore;
    readonly shareGroups: ShareGroups;
    readonly now?: () => number;
    /** @default QUEUE_CACHE_MS */
    readonly cacheMs?: number;
  }) {
    this.sluice = options.sluice;
    this.store = options.store;
    this.shareGroups = options.shareGroups;
    this.now = options.now ?? Date.now;
    this.cacheMs = options.cacheMs ?? QUEUE_CACHE_MS;
  }

  /**
   * Declares a queue: its share group, then its topic (one partition). Declaring it again as it
   * is changes nothing (`created: false`) and finishes a declaration a crash left half done;
   * differently, or over a topic or share group that is not a queue, is a `QueueConflict`.
   */
  async declare(input: unknown): Promise<{ queue: QueueDescription; created: boolean }> {
    const declaration = parseDeclaration(input);
    const { name } = declaration;
    const wanted = await this.shareGroups.settingsFor(name, {
      topics: [name],
      start: 'earliest',
      ...Object.fromEntries(
        (
          [
            'messageTtlMs',
            'deadLetterExchange',
            'deadLetterRoutingKey',
            'deadLetterTopic',
            'deliveryLimit',
            'lockMs',
            'maxInFlight',
          ] as const
        )
          .filter((k) => declaration[k] !== undefined)
          .map((k) => [k, declaration[k]]),
      ),
    });
    const settings: ShareGroupSettings = {
      ...wanted,
      queue: true,
      topics: [name],
      ...(declaration.maxLength === undefined
        ? {}
        : { maxLength: declaration.maxLength, overflow: declaration.overflow ?? 'drop-head' }),
    };
    const existing = await this.store.getGroup(name);
    if (existing === undefined && (await this.sluice.partitionCounts([name]))[name] !== undefined)
      throw new QueueConflict(name, `a topic named ${name} exists and is not a queue`);
    const stored = existing ?? (await this.store.createGroup(settings));
    const created = existing === undefined && stored.createdAt === settings.createdAt;
    if (stored.queue !== true) throw new QueueConflict(name, `a share group named ${name} exists and is not a queue`);
    const differs = SETTINGS_COMPARED.find((k) => stored[k] !== settings[k]);
    if (differs !== undefined)
      throw new QueueConflict(
        name,
        `it was declared with ${differs} ${String(stored[differs] ?? 'unset')}, not ${String(settings[differs] ?? 'unset')}`,
      );
    try {
      await this.sluice.createTopic(name, { partitions: 1 });
    } catch (e) {
      if (!isSluiceError(e, 'TopicAlreadyExists')) throw e;
    }
    this.cache.delete(name);
    return { queue: await this.describe(name), created };
  }

  /** Every queue's name (a scan of the share groups: the listing route exists to scan). */
  async list(): Promise<string[]> {
    const names = await this.store.listGroups();
    const groups = await Promise.all(names.map((n) => this.store.getGroup(n)));
    return names.filter((_, i) => groups[i]?.queue === true);
  }

  async describe(name: string): Promise<QueueDescription> {
    validateTopicName(name);
    let group: ShareGroupDescription;
    try {
      group = await this.shareGroups.describe(name);
    } catch (e) {
      if (e instanceof ShareGroupNotFound) throw new QueueNotFound(name);
      throw e;
    }
    if (group.settings.queue !== true) throw new QueueNotFound(name);
    return summary(group);
  }

  /** Deletes a queue with no live consumers: its share group, then its topic. */
  async delete(name: string): Promise<void> {
    validateTopicName(name);
    const settings = await this.store.getGroup(name);
    if (settings?.queue !== true) throw new QueueNotFound(name);
    await this.shareGroups.delete(name);
    this.cache.delete(name);
    try {
      await this.sluice.deleteTopic(name);
    } catch (e) {
      if (!isSluiceError(e, 'TopicNotFound')) throw e;
    }
  }

  /**
   * Refuses (`QueueFull`) `count` more records for `topic` when it is a queue overflowing with
   * `reject-publish` that would then hold more than `maxLength`. A check before the append:
   * publishers racing each other may pass it together and overshoot by what they append at once.
   */
  async admit(topic: string, count: number): Promise<void> {
    const settings = await this.queueOf(topic);
    if (settings?.overflow !== 'reject-publish' || settings.maxLength === undefined) return;
    const { messages } = summary(await this.shareGroups.describe(topic, { members: false }));
    if (messages + count > settings.maxLength) throw new QueueFull(topic, settings.maxLength);
  }

  /** The settings of the queue named `topic`, if it is one, cached for `cacheMs`. */
  private async queueOf(topic: string): Promise<ShareGroupSettings | undefined> {
    const hit = this.cache.get(topic);
    if (hit !== undefined && this.now() < hit.until) return hit.settings;
    const group = await this.store.getGroup(topic);
    const settings = group?.queue === true ? group : undefined;
    this.cache.set(topic, { settings, until: this.now() + this.cacheMs });
    if (this.cache.size > 10_000) this.cache.delete(this.cache.keys().next().value!);
    return settings;
  }
}

const SETTINGS_COMPARED = [
  'lockMs',
  'deliveryLimit',
  'maxInFlight',
  'deadLetterTopic',
  'deadLetterExchange',
  'deadLetterRoutingKey',
  'messageTtlMs',
  'maxLength',
  'overflow',
] as const;

function summary(group: ShareGroupDescription): QueueDescription {
  let ready = 0;
  let unacknowledged = 0;
  let archived = 0;
  for (const p of group.partitions) {
    ready += p.available + Math.max(0, p.highWatermark - p.nextOffset);
    unacknowledged += p.acquired;
    archived += p.archived;
  }
  return {
    name: group.group,
    settings: group.settings,
    messages: ready + unacknowledged,
    ready,
    unacknowledged,
    archived,
    consumers: group.members.length,
  };
}

function parseDeclaration(input: unknown): QueueDeclaration {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new InvalidArgument('body', `a queue declaration is an object with ${DECLARATION_KEYS.join(', ')}`);
  const body = input as Record<string, unknown>;
  const unknown = Object.keys(body).find((k) => !(DECLARATION_KEYS as readonly string[]).includes(k));
  if (unknown !== undefined)
    throw new InvalidArgument(unknown.slice(0, 64), `unknown field; a queue takes ${DECLARATION_KEYS.join(', ')}`);
  validateTopicName(body.name);
  if (
    body.maxLength !== undefined &&
    (typeof body.maxLength !== 'number' ||
      !Number.isSafeInteger(body.maxLength) ||
      body.maxLength < 1 ||
      body.maxLength > 100_000_000)
  )
    throw new InvalidArgument('maxLength', 'maxLength must be an integer from 1 to 100000000');
  if (body.overflow !== undefined && body.overflow !== 'drop-head' && body.overflow !== 'reject-publish')
    throw new InvalidArgument('overflow', 'overflow must be drop-head or reject-publish');
  if (body.overflow !== undefined && body.maxLength === undefined)
    throw new InvalidArgument('overflow', 'overflow goes with maxLength');
  return body as unknown as QueueDeclaration;
}
