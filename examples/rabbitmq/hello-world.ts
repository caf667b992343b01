/**
 * RabbitMQ tutorial 1, "Hello World!" (send.py and receive.py), on Sluice: the producer sends
 * to a queue (RabbitMQ's default exchange: routing key = queue name; here, the queue's topic),
 * and a consumer of the queue's share group receives and acknowledges. It stops once it has
 * received everything sent.
 *
 *   npm start                                          # in one shell
 *   npx sluice example rabbitmq/hello-world            # a new queue hello-<random>
 *   npx sluice example rabbitmq/hello-world --queue hello --count 3
 */
import { parseArgs } from 'node:util';
import { Producer } from '../../client/index.ts';
import { URL_OPTION, body, consumeUntilIdle, declareQueue, exitAfter, queueConsumer, unique } from './queues.ts';

const { values } = parseArgs({
  options: {
    ...URL_OPTION,
    queue: { type: 'string', default: unique('hello') },
    message: { type: 'string', default: 'Hello World!' },
    count: { type: 'string', default: '1' },
  },
});
exitAfter(60_000);
const { url, queue } = values;
await declareQueue(url, queue); // channel.queue_declare(queue='hello')

// send.py
const producer = new Producer({ url });
for (let i = 0; i < Number(values.count); i++) {
  await producer.send(queue, { value: values.message }); // basic_publish(exchange='', routing_key='hello')
  console.log(` [x] Sent '${values.message}'`);
}
await producer.close();

// receive.py
console.log(` [*] Waiting for messages in ${queue}`);
await consumeUntilIdle(
  queueConsumer(url, queue),
  () => true, // everything is sent already
  (record) => console.log(` [x] Received '${body(record)}'`),
);
