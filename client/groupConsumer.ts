import { Connection, isSluiceApiError, type ConnectionOptions } from './http.ts';
import { watcherFor } from './consumer.ts';
import { fromWire, type ReceivedRecord, type WireOut } from './records.ts';
import { DoorbellPoller, type WatchOption, type Watcher } from './watch.ts';

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** How many times `connect` joins when the join finds its own new member expired. */
const JOIN_ATTEMPTS = 3;

export interface GroupConsumerConfig extends ConnectionOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Static membership: a restart within the session keeps the partitions, with no rebalance. */
  readonly instanceId?: string;
  /** @default 30000 */
  readonly sessionTimeoutMs?: number;
  /** How often the background heartbeat runs. @default a third of the session timeout */
  readonly heartbeatIntervalMs?: number;
  /** How long this member may take to hand back a revoked partition. @default the session timeout */
  readonly rebalanceTimeoutMs?: number;
  /** @default 'cooperative-sticky' */
  readonly assignor?: 'cooperative-sticky' | 'range' | 'roundrobin';
  /** @default 'latest' (Kafka's default) */
  readonly autoOffsetReset?: 'earliest' | 'latest' | 'error';
  /** Commit consumed offsets every `autoCommitIntervalMs`, before a partition is handed back, and on close. @default true */
  readonly autoCommit?: boolean;
  /** @default 5000 */
  readonly autoCommitIntervalMs?: number;
  /** Most records per poll (Kafka's max.poll.records). @default 500 */
  readonly maxRecords?: number;
  /** How long a poll waits for records. @default 1000 */
  readonly waitMs?: number;
  /** Wait for WebSocket doorbells instead of long-polling (see `ConsumerConfig.watch`). @default 'auto' */
  readonly watch?: WatchOption;
  /** While watching, poll anyway after this long without a doorbell (a missed doorbell is not lost records). @default 300000 */
  readonly safetyPollMs?: number;
  /**
   * Kafka's isolation.level: `read_committed` returns a transaction's records only once it
   * committed, never an aborted one's, and stops each partition at its last stable offset.
   * @default 'read_uncommitted'
   */
  readonly isolation?: 'read_committed' | 'read_uncommitted';
  /** Partitions newly assigned to this member, before their records are fetched. */
  readonly onAssigned?: (partitions: TopicPartition[]) => unknown;
  /** Partitions about to move away, after their consumed offsets are committed (with autoCommit) and before they are released. */
  readonly onRevoked?: (partitions: TopicPartition[]) => unknown;
}

export interface EachBatchPayload {
  readonly records: ReceivedRecord[];
  /** Marks a record processed, so the next commit covers it. */
  readonly resolveOffset: (record: ReceivedRecord) => void;
  readonly commit: () => Promise<void>;
  readonly heartbeat: () => Promise<void>;
  readonly isRunning: () => boolean;
}

export interface RunOptions {
  /** Called per record; the record is marked processed when it returns. */
  readonly eachMessage?: (record: ReceivedRecord) => Promise<void> | void;
  /** Called per poll; every record is marked processed when it returns (unless resolveOffset was used). */
  readonly eachBatch?: (payload: EachBatchPayload) => Promise<void> | void;
}

interface Membership {
  memberId: string;
  generation: number;
  assignments: TopicPartition[];
  revoking: TopicPartition[];
}

const key = (p: TopicPartition): string => `${p.topic}/${p.partition}`;
const parse = (k: string): TopicPartition => ({
  topic: k.slice(0, k.lastIndexOf('/')),
  partition: Number(k.slice(k.lastIndexOf('/') + 1)),
});

/**
 * A consumer-group member over the HTTP API, with Kafka's shapes: `poll` and `commit` (the
 * Java and Python consumers), `run({ eachMessage | eachBatch })` (KafkaJS, sarama's handler),
 * background heartbeats, auto or manual commit, pause/resume/seek, and rebalance callbacks that
 * run before a partition moves to another member.
 *
 * @example
 * const consumer = new GroupConsumer({ url, groupId: 'billing', topics: ['orders'], autoCommit: false, maxRecords: 100 });
 * for (;;) {
 *   for (const record of await consumer.poll()) process(record);
 *   await consumer.commit();
 * }
 */
export class GroupConsumer {
  private readonly http: Connection;
  private readonly config: GroupConsumerConfig;
  private membership: Membership | undefined;
  private readonly assigned = new Set<string>();
  /** Next offset to commit per partition: what was consumed (poll) or processed (run). */
  private readonly consumed = new Map<string, number>();
  private readonly committed = new Map<string, number>();
  private readonly paused = new Set<string>();
  private seeks: (TopicPartition & { offset: number })[] = [];
  private release: TopicPartition[] = [];
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private rejoin = false;
  private running = false;
  private lastCommit = Date.now();
  private readonly group: string;
  private readonly watcher: Watcher | undefined;
  /** How this consumer waits; its `fetches` count immediate fetches and long polls. */
  readonly waiting: DoorbellPoller;

  constructor(config: GroupConsumerConfig) {
    if (!Array.isArray(config.topics) || config.topics.length === 0)
      throw new Error('topics must name at least one topic');
    this.http = new Connection(config);
    this.watcher = watcherFor(config);
    this.waiting = new DoorbellPoller(this.watcher, config.safetyPollMs);
    this.config = config;
    this.group = `v1/groups/${encodeURIComponent(config.groupId)}`;
  }

  /** Joins the group (called by the first poll or run if you do not). */
  async connect(): Promise<void> {
    const sessionTimeoutMs = this.config.sessionTimeoutMs ?? 30_000;
    const join = () =>
      this.http.request<Membership>('POST', `${this.group}/members`, {
        body: {
          topics: this.config.topics,
          sessionTimeoutMs,
          ...(this.config.instanceId === undefined ? {} : { instanceId: this.config.instanceId }),
          ...(this.config.rebalanceTimeoutMs === undefined
            ? {}
            : { rebalanceTimeoutMs: this.config.rebalanceTimeoutMs }),
          ...(this.config.assignor === undefined ? {} : { assignor: this.config.assignor }),
          autoOffsetReset: this.config.autoOffsetReset ?? 'latest',
        },
      });
    // A join slower than the session (a loaded service) may find its new member already expired:
    // join again, as Kafka's clients do on UNKNOWN_MEMBER_ID.
    let joined: Membership | undefined;
    for (let attempt = 1; joined === undefined; attempt++) {
      joined = await join().catch((e: unknown) => {
        if (attempt < JOIN_ATTEMPTS && isSluiceApiError(e, 'UnknownMember')) return undefined;
        throw e;
      });
    }
    this.membership = joined;
    this.rejoin = false;
    this.consumed.clear();
    this.committed.clear();
    await this.applyMembership(joined);
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(
      () => void this.heartbeat().catch(() => undefined),
      this.config.heartbeatIntervalMs ?? Math.floor(sessionTimeoutMs / 3),
    );
    this.heartbeatTimer.unref();
  }

  /** The partitions this member owns now. */
  assignment(): TopicPartition[] {
    return [...this.assigned].sort().map(parse);
  }

  get memberId(): string | undefined {
    return this.membership?.memberId;
  }

  get generation(): number | undefined {
    return this.membership?.generation;
  }

  pause(partitions: readonly TopicPartition[]): void {
    for (const p of partitions) this.paused.add(key(p));
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const p of partitions) this.paused.delete(key(p));
  }

  /** Reads the partition from `offset` on the next poll. */
  seek(target: TopicPartition & { offset: number }): void {
    this.seeks = [...this.seeks.filter((s) => key(s) !== key(target)), target];
    this.delivered = this.delivered.filter((r) => key(r) !== key(target)); // read again, not consumed
    this.consumed.set(key(target), target.offset);
    this.waiting.poke();
  }

  /**
   * Fetches the next records from this member's partitions (Kafka's poll). The records the
   * previous poll returned count as consumed now, when the application asks for more: auto-commit
   * (and the commit before a partition is handed back) happens here, before fetching, and covers
   * only those. A crash between two polls therefore redelivers the records being processed, never
   * loses them (at-least-once). `commit()` covers the last poll's records too (Kafka's
   * commitSync). With `markConsumed: false`, only records passed to `markMessage` count.
   */
  async poll(options: { waitMs?: number; markConsumed?: boolean } = {}): Promise<ReceivedRecord[]> {
    this.markDelivered();
    await this.afterBatch();
    const records = await this.fetch(options.waitMs);
    this.delivered = options.markConsumed === false ? [] : records;
    return records;
  }

  /** The last poll's records: consumed once the application polls again or commits. */
  private delivered: ReceivedRecord[] = [];

  private markDelivered(): void {
    for (const r of this.delivered) if (this.assigned.has(key(r))) this.markMessage(r);
    this.delivered = [];
  }

  /** Marks one record processed (sarama's MarkMessage). */
  markMessage(record: ReceivedRecord): void {
    const k = key(record);
    if ((this.consumed.get(k) ?? -1) < record.offset + 1) this.consumed.set(k, record.offset + 1);
  }

  /**
   * Commits consumed offsets (or the given ones) for partitions this member owns; without
   * arguments, past the records the last poll returned as well.
   */
  async commit(offsets?: readonly (TopicPartition & { offset: number; metadata?: string })[]): Promise<void> {
    if (offsets === undefined) this.markDelivered();
    const entries =
      offsets ??
      [...this.consumed]
        .filter(([k, offset]) => this.assigned.has(k) && this.committed.get(k) !== offset)
        .map(([k, offset]) => ({ ...parse(k), offset }));
    if (entries.length === 0 || this.membership === undefined) return;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        for (let i = 0; i < entries.length; i += 98) {
          await this.http.request('POST', `${this.group}/offsets`, {
            body: {
              memberId: this.membership.memberId,
              generation: this.membership.generation,
              offsets: entries.slice(i, i + 98),
            },
          });
        }
        for (const e of entries) this.committed.set(key(e), e.offset);
        this.lastCommit = Date.now();
        return;
      } catch (e) {
        // A rebalance elsewhere moved the generation on: learn it and try once more.
        if (attempt === 0 && isSluiceApiError(e, 'FencedMember')) {
          await this.heartbeat();
          continue;
        }
        if (isSluiceApiError(e, 'NotAssigned')) return; // the partition moved; its records will be redelivered
        throw e;
      }
    }
  }

  /** Runs until `stop()`: polls, hands records to the callback, commits per the config. */
  async run(options: RunOptions): Promise<void> {
    if ((options.eachMessage === undefined) === (options.eachBatch === undefined))
      throw new Error('give exactly one of eachMessage or eachBatch');
    this.running = true;
    while (this.running) {
      const records = await this.fetch();
      if (options.eachBatch !== undefined) {
        let resolvedAny = false;
        await options.eachBatch({
          records,
          resolveOffset: (r) => {
            resolvedAny = true;
            this.markMessage(r);
          },
          commit: () => this.commit(),
          heartbeat: () => this.heartbeat().then(() => undefined),
          isRunning: () => this.running,
        });
        if (!resolvedAny) records.forEach((r) => this.markMessage(r));
      } else {
        for (const r of records) {
          if (!this.running || !this.assigned.has(key(r))) break;
          try {
            await options.eachMessage!(r);
          } catch (e) {
            this.seek({ topic: r.topic, partition: r.partition, offset: r.offset }); // delivered again
            throw e;
          }
          this.markMessage(r);
        }
      }
      await this.afterBatch();
    }
  }

  /** Stops `run`, commits (with autoCommit) and leaves the group; its partitions move at once. */
  async close(): Promise<void> {
    this.running = false;
    clearInterval(this.heartbeatTimer);
    this.watcher?.close();
    if (this.membership === undefined) return;
    if (this.config.autoCommit !== false) await this.commit().catch(() => undefined);
    const revoked = this.assignment();
    if (revoked.length > 0) await this.config.onRevoked?.(revoked);
    await this.http
      .request('DELETE', `${this.group}/members/${encodeURIComponent(this.membership.memberId)}`)
      .catch(() => undefined);
    this.membership = undefined;
    this.assigned.clear();
  }

  /** Stops `run` after the current batch, without leaving. */
  stop(): void {
    this.running = false;
  }

  async heartbeat(): Promise<Membership | undefined> {
    if (this.membership === undefined || this.rejoin) return undefined;
    try {
      const m = await this.http.request<Membership>(
        'POST',
        `${this.group}/members/${encodeURIComponent(this.membership.memberId)}/heartbeat`,
        { body: {} },
      );
      if (m.generation !== this.membership.generation) this.waiting.poke(); // a rebalance: poll to learn it
      this.membership = { ...this.membership, generation: m.generation };
      return m;
    } catch (e) {
      if (isSluiceApiError(e, 'UnknownMember')) {
        this.rejoin = true;
        this.waiting.poke();
      }
      throw e;
    }
  }

  /** Polls the group: waiting for a doorbell on the owned partitions when watching, else long-polling. */
  private async fetch(waitMs?: number): Promise<ReceivedRecord[]> {
    if (this.membership === undefined || this.rejoin || this.seeks.length > 0 || this.release.length > 0)
      this.waiting.poke();
    const owned = new Map<string, number[]>();
    for (const p of this.assignment()) owned.set(p.topic, [...(owned.get(p.topic) ?? []), p.partition]);
    const targets =
      owned.size > 0
        ? [...owned].map(([topic, partitions]) => ({ topic, partitions }))
        : this.config.topics.map((topic) => ({ topic, partitions: 'any' as const }));
    return this.waiting.poll(targets, waitMs ?? this.config.waitMs ?? 1000, (w) => this.pollOnce(w));
  }

  private async pollOnce(waitMs: number): Promise<ReceivedRecord[]> {
    if (this.membership === undefined || this.rejoin) {
      if (this.rejoin && this.assigned.size > 0) {
        const lost = this.assignment();
        this.assigned.clear();
        await this.config.onRevoked?.(lost); // the session ended: these are already gone
      }
      await this.connect();
    }
    const m = this.membership!;
    let res: Membership & { records: (WireOut & TopicPartition)[] };
    try {
      res = await this.http.request('POST', `${this.group}/members/${encodeURIComponent(m.memberId)}/poll`, {
        body: {
          maxRecords: this.config.maxRecords ?? 500,
          waitMs,
          ...(this.config.isolation === undefined ? {} : { isolation: this.config.isolation }),
          ...(this.paused.size > 0 ? { paused: [...this.paused].map(parse) } : {}),
          ...(this.seeks.length > 0 ? { seek: this.seeks.filter((s) => this.assigned.has(key(s))) } : {}),
          ...(this.release.length > 0 ? { release: this.release } : {}),
        },
      });
    } catch (e) {
      if (isSluiceApiError(e, 'UnknownMember')) {
        this.rejoin = true;
        return [];
      }
      throw e;
    }
    this.seeks = [];
    this.release = [];
    this.membership = { ...m, generation: res.generation };
    await this.applyMembership(res);
    return res.records.map((r) => fromWire(r.topic, r.partition, r));
  }

  private async applyMembership(m: Membership): Promise<void> {
    const now = new Set([...m.assignments, ...m.revoking].map(key));
    const added = [...now].filter((k) => !this.assigned.has(k));
    const lost = [...this.assigned].filter((k) => !now.has(k));
    for (const k of lost) {
      this.assigned.delete(k);
      this.consumed.delete(k);
    }
    if (lost.length > 0) await this.config.onRevoked?.(lost.map(parse));
    for (const k of added) this.assigned.add(k);
    if (added.length > 0) await this.config.onAssigned?.(added.map(parse));
    this.pendingRevocation = m.revoking;
  }

  private pendingRevocation: TopicPartition[] = [];

  /** After a batch: hand back revoked partitions (commit first), and auto-commit on schedule. */
  private async afterBatch(): Promise<void> {
    const revoking = this.pendingRevocation.filter((p) => this.assigned.has(key(p)));
    this.pendingRevocation = [];
    if (revoking.length > 0) {
      if (this.config.autoCommit !== false) await this.commit();
      await this.config.onRevoked?.(revoking);
      for (const p of revoking) {
        this.assigned.delete(key(p));
        this.consumed.delete(key(p));
      }
      this.release = revoking;
    }
    if (this.config.autoCommit !== false && Date.now() - this.lastCommit >= (this.config.autoCommitIntervalMs ?? 5000))
      await this.commit();
  }
}
