import { expect, it } from 'vitest';
import {
  Admin,
  PartitionConsumer,
  PermanentError,
  Producer,
  Publisher,
  ShareConsumer,
  isSluiceApiError,
  type ReceivedRecord,
  type ShareReceivedRecord,
} from '../../client/index.ts';
import { runNode, useApi } from '../support/e2e.ts';
import { uniqueName } from '../support/names.ts';

/**
 * Queues in RabbitMQ's vocabulary end to end over HTTP, with the client (`Admin.declareQueue`, a
 * `ShareConsumer` on the queue) and the CLI (`sluice queues`, `sluice consume --queue`): the local
 * stack, or a deployed one when SLUICE_API_URL is set.
 */
const api = useApi('e2e-queue-cli');
const cli = (args: string[]) => runNode('bin/sluice.mjs', ['--url', api.url, ...args]);

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

/** Polls until `count` records were acquired (a first poll may come back empty while the join settles). */
async function acquire(consumer: ShareConsumer, count: number): Promise<ShareReceivedRecord[]> {
  const got: ShareReceivedRecord[] = [];
  const deadline = Date.now() + 30_000;
  while (got.length < count && Date.now() < deadline) got.push(...(await consumer.poll({ waitMs: 500 })));
  return got;
}

/** Every record of a one-partition topic, waiting up to 30 s for at least `count`. */
async function records(topic: string, count: number): Promise<ReceivedRecord[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const consumer = new PartitionConsumer({ url: api.url, topic, partition: 0, fromOffset: 0, waitMs: 0 });
    const got = await consumer.poll({ maxRecords: 100 });
    if (got.length >= count || Date.now() > deadline) return got;
    await new Promise((r) => setTimeout(r, 200));
  }
}

it('reject-publish: a queue at its maxLength refuses a produce with QueueFull (409) and writes nothing; a consumer accepting makes room', async () => {
  const admin = new Admin({ url: api.url });
  const name = uniqueName('small');
  const declaration = { name, maxLength: 2, overflow: 'reject-publish' as const };
  const first = await admin.declareQueue(declaration);
  expect(first.created).toBe(true);
  expect(first.queue).toMatchObject({
    name,
    messages: 0,
    ready: 0,
    unacknowledged: 0,
    archived: 0,
    consumers: 0,
    settings: { queue: true, maxLength: 2, overflow: 'reject-publish' },
  });
  expect((await admin.declareQueue(declaration)).created, 'declared again as it is').toBe(false);
  const conflict = await failure(admin.declareQueue({ ...declaration, maxLength: 3 }));
  expect(isSluiceApiError(conflict, 'QueueConflict') && conflict.status).toBe(409);
  expect((await admin.describeTopic(name)).partitions, 'a one-partition topic').toHaveLength(1);
  expect(await admin.listQueues()).toContain(name);

  const producer = new Producer({ url: api.url });
  await producer.sendBatch(name, [{ value: 'a' }, { value: 'b' }]);
  const full = await failure(producer.send(name, { value: 'c' }));
  expect(isSluiceApiError(full, 'QueueFull') && full.status, String(full)).toBe(409);
  expect((await admin.describeTopic(name)).partitions[0]!.highWatermark, 'nothing written').toBe(2);
  expect(await admin.describeQueue(name)).toMatchObject({ messages: 2, ready: 2, unacknowledged: 0 });

  const consumer = new ShareConsumer({ url: api.url, groupId: name, topics: [name] });
  try {
    const got = await acquire(consumer, 2);
    expect(got.map((r) => r.value)).toStrictEqual(['a', 'b']);
    expect(await admin.describeQueue(name), 'held: still counted').toMatchObject({
      messages: 2,
      ready: 0,
      unacknowledged: 2,
      consumers: 1,
    });
    expect(isSluiceApiError(await failure(producer.send(name, { value: 'c' })), 'QueueFull')).toBe(true);
    for (const r of got) consumer.acknowledge(r, 'accept');
    expect((await consumer.commit()).map((o) => o.ok)).toStrictEqual([true, true]);
  } finally {
    await consumer.close();
  }
  expect(await admin.describeQueue(name)).toMatchObject({ messages: 0, consumers: 0 });
  const report = await producer.send(name, { value: 'd' });
  expect(report.offset, 'room again').toBe(2);
  await producer.close();
  await admin.deleteQueue(name);
  expect(await admin.listQueues()).not.toContain(name);
});

it('dead-letter exchange: an expired message and one rejected with PermanentError are published to the queue’s dead-letter exchange with x-death', async () => {
  const admin = new Admin({ url: api.url });
  const publisher = new Publisher({ url: api.url });
  const [dead, dlx, work, queue] = ['dead', 'dlx', 'work', 'billing'].map((n) => uniqueName(n)) as [
    string,
    string,
    string,
    string,
  ];
  await admin.createTopic(dead, { partitions: 1 });
  await publisher.declare(dlx, { type: 'fanout' });
  await publisher.bind(dlx, { destination: { topic: dead } });
  await publisher.declare(work, { type: 'direct' });
  const { created } = await admin.declareQueue({
    name: queue,
    deadLetterExchange: dlx,
    deadLetterRoutingKey: 'failed',
  });
  expect(created).toBe(true);
  await publisher.bind(work, { destination: { topic: queue }, bindingKey: 'invoice' });

  // The first message's own expiration runs out before any consumer comes: at the head, it is dead-lettered.
  await publisher.publish(work, { routingKey: 'invoice', value: { id: 6 }, expiration: 1 });
  await publisher.publish(work, { routingKey: 'invoice', value: { id: 7 }, headers: { trace: 't-7' } });
  await new Promise((r) => setTimeout(r, 50));

  const seen: unknown[] = [];
  const worker = new ShareConsumer({ url: api.url, groupId: queue, topics: [queue], waitMs: 200 });
  const running = worker.run({
    eachMessage: async (r) => {
      seen.push(r.value);
      throw new PermanentError('invoice 7 is malformed');
    },
  });
  const letters = await records(dead, 2);
  worker.stop();
  await running;
  await worker.close();

  expect(seen, 'the expired message is never delivered').toStrictEqual([{ id: 7 }]);
  expect(letters.map((l) => [l.value, l.headers.reason])).toStrictEqual([
    [{ id: 6 }, 'expired'],
    [{ id: 7 }, 'rejected'],
  ]);
  const [expired, rejected] = letters as [ReceivedRecord, ReceivedRecord];
  const deaths = (l: ReceivedRecord) => JSON.parse(l.headers['x-death'] as string) as Record<string, unknown>[];
  expect(deaths(expired)).toStrictEqual([
    {
      queue,
      reason: 'expired',
      count: 1,
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      exchange: work,
      'routing-keys': ['invoice'],
      'original-expiration': '1',
    },
  ]);
  expect(expired.headers['x-expiration'], 'a dead letter does not expire again').toBeUndefined();
  expect(deaths(rejected)).toStrictEqual([
    {
      queue,
      reason: 'rejected',
      count: 1,
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      exchange: work,
      'routing-keys': ['invoice'],
    },
  ]);
  expect(Math.abs(Date.parse(deaths(rejected)[0]!.time as string) - Date.now())).toBeLessThan(60_000);
  expect(rejected.headers).toMatchObject({
    trace: 't-7',
    'x-first-death-queue': queue,
    'x-first-death-reason': 'rejected',
    'x-first-death-exchange': work,
    'x-last-death-queue': queue,
    'x-last-death-reason': 'rejected',
    'x-last-death-exchange': work,
    'x-exchange': dlx,
    'x-routing-key': 'failed',
    original_topic: queue,
    original_partition: '0',
    original_offset: '1',
    delivery_count: '1',
    share_group: queue,
    error_message: 'invoice 7 is malformed',
  });
  expect(await admin.describeQueue(queue)).toMatchObject({ messages: 0, archived: 2, consumers: 0 });
});

it('the CLI declares, lists, describes and deletes a queue, and consumes it with --queue', async () => {
  const name = uniqueName('cli-queue');
  const declare = ['queues', 'declare', name, '--max-length', '10', '--message-ttl-ms', '600000'];
  const declared = await cli([...declare, '--delivery-limit', '3', '--lock-ms', '5000']);
  expect(declared.code, declared.stderr).toBe(0);
  expect(declared.stdout.trim()).toBe(`Declared queue ${name}`);
  const again = await cli([...declare, '--delivery-limit', '3', '--lock-ms', '5000', '--json']);
  expect(again.code, again.stderr).toBe(0);
  expect(JSON.parse(again.stdout)).toMatchObject({ created: false, queue: { name, messages: 0 } });
  const conflict = await cli([...declare, '--overflow', 'reject-publish']);
  expect(conflict.code).toBe(1);
  expect(conflict.stderr).toMatch(/^Error QueueConflict: /);
  const badOverflow = await cli([...declare, '--overflow', 'drop-tail']);
  expect([badOverflow.code, badOverflow.stderr.split('\n')[0]]).toStrictEqual([
    2,
    '--overflow is drop-head or reject-publish',
  ]);

  const listed = await cli(['queues', 'list']);
  expect(listed.code, listed.stderr).toBe(0);
  expect(listed.stdout.split('\n')).toContain(name);

  const producer = new Producer({ url: api.url });
  await producer.sendBatch(
    name,
    [1, 2, 3].map((value) => ({ value })),
  );
  await producer.close();
  const described = await cli(['queues', 'describe', name]);
  expect(described.code, described.stderr).toBe(0);
  expect(described.stdout.split('\n').slice(0, 2)).toStrictEqual([
    `Queue ${name}: 3 message(s) (3 ready, 0 unacknowledged), 0 archived, 0 consumer(s)`,
    'Settings messageTtlMs=600000 maxLength=10 overflow=drop-head deliveryLimit=3 lockMs=5000 maxInFlight=2000',
  ]);

  const consumed = await cli(['consume', '--queue', name, '--max', '2', '--json']);
  expect(consumed.code, consumed.stderr).toBe(0);
  expect(
    consumed.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { value: number }).value),
  ).toStrictEqual([1, 2]);
  const left = JSON.parse((await cli(['queues', 'describe', name, '--json'])).stdout);
  expect(left).toMatchObject({ name, messages: 1, ready: 1, consumers: 0, settings: { deliveryLimit: 3 } });
  const wrongTopic = await cli(['consume', 'elsewhere', '--queue', name]);
  expect(wrongTopic.code).toBe(2);

  const deleted = await cli(['queues', 'delete', name]);
  expect(deleted.code, deleted.stderr).toBe(0);
  expect(deleted.stdout.trim()).toBe(`Deleted queue ${name}`);
  expect((await cli(['queues', 'list'])).stdout.split('\n')).not.toContain(name);
  const gone = await cli(['queues', 'describe', name]);
  expect([gone.code, gone.stderr]).toStrictEqual([1, `Error QueueNotFound: Queue ${name} does not exist\n`]);
});
