import { expect, it } from 'vitest';
import { Admin, PartitionConsumer, PermanentError, Producer, ShareConsumer } from '../../client/index.ts';
import { runNode, useApi } from '../support/e2e.ts';
import { uniqueName } from '../support/names.ts';

/** Share groups end to end over HTTP: the local stack, or a deployed one when SLUICE_API_URL is set. */
const api = useApi('e2e-queues');
const cli = (args: string[]) => runNode('bin/sluice.mjs', ['--url', api.url, ...args]);

it('three workers share one partition record by record: a failure is retried with backoff, a permanent one is dead-lettered, every other job is done once', async () => {
  const topic = uniqueName('jobs');
  const dlq = `${topic}.dlq`;
  const group = uniqueName('workers');
  const admin = new Admin({ url: api.url });
  await admin.createTopic(topic, { partitions: 1 });
  await admin.createTopic(dlq, { partitions: 1 });
  const producer = new Producer({ url: api.url });
  await producer.sendBatch(
    topic,
    Array.from({ length: 60 }, (_, i) => ({ key: `job-${i}`, value: { i } })),
  );
  await producer.close();

  const done = new Map<number, string[]>();
  const attempts = new Map<number, number>();
  const workers = ['a', 'b', 'c'].map(
    (name) =>
      [
        name,
        new ShareConsumer({
          url: api.url,
          groupId: group,
          topics: [topic],
          deadLetterTopic: dlq,
          maxRecords: 5,
          waitMs: 200,
          retryBackoffMs: 50,
        }),
      ] as const,
  );
  const runs = workers.map(([name, worker]) =>
    worker.run({
      eachMessage: async (r) => {
        const { i } = r.value as { i: number };
        attempts.set(i, (attempts.get(i) ?? 0) + 1);
        if (i === 7) throw new PermanentError('job 7 can never succeed');
        if (i === 13 && r.deliveryCount < 3) throw new Error(`flaky (${r.deliveryCount})`);
        done.set(i, [...(done.get(i) ?? []), name]);
      },
    }),
  );
  const deadline = Date.now() + 30_000;
  while (done.size < 59 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const [, worker] of workers) worker.stop();
  await Promise.all(runs);
  await Promise.all(workers.map(([, worker]) => worker.close()));

  expect(done.size, 'every job but 7 done').toBe(59);
  for (const [i, by] of done) expect(by.length, `job ${i} done once`).toBe(1);
  expect(attempts.get(13), 'the flaky job: two failures, then done').toBe(3);
  expect(new Set([...done.values()].flat()).size, 'the workers shared the partition').toBeGreaterThan(1);

  const dead = await new PartitionConsumer({ url: api.url, topic: dlq, partition: 0 }).poll({ maxRecords: 10 });
  expect(dead.map((r) => r.value)).toStrictEqual([{ i: 7 }]);
  expect(dead[0]!.headers).toMatchObject({
    original_topic: topic,
    original_offset: '7',
    reason: 'rejected',
    error_message: 'job 7 can never succeed',
    delivery_count: '1',
  });

  const described = await cli(['share-groups', 'describe', group, '--json']);
  expect(described.code, described.stderr).toBe(0);
  const d = JSON.parse(described.stdout);
  expect(d.partitions[0]).toMatchObject({ startOffset: 60, inFlight: 0, archived: 1, lag: 0 });
  expect((await cli(['share-groups', 'list'])).stdout).toContain(group);
});

it('the CLI consumes a topic as a queue: what it prints is accepted, and the next run gets the rest', async () => {
  const topic = uniqueName('tasks');
  const group = uniqueName('cli-queue');
  await new Admin({ url: api.url }).createTopic(topic, { partitions: 2 });
  const producer = new Producer({ url: api.url });
  await producer.sendBatch(
    topic,
    Array.from({ length: 12 }, (_, i) => ({ value: i, partition: i % 2 })),
  );
  await producer.close();
  const first = await cli(['consume', topic, '--share-group', group, '--max', '5', '--json']);
  expect(first.code, first.stderr).toBe(0);
  const second = await cli(['consume', topic, '--share-group', group, '--json']);
  const values = [...first.stdout.trim().split('\n'), ...second.stdout.trim().split('\n')].map(
    (l) => (JSON.parse(l) as { value: number }).value,
  );
  expect(first.stdout.trim().split('\n')).toHaveLength(5);
  expect(values.sort((x, y) => x - y)).toStrictEqual(Array.from({ length: 12 }, (_, i) => i));
  const gone = await cli(['share-groups', 'delete', group]);
  expect(gone.code, gone.stderr).toBe(0);
});
