import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Admin, Producer } from '../../client/index.ts';
import type { LocalStack } from '../../local/stack.ts';
import { startTestStack } from '../support/e2e.ts';
import { uniqueName } from '../support/names.ts';

/**
 * Push delivery on the local stack: the dispatcher (on its timer, as the schedule and the stream
 * run it in AWS) delivers to a function over Lambda's Invoke API and to a webhook signed with a
 * secret read over Secrets Manager's API, with injected target failures.
 */
let stack: LocalStack;
let hook: Server;
let hookUrl: string;
const SECRET = 'local-only-signing-key';
const webhookCalls: { body: string; verified: boolean }[] = [];
let webhookFailures = 0;

beforeAll(async () => {
  stack = await startTestStack('e2e-subs', { secrets: { 'hook-key': SECRET }, subscriptionIntervalMs: 100 });
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const timestamp = String(req.headers['x-sluice-timestamp']);
      const expected = `v1=${createHmac('sha256', SECRET).update(`${timestamp}.${body}`).digest('hex')}`;
      webhookCalls.push({ body, verified: req.headers['x-sluice-signature'] === expected });
      if (webhookFailures > 0) {
        webhookFailures--;
        res.writeHead(503).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await new Promise<void>((r) => hook?.close(() => r()));
});

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${stack.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

async function until(what: string, done: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Event {
  records: {
    topic: string;
    partition: number;
    offset: number;
    key: string | null;
    value: any;
    headers: Record<string, string>;
  }[];
}

it('delivers to a function in order per partition through failures: a thrown batch is retried, a partial failure retries from the failed record', async () => {
  const topic = uniqueName('orders');
  const admin = new Admin({ url: stack.url });
  await admin.createTopic(topic, { partitions: 2 });
  const calls: { partition: number; offsets: number[]; ok: number[] }[] = [];
  let thrown = 0;
  const failedOnce = new Set<string>();
  stack.aws.defineFunction('billing', async (event) => {
    const { records } = event as Event;
    if (thrown++ === 1) throw new Error('database timeout'); // the second call fails whole
    // Offset 7 of each partition fails the first time: the rest of its batch comes again after it.
    const bad = records.find((r) => r.offset === 7 && !failedOnce.has(`${r.partition}`));
    if (bad !== undefined) failedOnce.add(`${bad.partition}`);
    const failedFrom = bad === undefined ? Infinity : bad.offset;
    calls.push({
      partition: records[0]!.partition,
      offsets: records.map((r) => r.offset),
      ok: records.filter((r) => r.offset < failedFrom).map((r) => r.offset),
    });
    return bad === undefined ? {} : { batchItemFailures: [{ itemIdentifier: String(bad.offset) }] };
  });
  const created = await call('POST', '/v1/subscriptions', {
    name: uniqueName('billing'),
    topic,
    target: { type: 'lambda', functionName: 'billing' },
    startingPosition: 'earliest',
    batchSize: 5,
    backoff: { initialMs: 50, multiplier: 2, maxMs: 200 },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const producer = new Producer({ url: stack.url });
  await producer.sendBatch(
    topic,
    Array.from({ length: 40 }, (_, i) => ({ value: { i }, partition: i % 2 })),
  );
  await producer.close();
  const name = created.body.name as string;
  await until('everything delivered', async () => {
    const d = await call('GET', `/v1/subscriptions/${name}`);
    return d.body.partitions.every((p: { lag: number }) => p.lag === 0);
  });
  for (const p of [0, 1]) {
    const firsts: number[] = [];
    for (const c of calls.filter((x) => x.partition === p))
      for (const o of c.ok) if (!firsts.includes(o)) firsts.push(o);
    expect(firsts, `partition ${p}: every record once in order`).toStrictEqual(Array.from({ length: 20 }, (_, i) => i));
    const retried = calls.filter((x) => x.partition === p && x.offsets[0] === 7);
    expect(retried.length, `partition ${p}: the batch again from offset 7`).toBeGreaterThan(0);
  }
  const d = await call('GET', `/v1/subscriptions/${name}`);
  expect(d.body.partitions.map((p: { position: number; retry: unknown }) => [p.position, p.retry])).toStrictEqual([
    [20, null],
    [20, null],
  ]);
  // Positions are the group's committed offsets: the groups routes show them too.
  const group = await call('GET', `/v1/groups/${encodeURIComponent(d.body.group)}`);
  expect(group.body.totalLag).toBe(0);
});

it('signs webhook deliveries with the subscription’s secret and retries an endpoint that answers 503', async () => {
  const topic = uniqueName('events');
  await new Admin({ url: stack.url }).createTopic(topic, { partitions: 1 });
  webhookFailures = 2;
  const name = uniqueName('hook');
  const created = await call('POST', '/v1/subscriptions', {
    name,
    topic,
    target: { type: 'https', url: hookUrl, secret: 'hook-key' },
    startingPosition: 'earliest',
    backoff: { initialMs: 20, multiplier: 2, maxMs: 100 },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const producer = new Producer({ url: stack.url });
  await producer.sendBatch(topic, [
    { key: 'a', value: 'one' },
    { key: 'b', value: 'two' },
  ]);
  await producer.close();
  await until('delivered', async () => (await call('GET', `/v1/subscriptions/${name}`)).body.partitions[0].lag === 0);
  const mine = webhookCalls.filter((c) => (JSON.parse(c.body) as { subscription: string }).subscription === name);
  // The batch of two fails whole: it is halved (as Lambda bisects), the first half fails once more
  // and is retried, then each half is delivered.
  expect(mine.map((c) => (JSON.parse(c.body) as Event).records.map((r) => r.offset))).toStrictEqual([
    [0, 1],
    [0],
    [0],
    [1],
  ]);
  expect(
    mine.every((c) => c.verified),
    'every call signed with the secret',
  ).toBe(true);
  const event = JSON.parse(mine[0]!.body) as Event & { eventSource: string };
  expect(event.eventSource).toBe('sluice:subscription');
  expect(event.records.map((r) => [r.topic, r.offset, r.key, r.value])).toStrictEqual([
    [topic, 0, 'a', 'one'],
    [topic, 1, 'b', 'two'],
  ]);
});

it('per key: a poisoned key is quarantined while other keys flow; its later records wait in order; release delivers them, skip dead-letters them with their headers', async () => {
  const topic = uniqueName('payments');
  const failed = `${topic}.failed`;
  const admin = new Admin({ url: stack.url });
  await admin.createTopic(topic, { partitions: 1 });
  await admin.createTopic(failed, { partitions: 1 });
  let fixed = false;
  const delivered: string[] = [];
  stack.aws.defineFunction('payments', async (event) => {
    const failures: { itemIdentifier: string }[] = [];
    for (const r of (event as Event).records) {
      if (r.key === 'acct-9' && !fixed) failures.push({ itemIdentifier: String(r.offset) });
      else delivered.push(`${r.key}:${String(r.value.n)}`);
    }
    return { batchItemFailures: failures };
  });
  const name = uniqueName('payments');
  const created = await call('POST', '/v1/subscriptions', {
    name,
    topic,
    target: { type: 'lambda', functionName: 'payments' },
    startingPosition: 'earliest',
    ordering: 'key',
    parallelismPerPartition: 2,
    maxRetries: 1,
    backoff: { initialMs: 10, multiplier: 1, maxMs: 10 },
    onFailure: { topic: failed },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const producer = new Producer({ url: stack.url });
  const send = (key: string, n: number) => producer.sendBatch(topic, [{ key, value: { n } }]);
  await send('acct-1', 1);
  await send('acct-9', 2);
  await send('acct-1', 3);
  await until(
    'acct-9 quarantined',
    async () => (await call('GET', `/v1/subscriptions/${name}`)).body.quarantined.length === 1,
  );
  await send('acct-9', 4);
  await send('acct-2', 5);
  await until('acct-2 delivered', () => delivered.includes('acct-2:5'));
  const d = (await call('GET', `/v1/subscriptions/${name}`)).body;
  expect(d.quarantined).toMatchObject([{ key: 'acct-9', records: 2, firstOffset: 1, releasing: false }]);
  expect(
    delivered.filter((x) => x.startsWith('acct-9')),
    'held back',
  ).toStrictEqual([]);
  expect(delivered.filter((x) => x.startsWith('acct-1'))).toStrictEqual(['acct-1:1', 'acct-1:3']);

  fixed = true;
  const released = await call('POST', `/v1/subscriptions/${name}/quarantine/acct-9/release`);
  expect(released.body).toStrictEqual({ partitions: [0], records: 2 });
  await until('acct-9 delivered', () => delivered.includes('acct-9:4'));
  expect(
    delivered.filter((x) => x.startsWith('acct-9')),
    'in order',
  ).toStrictEqual(['acct-9:2', 'acct-9:4']);

  fixed = false;
  await send('acct-9', 6);
  await until(
    'quarantined again',
    async () => (await call('GET', `/v1/subscriptions/${name}`)).body.quarantined.length === 1,
  );
  const skipped = await call('POST', `/v1/subscriptions/${name}/quarantine/acct-9/skip`);
  expect(skipped.body).toStrictEqual({ partitions: [0], records: 1 });
  const dead = (await fetch(`${stack.url}/v1/topics/${failed}/partitions/0/records?offset=0`).then((r) =>
    r.json(),
  )) as { records: Event['records'][number][] };
  expect(dead.records).toHaveLength(1);
  const [letter] = dead.records as [Event['records'][number]];
  expect(letter.value).toStrictEqual({ n: 6 });
  expect(letter.headers).toMatchObject({
    original_topic: topic,
    original_partition: '0',
    original_offset: '5',
    subscription: name,
  });
  expect(letter.headers.error_message).toMatch(/skipped/);
  expect(Number(letter.headers.attempts)).toBeGreaterThan(0);
  expect(Date.parse(letter.headers.failed_at!)).toBeGreaterThan(0);
  expect((await call('GET', `/v1/subscriptions/${name}`)).body.quarantined).toStrictEqual([]);
});

it('rings a function (a saga trigger, a stream job) only for appends to its topics (the log stream has one consumer)', async () => {
  const admin = new Admin({ url: stack.url });
  const triggerTopic = uniqueName('trigger-topic');
  const other = uniqueName('other-topic');
  for (const t of [triggerTopic, other]) await admin.createTopic(t, { partitions: 1 });
  let rings = 0;
  stack.aws.defineFunction('saga-trigger', async () => {
    rings++;
    return {};
  });
  process.env.SLUICE_RING_ON_APPEND = JSON.stringify([{ function: 'saga-trigger', topics: [triggerTopic] }]);
  try {
    const { handler } = (await import('../../functions/subscriptions/dispatcher.ts')) as unknown as {
      handler: (event: unknown, context: unknown) => Promise<unknown>;
    };
    const ring = async (topic: string) => {
      const { topicId } = (await (await fetch(`${stack.url}/v1/topics/${topic}`)).json()) as { topicId: string };
      await handler(
        { Records: [{ eventName: 'INSERT', dynamodb: { Keys: { pk: { S: `${topicId}#0` }, sk: { S: '0' } } } }] },
        { functionName: 'dispatcher', awsRequestId: 'test', getRemainingTimeInMillis: () => 60_000 },
      );
    };
    for (let i = 0; i < 5; i++) await ring(other);
    expect(rings, 'appends elsewhere ring nothing').toBe(0);
    await ring(triggerTopic);
    await until('the trigger rung', () => rings === 1);
    await ring(other);
    expect(rings).toBe(1);
  } finally {
    delete process.env.SLUICE_RING_ON_APPEND;
  }
});
