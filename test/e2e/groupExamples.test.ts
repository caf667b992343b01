import { expect, it } from 'vitest';
import { Admin, PartitionConsumer, Producer } from '../../client/index.ts';
import { runNode, useApi } from '../support/e2e.ts';
import { uniqueName } from '../support/names.ts';

const api = useApi('group-examples');
const run = (script: string, args: string[]) => runNode(script, ['--url', api.url, ...args]);

it('the Python-, Java- and Go-style consumer-group examples process every order once, route bad ones aside and commit', async () => {
  const topic = uniqueName('orders');
  await new Admin({ url: api.url }).createTopic(topic, { partitions: 3 });
  const producer = new Producer({ url: api.url });
  await producer.sendBatch(
    topic,
    Array.from({ length: 30 }, (_, i) => ({
      key: `user-${i % 5}`,
      value: { orderId: `order-${i}`, userId: `user-${i % 5}`, amount: i % 10 === 9 ? -1 : i },
    })),
  );
  await producer.close();

  for (const style of ['python', 'java', 'go']) {
    const group = `${style}-processor`;
    const result = await run(`examples/groups/${style}-style-consumer.ts`, [
      '--topic',
      topic,
      '--group',
      group,
      '--until-idle',
    ]);
    expect(result.code, `${style}: ${result.stderr}`).toBe(0);
    const processed = result.stdout
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('Processed'));
    expect(processed.length, `${style} processed the good orders once`).toBe(27);
    const dlq = new PartitionConsumer({
      url: api.url,
      topic: `${topic}.${group}.DLQ`,
      partition: 0,
      autoOffsetReset: 'earliest',
      waitMs: 0,
    });
    expect(
      (await dlq.poll()).map((r) => (r.value as { orderId: string }).orderId).sort(),
      `${style} dead-lettered the bad ones`,
    ).toStrictEqual(['order-19', 'order-29', 'order-9']);
    const described = await new Admin({ url: api.url }).describeTopic(topic);
    const lag = await fetch(`${api.url}/v1/groups/${group}`).then(
      (r) => r.json() as Promise<{ totalLag: number; assignor: string }>,
    );
    expect(lag.totalLag, `${style} committed everything`).toBe(0);
    expect(lag.assignor).toBe('roundrobin');
    expect(described.partitions.length).toBe(3);
    const again = await run(`examples/groups/${style}-style-consumer.ts`, [
      '--topic',
      topic,
      '--group',
      group,
      '--until-idle',
    ]);
    expect(again.stdout.trim(), `${style}: a restart processes nothing twice`).toBe('');
  }
});
