import { randomUUID } from 'node:crypto';
import { EVENT_HEADERS } from '../core/sagas/definition.ts';
import { GroupConsumer, type GroupConsumerConfig } from './groupConsumer.ts';
import type { ConnectionOptions } from './http.ts';
import { Producer, type DeliveryReport } from './producer.ts';
import type { ReceivedRecord, Value } from './records.ts';

/** Headers that carry an event's type and lineage (the saga triggers read the same type header). */
export { EVENT_HEADERS };

export interface ChoreographyEvent {
  /** The `sluice-event-type` header, else the value's `type` field. */
  readonly type: string;
  readonly key: string | null;
  readonly data: Value;
  /** Shared by every event of one business flow: the header, else the record key, else this event's id. */
  readonly correlationId: string;
  /** This event's position, `<topic>/<partition>/<offset>`: the causation id of what it leads to. */
  readonly id: string;
  readonly record: ReceivedRecord;
}

export interface EmitOptions {
  /** @default the key of the event being handled */
  readonly key?: string | null;
}

export interface ReactionContext {
  /** Publishes the next event, carrying this one's correlation id and naming it as the cause. */
  readonly emit: (topic: string, type: string, data: Value, options?: EmitOptions) => Promise<DeliveryReport>;
}

export type Reaction = (event: ChoreographyEvent, context: ReactionContext) => Promise<void> | void;

export interface ChoreographyConfig
  extends ConnectionOptions, Pick<GroupConsumerConfig, 'instanceId' | 'sessionTimeoutMs' | 'maxRecords' | 'waitMs'> {
  /** The service's consumer group. */
  readonly groupId: string;
  readonly topics: readonly string[];
  /** @default 'earliest': a new service handles the events already on its topics */
  readonly autoOffsetReset?: 'earliest' | 'latest';
}

/**
 * A service in an event choreography: it reacts to event types on its topics and emits the next
 * events, each carrying the flow's correlation id and the id of the event that caused it.
 *
 * Delivery is at least once: an event's offset is committed only after its reaction and all its
 * emits are durable, so after a crash an event may be handled again; make reactions idempotent
 * (the causation id names the event that caused an emit) or let a keyed saga trigger dedupe.
 * Events of types with no reaction are skipped.
 *
 * @example
 * new Choreography({ url, groupId: 'checkout', topics: ['carts'] })
 *   .on('CartCheckedOut', async (event, { emit }) => { await emit('orders', 'OrderCreated', toOrder(event.data), { key: orderId }) })
 *   .run();
 */
export class Choreography {
  private readonly consumer: GroupConsumer;
  private readonly producer: Producer;
  private readonly reactions = new Map<string, Reaction>();

  constructor(config: ChoreographyConfig) {
    const { groupId, topics, autoOffsetReset, instanceId, sessionTimeoutMs, maxRecords, waitMs, ...connection } =
      config;
    this.consumer = new GroupConsumer({
      ...connection,
      groupId,
      topics,
      autoOffsetReset: autoOffsetReset ?? 'earliest',
      autoCommit: false,
      ...(instanceId === undefined ? {} : { instanceId }),
      ...(sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs }),
      ...(maxRecords === undefined ? {} : { maxRecords }),
      waitMs: waitMs ?? 500,
    });
    this.producer = new Producer({ ...connection, acks: 'all', idempotent: true });
  }

  /** Reacts to events of `type` (one reaction per type). */
  on(type: string, reaction: Reaction): this {
    if (this.reactions.has(type)) throw new Error(`a reaction to ${type} is already registered`);
    this.reactions.set(type, reaction);
    return this;
  }

  /** Handles events until `stop()` or `close()`. */
  async run(): Promise<void> {
    await this.consumer.run({
      eachBatch: async ({ records, commit }) => {
        for (const record of records) await this.handle(record);
        await this.producer.flush();
        if (records.length > 0) await commit();
      },
    });
  }

  /** Handles what is on the topics now, then returns (for tests and batch jobs). */
  async drain(options: { idlePolls?: number } = {}): Promise<number> {
    let handled = 0;
    for (let idle = 0; idle < (options.idlePolls ?? 2);) {
      const records = await this.consumer.poll();
      if (records.length === 0) {
        idle++;
        continue;
      }
      idle = 0;
      for (const record of records) await this.handle(record);
      await this.producer.flush();
      await this.consumer.commit();
      handled += records.length;
    }
    return handled;
  }

  stop(): void {
    this.consumer.stop();
  }

  async close(): Promise<void> {
    this.consumer.stop();
    await this.producer.close();
    await this.consumer.close();
  }

  private async handle(record: ReceivedRecord): Promise<void> {
    const event = toEvent(record);
    const reaction = event === undefined ? undefined : this.reactions.get(event.type);
    if (event === undefined || reaction === undefined) return;
    const pending: Promise<DeliveryReport>[] = [];
    await reaction(event, {
      emit: (topic, type, data, options = {}) => {
        const sent = this.producer.send(topic, {
          key: options.key === undefined ? event.key : options.key,
          value: data,
          headers: {
            [EVENT_HEADERS.type]: type,
            [EVENT_HEADERS.correlation]: event.correlationId,
            [EVENT_HEADERS.causation]: event.id,
          },
        });
        pending.push(sent);
        return sent;
      },
    });
    await Promise.all(pending);
  }
}

/** Starts a flow: publishes its first event with a fresh (or given) correlation id. */
export async function publishEvent(
  producer: Producer,
  topic: string,
  type: string,
  data: Value,
  options: { key?: string | null; correlationId?: string } = {},
): Promise<DeliveryReport> {
  return producer.send(topic, {
    key: options.key ?? null,
    value: data,
    headers: {
      [EVENT_HEADERS.type]: type,
      [EVENT_HEADERS.correlation]: options.correlationId ?? options.key ?? randomUUID(),
    },
  });
}

function text(value: string | Uint8Array | undefined): string | undefined {
  return value === undefined ? undefined : typeof value === 'string' ? value : Buffer.from(value).toString('utf8');
}

function toEvent(record: ReceivedRecord): ChoreographyEvent | undefined {
  const value = record.value;
  const fromValue =
    typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
      ? value.type
      : undefined;
  const type = text(record.headers[EVENT_HEADERS.type]) ?? (typeof fromValue === 'string' ? fromValue : undefined);
  if (type === undefined) return undefined;
  const key = record.key === null ? null : text(record.key)!;
  const id = `${record.topic}/${record.partition}/${record.offset}`;
  return {
    type,
    key,
    data: value,
    correlationId: text(record.headers[EVENT_HEADERS.correlation]) ?? key ?? id,
    id,
    record,
  };
}
