import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { Admin, PartitionConsumer } from '../../client/index.ts';
import { runNode, useApi } from '../support/e2e.ts';
import { uniqueName } from '../support/names.ts';

const api = useApi('examples');
const run = (script: string, args: string[]) => runNode(script, ['--url', api.url, ...args]);

it('the reference producer and consumer examples run: deliveries reported, bad records dead-lettered, commits kept', async () => {
  const topic = uniqueName('orders');
  const offsets = join(mkdtempSync(join(tmpdir(), 'sluice-offsets-')), 'order-processor.json');

  const produced = await run('examples/order-events-producer.ts', [
    '--topic',
    topic,
    '--count',
    '21',
    '--bad-every',
    '7',
  ]);
  expect(produced.code, produced.stderr).toBe(0);
  const deliveries = produced.stdout.trim().split('\n');
  expect(deliveries.length).toBe(21);
  for (const line of deliveries) expect(line).toMatch(new RegExp(`^Delivered to ${topic}\\[[0-2]\\] @ offset \\d+$`));

  const consumed = await run('examples/order-events-consumer.ts', [
    '--topic',
    topic,
    '--offsets',
    offsets,
    '--until-idle',
  ]);
  expect(consumed.code, consumed.stderr).toBe(0);
  expect(
    consumed.stdout
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('Processed')).length,
  ).toBe(18);
  expect(
    consumed.stderr
      .trim()
      .split('\n')
      .filter((l) => l.includes('sending to DLQ')).length,
  ).toBe(3);

  const dlq = new PartitionConsumer({
    url: api.url,
    topic: `${topic}.DLQ`,
    partition: 0,
    autoOffsetReset: 'earliest',
    waitMs: 0,
  });
  const dead = await dlq.poll();
  expect(dead.map((r) => (r.value as { orderId: string }).orderId).sort()).toStrictEqual([
    'order-14',
    'order-21',
    'order-7',
  ]);
  for (const r of dead) expect(String(r.headers['dlq.origin'])).toMatch(new RegExp(`^${topic}\\[\\d\\]@\\d+$`));

  const committed = JSON.parse(readFileSync(offsets, 'utf8')) as Record<string, number>;
  const { partitions } = await new Admin({ url: api.url }).describeTopic(topic);
  for (const p of partitions)
    expect(committed[`${topic}/${p.partition}`] ?? 0, `partition ${p.partition} committed to its end`).toBe(
      p.highWatermark,
    );

  const again = await run('examples/order-events-consumer.ts', [
    '--topic',
    topic,
    '--offsets',
    offsets,
    '--until-idle',
  ]);
  expect(again.code, again.stderr).toBe(0);
  expect(again.stdout.trim(), 'a restart resumes from the commits and processes nothing twice').toBe('');
});

it('`sluice example` runs an example as running its file does, passing its arguments through, and lists them', async () => {
  const topic = uniqueName('orders');
  const args = ['--topic', topic, '--count', '3'];
  const direct = await run('examples/order-events-producer.ts', args);
  const viaCli = await runNode('bin/sluice.mjs', ['example', 'order-events-producer', '--url', api.url, ...args]);
  expect(viaCli.code, viaCli.stderr).toBe(0);
  const shape = (out: string) =>
    out
      .trim()
      .split('\n')
      .map((l) => l.replace(/\[\d\] @ offset \d+$/, ''));
  expect(shape(viaCli.stdout)).toStrictEqual(shape(direct.stdout));
  expect(shape(viaCli.stdout)).toStrictEqual(Array(3).fill(`Delivered to ${topic}`));

  // A --url before `example` reaches the example as SLUICE_URL.
  const before = await runNode('bin/sluice.mjs', ['--url', api.url, 'example', 'order-events-producer', ...args]);
  expect(before.code, before.stderr).toBe(0);
  expect(shape(before.stdout)).toStrictEqual(Array(3).fill(`Delivered to ${topic}`));

  const listed = await runNode('bin/sluice.mjs', ['example']);
  expect(listed.code).toBe(0);
  const names = listed.stdout
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.trim());
  expect(names).toContain('order-events-producer');
  expect(names).toContain('order-saga/seed');
  for (const module of ['groups/orders', 'order-saga/saga', 'order-saga/stack']) {
    expect(names, 'modules the examples import are not listed').not.toContain(module);
  }
  const unknown = await runNode('bin/sluice.mjs', ['example', 'no-such-example']);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toMatch(/Unknown example no-such-example[\s\S]*order-events-producer/);
});
