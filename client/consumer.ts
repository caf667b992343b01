import { Admin } from './admin.ts';
import { Connection, isSluiceApiError, type ConnectionOptions } from './http.ts';
import { fromWire, type ReceivedRecord, type WireOut } from './records.ts';
import { DoorbellPoller, Watcher, watchUrlOf, type WatchOption } from './watch.ts';

/** Where a consumer keeps its committed offsets. */
export interface OffsetStore {
  load(topic: string, partition: number): Promise<number | undefined>;
  save(topic: string, partition: number, offset: number): Promise<void>;
}

/** Offsets kept in memory: lost on restart. */
export class MemoryOffsetStore implements OffsetStore {
  private readonly offsets = new Map<string, number>();
  async load(topic: string, partition: number): Promise<number | undefined> {
    return this.offsets.get(`${topic}/${partition}`);
  }
  async save(topic: string, partition: number, offset: number): Promise<void> {
    this.offsets.set(`${topic}/${partition}`, offset);
  }
}

export interface ConsumerConfig extends ConnectionOptions {
  readonly topic: string;
  readonly partition: number;
  /** Where to start when the store has no committed offset. @default 'earliest' */
  readonly autoOffsetReset?: 'earliest' | 'latest' | 'error';
  /** Start here instead of the committed offset. */
  readonly fromOffset?: number;
  /** @default a MemoryOffsetStore */
  readonly offsetStore?: OffsetStore;
  /** Most records per poll. @default 500 */
  readonly maxRecords?: number;
  /** Long-poll wait per poll, in ms. @default 1000 */
  readonly waitMs?: number;
  /**
   * Wait for WebSocket doorbells instead of long-polling (see watch.ts `WatchOption`): `'auto'`
   * where the server offers them, a `wss://` URL (the stack's `WatchUrl`), or `false`. @default 'auto'
   */
  readonly watch?: WatchOption;
  /** While watching, poll anyway after this long without a doorbell (a missed doorbell is not lost records). @default 300000 */
  readonly safetyPollMs?: number;
  /**
   * Kafka's isolation.level: `read_committed` returns a transaction's records only once it
   * committed, never an aborted one's, and stops at the last stable offset. @default 'read_uncommitted'
   */
  readonly isolation?: 'read_committed' | 'read_uncommitted';
}

/**
 * Reads one partition in order. `poll` advances the position; `commit` stores it (manual commit,
 * at-least-once: commit after processing). Consumer groups, which share partitions among members
 * and commit on the server, are a separate API.
 *
 * @example
 * const consumer = new PartitionConsumer({ url, topic: 'orders', partition: 0, autoOffsetReset: 'earliest' });
 * for (;;) {
 *   for (const record of await consumer.poll()) await process(record);
 *   await consumer.commit();
 * }
 */
export class PartitionConsumer {
  private readonly http: Connection;
  private readonly admin: Admin;
  private readonly config: ConsumerConfig;
  private readonly store: OffsetStore;
  private position: number | undefined;
  /** The WebSocket doorbell client, when watching. */
  readonly watcher: Watcher | undefined;
  /** How this consumer waits; its `fetches` count immediate fetches and long polls. */
  readonly waiting: DoorbellPoller;

  constructor(config: ConsumerConfig) {
    this.http = new Connection(config);
    this.watcher = watcherFor(config);
    this.waiting = new DoorbellPoller(this.watcher, config.safetyPollMs);
    this.admin = new Admin(this.http);
    this.config = config;
    this.store = config.offsetStore ?? new MemoryOffsetStore();
    this.position = config.fromOffset;
  }

  /** The offset the next poll reads from. */
  async currentPosition(): Promise<number> {
    if (this.position === undefined) {
      const committed = await this.store.load(this.config.topic, this.config.partition);
      this.position = committed ?? (await this.reset());
    }
    return this.position;
  }

  seek(offset: number): void {
    this.position = offset;
  }

  /**
   * Fetches the next records, waiting up to `waitMs` for some to arrive: for a doorbell when
   * watching (then fetching without waiting), else in a long poll.
   */
  async poll(options: { waitMs?: number; maxRecords?: number } = {}): Promise<ReceivedRecord[]> {
    const { topic, partition } = this.config;
    return this.waiting.poll(
      [{ topic, partitions: [partition] }],
      options.waitMs ?? this.config.waitMs ?? 1000,
      (waitMs) => this.fetch(waitMs, options.maxRecords),
    );
  }

  /** Closes the WebSocket, if any (it also closes by itself a second after the last wait). */
  close(): void {
    this.watcher?.close();
  }

  private async fetch(waitMs: number, maxRecords: number | undefined): Promise<ReceivedRecord[]> {
    const offset = await this.currentPosition();
    let page: { records: WireOut[]; nextOffset: number };
    try {
      page = await this.http.request(
        'GET',
        `v1/topics/${encodeURIComponent(this.config.topic)}/partitions/${this.config.partition}/records`,
        {
          query: {
            offset,
            maxRecords: maxRecords ?? this.config.maxRecords ?? 500,
            waitMs,
            ...(this.config.isolation === undefined ? {} : { isolation: this.config.isolation }),
          },
        },
      );
    } catch (e) {
      if (isSluiceApiError(e, 'OffsetOutOfRange') && this.config.autoOffsetReset !== 'error') {
        this.position = await this.reset();
        return [];
      }
      throw e;
    }
    this.position = page.nextOffset;
    return page.records.map((r) => fromWire(this.config.topic, this.config.partition, r));
  }

  /** Commits the current position (or an explicit offset: the next one to read). */
  async commit(offset?: number): Promise<void> {
    await this.store.save(this.config.topic, this.config.partition, offset ?? (await this.currentPosition()));
  }

  private async reset(): Promise<number> {
    const how = this.config.autoOffsetReset ?? 'earliest';
    if (how === 'error')
      throw new Error(
        `No committed offset for ${this.config.topic}[${this.config.partition}] and autoOffsetReset is 'error'`,
      );
    return this.admin.offset(this.config.topic, this.config.partition, how);
  }
}

/** The consumer's watcher, when its `watch` option and URL give a WebSocket URL. */
export function watcherFor(config: ConnectionOptions & { readonly watch?: WatchOption }): Watcher | undefined {
  const url = watchUrlOf(config.watch, config.url);
  if (url === undefined) return undefined;
  return new Watcher({
    url,
    ...(config.auth === undefined ? {} : { auth: config.auth }),
    ...(config.region === undefined ? {} : { region: config.region }),
    ...(config.credentials === undefined ? {} : { credentials: config.credentials }),
  });
}
