/**
 * The reference document's OrderEventProducer, on Sluice: acks=all, idempotence on, 3 retries,
 * key = user id (so one user's events stay in order on one partition), headers event_type and
 * timestamp, and a line per delivery: `topic[partition] @ offset`.
 *
 *   npm start                                    # in one shell
 *   npx sluice example order-events-producer --count 20
 */
import { parseArgs } from 'node:util';
import { Admin, Producer, isSluiceApiError } from '../client/index.ts';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: process.env.SLUICE_URL ?? 'http://127.0.0.1:7070' },
    topic: { type: 'string', default: 'orders' },
    count: { type: 'string', default: '10' },
    // Every Nth order carries a negative amount, which the consumer example routes to its DLQ.
    'bad-every': { type: 'string', default: '0' },
  },
});

class OrderEventProducer {
  private readonly producer: Producer;
  private readonly topic: string;

  constructor(url: string, topic: string) {
    this.topic = topic;
    this.producer = new Producer({ url, acks: 'all', idempotent: true, retries: 3 });
  }

  async publishOrderCreated(event: { orderId: string; userId: string; amount: number }): Promise<void> {
    const report = await this.producer.send(this.topic, {
      key: event.userId, // partition by user for ordering
      value: event,
      headers: { event_type: 'ORDER_CREATED', timestamp: String(Date.now()) },
    });
    console.log(`Delivered to ${report.topic}[${report.partition}] @ offset ${report.offset}`);
  }

  close(): Promise<void> {
    return this.producer.close();
  }
}

try {
  await new Admin({ url: values.url }).createTopic(values.topic, { partitions: 3 });
} catch (e) {
  if (!isSluiceApiError(e, 'TopicAlreadyExists')) throw e;
}
const producer = new OrderEventProducer(values.url, values.topic);
const badEvery = Number(values['bad-every']);
for (let i = 1; i <= Number(values.count); i++) {
  const amount = badEvery > 0 && i % badEvery === 0 ? -1 : Math.round(Math.random() * 10_000) / 100;
  await producer.publishOrderCreated({ orderId: `order-${i}`, userId: `user-${i % 4}`, amount });
}
await producer.close();
