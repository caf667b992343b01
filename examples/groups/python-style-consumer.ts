/**
 * The reference's Python OrderEventConsumer (confluent_kafka) on Sluice: a group consumer with
 * 'auto.offset.reset': 'earliest' and 'enable.auto.commit': False, polling with a timeout and
 * committing synchronously after each processed message; failures go to a dead-letter topic.
 *
 *   npx sluice example groups/python-style-consumer --topic orders --group order-processor
 */
import { GroupConsumer } from '../../client/index.ts';
import { DeadLetters, options, processOrder, type OrderEvent } from './orders.ts';

const args = options();

class OrderEventConsumer {
  private readonly consumer: GroupConsumer;
  private running = true;

  constructor(url: string, groupId: string, topic: string) {
    this.consumer = new GroupConsumer({
      url,
      groupId,
      topics: [topic],
      autoOffsetReset: 'earliest',
      autoCommit: false,
      assignor: 'roundrobin',
      maxRecords: 100,
    });
  }

  async consume(
    process: (key: string | null, event: OrderEvent, offset: number) => void,
    deadLetters: DeadLetters,
    untilIdle: boolean,
  ): Promise<void> {
    while (this.running) {
      const records = await this.consumer.poll({ waitMs: untilIdle ? 300 : 1000, markConsumed: false }); // poll(timeout=1.0)
      if (records.length === 0 && untilIdle) break;
      for (const msg of records) {
        try {
          process(msg.key as string | null, msg.value as unknown as OrderEvent, msg.offset);
        } catch (e) {
          await deadLetters.publish(msg, e);
        }
        this.consumer.markMessage(msg);
        await this.consumer.commit(); // commit(asynchronous=False) after each message
      }
    }
  }

  shutdown(): Promise<void> {
    this.running = false;
    return this.consumer.close();
  }
}

const deadLetters = new DeadLetters(args.url, args.topic, args.group);
await deadLetters.ensureTopic();
const consumer = new OrderEventConsumer(args.url, args.group, args.topic);
process.on('SIGINT', () => void consumer.shutdown());
await consumer.consume(processOrder, deadLetters, args['until-idle']);
await consumer.shutdown();
await deadLetters.close();
