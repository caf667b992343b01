/**
 * The reference document's ResilientConsumer (dead-letter queue pattern) over a share group:
 * a transient failure is retried with exponential backoff, up to MAX_RETRIES = 3 retries; a
 * permanent failure, or a record whose retries are exhausted, goes to a dead-letter topic with
 * headers saying where it came from and why (original_topic, original_partition,
 * original_offset, error_message, failed_at, as in the reference, plus delivery_count and
 * reason). Where the reference sleeps in its poll loop and produces the dead letter itself, here
 * the consumer releases the record with the backoff (the share group delivers it again, to this
 * consumer or another, once the backoff is over, and meanwhile the others' records flow) and
 * the group writes the dead letter, exactly once, when the delivery limit (1 + 3 retries) is
 * reached or the record is rejected. Backoffs are the reference's: 200, 400 and 800 ms.
 *
 * The example writes its own payments (every third fails once, payment-5 always times out,
 * payment-7 is invalid), consumes until all are settled, then prints the dead letters.
 *
 *   npx sluice example resilient-consumer
 *   npx sluice example resilient-consumer --count 12 --topic payments
 */
import { parseArgs } from 'node:util';
import {
  Admin,
  PartitionConsumer,
  PermanentError,
  Producer,
  ShareConsumer,
  isSluiceApiError,
  type ShareReceivedRecord,
} from '../client/index.ts';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: process.env.SLUICE_URL ?? 'http://127.0.0.1:7070' },
    topic: { type: 'string', default: `payments-${Date.now().toString(36)}` },
    count: { type: 'string', default: '8' },
    'timeout-ms': { type: 'string', default: '60000' },
  },
});

interface Payment {
  readonly id: string;
  readonly amount: number;
}

/** A failure worth retrying (the reference's TransientException): a timeout, a 503. */
class TransientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The work: a payment gateway that times out now and then, and refuses invalid payments. */
function processRecord(payment: Payment, attempt: number): void {
  if (payment.amount < 0) throw new PermanentError(`invalid amount ${payment.amount}`);
  if (payment.id === 'payment-5') throw new TransientError('gateway timeout');
  if (Number(payment.id.split('-')[1]) % 3 === 0 && attempt === 1) throw new TransientError('gateway busy (503)');
  console.log(`Processed ${payment.id} (${payment.amount}) on attempt ${attempt}`);
}

class ResilientConsumer {
  static readonly MAX_RETRIES = 3;
  static readonly BACKOFF_MS = 200; // the reference's first pause: 100 * 2^1
  private readonly consumer: ShareConsumer;

  constructor(url: string, topic: string, dlqTopic: string) {
    this.consumer = new ShareConsumer({
      url,
      groupId: `${topic}.processor`,
      topics: [topic],
      start: 'earliest',
      deliveryLimit: ResilientConsumer.MAX_RETRIES + 1, // the first delivery, then the retries
      deadLetterTopic: dlqTopic,
      retryBackoffMs: ResilientConsumer.BACKOFF_MS, // doubled per delivery: 200, 400, 800 ms
      waitMs: 250,
    });
  }

  run(): Promise<void> {
    return this.consumer.run({ eachMessage: (record) => this.processWithRetry(record) });
  }

  /** Resolves: accepted. Throws PermanentError: dead-lettered now. Throws another error: retried. */
  private async processWithRetry(record: ShareReceivedRecord): Promise<void> {
    const payment = record.value as unknown as Payment;
    const attempt = record.deliveryCount;
    try {
      processRecord(payment, attempt);
    } catch (e) {
      if (!(e instanceof TransientError)) {
        console.log(`${payment.id}: ${(e as Error).message}, a permanent failure: dead-lettering`);
        throw e;
      }
      if (attempt > ResilientConsumer.MAX_RETRIES) {
        console.log(`${payment.id}: ${e.message} on attempt ${attempt}; retries exhausted: dead-lettering`);
        throw new Error(`Failed after ${ResilientConsumer.MAX_RETRIES} retries: ${e.message}`, { cause: e });
      }
      const backoff = ResilientConsumer.BACKOFF_MS * 2 ** (attempt - 1);
      console.log(
        `${payment.id}: ${e.message} on attempt ${attempt}; retry ${attempt} of ${ResilientConsumer.MAX_RETRIES} in ${backoff} ms`,
      );
      throw e; // released, delivered again after the backoff
    }
  }

  async close(): Promise<void> {
    await this.consumer.close();
  }
}

const { url, topic } = values;
const dlqTopic = `${topic}.DLQ`;
const admin = new Admin({ url });
for (const name of [topic, dlqTopic])
  await admin.createTopic(name, { partitions: name === topic ? 2 : 1 }).catch((e: unknown) => {
    if (!isSluiceApiError(e, 'TopicAlreadyExists')) throw e;
  });
const producer = new Producer({ url });
await producer.sendBatch(
  topic,
  Array.from({ length: Number(values.count) }, (_, i) => {
    const id = `payment-${i + 1}`;
    return { key: id, value: { id, amount: id === 'payment-7' ? -5 : (i + 1) * 10 } };
  }),
);
await producer.close();

const consumer = new ResilientConsumer(url, topic, dlqTopic);
const running = consumer.run();
// Until every record is settled: accepted or archived (dead-lettered), none in flight or waiting.
const deadline = Date.now() + Number(values['timeout-ms']);
const partitionCount = (await admin.describeTopic(topic, { offsets: false })).config.partitions;
let archived: number;
for (;;) {
  const { partitions } = await admin.describeShareGroup(`${topic}.processor`).catch((e: unknown) => {
    if (isSluiceApiError(e, 'ShareGroupNotFound')) return { partitions: [] }; // not joined yet
    throw e;
  });
  if (partitions.length === partitionCount && partitions.every((p) => p.lag === 0 && p.inFlight === 0)) {
    archived = partitions.reduce((n, p) => n + p.archived, 0);
    break;
  }
  if (Date.now() > deadline) throw new Error(`not settled within ${values['timeout-ms']} ms`);
  await new Promise((resolve) => setTimeout(resolve, 250));
}
await consumer.close();
await running;

// The dead letters, with the headers the group wrote.
const dlq = new PartitionConsumer({ url, topic: dlqTopic, partition: 0, autoOffsetReset: 'earliest', waitMs: 1000 });
const dead = [];
while (dead.length < archived && Date.now() < deadline) dead.push(...(await dlq.poll()));
console.log(`Dead letters in ${dlqTopic}: ${dead.length}`);
for (const record of dead) {
  const h = record.headers;
  console.log(`  ${(record.value as unknown as Payment).id}:`);
  for (const name of [
    'original_topic',
    'original_partition',
    'original_offset',
    'error_message',
    'failed_at',
    'delivery_count',
    'reason',
  ])
    console.log(`    ${name}: ${String(h[name])}`);
}
