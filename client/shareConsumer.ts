import { Connection, isSluiceApiError, type ConnectionOptions } from './http.ts';
import { watcherFor } from './consumer.ts';
import { fromWire, type ReceivedRecord, type WireOut } from './records.ts';
import { DoorbellPoller, type WatchOption, type Watcher } from './watch.ts';

export interface ShareConsumerConfig extends ConnectionOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Settings of a new group (a group that exists keeps its own; a different one is refused). */
  readonly start?: 'earliest' | 'latest';
  /** How long a delivered record is locked to this member. @default 30000 */
  readonly lockMs?: number;
  /** Deliveries before a record is archived (dead-lettered). @default 5 */
  readonly deliveryLimit?: number;
  readonly maxInFlight?: number;
  /** Where archived records go, with their failure headers. */
  readonly deadLetterTopic?: string;
  /** Or an exchange archived records are published to, with RabbitMQ's `x-death` headers (not with `deadLetterTopic`). */
  readonly deadLetterExchange?: string;
  /** The routing key dead letters are published with. @default the record's own routing key, else its topic */
  readonly deadLetterRoutingKey?: string;
  /** A record this long past its timestamp is dead-lettered (`expired`) instead of delivered. */
  readonly messageTtlMs?: number;
  /** Kafka's share.isolation.level, a group setting fixed when the group is created. @default 'read_uncommitted' */
  readonly isolation?: 'read_committed' | 'read_uncommitted';
  /** @default 45000 */
  readonly sessionTimeoutMs?: number;
  /** Records per poll. @default 100 */
  readonly maxRecords?: number;
  /** Long-poll time. @default 1000 */
  readonly waitMs?: number;
  /**
   * Wait for WebSocket doorbells instead of long-polling (see `ConsumerConfig.watch`). A doorbell
   * rings for appends only: records other members release or whose locks end are seen at the next
   * safety poll (this member's own releases are polled for when their delay ends). @default 'auto'
   */
  readonly watch?: WatchOption;
  /** While watching, poll anyway after this long without a doorbell (a missed doorbell is not lost records). @default 300000 */
  readonly safetyPollMs?: number;
  /** `run`: a record whose handler throws is released with this backoff, doubled per delivery. @default 1000 */
  readonly retryBackoffMs?: number;
  /** @default 60000 */
  readonly maxRetryBackoffMs?: number;
}

export interface ShareReceivedRecord extends ReceivedRecord {
  /** How many times the record has been delivered, this time included. */
  readonly deliveryCount: number;
  /** Acknowledge (or renew) before this epoch-ms time, or the record may go to another member. */
  readonly lockedUntil: number;
}

export type AckType = 'accept' | 'release' | 'reject' | 'renew';

export interface AckOutcome {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly type: AckType;
  readonly ok: boolean;
  readonly error?: { code: string; message: string };
}

/** Thrown by an `eachMessage` handler: the record is rejected (dead-lettered), never retried. */
export class PermanentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentError';
  }
}

interface PendingAck {
  topic: string;
  partition: number;
  offset: number;
  type: AckType;
  delayMs?: number;
  errorMessage?: string;
}

/**
 * A share-group member (Kafka 4's KafkaShareConsumer, or a RabbitMQ/SQS queue consumer): any
 * number of members share the topics' partitions record by record. Acknowledgements are batched
 * and sent with the next poll, on `commit()`, or on `close()`.
 *
 * ```ts
 * const worker = new ShareConsumer({ url, groupId: 'emails', topics: ['email-jobs'], deadLetterTopic: 'email-jobs.dlq' });
 * await worker.run({ eachMessage: async (job) => send(job.value) }); // accept; a throw releases with backoff
 * ```
 */
export class ShareConsumer {
  private readonly http: Connection;
  private readonly config: ShareConsumerConfig;
  private memberId: string | undefined;
  private pending: PendingAck[] = [];
  private running = false;
  private readonly group: string;
  private readonly watcher: Watcher | undefined;
  /** How this consumer waits; its `fetches` count immediate fetches and long polls. */
  readonly waiting: DoorbellPoller;

  constructor(config: ShareConsumerConfig) {
    this.config = config;
    this.http = new Connection(config);
    this.watcher = watcherFor(config);
    this.waiting = new DoorbellPoller(this.watcher, config.safetyPollMs);
    this.group = `v1/share-groups/${encodeURIComponent(config.groupId)}`;
  }

  async connect(): Promise<void> {
    if (this.memberId !== undefined) return;
    const c = this.config;
    const joined = await this.http.request<{ memberId: string }>('POST', `${this.group}/members`, {
      body: {
        topics: c.topics,
        ...(c.start === undefined ? {} : { start: c.start }),
        ...(c.lockMs === undefined ? {} : { lockMs: c.lockMs }),
        ...(c.deliveryLimit === undefined ? {} : { deliveryLimit: c.deliveryLimit }),
        ...(c.maxInFlight === undefined ? {} : { maxInFlight: c.maxInFlight }),
        ...(c.deadLetterTopic === undefined ? {} : { deadLetterTopic: c.deadLetterTopic }),
        ...(c.deadLetterExchange === undefined ? {} : { deadLetterExchange: c.deadLetterExchange }),
        ...(c.deadLetterRoutingKey === undefined ? {} : { deadLetterRoutingKey: c.deadLetterRoutingKey }),
        ...(c.messageTtlMs === undefined ? {} : { messageTtlMs: c.messageTtlMs }),
        ...(c.isolation === undefined ? {} : { isolation: c.isolation }),
        ...(c.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: c.sessionTimeoutMs }),
      },
    });
    this.memberId = joined.memberId;
  }

  /** Sends queued acknowledgements, then acquires records (joining first, and again after a session ended). */
  async poll(options: { maxRecords?: number; waitMs?: number } = {}): Promise<ShareReceivedRecord[]> {
    await this.connect();
    await this.commit();
    const targets = this.config.topics.map((topic) => ({ topic, partitions: 'any' as const }));
    return this.waiting.poll(targets, options.waitMs ?? this.config.waitMs ?? 1000, (waitMs) =>
      this.acquire(options.maxRecords, waitMs),
    );
  }

  private async acquire(maxRecords: number | undefined, waitMs: number): Promise<ShareReceivedRecord[]> {
    await this.connect();
    try {
      const res = await this.http.request<{
        records: (WireOut & { topic: string; partition: number; deliveryCount: number; lockedUntil: number })[];
      }>('POST', `${this.group}/members/${this.memberId!}/poll`, {
        body: {
          maxRecords: maxRecords ?? this.config.maxRecords ?? 100,
          waitMs,
        },
      });
      return res.records.map((r) => ({
        ...fromWire(r.topic, r.partition, r),
        deliveryCount: r.deliveryCount,
        lockedUntil: r.lockedUntil,
      }));
    } catch (e) {
      if (isSluiceApiError(e, 'UnknownShareMember')) {
        this.memberId = undefined; // its session ended: join again on the next poll
        this.waiting.poke();
        return [];
      }
      throw e;
    }
  }

  /** Queues an acknowledgement, sent with the next poll or `commit()`. */
  acknowledge(
    record: ReceivedRecord,
    type: AckType = 'accept',
    options: { delayMs?: number; errorMessage?: string } = {},
  ): void {
    if (type === 'release') {
      // No doorbell rings when a released record becomes available again: poll for it then.
      const timer = setTimeout(() => this.waiting.poke(), options.delayMs ?? 0);
      timer.unref?.();
    }
    this.pending.push({
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      type,
      ...(options.delayMs === undefined ? {} : { delayMs: options.delayMs }),
      ...(options.errorMessage === undefined ? {} : { errorMessage: options.errorMessage.slice(0, 1000) }),
    });
  }

  /** Sends queued acknowledgements; each comes back ok or with why not (e.g. its lock had ended). */
  async commit(): Promise<AckOutcome[]> {
    if (this.pending.length === 0 || this.memberId === undefined) return [];
    const acks = this.pending;
    this.pending = [];
    const { results } = await this.http.request<{ results: AckOutcome[] }>('POST', `${this.group}/acks`, {
      body: { memberId: this.memberId, acks },
    });
    return results;
  }

  /**
   * Polls until `stop()`, calling `eachMessage` for each record: resolved → accept; a
   * `PermanentError` → reject (dead-lettered); another error → release, delivered again after a
   * backoff that doubles with each delivery (until the group's delivery limit archives it).
   */
  async run(options: { eachMessage: (record: ShareReceivedRecord) => Promise<unknown> }): Promise<void> {
    this.running = true;
    const base = this.config.retryBackoffMs ?? 1000;
    const max = this.config.maxRetryBackoffMs ?? 60_000;
    while (this.running) {
      for (const record of await this.poll()) {
        try {
          await options.eachMessage(record);
          this.acknowledge(record, 'accept');
        } catch (e) {
          const errorMessage = e instanceof Error ? e.message : String(e);
          if (e instanceof Error && e.name === 'PermanentError') this.acknowledge(record, 'reject', { errorMessage });
          else
            this.acknowledge(record, 'release', {
              delayMs: Math.min(max, base * 2 ** (record.deliveryCount - 1)),
              errorMessage,
            });
        }
      }
      await this.commit();
    }
  }

  stop(): void {
    this.running = false;
  }

  /** Sends what is queued and leaves: records still held become available to others at once. */
  async close(): Promise<void> {
    this.running = false;
    this.watcher?.close();
    if (this.memberId === undefined) return;
    await this.commit().catch(() => undefined);
    await this.http.request('DELETE', `${this.group}/members/${this.memberId}`).catch(() => undefined);
    this.memberId = undefined;
  }
}
