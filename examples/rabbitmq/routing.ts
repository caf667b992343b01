/**
 * RabbitMQ tutorial 4, "Routing" (emit_log_direct.py and receive_logs_direct.py), on Sluice: a
 * direct exchange delivers a log message to the queues bound with its severity as binding key.
 * One subscriber keeps errors only (the tutorial's "save to disk"), the other prints info,
 * warning and error; a debug message matches no binding and is routed nowhere.
 *
 *   npx sluice example rabbitmq/routing
 *   npx sluice example rabbitmq/routing --exchange direct_logs
 */
import { parseArgs } from 'node:util';
import { Publisher } from '../../client/index.ts';
import { ExclusiveQueue, URL_OPTION, body, consumeUntilIdle, exitAfter, unique } from './queues.ts';

const { values } = parseArgs({
  options: {
    ...URL_OPTION,
    exchange: { type: 'string', default: unique('direct_logs') },
  },
});
exitAfter(60_000);
const { url, exchange } = values;
const publisher = new Publisher({ url });
await publisher.declare(exchange, { type: 'direct' });

// receive_logs_direct.py error  /  receive_logs_direct.py info warning error
const subscribers = [
  { name: 'disk', severities: ['error'] },
  { name: 'console', severities: ['info', 'warning', 'error'] },
];
let sent = false;
const queues = await Promise.all(
  subscribers.map(async ({ name, severities }) => {
    const queue = await ExclusiveQueue.bind(url, exchange, severities); // a queue_bind per severity
    console.log(`[${name}]  [*] Waiting for ${severities.join(', ')} logs`);
    return { name, queue };
  }),
);
const receiving = queues.map(async ({ name, queue }) => {
  await consumeUntilIdle(
    queue.consumer,
    () => sent,
    (record) => console.log(`[${name}]  [x] ${String(record.headers['x-routing-key'])}:'${body(record)}'`),
  );
  await queue.delete();
});

// emit_log_direct.py SEVERITY MESSAGE
const logs: [string, string][] = [
  ['info', 'Hello World!'],
  ['warning', 'Disk almost full'],
  ['error', 'Run. Run. Or it will explode.'],
  ['debug', 'Nobody listens to debug'],
];
for (const [severity, message] of logs) {
  const { routed } = await publisher.publish(exchange, { routingKey: severity, value: message });
  console.log(` [x] Sent '${severity}':'${message}'${routed.length === 0 ? ' (routed nowhere)' : ''}`);
}
sent = true;
await Promise.all(receiving);
