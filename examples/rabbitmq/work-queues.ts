/**
 * RabbitMQ tutorial 2, "Work Queues" (new_task.py and worker.py), on Sluice: tasks go to one
 * queue; several workers share its share group, each taking one task at a time (`maxRecords: 1`,
 * RabbitMQ's `basic_qos(prefetch_count=1)`: fair dispatch, a busy worker is given nothing more)
 * and acknowledging it when done, so a task whose worker dies is delivered to another. Each dot
 * in a task is a second of work in the tutorial, `--dot-ms` here.
 *
 *   npx sluice example rabbitmq/work-queues                      # 10 tasks, 2 workers
 *   npx sluice example rabbitmq/work-queues --count 20 --workers 3 --dot-ms 50
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Producer } from '../../client/index.ts';
import { URL_OPTION, body, consumeUntilIdle, declareQueue, exitAfter, queueConsumer, unique } from './queues.ts';

const { values } = parseArgs({
  options: {
    ...URL_OPTION,
    queue: { type: 'string', default: unique('task_queue') },
    count: { type: 'string', default: '10' },
    workers: { type: 'string', default: '2' },
    'dot-ms': { type: 'string', default: '100' },
  },
});
exitAfter(120_000);
const { url, queue } = values;
const dotMs = Number(values['dot-ms']);
await declareQueue(url, queue);

// worker.py, started first, as in the tutorial: each worker is a member of the queue's share group.
let sent = false;
const done = new Map<string, number>();
const workers = Array.from({ length: Number(values.workers) }, (_, i) => {
  const name = `worker ${i + 1}`;
  done.set(name, 0);
  const consumer = queueConsumer(url, queue, { maxRecords: 1 }); // prefetch_count=1
  return consumeUntilIdle(
    consumer,
    () => sent,
    async (record) => {
      const task = body(record);
      console.log(`[${name}]  [x] Received '${task}'`);
      await sleep(dotMs * (task.split('.').length - 1)); // time.sleep(body.count(b'.'))
      console.log(`[${name}]  [x] Done '${task}'`);
      done.set(name, done.get(name)! + 1);
    }, // then acknowledged: ch.basic_ack(delivery_tag=method.delivery_tag)
  );
});

// new_task.py: Task 1. … Task 5..... Task 6. …: one to five dots.
const producer = new Producer({ url });
for (let i = 1; i <= Number(values.count); i++) {
  const task = `Task ${i}${'.'.repeat(((i - 1) % 5) + 1)}`;
  await producer.send(queue, { value: task });
  console.log(` [x] Sent '${task}'`);
}
await producer.close();
sent = true;

await Promise.all(workers);
console.log(`Tasks done per worker: ${[...done].map(([name, n]) => `${name}: ${n}`).join(', ')}`);
