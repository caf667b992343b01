/**
 * The reference's Go consumer group (sarama) on Sluice: the round-robin balance strategy,
 * Offsets.Initial = OffsetOldest, a handler whose ConsumeClaim processes each message and marks
 * it for commit (MarkMessage); messages that fail are routed to a dead-letter topic and marked
 * too, so they do not block the partition. Marked offsets are committed in the background.
 *
 *   npx sluice example groups/go-style-consumer --topic orders --group order-processor
 */
import { GroupConsumer, type ReceivedRecord } from '../../client/index.ts';
import { DeadLetters, options, processOrder, type OrderEvent } from './orders.ts';

const args = options();

/** ConsumerGroupHandler: ConsumeClaim for a batch of a claim's messages. */
class ConsumerGroupHandler {
  private readonly deadLetters: DeadLetters;
  constructor(deadLetters: DeadLetters) {
    this.deadLetters = deadLetters;
  }

  async consumeClaim(session: { markMessage(msg: ReceivedRecord): void }, messages: ReceivedRecord[]): Promise<void> {
    for (const msg of messages) {
      try {
        processOrder(msg.key as string | null, msg.value as unknown as OrderEvent, msg.offset);
      } catch (e) {
        await this.deadLetters.publish(msg, e); // in production: send to dead-letter topic
      }
      session.markMessage(msg); // mark for commit
    }
  }
}

const deadLetters = new DeadLetters(args.url, args.topic, args.group);
await deadLetters.ensureTopic();
const group = new GroupConsumer({
  url: args.url,
  groupId: args.group,
  topics: [args.topic],
  assignor: 'roundrobin', // sarama.NewBalanceStrategyRoundRobin()
  autoOffsetReset: 'earliest', // sarama.OffsetOldest
  autoCommit: true, // sarama commits marked offsets in the background
  autoCommitIntervalMs: 1000,
  maxRecords: 100,
  waitMs: args['until-idle'] ? 300 : 1000,
});
const handler = new ConsumerGroupHandler(deadLetters);
process.on('SIGINT', () => group.stop());
await group.run({
  eachBatch: async ({ records, resolveOffset }) => {
    if (records.length === 0 && args['until-idle']) group.stop();
    await handler.consumeClaim({ markMessage: resolveOffset }, records);
  },
});
await group.close();
await deadLetters.close();
