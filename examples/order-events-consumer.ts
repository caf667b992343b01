/**
 * The reference document's OrderEventConsumer, on Sluice: reads every partition of the topic from
 * the earliest offset, manual commits after each processed record (at-least-once), and a
 * dead-letter path: a record whose processing fails goes to `<topic>.DLQ` with the error and its
 * origin in headers, then is committed so it does not block the partition.
 *
 *   npx sluice example order-events-consumer              # runs until Ctrl-C
 *   npx sluice example order-events-consumer --until-idle # stops once caught up
 */
import { parseArgs } from 'node:util';
import {
  Admin,
  FileOffsetStore,
  PartitionConsumer,
  Producer,
  isSluiceApiError,
  type ReceivedRecord,
} from '../client/index.ts';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: process.env.SLUICE_URL ?? 'http://127.0.0.1:7070' },
    topic: { type: 'string', default: 'orders' },
    offsets: { type: 'string', default: '.sluice/offsets/order-processor.json' },
    'until-idle': { type: 'boolean', default: false },
  },
});

function processOrder(key: string, event: { orderId: string; amount: number }): void {
  if (typeof event.amount !== 'number' || event.amount < 0)
    throw new Error(`invalid amount ${event.amount} for ${event.orderId}`);
  console.log(`Processed ${event.orderId} for ${key}: ${event.amount}`);
}

const admin = new Admin({ url: values.url });
const dlqTopic = `${values.topic}.DLQ`;
try {
  await admin.createTopic(dlqTopic);
} catch (e) {
  if (!isSluiceApiError(e, 'TopicAlreadyExists')) throw e;
}
const dlq = new Producer({ url: values.url, acks: 'all', idempotent: true });
const store = new FileOffsetStore(values.offsets);
const { partitions } = await admin.describeTopic(values.topic);
const consumers = partitions.map(
  ({ partition }) =>
    new PartitionConsumer({
      url: values.url,
      topic: values.topic,
      partition,
      autoOffsetReset: 'earliest',
      offsetStore: store,
      maxRecords: 100,
    }),
);

let running = true;
process.on('SIGINT', () => (running = false));

async function handle(consumer: PartitionConsumer, record: ReceivedRecord): Promise<void> {
  try {
    processOrder(String(record.key), record.value as { orderId: string; amount: number });
  } catch (e) {
    console.error(`Processing failed: ${(e as Error).message}, sending to DLQ`);
    await dlq.send(dlqTopic, {
      key: record.key,
      value: record.value,
      headers: {
        ...record.headers,
        'dlq.error': (e as Error).message,
        'dlq.origin': `${record.topic}[${record.partition}]@${record.offset}`,
      },
    });
  }
  await consumer.commit(record.offset + 1); // manual, synchronous commit after each record
}

while (running) {
  let seen = 0;
  for (const consumer of consumers) {
    for (const record of await consumer.poll({ waitMs: values['until-idle'] ? 0 : 200 })) {
      await handle(consumer, record);
      seen++;
    }
  }
  if (seen === 0 && values['until-idle']) break;
}
await dlq.close();
