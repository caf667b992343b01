import { describe, expect, it } from 'vitest';
import { Admin, Publisher, RpcClient, RpcServer, isRpcError } from '../../client/index.ts';
import { runNode, useApi } from '../support/e2e.ts';
import { uniqueName } from '../support/names.ts';

/**
 * The RabbitMQ tutorial examples and the ResilientConsumer run against the local stack (or
 * SLUICE_API_URL) and their output shows each tutorial's behaviour. They run side by side: each
 * example creates its own uniquely named queues and exchanges.
 */
const api = useApi('rabbitmq-examples');
/** Runs examples/NAME.ts (through `sluice example NAME` with `cli`, which starts one more Node), its lines out. */
const run = async (name: string, args: string[] = [], { cli = false } = {}) => {
  const result = cli
    ? await runNode('bin/sluice.mjs', ['--url', api.url, 'example', name, ...args])
    : await runNode(`examples/${name}.ts`, ['--url', api.url, ...args]);
  expect(result.code, `${name}: ${result.stderr}`).toBe(0);
  return result.stdout.trimEnd().split('\n');
};
/** What each `[name]`-prefixed receiver printed after ` [x] `, in order. */
const receivedBy = (lines: string[], name: string) =>
  lines.filter((l) => l.startsWith(`[${name}]  [x] `)).map((l) => l.slice(`[${name}]  [x] `.length));

describe.concurrent('RabbitMQ tutorials', () => {
  it('1 hello world (run as `sluice example rabbitmq/hello-world`): each message sent, then received once', async () => {
    const queue = uniqueName('hello');
    const lines = await run('rabbitmq/hello-world', ['--queue', queue, '--count', '2'], { cli: true });
    expect(lines).toStrictEqual([
      " [x] Sent 'Hello World!'",
      " [x] Sent 'Hello World!'",
      ` [*] Waiting for messages in ${queue}`,
      " [x] Received 'Hello World!'",
      " [x] Received 'Hello World!'",
    ]);
  });

  it('2 work queues: every task done exactly once, shared by the workers one at a time', async () => {
    const lines = await run('rabbitmq/work-queues', ['--count', '8', '--workers', '2', '--dot-ms', '40']);
    const tasks = Array.from({ length: 8 }, (_, i) => `Task ${i + 1}${'.'.repeat((i % 5) + 1)}`);
    const workers = ['worker 1', 'worker 2'];
    const done = workers.flatMap((w) => receivedBy(lines, w).filter((l) => l.startsWith('Done ')));
    expect(done.sort()).toStrictEqual(tasks.map((t) => `Done '${t}'`).sort());
    for (const w of workers) {
      const own = receivedBy(lines, w);
      expect(own.length, `${w} took work (fair dispatch)`).toBeGreaterThan(0);
      // prefetch_count=1: each Received is followed by its own Done before the next Received
      for (let i = 0; i < own.length; i += 2) expect(own[i + 1]).toBe(own[i]!.replace(/^Received/, 'Done'));
    }
    expect(lines.at(-1)).toMatch(/^Tasks done per worker: worker 1: \d, worker 2: \d$/);
  });

  it('3 publish/subscribe: every subscriber gets every message', async () => {
    const lines = await run('rabbitmq/publish-subscribe', ['--subscribers', '3', '--count', '4']);
    const all = [1, 2, 3, 4].map((i) => `'info: Hello World! #${i}'`);
    for (const s of ['subscriber 1', 'subscriber 2', 'subscriber 3'])
      expect(receivedBy(lines, s), s).toStrictEqual(all);
  });

  it('4 routing: each subscriber gets only the severities it bound; debug goes nowhere', async () => {
    const exchange = uniqueName('direct_logs');
    const lines = await run('rabbitmq/routing', ['--exchange', exchange]);
    expect(receivedBy(lines, 'disk')).toStrictEqual(["error:'Run. Run. Or it will explode.'"]);
    expect(receivedBy(lines, 'console')).toStrictEqual([
      "info:'Hello World!'",
      "warning:'Disk almost full'",
      "error:'Run. Run. Or it will explode.'",
    ]);
    expect(lines).toContain(" [x] Sent 'debug':'Nobody listens to debug' (routed nowhere)");
    // The exclusive queues went with their consumers; the exchange stays, unbound.
    expect((await new Publisher({ url: api.url }).describe(exchange)).bindings).toStrictEqual([]);
  });

  it("5 topics: the tutorial's * and # bindings", async () => {
    const lines = await run('rabbitmq/topics');
    const keys = (name: string) => receivedBy(lines, name).map((l) => l.split(':')[0]);
    expect(keys('Q1')).toStrictEqual(['quick.orange.rabbit', 'lazy.orange.elephant', 'quick.orange.fox']);
    expect(keys('Q2')).toStrictEqual([
      'quick.orange.rabbit',
      'lazy.orange.elephant',
      'lazy.brown.fox',
      'lazy.pink.rabbit', // once, though both bindings match
      'lazy.orange.new.rabbit',
    ]);
    const nowhere = lines.filter((l) => l.endsWith('(routed nowhere)')).map((l) => l.split("'")[1]);
    expect(nowhere).toStrictEqual(['quick.brown.fox', 'orange', 'quick.orange.new.rabbit']);
  });

  it('6 RPC: fib(10) = 55 and fib(30) = 832040 from two servers; a bad request gets an error reply', async () => {
    const lines = await run('rabbitmq/rpc', ['--n', '10', '--n', '30', '--n', '99', '--servers', '2']);
    const got = lines.filter((l) => l.startsWith(' [.] '));
    expect(got[0]).toMatch(/^ \[\.\] Got 55 \(correlation_id [0-9a-f-]{36}\)$/);
    expect(got[1]).toMatch(/^ \[\.\] Got 832040 \(correlation_id [0-9a-f-]{36}\)$/);
    expect(got[2]).toBe(' [.] Failed: fib(n) needs an integer n from 0 to 40, not 99');
    expect(lines.filter((l) => /^\[server [12]\] {2}\[\.\] fib\((10|30)\)$/.test(l))).toHaveLength(2);
  });
});

it('the ResilientConsumer retries three times with backoff, then dead-letters with its headers', async () => {
  const topic = uniqueName('payments');
  const lines = await run('resilient-consumer', ['--topic', topic, '--count', '8']);
  for (const id of [1, 2, 4, 8]) expect(lines).toContain(`Processed payment-${id} (${id * 10}) on attempt 1`);
  for (const id of [3, 6]) expect(lines).toContain(`Processed payment-${id} (${id * 10}) on attempt 2`);
  expect(lines.filter((l) => l.startsWith('payment-5: '))).toStrictEqual([
    'payment-5: gateway timeout on attempt 1; retry 1 of 3 in 200 ms',
    'payment-5: gateway timeout on attempt 2; retry 2 of 3 in 400 ms',
    'payment-5: gateway timeout on attempt 3; retry 3 of 3 in 800 ms',
    'payment-5: gateway timeout on attempt 4; retries exhausted: dead-lettering',
  ]);
  expect(lines).toContain(`Dead letters in ${topic}.DLQ: 2`);
  const deadLetter = (id: string) => {
    const at = lines.indexOf(`  ${id}:`);
    expect(at, `${id} dead-lettered`).toBeGreaterThan(0);
    const headers = lines.slice(at + 1, at + 8).map((l) => l.trim());
    return Object.fromEntries(headers.map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]));
  };
  expect(deadLetter('payment-5')).toMatchObject({
    original_topic: topic,
    error_message: 'Failed after 3 retries: gateway timeout',
    delivery_count: '4',
    reason: 'delivery-limit',
  });
  expect(deadLetter('payment-7')).toMatchObject({
    original_topic: topic,
    error_message: 'invalid amount -5',
    delivery_count: '1',
    reason: 'rejected',
  });
  for (const id of ['payment-5', 'payment-7']) {
    const h = deadLetter(id);
    expect(h.original_offset).toMatch(/^\d+$/);
    expect(h.original_partition).toMatch(/^[01]$/);
    expect(Date.parse(h.failed_at!)).toBeGreaterThan(0);
  }
});

it('RpcClient over a direct exchange, and a timeout when no server answers', async () => {
  const exchange = uniqueName('rpc');
  const queue = uniqueName('rpc_queue');
  await new Admin({ url: api.url }).createTopic(queue, { partitions: 1 });
  const publisher = new Publisher({ url: api.url });
  await publisher.declare(exchange, { type: 'direct' });
  await publisher.bind(exchange, { destination: { topic: queue }, bindingKey: 'upper' });
  const server = new RpcServer({ url: api.url, groupId: queue, topics: [queue], waitMs: 200 }, (r) =>
    (r.value as string).toUpperCase(),
  );
  const serving = server.run();
  const client = new RpcClient({ url: api.url, waitMs: 200 });
  try {
    const replies = await Promise.all(
      ['a', 'b', 'c'].map((v) => client.call({ exchange, routingKey: 'upper' }, v, { timeoutMs: 20_000 })),
    );
    expect(replies.map((r) => r.value)).toStrictEqual(['A', 'B', 'C']);
    const lost = await client
      .call({ exchange, routingKey: 'nobody-binds-this' }, 'x', { timeoutMs: 300 })
      .catch((e: unknown) => e);
    expect(isRpcError(lost, 'RpcTimeout'), String(lost)).toBe(true);
  } finally {
    const replyTo = client.replyTo!;
    await client.close();
    server.stop();
    await serving;
    await server.close();
    const topics = (await new Admin({ url: api.url }).listTopics()).map((t) => t.name);
    expect(topics, 'the reply topic is deleted on close').not.toContain(replyTo);
  }
});
