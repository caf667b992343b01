/**
 * RabbitMQ tutorial 3, "Publish/Subscribe" (emit_log.py and receive_logs.py), on Sluice: a
 * fanout exchange copies every log message to each subscriber's exclusive queue (a topic with a
 * unique name, bound with no key), so every subscriber receives every message. A message
 * published while no queue is bound is dropped, as in RabbitMQ: subscribers bind first.
 *
 *   npx sluice example rabbitmq/publish-subscribe                      # 2 subscribers, 3 messages
 *   npx sluice example rabbitmq/publish-subscribe --subscribers 3 --count 5 --exchange logs
 */
import { parseArgs } from 'node:util';
import { Publisher } from '../../client/index.ts';
import { ExclusiveQueue, URL_OPTION, body, consumeUntilIdle, exitAfter, unique } from './queues.ts';

const { values } = parseArgs({
  options: {
    ...URL_OPTION,
    exchange: { type: 'string', default: unique('logs') },
    subscribers: { type: 'string', default: '2' },
    count: { type: 'string', default: '3' },
  },
});
exitAfter(60_000);
const { url, exchange } = values;
const publisher = new Publisher({ url });
await publisher.declare(exchange, { type: 'fanout' }); // exchange_declare(exchange='logs', exchange_type='fanout')

// receive_logs.py, once per subscriber: an exclusive queue bound to the exchange.
let sent = false;
const subscribers = await Promise.all(
  Array.from({ length: Number(values.subscribers) }, async (_, i) => {
    const name = `subscriber ${i + 1}`;
    const queue = await ExclusiveQueue.bind(url, exchange);
    console.log(`[${name}]  [*] Waiting for logs in ${queue.name}`);
    return { name, queue };
  }),
);
const receiving = subscribers.map(async ({ name, queue }) => {
  await consumeUntilIdle(
    queue.consumer,
    () => sent,
    (record) => console.log(`[${name}]  [x] '${body(record)}'`),
  );
  await queue.delete(); // the exclusive queue goes when its consumer does
});

// emit_log.py
for (let i = 1; i <= Number(values.count); i++) {
  const message = `info: Hello World! #${i}`;
  await publisher.publish(exchange, { routingKey: '', value: message });
  console.log(` [x] Sent '${message}'`);
}
sent = true;
await Promise.all(receiving);
