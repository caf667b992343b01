import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { Admin, PartitionConsumer } from '../../client/index.ts';
import { runNode, useApi } from '../support/e2e.ts';
import { uniqueName } from '../support/names.ts';

const api = useApi('examples');
const run = (script: string, args: string[]) => runNode(script, ['--url', api.url, ...args]);

it('the reference producer and consumer examples run: deliveries reported, bad records dead-lettered, commits kept', async () => {
  const topic = uniqueName('orders');
  const offsets = join(mkdtempSync(join(tmpdir(), 'sluice-offsets-')), 'order-processor.json');

  const produced = await run('examples/order-events-producer.ts', ['--topic', topic, '--count', '21', '--bad-every', '7']);
  assert.equal(produced.code, 0, produced.stderr);
  const deliveries = produced.stdout.trim().split('\n');
  assert.equal(deliveries.length, 21);
  for (const line of deliveries) assert.match(line, new RegExp(`^Delivered to ${topic}\\[[0-2]\\] @ offset \\d+$`));

  const consumed = await run('examples/order-events-consumer.ts', ['--topic', topic, '--offsets', offsets, '--until-idle']);
  assert.equal(consumed.code, 0, consumed.stderr);
  assert.equal(consumed.stdout.trim().split('\n').filter((l) => l.startsWith('Processed')).length, 18);
  assert.equal(consumed.stderr.trim().split('\n').filter((l) => l.includes('sending to DLQ')).length, 3);

  const dlq = new PartitionConsumer({ url: api.url, topic: `${topic}.DLQ`, partition: 0, autoOffsetReset: 'earliest', waitMs: 0 });
  const dead = await dlq.poll();
  assert.deepEqual(dead.map((r) => (r.value as { orderId: string }).orderId).sort(), ['order-14', 'order-21', 'order-7']);
  for (const r of dead) assert.match(String(r.headers['dlq.origin']), new RegExp(`^${topic}\\[\\d\\]@\\d+$`));

  const committed = JSON.parse(readFileSync(offsets, 'utf8')) as Record<string, number>;
  const { partitions } = await new Admin({ url: api.url }).describeTopic(topic);
  for (const p of partitions) assert.equal(committed[`${topic}/${p.partition}`] ?? 0, p.highWatermark, `partition ${p.partition} committed to its end`);

  const again = await run('examples/order-events-consumer.ts', ['--topic', topic, '--offsets', offsets, '--until-idle']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout.trim(), '', 'a restart resumes from the commits and processes nothing twice');
});
