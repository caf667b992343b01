/**
 * The reference's Java OrderEventConsumer (KafkaConsumer) on Sluice: manual commit
 * (ENABLE_AUTO_COMMIT false), AUTO_OFFSET_RESET earliest, MAX_POLL_RECORDS 100, poll(500 ms),
 * process each record, publish failures to a dead-letter topic, then commitSync() per batch.
 *
 *   npx sluice example groups/java-style-consumer --topic orders --group order-processor
 */
import { GroupConsumer } from '../../client/index.ts';
import { DeadLetters, options, processOrder, type OrderEvent } from './orders.ts';

const args = options();
const consumer = new GroupConsumer({
  url: args.url,
  groupId: args.group,
  topics: [args.topic], // consumer.subscribe(List.of(topic))
  autoCommit: false,
  autoOffsetReset: 'earliest',
  maxRecords: 100,
  assignor: 'roundrobin',
});
const deadLetters = new DeadLetters(args.url, args.topic, args.group);
await deadLetters.ensureTopic();

let running = true;
process.on('SIGINT', () => (running = false)); // shutdown()
while (running) {
  const records = await consumer.poll({ waitMs: 500 }); // consumer.poll(Duration.ofMillis(500))
  if (records.length === 0 && args['until-idle']) break;
  for (const record of records) {
    try {
      processOrder(record.key as string | null, record.value as unknown as OrderEvent, record.offset);
    } catch (e) {
      await deadLetters.publish(record, e); // publishToDeadLetterQueue(record, e)
    }
  }
  await consumer.commit(); // consumer.commitSync()
}
await consumer.close();
await deadLetters.close();
