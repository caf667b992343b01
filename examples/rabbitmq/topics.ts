/**
 * RabbitMQ tutorial 5, "Topics" (emit_log_topic.py and receive_logs_topic.py), on Sluice: a topic
 * exchange matches routing keys of `.`-separated words against binding patterns, `*` standing
 * for exactly one word and `#` for zero or more. The tutorial's bindings: Q1 wants every orange
 * animal (`*.orange.*`), Q2 every rabbit (`*.*.rabbit`) and everything lazy (`lazy.#`). Its
 * messages show the rules: `lazy.pink.rabbit` matches both of Q2's bindings and arrives once;
 * `quick.brown.fox`, `orange` and `quick.orange.new.rabbit` match nothing and are routed nowhere;
 * `lazy.orange.new.rabbit` matches `lazy.#` only.
 *
 *   npx sluice example rabbitmq/topics
 *   npx sluice example rabbitmq/topics --exchange topic_logs
 */
import { parseArgs } from 'node:util';
import { Publisher } from '../../client/index.ts';
import { ExclusiveQueue, URL_OPTION, body, consumeUntilIdle, exitAfter, unique } from './queues.ts';

const { values } = parseArgs({
  options: {
    ...URL_OPTION,
    exchange: { type: 'string', default: unique('topic_logs') },
  },
});
exitAfter(60_000);
const { url, exchange } = values;
const publisher = new Publisher({ url });
await publisher.declare(exchange, { type: 'topic' });

// receive_logs_topic.py "*.orange.*"  /  receive_logs_topic.py "*.*.rabbit" "lazy.#"
const bindings = [
  { name: 'Q1', keys: ['*.orange.*'] },
  { name: 'Q2', keys: ['*.*.rabbit', 'lazy.#'] },
];
const queues = await Promise.all(
  bindings.map(async ({ name, keys }) => {
    const queue = await ExclusiveQueue.bind(url, exchange, keys);
    console.log(`[${name}]  [*] Waiting for logs matching ${keys.join(' ')}`);
    return { name, queue };
  }),
);
let sent = false;
const receiving = queues.map(async ({ name, queue }) => {
  await consumeUntilIdle(
    queue.consumer,
    () => sent,
    (record) => console.log(`[${name}]  [x] ${String(record.headers['x-routing-key'])}:'${body(record)}'`),
  );
  await queue.delete();
});

// emit_log_topic.py ROUTING_KEY MESSAGE
const keys = [
  'quick.orange.rabbit', // Q1 and Q2
  'lazy.orange.elephant', // Q1 and Q2
  'quick.orange.fox', // Q1
  'lazy.brown.fox', // Q2
  'lazy.pink.rabbit', // Q2, once though both its bindings match
  'quick.brown.fox', // nowhere
  'orange', // nowhere: `*.orange.*` needs three words
  'quick.orange.new.rabbit', // nowhere
  'lazy.orange.new.rabbit', // Q2 (lazy.#)
];
for (const routingKey of keys) {
  const message = routingKey.split('.').join(' ');
  const { routed } = await publisher.publish(exchange, { routingKey, value: message });
  console.log(` [x] Sent '${routingKey}':'${message}'${routed.length === 0 ? ' (routed nowhere)' : ''}`);
}
sent = true;
await Promise.all(receiving);
