/**
 * Where WebSocket watchers live: per topic incarnation (topic id) the connections that watch it,
 * and per connection who opened it and what it watches. Every item expires with its connection:
 * API Gateway closes a WebSocket after 2 hours at most, so nothing outlives that by design.
 */
export interface WatchStore {
  /** Records a new connection and its caller's principals (at `$connect`). */
  openConnection(connection: WatchConnection): Promise<void>;
  /** The connection, unless it is unknown or expired. */
  getConnection(connectionId: string, now: number): Promise<WatchConnection | undefined>;
  /** Adds watches of these topics (id → name) to the connection, and the connection to each topic's watchers. */
  watch(connectionId: string, topics: ReadonlyMap<string, string>, expiresAt: number): Promise<void>;
  /** Removes the connection's watches of these topic ids. */
  unwatch(connectionId: string, topicIds: readonly string[]): Promise<void>;
  /** Removes the connection and every watch it holds (at `$disconnect`, or when API Gateway says it is gone). */
  closeConnection(connectionId: string): Promise<void>;
  /** The live watchers of one topic incarnation: one keyed query, whatever the number of topics. */
  watchers(topicId: string, now: number): Promise<Watcher[]>;
}

export interface WatchConnection {
  readonly connectionId: string;
  /** The caller's principals as the `$connect` authorizer named them (see core/security/acl.ts). */
  readonly principals: readonly string[];
  /** Topic ids → names the connection watches. */
  readonly topics: ReadonlyMap<string, string>;
  /** Epoch ms after which the connection no longer exists (API Gateway's 2-hour limit). */
  readonly expiresAt: number;
}

export interface Watcher {
  readonly connectionId: string;
  /** The topic's name, as the client watched it (the frame it is sent names it). */
  readonly topic: string;
}

/** API Gateway ends every WebSocket connection after 2 hours; its items expire with it. */
export const CONNECTION_LIFETIME_MS = 2 * 60 * 60 * 1000;
/** Most topics one connection watches (a consumer reads a handful; this bounds an item's size). */
export const MAX_WATCHED_TOPICS = 100;

/** The same rules in memory, for unit tests. */
export class MemoryWatchStore implements WatchStore {
  private readonly connections = new Map<string, WatchConnection>();
  /** topic id → connection id → watcher, with its expiry. */
  private readonly byTopic = new Map<string, Map<string, Watcher & { expiresAt: number }>>();
  /** Queries made for watchers (a test counts them). */
  queries = 0;

  async openConnection(connection: WatchConnection): Promise<void> {
    this.connections.set(connection.connectionId, { ...connection, topics: new Map(connection.topics) });
  }

  async getConnection(connectionId: string, now: number): Promise<WatchConnection | undefined> {
    const c = this.connections.get(connectionId);
    return c === undefined || c.expiresAt <= now ? undefined : { ...c, topics: new Map(c.topics) };
  }

  async watch(connectionId: string, topics: ReadonlyMap<string, string>, expiresAt: number): Promise<void> {
    const c = this.connections.get(connectionId);
    if (c !== undefined) this.connections.set(connectionId, { ...c, topics: new Map([...c.topics, ...topics]) });
    for (const [topicId, topic] of topics) {
      const watchers = this.byTopic.get(topicId) ?? new Map();
      watchers.set(connectionId, { connectionId, topic, expiresAt });
      this.byTopic.set(topicId, watchers);
    }
  }

  async unwatch(connectionId: string, topicIds: readonly string[]): Promise<void> {
    const c = this.connections.get(connectionId);
    if (c !== undefined)
      this.connections.set(connectionId, {
        ...c,
        topics: new Map([...c.topics].filter(([id]) => !topicIds.includes(id))),
      });
    for (const id of topicIds) this.byTopic.get(id)?.delete(connectionId);
  }

  async closeConnection(connectionId: string): Promise<void> {
    this.connections.delete(connectionId);
    for (const watchers of this.byTopic.values()) watchers.delete(connectionId);
  }

  async watchers(topicId: string, now: number): Promise<Watcher[]> {
    this.queries++;
    return [...(this.byTopic.get(topicId)?.values() ?? [])]
      .filter((w) => w.expiresAt > now)
      .map(({ connectionId, topic }) => ({ connectionId, topic }));
  }
}
