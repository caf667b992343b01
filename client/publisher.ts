import { Connection, type ConnectionOptions } from './http.ts';

export type ExchangeType = 'direct' | 'fanout' | 'topic' | 'headers';

export interface Exchange {
  name: string;
  type: ExchangeType;
  alternateExchange: string | null;
  createdAt: number;
}

/** Where a binding sends what it matches: a topic, or another exchange. */
export type BindingDestination = { topic: string } | { exchange: string };

export interface Binding {
  destination: BindingDestination;
  /** direct: the routing key; topic: a pattern (`*` one word, `#` zero or more). @default '' */
  bindingKey?: string;
  /** headers exchanges: header → value (`null`: present), and `x-match`: all (default), any, all-with-x, any-with-x. */
  arguments?: Record<string, string | null>;
}

export interface StoredBinding extends Required<Binding> {
  id: string;
}

export interface PublishMessage {
  routingKey: string;
  value: unknown;
  key?: string | null;
  headers?: Record<string, string>;
  /** Retries with the same id land once per destination (for 7 days). */
  messageId?: string;
  /** Time to live in ms, carried as the `x-expiration` header. */
  expiration?: number;
  /** Fail with `NoRoute` (404) when nothing routes the message. */
  mandatory?: boolean;
}

export interface PublishResult {
  routed: { topic: string; partition: number; offset: number }[];
  skipped: { topic?: string; exchange?: string; reason: string }[];
}

const exchangePath = (name: string): string => `v1/exchanges/${encodeURIComponent(name)}`;

/**
 * RabbitMQ-style exchanges over the HTTP API: declare them, bind topics or other exchanges, and
 * publish messages that land in every topic a binding routes them to.
 *
 * @example
 * const publisher = new Publisher({ url });
 * await publisher.declare('logs', { type: 'topic' });
 * await publisher.bind('logs', { destination: { topic: 'errors' }, bindingKey: '*.error' });
 * const { routed } = await publisher.publish('logs', { routingKey: 'billing.error', value: { msg: 'boom' }, messageId: 'm-1' });
 */
export class Publisher {
  private readonly http: Connection;
  constructor(options: ConnectionOptions | Connection) {
    this.http = options instanceof Connection ? options : new Connection(options);
  }

  publish(exchange: string, message: PublishMessage): Promise<PublishResult> {
    return this.http.request('POST', `${exchangePath(exchange)}/messages`, { body: message });
  }

  declare(
    exchange: string,
    options: { type: ExchangeType; alternateExchange?: string },
  ): Promise<Exchange & { created: boolean }> {
    return this.http.request('PUT', exchangePath(exchange), { body: options });
  }

  async deleteExchange(exchange: string): Promise<void> {
    await this.http.request('DELETE', exchangePath(exchange));
  }

  bind(exchange: string, binding: Binding): Promise<{ binding: StoredBinding; created: boolean }> {
    return this.http.request('POST', `${exchangePath(exchange)}/bindings`, { body: binding });
  }

  async unbind(exchange: string, binding: Binding): Promise<void> {
    await this.http.request('DELETE', `${exchangePath(exchange)}/bindings`, { body: binding });
  }

  async list(): Promise<Exchange[]> {
    return (await this.http.request<{ exchanges: Exchange[] }>('GET', 'v1/exchanges')).exchanges;
  }

  describe(exchange: string): Promise<Exchange & { bindings: StoredBinding[] }> {
    return this.http.request('GET', exchangePath(exchange));
  }
}
