/**
 * What the RabbitMQ tutorial examples share. A RabbitMQ queue is, in Sluice, a topic read through
 * a share group of the same name: its consumers share it record by record and each record is
 * acknowledged once. An exclusive (server-named, temporary) queue is a topic with a unique name,
 * deleted with its share group when its consumer is done.
 */
import { randomBytes } from 'node:crypto';
import {
  Admin,
  Publisher,
  ShareConsumer,
  isSluiceApiError,
  type ShareConsumerConfig,
  type ShareReceivedRecord,
} from '../../client/index.ts';

/** `--url` (else SLUICE_URL, else the local stack), as every example takes it. */
export const URL_OPTION = {
  url: { type: 'string', default: process.env.SLUICE_URL ?? 'http://127.0.0.1:7070' },
} as const;

/** A message body as the tutorials print it: text as it is, anything else as JSON. */
export function body(record: { readonly value: unknown }): string {
  return typeof record.value === 'string' ? record.value : JSON.stringify(record.value);
}

/** A name of its own for each run, like RabbitMQ's server-named `amq.gen-…` queues. */
export function unique(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** `channel.queue_declare(queue=name)`: creates the topic unless it exists. */
export async function declareQueue(url: string, name: string): Promise<void> {
  try {
    await new Admin({ url }).createTopic(name, { partitions: 1 });
  } catch (e) {
    if (!isSluiceApiError(e, 'TopicAlreadyExists')) throw e;
  }
}

/** A consumer of a queue: a member of the queue's share group, reading from the queue's start. */
export function queueConsumer(url: string, queue: string, options: Partial<ShareConsumerConfig> = {}): ShareConsumer {
  return new ShareConsumer({ url, groupId: queue, topics: [queue], start: 'earliest', waitMs: 500, ...options });
}

/**
 * `channel.basic_consume` with explicit acks, bounded: handles and accepts each record, and stops
 * (leaving the group) at the first empty poll that began after `senderDone()` was true, when
 * everything sent has been delivered (to this consumer or to the others sharing the queue).
 */
export async function consumeUntilIdle(
  consumer: ShareConsumer,
  senderDone: () => boolean,
  onMessage: (record: ShareReceivedRecord) => Promise<void> | void,
): Promise<void> {
  for (;;) {
    const finished = senderDone(); // read before the poll: what was sent is visible to it
    const records = await consumer.poll();
    for (const record of records) {
      await onMessage(record);
      consumer.acknowledge(record, 'accept'); // ch.basic_ack, sent with the next poll
    }
    if (records.length === 0 && finished) break;
  }
  await consumer.close();
}

/**
 * An exclusive queue bound to an exchange: `queue_declare('', exclusive=True)` then a
 * `queue_bind` per binding key. `delete()` removes it, as RabbitMQ does when its connection closes.
 */
export class ExclusiveQueue {
  readonly name: string;
  readonly consumer: ShareConsumer;
  private readonly url: string;
  private readonly exchange: string;
  private readonly bindingKeys: readonly string[];

  private constructor(url: string, exchange: string, bindingKeys: readonly string[]) {
    this.url = url;
    this.exchange = exchange;
    this.bindingKeys = bindingKeys;
    this.name = unique(`${exchange}.queue`);
    this.consumer = queueConsumer(url, this.name);
  }

  static async bind(url: string, exchange: string, bindingKeys: readonly string[] = ['']): Promise<ExclusiveQueue> {
    const queue = new ExclusiveQueue(url, exchange, bindingKeys);
    await declareQueue(url, queue.name);
    const publisher = new Publisher({ url });
    for (const bindingKey of bindingKeys)
      await publisher.bind(exchange, { destination: { topic: queue.name }, bindingKey });
    return queue;
  }

  /** Unbinds, then deletes the share group and the topic. */
  async delete(): Promise<void> {
    await this.consumer.close();
    const publisher = new Publisher({ url: this.url });
    for (const bindingKey of this.bindingKeys)
      await publisher.unbind(this.exchange, { destination: { topic: this.name }, bindingKey });
    const admin = new Admin({ url: this.url });
    await admin.deleteShareGroup(this.name).catch((e: unknown) => {
      if (!isSluiceApiError(e, 'ShareGroupNotFound')) throw e;
    });
    await admin.deleteTopic(this.name);
  }
}

/** Ends the process with an error if the example has not finished by then (it should never take this long). */
export function exitAfter(ms: number): void {
  setTimeout(() => {
    console.error(`Gave up after ${ms} ms`);
    process.exit(1);
  }, ms).unref();
}
