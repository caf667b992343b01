import { mapWithLimit } from '../async.ts';
import { InvalidArgument, SluiceError, TopicNotFound } from '../errors.ts';
import { validateTopicName } from '../log/topicConfig.ts';
import type { Access } from '../security/acl.ts';
import type { Caller } from '../security/authorizer.ts';
import { CONNECTION_LIFETIME_MS, MAX_WATCHED_TOPICS, type WatchStore } from './watchStore.ts';

/**
 * The doorbell frame a watcher gets when records were appended to these partitions of a topic it
 * watches. It carries no record data: the client fetches or polls over HTTP as before.
 *
 * @example
 * {"type":"records","topic":"orders","partitions":[0,2]}
 */
export interface RecordsFrame {
  readonly type: 'records';
  readonly topic: string;
  readonly partitions: readonly number[];
}

/** Sends a frame to one connection; `gone` when it no longer exists (API Gateway's GoneException). */
export interface Doorbell {
  ring(connectionId: string, frame: RecordsFrame): Promise<'sent' | 'gone'>;
}

/** A partition some records were appended to, as the log table's stream names it (`logKey`). */
export interface TouchedPartition {
  readonly topicId: string;
  readonly partition: number;
}

/**
 * The environment variable naming the WebSocket API's management endpoint
 * (`https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`, the stage's callback URL; the
 * local gateway's own URL locally), where the notifier posts frames.
 */
export const WEBSOCKET_CALLBACK_ENV = 'SLUICE_WEBSOCKET_CALLBACK_URL';

/** A watch or unwatch on a connection that is not open (closed, expired, or never connected). */
export class UnknownConnection extends SluiceError {
  readonly connectionId: string;
  constructor(connectionId: string) {
    super('This connection is not open; connect again');
    this.connectionId = connectionId;
  }
}

export interface WatchersOptions {
  readonly store: WatchStore;
  /** Topic names → ids of the topics that exist (the engine's `Sluice.topicIds`, cached there). */
  readonly topicIds: (names: readonly string[]) => Promise<Map<string, string>>;
  /** Refuses (`NotAuthorized`) unless the caller may make every access (the container's Authorizer). */
  readonly authorize: (caller: Caller, accesses: readonly Access[]) => Promise<void>;
  readonly now?: () => number;
  /** Frames in flight at once while ringing. @default 32 */
  readonly ringConcurrency?: number;
}

export interface NotifyReport {
  /** Doorbell frames sent. */
  readonly rung: number;
  /** Connections API Gateway no longer had, removed. */
  readonly removed: number;
}

/**
 * WebSocket watchers: connections that asked to be told when records arrive on topics. A watch is
 * kept per topic incarnation (topic id), so the stream's keys (`<topicId>#<partition>`) find their
 * watchers with one query per touched topic and no name look-up; the watch item carries the name
 * the frame names. A topic deleted and created again is a new incarnation: its old watchers are
 * not rung (the client watches again on reconnecting, and polls once a while anyway).
 */
export class Watchers {
  private readonly store: WatchStore;
  private readonly topicIds: WatchersOptions['topicIds'];
  private readonly authorize: WatchersOptions['authorize'];
  private readonly now: () => number;
  private readonly ringConcurrency: number;

  constructor(options: WatchersOptions) {
    this.store = options.store;
    this.topicIds = options.topicIds;
    this.authorize = options.authorize;
    this.now = options.now ?? Date.now;
    this.ringConcurrency = options.ringConcurrency ?? 32;
  }

  /** `$connect`: remembers who connected (the authorizer named them then, and only then). */
  async connect(connectionId: string, caller: Caller): Promise<void> {
    await this.store.openConnection({
      connectionId,
      principals: caller.principals,
      topics: new Map(),
      expiresAt: this.now() + CONNECTION_LIFETIME_MS,
    });
  }

  /**
   * Watches topics: each must exist and the connection's caller must be allowed to `describe` it
   * (which `read` implies). Watching again is harmless (clients do it to keep the connection alive).
   * Checks everything before writing anything.
   */
  async watch(connectionId: string, topics: unknown): Promise<{ topics: string[] }> {
    const names = topicList(topics);
    const connection = await this.store.getConnection(connectionId, this.now());
    if (connection === undefined) throw new UnknownConnection(connectionId);
    await this.authorize(
      { principals: connection.principals },
      names.map((name) => ({ operation: 'describe', resourceType: 'topic', resourceName: name })),
    );
    const ids = await this.topicIds(names);
    const missing = names.find((name) => !ids.has(name));
    if (missing !== undefined) throw new TopicNotFound(missing);
    // Only new watches are written: a repeated watch (the client's keep-alive) costs one read.
    const adding = new Map(
      names.map((name) => [ids.get(name)!, name] as const).filter(([id]) => !connection.topics.has(id)),
    );
    if (connection.topics.size + adding.size > MAX_WATCHED_TOPICS)
      throw new InvalidArgument('topics', `A connection watches at most ${MAX_WATCHED_TOPICS} topics; open another`);
    if (adding.size > 0) await this.store.watch(connectionId, adding, connection.expiresAt);
    return { topics: names };
  }

  /** Stops watching topics (names the connection does not watch are ignored). */
  async unwatch(connectionId: string, topics: unknown): Promise<{ topics: string[] }> {
    const names = topicList(topics);
    const connection = await this.store.getConnection(connectionId, this.now());
    if (connection === undefined) throw new UnknownConnection(connectionId);
    const ids = [...connection.topics].filter(([, name]) => names.includes(name)).map(([id]) => id);
    await this.store.unwatch(connectionId, ids);
    return { topics: names };
  }

  /** `$disconnect`. */
  async disconnect(connectionId: string): Promise<void> {
    await this.store.closeConnection(connectionId);
  }

  /**
   * Rings every watcher of the touched topics once per topic, naming the touched partitions; a
   * connection API Gateway says is gone is removed with all its watches. One query per topic.
   */
  async notify(touched: readonly TouchedPartition[], doorbell: Doorbell): Promise<NotifyReport> {
    const byTopic = new Map<string, Set<number>>();
    for (const t of touched) {
      const partitions = byTopic.get(t.topicId) ?? new Set<number>();
      partitions.add(t.partition);
      byTopic.set(t.topicId, partitions);
    }
    const now = this.now();
    const rings: { connectionId: string; frame: RecordsFrame }[] = [];
    for (const [topicId, partitions] of byTopic) {
      const sorted = [...partitions].sort((a, b) => a - b);
      for (const w of await this.store.watchers(topicId, now))
        rings.push({ connectionId: w.connectionId, frame: { type: 'records', topic: w.topic, partitions: sorted } });
    }
    const gone = new Set<string>();
    let rung = 0;
    await mapWithLimit(rings, this.ringConcurrency, async ({ connectionId, frame }) => {
      if (gone.has(connectionId)) return;
      if ((await doorbell.ring(connectionId, frame)) === 'gone') gone.add(connectionId);
      else rung++;
    });
    await mapWithLimit([...gone], this.ringConcurrency, (id) => this.store.closeConnection(id));
    return { rung, removed: gone.size };
  }
}

function topicList(topics: unknown): string[] {
  if (!Array.isArray(topics) || topics.length === 0 || topics.length > MAX_WATCHED_TOPICS)
    throw new InvalidArgument('topics', `topics must be an array of 1 to ${MAX_WATCHED_TOPICS} topic names`);
  for (const t of topics) validateTopicName(t);
  return [...new Set(topics as string[])];
}
