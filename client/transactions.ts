import { setTimeout as sleep } from 'node:timers/promises';
import { Connection, isSluiceApiError, type ConnectionOptions } from './http.ts';
import { GroupConsumer, type GroupConsumerConfig, type TopicPartition } from './groupConsumer.ts';
import { toWire, type Message, type ReceivedRecord } from './records.ts';

/** A record of a transaction: a message and the topic it goes to. */
export interface TransactionMessage extends Message {
  readonly topic: string;
}

/** Offsets a consumer group commits in the same transaction (consume-transform-produce). */
export interface TransactionOffsets {
  readonly groupId: string;
  readonly memberId: string;
  readonly generation: number;
  readonly offsets: readonly (TopicPartition & { readonly offset: number; readonly metadata?: string })[];
}

/** Where a transaction's records went, batch by batch. */
export interface TransactionBatch extends TopicPartition {
  readonly baseOffset: number;
  readonly recordCount: number;
}

export interface TransactionReport {
  readonly transactionalId: string;
  readonly epoch: number;
  readonly sequence: number;
  /** Per record, in order; absent when the answer is to a retry that had landed (see `batches`). */
  readonly records?: readonly (TopicPartition & { readonly offset: number; readonly timestamp: number })[];
  readonly batches: readonly TransactionBatch[];
  readonly duplicate: boolean;
}

export interface TransactionalProducerConfig extends ConnectionOptions {
  /** Stays the same across restarts of one logical producer (Kafka's transactional.id). */
  readonly transactionalId: string;
  /** Retries of a request whose outcome is unknown (network errors, 5xx, 429). @default 5 */
  readonly retries?: number;
  /** First retry pause; doubles each retry. @default 100 */
  readonly retryBackoffMs?: number;
}

/**
 * Kafka's transactional producer over the HTTP API. `init` starts a new epoch (fencing older
 * instances of the same `transactionalId`, and aborting what they left open). Then either
 * `transact` — records to any topics and partitions, with a consumer group's offsets, in one
 * atomic request (up to 100 batches and 4 MB) — or `begin`, `send`…, `commit`/`abort` for larger
 * transactions, read by `read_committed` consumers only once committed. Retries reuse the
 * transaction's sequence (and the append's number), so a retried request never writes twice.
 *
 * @example
 * const producer = new TransactionalProducer({ url, transactionalId: 'order-enricher-1' });
 * await producer.init();
 * await producer.transact([{ topic: 'enriched', key, value }], { offsets });
 */
export class TransactionalProducer {
  private readonly http: Connection;
  private readonly config: TransactionalProducerConfig;
  private readonly path: string;
  private epoch: number | undefined;
  private sequence = 0;

  constructor(config: TransactionalProducerConfig) {
    this.http = new Connection(config);
    this.config = config;
    this.path = `v1/transactions/${encodeURIComponent(config.transactionalId)}`;
  }

  /** Starts a new epoch (Kafka's initTransactions); call once per instance, before anything else. */
  async init(): Promise<number> {
    const { epoch } = await this.retrying(() => this.http.request<{ epoch: number }>('POST', `${this.path}/init`));
    this.epoch = epoch;
    this.sequence = 0;
    return epoch;
  }

  /** One atomic transaction: the records and (optionally) a group's offsets, all or nothing. */
  async transact(
    messages: readonly TransactionMessage[],
    options: {
      readonly offsets?: TransactionOffsets;
      /**
       * Sends an earlier transaction again, unchanged, under its own sequence (after an unknown
       * outcome): answered with what it wrote if it had landed. Default: the next sequence.
       */
      readonly sequence?: number;
    } = {},
  ): Promise<TransactionReport> {
    const epoch = this.requireEpoch();
    const sequence = options.sequence ?? this.sequence;
    const report = await this.retrying(() =>
      this.http.request<TransactionReport>('POST', 'v1/transactions', {
        body: {
          transactionalId: this.config.transactionalId,
          epoch,
          sequence,
          records: messages.map(wire),
          ...(options.offsets === undefined ? {} : { offsets: options.offsets }),
        },
      }),
    );
    this.sequence = Math.max(this.sequence, sequence + 1);
    return report;
  }

  /** The sequence the next transaction gets. */
  get nextSequence(): number {
    return this.sequence;
  }

  /** Begins a multi-request transaction; see `Transaction`. */
  async begin(options: { readonly timeoutMs?: number } = {}): Promise<Transaction> {
    const epoch = this.requireEpoch();
    let attempts = 0;
    const begun = await this.retrying(() => {
      attempts++;
      return this.http.request<{ sequence: number; deadline: number }>('POST', `${this.path}/begin`, {
        body: { epoch, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) },
      });
    }).catch(async (e: unknown) => {
      // Only a begin that was retried may find its own transaction open (its first attempt landed,
      // the answer was lost): it is ours if nothing was appended to it yet. Otherwise an open
      // transaction is someone's to commit or abort first.
      if (!isSluiceApiError(e, 'InvalidTransactionState') || attempts < 2) throw e;
      const state = await this.describe();
      if (state.open === undefined || state.open.appends !== 0) throw e;
      return { sequence: state.open.sequence, deadline: state.open.deadline };
    });
    this.sequence = begun.sequence + 1;
    return new Transaction(this, epoch, begun.sequence, begun.deadline);
  }

  /** The producer's epoch, its open transaction and its last outcome. */
  describe(): Promise<{
    epoch: number;
    nextSequence: number;
    state: string;
    open?: {
      sequence: number;
      deadline: number;
      appends: number;
      partitions: (TopicPartition & { firstOffset: number })[];
    };
    last?: { sequence: number; outcome: 'committed' | 'aborted' };
  }> {
    return this.http.request('GET', this.path);
  }

  /** @internal A request of an open transaction. */
  call<T>(step: 'records' | 'commit' | 'abort', body: Record<string, unknown>): Promise<T> {
    return this.retrying(() => this.http.request<T>('POST', `${this.path}/${step}`, { body }));
  }

  private requireEpoch(): number {
    if (this.epoch === undefined) throw new Error('call init() first');
    return this.epoch;
  }

  private async retrying<T>(f: () => Promise<T>): Promise<T> {
    const retries = this.config.retries ?? 5;
    for (let attempt = 0; ; attempt++) {
      try {
        return await f();
      } catch (e) {
        const retriable = isSluiceApiError(e) ? e.retriable : e instanceof TypeError || isAbort(e);
        if (!retriable || attempt >= retries) throw e;
        await sleep((this.config.retryBackoffMs ?? 100) * 2 ** attempt);
      }
    }
  }
}

/** A multi-request transaction: `send` appends (numbered, so retries are safe), then `commit` or `abort`. */
export class Transaction {
  private appends = 0;
  private readonly producer: TransactionalProducer;
  readonly epoch: number;
  readonly sequence: number;
  /** When the service aborts it if it is still open (epoch ms). */
  readonly deadline: number;

  constructor(producer: TransactionalProducer, epoch: number, sequence: number, deadline: number) {
    this.producer = producer;
    this.epoch = epoch;
    this.sequence = sequence;
    this.deadline = deadline;
  }

  async send(messages: readonly TransactionMessage[]): Promise<{ batches: TransactionBatch[]; duplicate: boolean }> {
    const append = this.appends;
    const out = await this.producer.call<{ batches: TransactionBatch[]; duplicate: boolean }>('records', {
      epoch: this.epoch,
      sequence: this.sequence,
      append,
      records: messages.map(wire),
    });
    this.appends = append + 1;
    return out;
  }

  /**
   * Commits, with a group's offsets (consume-transform-produce). When the group refuses the
   * offsets (a rebalance fenced the member), nothing is committed and the transaction is aborted
   * at once, so that read_committed readers do not wait for its timeout; the error is rethrown.
   */
  async commit(options: { readonly offsets?: TransactionOffsets } = {}): Promise<{ outcome: 'committed' | 'aborted' }> {
    try {
      return await this.producer.call('commit', {
        epoch: this.epoch,
        sequence: this.sequence,
        ...(options.offsets === undefined ? {} : { offsets: options.offsets }),
      });
    } catch (e) {
      if (['FencedMember', 'NotAssigned', 'OffsetRegression'].some((code) => isSluiceApiError(e, code)))
        await this.abort().catch(() => undefined);
      throw e;
    }
  }

  abort(): Promise<{ outcome: 'committed' | 'aborted' }> {
    return this.producer.call('abort', { epoch: this.epoch, sequence: this.sequence });
  }
}

export interface TransactionalConsumerConfig extends Omit<GroupConsumerConfig, 'autoCommit' | 'isolation'> {
  /** The producer's id: one per consumer instance that survives its restarts (e.g. `<app>-<instance>`). */
  readonly transactionalId: string;
}

/**
 * Exactly-once consume-transform-produce (Kafka Streams' processing.guarantee=exactly_once_v2):
 * a `read_committed` group member whose handler returns the records to produce; those records
 * and the offsets of the input records commit in ONE atomic transaction. A crash anywhere —
 * before, during or after the transaction — leaves each output exactly once: what was not
 * committed is consumed again (from the committed offsets) and produced again, and what was
 * committed is neither. A member fenced by a rebalance writes nothing.
 *
 * @example
 * const enricher = new TransactionalConsumer({ url, groupId: 'enricher', topics: ['orders'], transactionalId: 'enricher-1' });
 * await enricher.run(async (records) => records.map((r) => ({ topic: 'enriched', key: r.key, value: enrich(r.value) })));
 */
export class TransactionalConsumer {
  readonly consumer: GroupConsumer;
  readonly producer: TransactionalProducer;
  private readonly groupId: string;
  private running = false;
  private initialised = false;

  constructor(config: TransactionalConsumerConfig) {
    this.consumer = new GroupConsumer({ ...config, autoCommit: false, isolation: 'read_committed' });
    this.producer = new TransactionalProducer(config);
    this.groupId = config.groupId;
  }

  /**
   * Polls once and processes what came: the handler's outputs and the input offsets in one
   * transaction. Returns how many input records were committed (0 when the poll was empty, or
   * the member lost the partitions meanwhile: they are then another member's to process).
   */
  async processOnce(
    handler: (records: ReceivedRecord[]) => Promise<readonly TransactionMessage[]> | readonly TransactionMessage[],
  ): Promise<number> {
    if (!this.initialised) {
      await this.producer.init();
      this.initialised = true;
    }
    // A transaction whose outcome stayed unknown is sent again unchanged (same sequence, outputs
    // and offsets) before anything new: had it landed, the answer is a duplicate, and either way
    // its records count once. Sending something else under its sequence would be taken for it.
    if (this.pending !== undefined) return this.commit(this.pending);
    const records = await this.consumer.poll({ markConsumed: false });
    if (records.length === 0) return 0;
    let outputs: readonly TransactionMessage[];
    try {
      outputs = await handler(records);
    } catch (e) {
      this.rewind(records); // the server's positions moved at the poll: read them again next time
      throw e;
    }
    const next = new Map<string, TopicPartition & { offset: number }>();
    for (const r of records) {
      const k = `${r.topic}/${r.partition}`;
      if ((next.get(k)?.offset ?? -1) < r.offset + 1)
        next.set(k, { topic: r.topic, partition: r.partition, offset: r.offset + 1 });
    }
    return this.commit({
      records,
      outputs,
      offsets: {
        groupId: this.groupId,
        memberId: this.consumer.memberId!,
        generation: this.consumer.generation!,
        offsets: [...next.values()],
      },
    });
  }

  /** A transaction not known to have landed: sent again unchanged before anything new. */
  private pending:
    { records: ReceivedRecord[]; outputs: readonly TransactionMessage[]; offsets: TransactionOffsets } | undefined;

  private async commit(attempt: {
    records: ReceivedRecord[];
    outputs: readonly TransactionMessage[];
    offsets: TransactionOffsets;
    sequence?: number;
  }): Promise<number> {
    const sent = { ...attempt, sequence: attempt.sequence ?? this.producer.nextSequence };
    this.pending = sent;
    try {
      await this.producer.transact(sent.outputs, { offsets: sent.offsets, sequence: sent.sequence });
    } catch (e) {
      // Fenced by a rebalance (or the partitions moved): nothing was written, and the records are
      // their next owner's to process; read again from what is committed if they come back.
      if (isSluiceApiError(e, 'FencedMember') || isSluiceApiError(e, 'NotAssigned')) {
        this.pending = undefined;
        this.rewind(attempt.records);
        await this.consumer.heartbeat().catch(() => undefined);
        return 0;
      }
      if (isSluiceApiError(e) && !e.retriable) {
        // Refused (ProducerFenced, TransactionTooLarge, …): nothing was written; read again.
        this.pending = undefined;
        this.rewind(attempt.records);
      }
      throw e; // an unknown outcome: kept, and sent again unchanged by the next call
    }
    this.pending = undefined;
    for (const r of attempt.records) this.consumer.markMessage(r);
    return attempt.records.length;
  }

  /** Seeks each partition of `records` back to its first one. */
  private rewind(records: readonly ReceivedRecord[]): void {
    const first = new Map<string, ReceivedRecord>();
    for (const r of records) {
      const k = `${r.topic}/${r.partition}`;
      if ((first.get(k)?.offset ?? Infinity) > r.offset) first.set(k, r);
    }
    for (const r of first.values()) this.consumer.seek({ topic: r.topic, partition: r.partition, offset: r.offset });
  }

  /** Runs until `stop()`. */
  async run(
    handler: (records: ReceivedRecord[]) => Promise<readonly TransactionMessage[]> | readonly TransactionMessage[],
  ): Promise<void> {
    this.running = true;
    while (this.running) await this.processOnce(handler);
  }

  stop(): void {
    this.running = false;
  }

  /** Leaves the group (nothing to commit: every transaction committed its own offsets). */
  async close(): Promise<void> {
    this.running = false;
    await this.consumer.close();
  }
}

function wire(message: TransactionMessage): Record<string, unknown> {
  if (typeof message !== 'object' || message === null || typeof message.topic !== 'string')
    throw new Error('each record of a transaction names its topic');
  const { topic, ...rest } = message;
  return { topic, ...toWire(rest) };
}

function isAbort(e: unknown): boolean {
  return e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError');
}
