import { expect, it } from 'vitest';
import { Admin, GroupConsumer, Producer, type TopicPartition } from '../../client/index.ts';
import { runNode, useApi } from '../support/e2e.ts';
import { uniqueName } from '../support/names.ts';

/** End to end over HTTP: the local stack, or a deployed one when SLUICE_API_URL is set. */
const api = useApi('e2e-groups');
const cli = (args: string[], stdin?: string) => runNode('bin/sluice.mjs', ['--url', api.url, ...args], stdin);

it('two group consumers share a topic over HTTP: cooperative hand-over with callbacks, every record processed, offsets committed', async () => {
  const topic = uniqueName('orders');
  const groupId = uniqueName('billing');
  await new Admin({ url: api.url }).createTopic(topic, { partitions: 4 });
  const producer = new Producer({ url: api.url });
  await producer.sendBatch(
    topic,
    Array.from({ length: 200 }, (_, i) => ({ key: `user-${i}`, value: { i } })),
  );
  await producer.close();

  const events: string[] = [];
  const processed = new Map<number, string>();
  const make = (name: string) =>
    new GroupConsumer({
      url: api.url,
      groupId,
      topics: [topic],
      autoOffsetReset: 'earliest',
      sessionTimeoutMs: 10_000, // a loaded CI machine can take seconds per request
      maxRecords: 20,
      waitMs: 200,
      autoCommitIntervalMs: 200,
      onAssigned: (ps: TopicPartition[]) => void events.push(...ps.map((p) => `${name} +${p.partition}`)),
      onRevoked: (ps: TopicPartition[]) => void events.push(...ps.map((p) => `${name} -${p.partition}`)),
    });
  const a = make('a');
  const b = make('b');
  const runA = a.run({ eachMessage: async (r) => void processed.set((r.value as { i: number }).i, 'a') });
  await new Promise((r) => setTimeout(r, 600));
  const runB = b.run({ eachMessage: async (r) => void processed.set((r.value as { i: number }).i, 'b') });
  const deadline = Date.now() + 20_000;
  while ((processed.size < 200 || b.assignment().length < 2) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 100));
  a.stop();
  b.stop();
  await Promise.all([runA, runB]);
  await Promise.all([a.close(), b.close()]);

  expect(processed.size, 'every record processed').toBe(200);
  // Cooperative hand-over, replayed from the callbacks in the order they ran: a member is told
  // it has a partition only after the member that had it was told it lost it. (A partition b gets
  // that a never had is fine: b may join before a's first claims.)
  const holder = new Map<string, string>();
  for (const e of events) {
    const [name, change] = e.split(' ') as [string, string];
    const p = change.slice(1);
    if (change.startsWith('+')) {
      expect(holder.get(p), `partition ${p} given to ${name} while held (${events.join(', ')})`).toBeUndefined();
      holder.set(p, name);
    } else {
      expect(holder.get(p), `partition ${p} taken from ${name} (${events.join(', ')})`).toBe(name);
      holder.delete(p);
    }
  }
  expect(
    events.some((e) => e.startsWith('b +')),
    `b got partitions: ${events.join(', ')}`,
  ).toBeTruthy();

  const described = await cli(['groups', 'describe', groupId, '--json']);
  expect(described.code, described.stderr).toBe(0);
  const d = JSON.parse(described.stdout);
  expect(d.state).toBe('Empty');
  expect(d.totalLag, 'all committed on close').toBe(0);
  expect((await cli(['groups', 'list'])).stdout).toMatch(new RegExp(groupId));
});

it('the CLI consumes with a group, resumes from commits, resets and deletes the group', async () => {
  const topic = uniqueName('cli');
  const groupId = uniqueName('cli-group');
  await new Admin({ url: api.url }).createTopic(topic, { partitions: 2 });
  const producer = new Producer({ url: api.url });
  await producer.sendBatch(
    topic,
    Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: i })),
  );
  await producer.close();

  const first = await cli(['consume', topic, '--group', groupId, '--from-beginning', '--json']);
  expect(first.code, first.stderr).toBe(0);
  expect(first.stdout.trim().split('\n').length).toBe(30);
  const second = await cli(['consume', topic, '--group', groupId, '--from-beginning', '--json']);
  expect(second.stdout.trim(), 'committed: nothing again').toBe('');
  const reset = await cli(['groups', 'reset', groupId, '--topic', topic, '--to-earliest']);
  expect(reset.code, reset.stderr).toBe(0);
  expect(reset.stdout).toMatch(/NEW OFFSET/);
  const third = await cli(['consume', topic, '--group', groupId, '--max', '5', '--json']);
  expect(third.stdout.trim().split('\n').length).toBe(5);
  const fourth = await cli(['consume', topic, '--group', groupId, '--json']);
  expect(fourth.stdout.trim().split('\n').length, 'the --max 5 run committed exactly the 5 it printed').toBe(25);
  expect((await cli(['groups', 'delete', groupId])).code).toBe(0);
  const gone = await cli(['groups', 'describe', groupId]);
  expect(gone.code).toBe(1);
  expect(gone.stderr).toMatch(/GroupNotFound/);
});

it('pause, resume and seek on a group consumer', async () => {
  const topic = uniqueName('controls');
  const groupId = uniqueName('controls');
  await new Admin({ url: api.url }).createTopic(topic, { partitions: 2 });
  const producer = new Producer({ url: api.url });
  await producer.sendBatch(
    topic,
    Array.from({ length: 10 }, (_, i) => ({ value: i, partition: i % 2 })),
  );
  await producer.close();
  const consumer = new GroupConsumer({
    url: api.url,
    groupId,
    topics: [topic],
    autoOffsetReset: 'earliest',
    autoCommit: false,
    waitMs: 0,
  });
  await consumer.connect();
  expect(consumer.assignment().length).toBe(2);
  consumer.pause([{ topic, partition: 1 }]);
  const first = await consumer.poll();
  expect([...new Set(first.map((r) => r.partition))], 'a paused partition is not fetched').toStrictEqual([0]);
  expect(first.length).toBe(5);
  consumer.resume([{ topic, partition: 1 }]);
  const second = await consumer.poll();
  expect(second.map((r) => r.partition)).toStrictEqual([1, 1, 1, 1, 1]);
  consumer.seek({ topic, partition: 0, offset: 3 });
  const third = await consumer.poll();
  expect(
    third.map((r) => [r.partition, r.offset]),
    'seek moves the position',
  ).toStrictEqual([
    [0, 3],
    [0, 4],
  ]);
  await consumer.commit();
  await consumer.close();
  const d = await fetch(`${api.url}/v1/groups/${groupId}`).then(
    (r) => r.json() as Promise<{ offsets: { partition: number; committed: number }[] }>,
  );
  expect(d.offsets.map((o) => [o.partition, o.committed])).toStrictEqual([
    [0, 5],
    [1, 5],
  ]);
});

it('a consumer that crashes between polls loses nothing: auto-commit covers only records handed over before the poll', async () => {
  const topic = uniqueName('crash');
  const groupId = uniqueName('crashers');
  await new Admin({ url: api.url }).createTopic(topic, { partitions: 1 });
  const producer = new Producer({ url: api.url });
  await producer.sendBatch(
    topic,
    Array.from({ length: 30 }, (_, i) => ({ value: { i }, partition: 0 })),
  );
  await producer.close();
  const processed = new Set<number>();
  const values = (records: { value: unknown }[]) => records.map((r) => (r.value as { i: number }).i);
  const consumer = () =>
    new GroupConsumer({
      url: api.url,
      groupId,
      topics: [topic],
      autoOffsetReset: 'earliest',
      autoCommitIntervalMs: 0, // auto-commit at every poll: the most a poll can commit
      maxRecords: 10,
      waitMs: 0,
    });
  const committed = async () => {
    const res = await fetch(`${api.url}/v1/groups/${groupId}`);
    const { offsets } = (await res.json()) as { offsets: { committed: number | null }[] };
    return offsets[0]?.committed ?? null;
  };

  const a = consumer();
  const first = await a.poll();
  expect(first.length).toBe(10);
  for (const i of values(first)) processed.add(i);
  const second = await a.poll(); // auto-commits the first ten: they were processed
  expect(second.length).toBe(10);
  expect(await committed(), 'the records just handed over are not committed').toBe(10);
  // a crashes while processing the second ten: no commit, no goodbye; its session ends.
  const memberId = a.memberId!;
  a.stop();
  await fetch(`${api.url}/v1/groups/${groupId}/members/${encodeURIComponent(memberId)}`, { method: 'DELETE' });

  const b = consumer();
  for (let polls = 0; polls < 10 && processed.size < 30; polls++)
    for (const i of values(await b.poll())) processed.add(i);
  await b.close();
  expect(
    [...processed].sort((x, y) => x - y),
    'every record processed despite the crash',
  ).toStrictEqual(Array.from({ length: 30 }, (_, i) => i));
  expect(await committed()).toBe(30);
});
