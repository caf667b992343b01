import { expect, it } from 'vitest';
import {
  Admin,
  PartitionConsumer,
  Producer,
  TransactionalConsumer,
  TransactionalProducer,
  isSluiceApiError,
  type ReceivedRecord,
} from '../../client/index.ts';
import { prng } from '../support/prng.ts';
import { runNode, useApi } from '../support/e2e.ts';
import { uniqueName } from '../support/names.ts';

/** End to end over HTTP: transactions on the local stack (or a deployed one with SLUICE_API_URL). */
const api = useApi('e2e-txn');

async function readAll(topic: string, partitions: number, isolation?: 'read_committed') {
  const out: { partition: number; offset: number; value: unknown }[] = [];
  for (let partition = 0; partition < partitions; partition++) {
    const consumer = new PartitionConsumer({
      url: api.url,
      topic,
      partition,
      waitMs: 0,
      ...(isolation === undefined ? {} : { isolation }),
    });
    for (;;) {
      const records = await consumer.poll();
      if (records.length === 0) break;
      out.push(...records.map((r) => ({ partition, offset: r.offset, value: r.value })));
    }
  }
  return out;
}

it('consume-transform-produce with crashes before, during and after the transaction: every input becomes exactly one output', async () => {
  const input = uniqueName('orders');
  const output = uniqueName('enriched');
  const groupId = uniqueName('enricher');
  const admin = new Admin({ url: api.url });
  await admin.createTopic(input, { partitions: 3 });
  await admin.createTopic(output, { partitions: 2 });
  const producer = new Producer({ url: api.url });
  const total = 240;
  await producer.sendBatch(
    input,
    Array.from({ length: total }, (_, i) => ({ key: `user-${i % 17}`, value: { i } })),
  );
  await producer.close();

  const random = prng(1515);
  let crashes = 0;
  for (let round = 0; round < 60; round++) {
    // A fresh instance, as after a restart: the same transactional id and static member id.
    const enricher = new TransactionalConsumer({
      url: api.url,
      groupId,
      topics: [input],
      transactionalId: 'enricher-0',
      instanceId: 'enricher-0',
      autoOffsetReset: 'earliest',
      sessionTimeoutMs: 10_000,
      maxRecords: 15,
      waitMs: 0,
      watch: false,
    });
    const crashAt = random();
    if (crashAt < 0.3) {
      // The transaction lands; the instance dies before learning it.
      const transact = enricher.producer.transact.bind(enricher.producer);
      enricher.producer.transact = async (...args) => {
        await transact(...args);
        throw new Error('crash after commit');
      };
    }
    let committed: number;
    try {
      committed = await enricher.processOnce((records) => {
        if (crashAt >= 0.3 && crashAt < 0.5) throw new Error('crash while processing');
        return records.map((r) => ({
          topic: output,
          key: r.key as string,
          value: { i: (r.value as { i: number }).i, enriched: true },
        }));
      });
      if (crashAt >= 0.5 && crashAt < 0.6) {
        crashes++;
        continue; // dies after its transaction, abandoning the instance
      }
    } catch (e) {
      if (!String(e).includes('crash')) throw e;
      crashes++;
      continue; // abandoned without leaving: the next instance takes over its static membership
    }
    await enricher.close();
    if (committed === 0 && round > 10) break;
  }
  expect(crashes).toBeGreaterThan(5);
  const outputs = (await readAll(output, 2, 'read_committed')).map((r) => (r.value as { i: number }).i);
  expect(outputs.length).toBe(total);
  expect(new Set(outputs).size).toBe(total);
  expect([...outputs].sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i));
}, 240_000);

it('a consumer that lives on after a lost answer or a failing handler still produces each output exactly once, with more input arriving meanwhile', async () => {
  const input = uniqueName('events');
  const output = uniqueName('results');
  const admin = new Admin({ url: api.url });
  await admin.createTopic(input, { partitions: 2 });
  await admin.createTopic(output, { partitions: 1 });
  const producer = new Producer({ url: api.url });
  const send = (from: number, count: number) =>
    producer.sendBatch(
      input,
      Array.from({ length: count }, (_, k) => ({ key: `k${(from + k) % 5}`, value: { i: from + k } })),
    );
  await send(0, 30);
  const consumer = new TransactionalConsumer({
    url: api.url,
    groupId: uniqueName('survivor'),
    topics: [input],
    transactionalId: uniqueName('survivor'),
    autoOffsetReset: 'earliest',
    maxRecords: 7,
    waitMs: 0,
    watch: false,
  });
  const transact = consumer.producer.transact.bind(consumer.producer);
  let lose = true;
  consumer.producer.transact = async (...args) => {
    const report = await transact(...args);
    if (lose) {
      lose = false;
      throw new Error('the answer was lost'); // it landed; the consumer cannot tell
    }
    return report;
  };
  const handler = (records: ReceivedRecord[]) =>
    records.map((r) => ({ topic: output, key: r.key as string, value: r.value as { i: number } }));
  await expect(consumer.processOnce(handler)).rejects.toThrow('lost');
  await send(30, 30); // more input before the consumer tries again
  await expect(consumer.processOnce(handler)).resolves.toBe(7); // the lost transaction, sent again unchanged
  await expect(
    consumer.processOnce(() => {
      throw new Error('handler failed');
    }),
  ).rejects.toThrow('handler failed');
  for (let idle = 0; idle < 3;) idle = (await consumer.processOnce(handler)) === 0 ? idle + 1 : 0;
  await consumer.close();
  await producer.close();
  const outputs = (await readAll(output, 1, 'read_committed')).map((r) => (r.value as { i: number }).i);
  expect([...outputs].sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i));
});

it('a multi-request transaction over HTTP: read_committed consumers stop at the last stable offset, describe shows it, commit shows all, abort hides all; a zombie is fenced', async () => {
  const topic = uniqueName('ledger');
  const admin = new Admin({ url: api.url });
  await admin.createTopic(topic, { partitions: 2 });
  const id = uniqueName('payments');
  const producer = new TransactionalProducer({ url: api.url, transactionalId: id });
  await producer.init();
  const txn = await producer.begin({ timeoutMs: 60_000 });
  await txn.send([{ topic, partition: 0, value: 'debit' }]);
  await txn.send([{ topic, partition: 1, value: 'credit' }]);
  expect(await readAll(topic, 2, 'read_committed')).toEqual([]);
  expect((await readAll(topic, 2)).map((r) => r.value)).toEqual(['debit', 'credit']);
  const described = await admin.describeTopic(topic);
  expect(described.partitions.map((p) => [p.lastStableOffset, p.openTransactions])).toEqual([
    [0, [{ transactionalId: id, firstOffset: 0 }]],
    [0, [{ transactionalId: id, firstOffset: 0 }]],
  ]);
  expect((await txn.commit()).outcome).toBe('committed');
  expect((await readAll(topic, 2, 'read_committed')).map((r) => r.value)).toEqual(['debit', 'credit']);

  const second = await producer.begin();
  await second.send([{ topic, partition: 0, value: 'oops' }]);
  expect((await second.abort()).outcome).toBe('aborted');
  expect((await readAll(topic, 2, 'read_committed')).map((r) => r.value)).toEqual(['debit', 'credit']);

  // A second instance with the same id fences the first.
  const third = await producer.begin();
  await third.send([{ topic, partition: 1, value: 'zombie' }]);
  await new TransactionalProducer({ url: api.url, transactionalId: id }).init();
  const fenced = await third.commit().catch((e: unknown) => e);
  expect(isSluiceApiError(fenced, 'ProducerFenced')).toBe(true);
  expect((await readAll(topic, 2, 'read_committed')).map((r) => r.value)).toEqual(['debit', 'credit']);
  expect((await admin.describeTopic(topic)).partitions.map((p) => p.openTransactions)).toEqual([[], []]);
});

it('the CLI runs transactions: init, produce atomically, begin/send/commit, and read_committed consumption and describe show the last stable offset', async () => {
  const cli = (args: string[], stdin?: string) => runNode('bin/sluice.mjs', ['--url', api.url, ...args], stdin);
  const topic = uniqueName('cli-txn');
  const id = uniqueName('cli-producer');
  expect((await cli(['topics', 'create', topic, '--partitions', '1'])).code).toBe(0);
  const init = await cli(['transactions', 'init', id, '--json']);
  expect(init.code, init.stderr).toBe(0);
  const { epoch } = JSON.parse(init.stdout) as { epoch: number };
  const produced = await cli(
    ['transactions', 'produce', id, '--epoch', String(epoch), '--sequence', '0', '--topic', topic],
    '{"value":"a"}\n{"value":"b"}\n',
  );
  expect(produced.code, produced.stderr).toBe(0);
  expect(produced.stdout).toContain(`${topic}[0] @ 0..1`);
  const begun = await cli(['transactions', 'begin', id, '--epoch', String(epoch), '--json']);
  const { sequence } = JSON.parse(begun.stdout) as { sequence: number };
  const common = ['--epoch', String(epoch), '--sequence', String(sequence)];
  expect(
    (await cli(['transactions', 'send', id, ...common, '--append', '0', JSON.stringify({ topic, value: 'c' })])).code,
  ).toBe(0);
  const consume = (isolation: string) =>
    cli(['consume', topic, '--from-beginning', '--isolation', isolation, '--json']).then((r) =>
      r.stdout
        .trim()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => (JSON.parse(l) as { value: string }).value),
    );
  expect(await consume('read_committed')).toEqual(['a', 'b']);
  expect(await consume('read_uncommitted')).toEqual(['a', 'b', 'c']);
  const described = await cli(['topics', 'describe', topic]);
  expect(described.stdout).toMatch(new RegExp(`0\\s+0\\s+3\\s+2\\s+${id}@2`));
  const shown = await cli(['transactions', 'describe', id]);
  expect(shown.stdout).toContain(`Open transaction ${sequence}`);
  expect((await cli(['transactions', 'commit', id, ...common])).stdout).toContain('committed');
  expect(await consume('read_committed')).toEqual(['a', 'b', 'c']);
  const bad = await cli(['consume', topic, '--isolation', 'dirty']);
  expect(bad.code).not.toBe(0);
});
