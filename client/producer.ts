import { randomUUID } from 'node:crypto';
import { partitionForKey } from '../core/log/murmur2.ts';
import { Admin } from './admin.ts';
import { Connection, isSluiceApiError, type ConnectionOptions } from './http.ts';
import { toWire, type Message } from './records.ts';

export interface ProducerConfig extends ConnectionOptions {
  /**
   * `all` and `1` wait for the durable write (Sluice acknowledges only after DynamoDB has the
   * batch, so they are the same); `0` is fire and forget: `send` resolves at once with offset -1.
   * @default 'all'
   */
  readonly acks?: 0 | 1 | 'all';
  /** Idempotent producer: retries never duplicate. @default true */
  readonly idempotent?: boolean;
  /** Retries of a failed request (network errors, 5xx, 429). @default 3 */
  readonly retries?: number;
  /** First retry pause; doubles each retry. @default 100 */
  readonly retryBackoffMs?: number;
  /** How long `send` waits to gather more records into one request. @default 5 */
  readonly lingerMs?: number;
  /** Most records per request. @default 500 */
  readonly batchSize?: number;
  /** Called with errors of `acks: 0` sends, which nobody awaits. */
  readonly onError?: (error: unknown) => void;
}

/** Where a record landed: Kafka's RecordMetadata. */
export interface DeliveryReport {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
}

interface Pending {
  readonly message: Message;
  readonly resolve: (report: DeliveryReport) => void;
  readonly reject: (error: unknown) => void;
}

const PARTITION_CACHE_MS = 30_000;

/**
 * A producer over the HTTP API, in the shape of Kafka's: `send` returns a delivery report with
 * topic, partition and offset; keyed records go where Kafka's Java producer would put them
 * (murmur2), computed here so that an idempotent producer can number records per partition.
 *
 * @example
 * const producer = new Producer({ url, acks: 'all', idempotent: true, retries: 3 });
 * const report = await producer.send('orders', { key: userId, value: event, headers: { event_type: 'ORDER_CREATED' } });
 * console.log(`Delivered to ${report.topic}[${report.partition}] @ offset ${report.offset}`);
 */
export class Producer {
  private readonly http: Connection;
  private readonly admin: Admin;
  private readonly config: Required<Omit<ProducerConfig, keyof ConnectionOptions | 'onError'>> &
    Pick<ProducerConfig, 'onError'>;
  private readonly producerId = randomUUID();
  private epoch = 0;
  /** Next sequence number per topic and partition (idempotence). */
  private readonly sequences = new Map<string, number>();
  private readonly partitions = new Map<string, { count: number; until: number }>();
  private readonly queues = new Map<string, Pending[]>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private chain: Promise<void> = Promise.resolve();
  private sticky = Math.floor(Math.random() * 1024);

  constructor(config: ProducerConfig) {
    this.http = new Connection(config);
    this.admin = new Admin(this.http);
    this.config = {
      acks: config.acks ?? 'all',
      idempotent: config.idempotent ?? true,
      retries: config.retries ?? 3,
      retryBackoffMs: config.retryBackoffMs ?? 100,
      lingerMs: config.lingerMs ?? 5,
      batchSize: config.batchSize ?? 500,
      onError: config.onError,
    };
    if (![0, 1, 'all'].includes(this.config.acks)) throw new Error("acks must be 0, 1 or 'all'");
    if (!Number.isInteger(this.config.retries) || this.config.retries < 0)
      throw new Error('retries must be a non-negative integer');
  }

  /** Sends one record; resolves when it is durable (or at once with `acks: 0`). */
  send(topic: string, message: Message): Promise<DeliveryReport> {
    const delivered = new Promise<DeliveryReport>((resolve, reject) => {
      const queue = this.queues.get(topic) ?? [];
      queue.push({ message, resolve, reject });
      this.queues.set(topic, queue);
      if (queue.length >= this.config.batchSize) this.drain(topic);
      else if (!this.timers.has(topic))
        this.timers.set(
          topic,
          setTimeout(() => this.drain(topic), this.config.lingerMs),
        );
    });
    if (this.config.acks === 0) {
      delivered.catch((e) => this.config.onError?.(e));
      return Promise.resolve({ topic, partition: -1, offset: -1, timestamp: -1 });
    }
    return delivered;
  }

  /** Sends several records; reports come back in the same order. */
  sendBatch(topic: string, messages: readonly Message[]): Promise<DeliveryReport[]> {
    return Promise.all(messages.map((m) => this.send(topic, m)));
  }

  /** Waits until every record sent so far is delivered (or failed). */
  async flush(): Promise<void> {
    for (const topic of [...this.queues.keys()]) this.drain(topic);
    await this.chain;
  }

  async close(): Promise<void> {
    await this.flush();
  }

  private drain(topic: string): void {
    clearTimeout(this.timers.get(topic));
    this.timers.delete(topic);
    const batch = this.queues.get(topic)?.splice(0, this.config.batchSize) ?? [];
    if (batch.length === 0) return;
    // One request in flight per producer keeps per-partition order through retries.
    this.chain = this.chain.then(() => this.deliver(topic, batch));
    if ((this.queues.get(topic)?.length ?? 0) > 0) this.drain(topic);
  }

  private async deliver(topic: string, batch: Pending[]): Promise<void> {
    try {
      const count = await this.partitionCount(topic);
      const sticky = this.sticky++ % count;
      const messages = batch.map(({ message }) => {
        if (message.partition !== undefined) return message;
        if (message.key === undefined || message.key === null) return { ...message, partition: sticky };
        const key = typeof message.key === 'string' ? new TextEncoder().encode(message.key) : message.key;
        return { ...message, partition: partitionForKey(key, count) };
      });
      const reports = await this.postWithRetries(topic, messages);
      batch.forEach((p, i) => p.resolve(reports[i]!));
    } catch (e) {
      // An append that stopped part-way says which records it wrote: those are delivered.
      const appended = new Map(
        isSluiceApiError(e, 'AppendIncomplete')
          ? (e.details.appended as { index: number; partition: number; offset: number; timestamp: number }[]).map(
              ({ index, ...at }) => [index, { topic, ...at }] as const,
            )
          : [],
      );
      batch.forEach((p, i) => {
        const report = appended.get(i);
        if (report === undefined) p.reject(e);
        else p.resolve(report);
      });
    }
  }

  private async postWithRetries(topic: string, messages: Message[]): Promise<DeliveryReport[]> {
    const counts = new Map<number, number>();
    for (const m of messages) counts.set(m.partition!, (counts.get(m.partition!) ?? 0) + 1);
    const request = () => {
      const sequence = Object.fromEntries([...counts.keys()].map((p) => [p, this.sequences.get(`${topic}/${p}`) ?? 0]));
      const wire = {
        records: messages.map(toWire),
        ...(this.config.idempotent ? { producer: { id: this.producerId, epoch: this.epoch, sequence } } : {}),
      };
      return { sequence, body: wire };
    };
    // The same body on every retry, so that the engine recognises what an earlier attempt wrote.
    let { sequence, body } = request();
    let restarted = false;
    for (let attempt = 0; ; attempt++) {
      try {
        const { offsets } = await this.http.request<{
          offsets: { partition: number; offset: number; timestamp: number }[];
        }>('POST', `v1/topics/${encodeURIComponent(topic)}/records`, { body });
        for (const [p, n] of counts) this.sequences.set(`${topic}/${p}`, sequence[p]! + n);
        return offsets.map((o) => ({ topic, ...o }));
      } catch (e) {
        // The engine forgot this producer (a week idle): nothing it remembers can be duplicated,
        // so start a new epoch from sequence 0 and send again, as Kafka's client does.
        if (isSluiceApiError(e, 'UnknownProducer') && this.config.idempotent && !restarted) {
          restarted = true;
          this.bumpEpoch();
          ({ sequence, body } = request());
          continue;
        }
        // Part of a non-idempotent append landed: sending it again would write that part twice.
        const partial = isSluiceApiError(e, 'AppendIncomplete') && !this.config.idempotent;
        const retriable = (!isSluiceApiError(e) || e.retriable) && !partial;
        if (!retriable || attempt >= this.config.retries) {
          // The outcome may be unknown: start a new epoch so later sequences are not judged against it.
          if (this.config.idempotent) this.bumpEpoch();
          if (isSluiceApiError(e, 'PartitionNotFound')) this.partitions.delete(topic);
          throw e;
        }
        await new Promise((r) => setTimeout(r, this.config.retryBackoffMs * 2 ** attempt));
      }
    }
  }

  private bumpEpoch(): void {
    this.epoch++;
    this.sequences.clear();
  }

  private async partitionCount(topic: string): Promise<number> {
    const cached = this.partitions.get(topic);
    if (cached !== undefined && cached.until > Date.now()) return cached.count;
    // The topic record only: one read, whatever the partitions' histories.
    const count = (await this.admin.describeTopic(topic, { offsets: false })).config.partitions;
    this.partitions.set(topic, { count, until: Date.now() + PARTITION_CACHE_MS });
    return count;
  }
}
