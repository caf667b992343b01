import { afterAll, beforeAll, expect, it } from 'vitest';
import { Admin, GroupConsumer, PartitionConsumer, Producer } from '../../client/index.ts';
import { DynamoStore } from '../../core/adapters/dynamodb/dynamoStore.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { DynamoWatchStore } from '../../core/subscriptions/dynamoWatchStore.ts';
import { dynamoClientFromEnv } from '../../local/awsEnv.ts';
import type { LocalStack } from '../../local/stack.ts';
import { startTestStack } from '../support/e2e.ts';
import { uniqueName } from '../support/names.ts';

/**
 * Waiting for free on the local stack: the WebSocket API, the doorbell rung from the log table's
 * stream (DynamoDB Local's Streams API), and consumers that wait for it instead of long-polling.
 * The client's HTTP requests are counted at `fetch`: a long poll is a fetch or group poll that asks
 * to wait.
 */
let stack: LocalStack; // one per process: the handlers read their tables from the environment once
const requests: { method: string; url: string; waitMs: number; done?: boolean }[] = [];
const realFetch = globalThis.fetch;

beforeAll(async () => {
  stack = await startTestStack('e2e-watch', { watchers: true });
  globalThis.fetch = async (input, init) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as { waitMs?: number }) : {};
    const entry: (typeof requests)[number] = {
      method: init?.method ?? 'GET',
      url: url.pathname,
      waitMs: Number(url.searchParams.get('waitMs') ?? body.waitMs ?? 0),
    };
    requests.push(entry);
    const response = await realFetch(input, init);
    entry.done = true; // answered
    return response;
  };
});

afterAll(async () => {
  globalThis.fetch = realFetch;
  await stack?.stop();
});

const longPolls = (since: number) => requests.slice(since).filter((r) => r.waitMs > 0).length;

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A raw client of the protocol: the frames it received, in order. */
async function rawSocket(url: string): Promise<{ ws: WebSocket; frames: Record<string, unknown>[] }> {
  const ws = new WebSocket(url);
  const frames: Record<string, unknown>[] = [];
  ws.onmessage = (m) => frames.push(JSON.parse(String(m.data)) as Record<string, unknown>);
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error('no connection'));
  });
  return { ws, frames };
}

it('a watching consumer gets a produced record after a doorbell, with no long poll in between', async () => {
  const topic = uniqueName('watched');
  await new Admin({ url: stack.url }).createTopic(topic, { partitions: 3 });
  const consumer = new PartitionConsumer({ url: stack.url, topic, partition: 1, waitMs: 20_000 });
  expect(consumer.watcher, "'auto' watches the local stack").toBeDefined();
  const mark = requests.length;
  const polled = consumer.poll();
  // The watch is in place and the fetch after it (a record may have come in between) is done:
  // from here on only a doorbell (or the 5-minute safety poll) makes the consumer fetch.
  const gets = () =>
    requests.slice(mark).filter((r) => r.method === 'GET' && r.url.endsWith('/records') && r.done === true).length;
  await until(() => consumer.watcher!.received.watching >= 1 && gets() >= 2);
  const producer = new Producer({ url: stack.url });
  const sentAt = Date.now();
  await producer.send(topic, { value: { n: 1 }, partition: 1 });
  const records = await polled;
  const latencyMs = Date.now() - sentAt;
  expect(records.map((r) => r.value)).toStrictEqual([{ n: 1 }]);
  expect(consumer.watcher!.received.records, 'the doorbell rang').toBeGreaterThanOrEqual(1);
  expect(latencyMs, 'within a few seconds of the append').toBeLessThan(5_000);
  expect(longPolls(mark), 'no long poll').toBe(0);
  const fetches = requests.slice(mark).filter((r) => r.method === 'GET' && r.url.endsWith('/records'));
  // The first poll's fetch, one once the watch took effect (a record may have come in between), one after the doorbell.
  expect(fetches.length).toBe(3);
  consumer.close();
  await producer.close();
});

it('an idle watching consumer makes no long polls, and only its first fetch, while nothing arrives', async () => {
  const topic = uniqueName('idle');
  await new Admin({ url: stack.url }).createTopic(topic, { partitions: 1 });
  const consumer = new PartitionConsumer({ url: stack.url, topic, partition: 0, waitMs: 1_000 });
  const mark = requests.length;
  const idleFor = 4_000;
  const start = Date.now();
  let polls = 0;
  while (Date.now() - start < idleFor) {
    expect(await consumer.poll()).toStrictEqual([]);
    polls++;
  }
  expect(polls, 'poll() returned after each wait, as with long polls').toBeGreaterThanOrEqual(3);
  expect(longPolls(mark)).toBe(0);
  // The first poll's fetch, and one more after the watch took effect (a doorbell may have been missed).
  expect(requests.slice(mark).filter((r) => r.url.endsWith('/records')).length).toBe(2);
  expect(consumer.waiting.fetches.longPolls).toBe(0);
  consumer.close();
});

it('a group consumer waits for doorbells on its partitions and gets the records', async () => {
  const topic = uniqueName('group-watched');
  await new Admin({ url: stack.url }).createTopic(topic, { partitions: 2 });
  const consumer = new GroupConsumer({
    url: stack.url,
    groupId: uniqueName('g'),
    topics: [topic],
    autoOffsetReset: 'earliest',
    waitMs: 20_000,
  });
  await consumer.connect();
  const mark = requests.length;
  const polled = consumer.poll();
  await until(() => requests.slice(mark).some((r) => r.url.endsWith('/poll')));
  await new Producer({ url: stack.url }).send(topic, { key: 'k', value: 'v' });
  expect((await polled).map((r) => r.value)).toStrictEqual(['v']);
  expect(longPolls(mark)).toBe(0);
  await consumer.close();
});

it('where the WebSocket API cannot be reached, consumers long-poll as before', async () => {
  const topic = uniqueName('plain');
  await new Admin({ url: stack.url }).createTopic(topic, { partitions: 1 });
  await new Producer({ url: stack.url }).send(topic, { value: 1, partition: 0 });
  const consumer = new PartitionConsumer({
    url: stack.url,
    topic,
    partition: 0,
    waitMs: 300,
    watch: 'ws://127.0.0.1:9/v1/watch', // nothing listens there
  });
  const mark = requests.length;
  expect((await consumer.poll()).map((r) => r.value)).toStrictEqual([1]);
  expect(await consumer.poll()).toStrictEqual([]);
  expect(longPolls(mark)).toBeGreaterThanOrEqual(1);
  consumer.close();
});

it('removes connections API Gateway no longer has when it rings them, and keeps ringing live ones', async () => {
  const topic = uniqueName('stale');
  await new Admin({ url: stack.url }).createTopic(topic, { partitions: 1 });
  const live = await rawSocket(stack.watchUrl!);
  live.ws.send(JSON.stringify({ action: 'watch', topics: [topic] }));
  await until(() => live.frames.some((f) => f.type === 'watching'));
  // A connection that left without a $disconnect (a dropped network), as its items remain.
  const store = new DynamoWatchStore({ client: dynamoClientFromEnv(), table: stack.tables.metadata });
  const engineStore = new DynamoStore({ client: dynamoClientFromEnv(), tables: stack.tables });
  const topicId = (await new Sluice({ log: engineStore, metadata: engineStore }).topicIds([topic])).get(topic);
  await store.openConnection({
    connectionId: 'gone-1',
    principals: [],
    topics: new Map(),
    expiresAt: Date.now() + 60_000,
  });
  await store.watch('gone-1', new Map([[topicId!, topic]]), Date.now() + 60_000);
  expect((await store.watchers(topicId!, Date.now())).length).toBe(2);

  await new Producer({ url: stack.url }).send(topic, { value: 'x' });
  await until(() => live.frames.some((f) => f.type === 'records'));
  expect(live.frames.find((f) => f.type === 'records')).toStrictEqual({ type: 'records', topic, partitions: [0] });
  await until(async () => (await store.watchers(topicId!, Date.now())).length === 1);
  expect(await store.getConnection('gone-1', Date.now())).toBeUndefined();
  live.ws.close();
});

it('answers bad frames with typed errors and no internals', async () => {
  const { ws, frames } = await rawSocket(stack.watchUrl!);
  ws.send('not json');
  ws.send(JSON.stringify({ action: 'watch', topics: 'orders' }));
  ws.send(JSON.stringify({ action: 'watch', topics: [uniqueName('missing')] }));
  ws.send(JSON.stringify({ action: 'dance' }));
  await until(() => frames.length >= 4);
  const codes = frames.map((f) => (f.error as { code: string; status: number }).code).sort();
  expect(codes).toStrictEqual(['InvalidArgument', 'InvalidRequest', 'TopicNotFound', 'UnknownAction']);
  for (const f of frames) {
    expect(f.type).toBe('error');
    const status = (f.error as { status: number }).status;
    expect(status >= 400 && status < 500).toBe(true);
    expect(JSON.stringify(f)).not.toMatch(/\bat \S+:\d+|stack|Exception/);
  }
  ws.close();
});
