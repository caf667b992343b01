import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Admin, PartitionConsumer, Producer } from '../../client/index.ts';
import { runNode, useApi } from '../support/e2e.ts';
import { uniqueName } from '../support/names.ts';

/** End to end over HTTP: the local stack, or a deployed one when SLUICE_API_URL is set. */
const api = useApi('e2e');
const cli = (args: string[], stdin?: string) => runNode('bin/sluice.mjs', ['--url', api.url, ...args], stdin);

describe('end to end on the local stack', () => {
  it('creates a topic, produces with the client and the CLI, and reads everything back with the CLI', async () => {
    const topic = uniqueName('orders');
    const admin = new Admin({ url: api.url });
    const created = await admin.createTopic(topic, { partitions: 3, config: { compression: 'zstd' } });
    assert.equal(created.partitions.length, 3);

    // The reference producer: acks=all, idempotent, 3 retries, key = user id, two headers.
    const producer = new Producer({ url: api.url, acks: 'all', idempotent: true, retries: 3 });
    const reports = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        producer.send(topic, { key: `user-${i % 5}`, value: { orderId: `o-${i}`, amount: i }, headers: { event_type: 'ORDER_CREATED', timestamp: String(Date.now()) } }),
      ),
    );
    await producer.close();
    for (const r of reports) assert.match(`${r.topic}[${r.partition}] @ ${r.offset}`, new RegExp(`^${topic}\\[[0-2]\\] @ \\d+$`));
    const byKey = new Map<string, Set<number>>();
    reports.forEach((r, i) => byKey.set(`user-${i % 5}`, (byKey.get(`user-${i % 5}`) ?? new Set()).add(r.partition)));
    for (const partitions of byKey.values()) assert.equal(partitions.size, 1, 'one key, one partition');

    const one = await cli(['produce', topic, '{"key":"cli-user","value":{"from":"cli"}}', '"just a string"']);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, new RegExp(`${topic}\\[\\d\\] @ \\d+`));
    const bulk = await cli(['produce', topic, '--json'], Array.from({ length: 250 }, (_, i) => JSON.stringify({ key: `bulk-${i}`, value: i })).join('\n'));
    assert.equal(bulk.code, 0, bulk.stderr);
    assert.deepEqual(JSON.parse(bulk.stdout.trim().split('\n').at(-1)!), { topic, produced: 250 });

    const consumed = await cli(['consume', topic, '--from-beginning', '--json']);
    assert.equal(consumed.code, 0, consumed.stderr);
    const records = consumed.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(records.length, 30 + 2 + 250);
    const values = records.map((r) => JSON.stringify(r.value));
    for (let i = 0; i < 250; i++) assert.ok(values.includes(String(i)), `bulk record ${i}`);
    assert.ok(values.includes('{"from":"cli"}') && values.includes('"just a string"'));
    for (let p = 0; p < 3; p++) {
      const offsets = records.filter((r) => r.partition === p).map((r) => r.offset);
      assert.deepEqual(offsets, offsets.map((_, i) => i), `partition ${p} reads back 0..n-1 in order`);
    }
    const described = await cli(['topics', 'describe', topic]);
    assert.match(described.stdout, /HIGH WATERMARK/);
  });

  it('wakes a long-poll (client and CLI --follow) when a record arrives', async () => {
    const topic = uniqueName('poll');
    await new Admin({ url: api.url }).createTopic(topic);
    const consumer = new PartitionConsumer({ url: api.url, topic, partition: 0, autoOffsetReset: 'latest', waitMs: 10_000 });
    await consumer.currentPosition();
    const follower = cli(['consume', topic, '--partition', '0', '--offset', '0', '--follow', '--max', '1', '--json']);
    const started = Date.now();
    const polled = consumer.poll();
    await new Promise((r) => setTimeout(r, 500));
    const producer = new Producer({ url: api.url });
    await producer.send(topic, { key: 'k', value: 'ping' });
    const got = await polled;
    assert.deepEqual(got.map((r) => r.value), ['ping']);
    assert.ok(Date.now() - started < 8000, 'woke on the record, not at the deadline');
    const followed = await follower;
    assert.equal(followed.code, 0, followed.stderr);
    assert.equal(JSON.parse(followed.stdout.trim()).value, 'ping');
  });

  it('reports API errors from the CLI as typed messages and a non-zero exit', async () => {
    const missing = await cli(['topics', 'describe', 'no-such-topic-here']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /TopicNotFound/);
    const usage = await cli(['frobnicate']);
    assert.equal(usage.code, 2);
  });
});
