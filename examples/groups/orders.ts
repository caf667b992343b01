/**
 * What the three consumer-group examples share: the order event, its processing (which rejects
 * bad orders) and the dead-letter publisher that routes failed records aside.
 */
import { parseArgs } from 'node:util';
import { Admin, Producer, isSluiceApiError, type ReceivedRecord } from '../../client/index.ts';

export interface OrderEvent {
  readonly orderId: string;
  readonly userId: string;
  readonly amount: number;
}

export function options() {
  return parseArgs({
    options: {
      url: { type: 'string', default: process.env.SLUICE_URL ?? 'http://127.0.0.1:7070' },
      topic: { type: 'string', default: 'orders' },
      group: { type: 'string', default: 'order-processor' },
      'until-idle': { type: 'boolean', default: false },
    },
  }).values;
}

export function processOrder(key: string | null, event: OrderEvent, offset: number): void {
  if (typeof event?.amount !== 'number' || event.amount < 0)
    throw new Error(`invalid amount ${event?.amount} for ${event?.orderId}`);
  console.log(`Processed ${event.orderId} for ${key} at offset ${offset}: ${event.amount}`);
}

/** Sends failed records to `<topic>.<group>.DLQ` with the error and their origin in headers. */
export class DeadLetters {
  private readonly producer: Producer;
  private readonly topic: string;
  private readonly admin: Admin;

  constructor(url: string, topic: string, group: string) {
    this.producer = new Producer({ url, acks: 'all', idempotent: true });
    this.admin = new Admin({ url });
    this.topic = `${topic}.${group}.DLQ`;
  }

  async ensureTopic(): Promise<void> {
    try {
      await this.admin.createTopic(this.topic);
    } catch (e) {
      if (!isSluiceApiError(e, 'TopicAlreadyExists')) throw e;
    }
  }

  async publish(record: ReceivedRecord, error: unknown): Promise<void> {
    console.error(`Processing failed: ${(error as Error).message}, sending to DLQ`);
    await this.producer.send(this.topic, {
      key: record.key,
      value: record.value,
      headers: {
        ...record.headers,
        'dlq.error': (error as Error).message,
        'dlq.origin': `${record.topic}[${record.partition}]@${record.offset}`,
      },
    });
  }

  close(): Promise<void> {
    return this.producer.close();
  }
}
