import { describe, expect, it } from 'vitest';
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
    expect(created.partitions.length).toBe(3);

    // The reference producer: acks=all, idempotent, 3 retries, key = user id, two headers.
    const producer = new Producer({ url: api.url, acks: 'all', idempotent: true, retries: 3 });
    const reports = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        producer.send(topic, {
          key: `user-${i % 5}`,
          value: { orderId: `o-${i}`, amount: i },
          headers: { event_type: 'ORDER_CREATED', timestamp: String(Date.now()) },
        }),
      ),
    );
    await producer.close();
    for (const r of reports)
      expect(`${r.topic}[${r.partition}] @ ${r.offset}`).toMatch(new RegExp(`^${topic}\\[[0-2]\\] @ \\d+$`));
    const byKey = new Map<string, Set<number>>();
    reports.forEach((r, i) => byKey.set(`user-${i % 5}`, (byKey.get(`user-${i % 5}`) ?? new Set()).add(r.partition)));
    for (const partitions of byKey.values()) expect(partitions.size, 'one key, one partition').toBe(1);

    const one = await cli(['produce', topic, '{"key":"cli-user","value":{"from":"cli"}}', '"just a string"']);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toMatch(new RegExp(`${topic}\\[\\d\\] @ \\d+`));
    const bulk = await cli(
      ['produce', topic, '--json'],
      Array.from({ length: 250 }, (_, i) => JSON.stringify({ key: `bulk-${i}`, value: i })).join('\n'),
    );
    expect(bulk.code, bulk.stderr).toBe(0);
    expect(JSON.parse(bulk.stdout.trim().split('\n').at(-1)!)).toStrictEqual({ topic, produced: 250 });

    const consumed = await cli(['consume', topic, '--from-beginning', '--json']);
    expect(consumed.code, consumed.stderr).toBe(0);
    const records = consumed.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(records.length).toBe(30 + 2 + 250);
    const values = records.map((r) => JSON.stringify(r.value));
    for (let i = 0; i < 250; i++) expect(values.includes(String(i)), `bulk record ${i}`).toBeTruthy();
    expect(values.includes('{"from":"cli"}') && values.includes('"just a string"')).toBeTruthy();
    for (let p = 0; p < 3; p++) {
      const offsets = records.filter((r) => r.partition === p).map((r) => r.offset);
      expect(offsets, `partition ${p} reads back 0..n-1 in order`).toStrictEqual(offsets.map((_, i) => i));
    }
    const described = await cli(['topics', 'describe', topic]);
    expect(described.stdout).toMatch(/HIGH WATERMARK/);
  });

  it('wakes a long-poll (client and CLI --follow) when a record arrives', async () => {
    const topic = uniqueName('poll');
    await new Admin({ url: api.url }).createTopic(topic);
    const consumer = new PartitionConsumer({
      url: api.url,
      topic,
      partition: 0,
      autoOffsetReset: 'latest',
      waitMs: 10_000,
    });
    await consumer.currentPosition();
    const follower = cli(['consume', topic, '--partition', '0', '--offset', '0', '--follow', '--max', '1', '--json']);
    const started = Date.now();
    const polled = consumer.poll();
    await new Promise((r) => setTimeout(r, 500));
    const producer = new Producer({ url: api.url });
    await producer.send(topic, { key: 'k', value: 'ping' });
    const got = await polled;
    expect(got.map((r) => r.value)).toStrictEqual(['ping']);
    expect(Date.now() - started < 8000, 'woke on the record, not at the deadline').toBeTruthy();
    const followed = await follower;
    expect(followed.code, followed.stderr).toBe(0);
    expect(JSON.parse(followed.stdout.trim()).value).toBe('ping');
  });

  it('reports API errors from the CLI as typed messages and a non-zero exit', async () => {
    const missing = await cli(['topics', 'describe', 'no-such-topic-here']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/TopicNotFound/);
    const usage = await cli(['frobnicate']);
    expect(usage.code).toBe(2);
  });
});
