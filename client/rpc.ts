import { randomUUID } from 'node:crypto';
import { Admin } from './admin.ts';
import { PartitionConsumer } from './consumer.ts';
import { Connection, type ConnectionOptions } from './http.ts';
import { Producer } from './producer.ts';
import { Publisher } from './publisher.ts';
import type { ReceivedRecord, Value } from './records.ts';
import { PermanentError, ShareConsumer, type ShareConsumerConfig, type ShareReceivedRecord } from './shareConsumer.ts';

/** The headers of RabbitMQ's request/reply pattern (its `reply_to` and `correlation_id` properties). */
export const RPC_HEADERS = {
  replyTo: 'reply_to',
  correlationId: 'correlation_id',
  /** On a reply: the server's handler failed for good (a `PermanentError`); the value is its message. */
  error: 'rpc_error',
} as const;

/** Where a request goes: a topic (RabbitMQ's default exchange, routing key = queue name) or an exchange. */
export type RpcTarget = { readonly topic: string } | { readonly exchange: string; readonly routingKey: string };

export type RpcErrorCode = 'RpcTimeout' | 'RpcFailed' | 'RpcClosed';

/** A call that got no reply in time (`RpcTimeout`), an error reply (`RpcFailed`), or a closed client (`RpcClosed`). */
export class RpcError extends Error {
  readonly code: RpcErrorCode;
  readonly correlationId: string;
  constructor(code: RpcErrorCode, correlationId: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.correlationId = correlationId;
  }
}

export function isRpcError(e: unknown, code?: RpcErrorCode): e is RpcError {
  return e instanceof Error && e.name === 'RpcError' && (code === undefined || (e as RpcError).code === code);
}

export interface RpcClientConfig extends ConnectionOptions {
  /**
   * The topic replies come back on. Given: an existing topic, read from its end as of `connect()`.
   * @default a new one-partition topic `rpc-reply-<uuid>`, deleted by `close()` (RabbitMQ's exclusive reply queue)
   */
  readonly replyTo?: string;
  /** How long `call` waits for its reply (`timeoutMs` is each HTTP request's). @default 30000 */
  readonly replyTimeoutMs?: number;
  /** Long-poll time of the reply reader, which runs only while calls are waiting. @default 1000 */
  readonly waitMs?: number;
}

interface Waiting {
  resolve: (reply: ReceivedRecord) => void;
  reject: (error: unknown) => void;
  timer: NodeJS.Timeout;
}

/**
 * The client half of RabbitMQ's RPC (tutorial 6): each call publishes a request with `reply_to`
 * (this client's reply topic) and a fresh `correlation_id`, and resolves with the reply that
 * carries the same id. Replies with ids nobody waits for (late, or duplicates of a redelivered
 * request) are ignored, as the tutorial advises. The reply topic is read only while calls wait.
 *
 * @example
 * const rpc = new RpcClient({ url });
 * const reply = await rpc.call({ topic: 'rpc_queue' }, 30);   // or { exchange: 'rpc', routingKey: 'fib' }
 * console.log(reply.value);                                    // 832040
 * await rpc.close();
 */
export class RpcClient {
  private readonly http: Connection;
  private readonly config: RpcClientConfig;
  private readonly producer: Producer;
  private readonly publisher: Publisher;
  private readonly waiting = new Map<string, Waiting>();
  private replyTopic: string | undefined;
  private replies: PartitionConsumer | undefined;
  private connecting: Promise<void> | undefined;
  private reader: Promise<void> = Promise.resolve();
  private reading = false;
  private closed = false;

  constructor(config: RpcClientConfig) {
    this.config = config;
    this.http = new Connection(config);
    this.producer = new Producer({ ...connectionOf(config), lingerMs: 0 });
    this.publisher = new Publisher(this.http);
  }

  /** The reply topic (created on first use unless given). */
  get replyTo(): string | undefined {
    return this.replyTopic;
  }

  /** Creates the reply topic, or fixes the position in a given one; `call` does this when needed. */
  connect(): Promise<void> {
    this.connecting ??= (async () => {
      const topic = this.config.replyTo ?? `rpc-reply-${randomUUID()}`;
      if (this.config.replyTo === undefined) await new Admin(this.http).createTopic(topic, { partitions: 1 });
      const replies = new PartitionConsumer({
        ...connectionOf(this.config),
        topic,
        partition: 0,
        autoOffsetReset: 'latest',
      });
      await replies.currentPosition(); // replies to calls made from now on are after this offset
      this.replies = replies;
      this.replyTopic = topic;
    })();
    return this.connecting;
  }

  /**
   * Sends `request` and resolves with the reply record (its `value` is the server's answer).
   * Rejects with `RpcError` `RpcTimeout` after `timeoutMs`, `RpcFailed` on an error reply.
   */
  async call(
    target: RpcTarget,
    request: Value,
    options: { timeoutMs?: number; headers?: Record<string, string> } = {},
  ): Promise<ReceivedRecord> {
    if (this.closed) throw new RpcError('RpcClosed', '', 'the RPC client is closed');
    await this.connect();
    const correlationId = randomUUID();
    const timeoutMs = options.timeoutMs ?? this.config.replyTimeoutMs ?? 30_000;
    const reply = new Promise<ReceivedRecord>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(correlationId);
        reject(new RpcError('RpcTimeout', correlationId, `no reply to ${correlationId} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(correlationId, { resolve, reject, timer });
    });
    const headers = {
      ...options.headers,
      [RPC_HEADERS.replyTo]: this.replyTopic!,
      [RPC_HEADERS.correlationId]: correlationId,
    };
    try {
      if ('topic' in target) await this.producer.send(target.topic, { value: request, headers });
      else await this.publisher.publish(target.exchange, { routingKey: target.routingKey, value: request, headers });
    } catch (e) {
      this.settle(correlationId, (w) => w.reject(e));
    }
    if (!this.reading) {
      this.reading = true; // set here, not in readReplies, which may finish before returning
      this.reader = this.readReplies();
    }
    return reply;
  }

  /** Rejects waiting calls, and deletes the reply topic when this client created it. */
  async close(): Promise<void> {
    this.closed = true;
    for (const id of [...this.waiting.keys()])
      this.settle(id, (w) => w.reject(new RpcError('RpcClosed', id, 'the RPC client was closed')));
    await this.reader;
    await this.producer.close();
    if (this.config.replyTo === undefined && this.replyTopic !== undefined)
      await new Admin(this.http).deleteTopic(this.replyTopic);
  }

  /** Reads replies while calls wait; a read error fails the waiting calls rather than hang them. */
  private async readReplies(): Promise<void> {
    try {
      while (this.waiting.size > 0) {
        for (const record of await this.replies!.poll({ waitMs: this.config.waitMs ?? 1000 })) {
          const id = record.headers[RPC_HEADERS.correlationId];
          if (typeof id !== 'string') continue;
          const failure = record.headers[RPC_HEADERS.error];
          this.settle(id, (w) =>
            failure === undefined ? w.resolve(record) : w.reject(new RpcError('RpcFailed', id, String(failure))),
          );
        }
      }
    } catch (e) {
      for (const id of [...this.waiting.keys()]) this.settle(id, (w) => w.reject(e));
    } finally {
      this.reading = false;
    }
  }

  private settle(correlationId: string, how: (w: Waiting) => void): void {
    const w = this.waiting.get(correlationId);
    if (w === undefined) return;
    this.waiting.delete(correlationId);
    clearTimeout(w.timer);
    how(w);
  }
}

export type RpcServerConfig = ShareConsumerConfig;

/** The connection fields alone: the configs share names (`retryBackoffMs`, `timeoutMs`) with other meanings. */
function connectionOf({ url, auth, region, credentials, timeoutMs }: ConnectionOptions): ConnectionOptions {
  return { url, auth, region, credentials, timeoutMs };
}

/** Answers one request: the reply's value. Throw `PermanentError` to send an error reply; other errors retry. */
export type RpcHandler = (request: ShareReceivedRecord) => Promise<Value> | Value;

/**
 * The server half of RabbitMQ's RPC: a share-group member (so any number of servers share the
 * request topics, each request answered by one) that calls the handler for each request and
 * publishes its result to the request's `reply_to` topic with the same `correlation_id`, then
 * accepts the request. A handler's `PermanentError` becomes an error reply (`rpc_error`); any
 * other error releases the request to be retried with backoff, up to the group's delivery limit.
 * A request without `reply_to` is rejected (dead-lettered when the group has a dead-letter topic).
 * A server that fails between replying and accepting replies twice; clients ignore the second.
 *
 * @example
 * const server = new RpcServer({ url, groupId: 'fib-servers', topics: ['rpc_queue'] }, (req) => fib(req.value as number));
 * void server.run();  // until server.stop(); then await server.close()
 */
export class RpcServer {
  private readonly consumer: ShareConsumer;
  private readonly producer: Producer;
  private readonly handler: RpcHandler;

  constructor(config: RpcServerConfig, handler: RpcHandler) {
    this.consumer = new ShareConsumer(config);
    this.producer = new Producer({ ...connectionOf(config), lingerMs: 0 });
    this.handler = handler;
  }

  /** Serves requests until `stop()` or `close()`. */
  run(): Promise<void> {
    return this.consumer.run({ eachMessage: (request) => this.answer(request) });
  }

  stop(): void {
    this.consumer.stop();
  }

  /** Stops, sends pending acknowledgements and leaves the group. */
  async close(): Promise<void> {
    this.consumer.stop();
    await this.consumer.close();
    await this.producer.close();
  }

  private async answer(request: ShareReceivedRecord): Promise<void> {
    const replyTo = request.headers[RPC_HEADERS.replyTo];
    const correlationId = request.headers[RPC_HEADERS.correlationId];
    if (typeof replyTo !== 'string' || typeof correlationId !== 'string')
      throw new PermanentError(
        `a request needs string ${RPC_HEADERS.replyTo} and ${RPC_HEADERS.correlationId} headers`,
      );
    let value: Value;
    const headers: Record<string, string> = { [RPC_HEADERS.correlationId]: correlationId };
    try {
      value = await this.handler(request);
    } catch (e) {
      if (!(e instanceof Error && e.name === 'PermanentError')) throw e;
      value = null;
      headers[RPC_HEADERS.error] = e.message;
    }
    await this.producer.send(replyTo, { value, headers });
  }
}
