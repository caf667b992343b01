/**
 * The reference document's ResilientConsumer as a subscription: Sluice pushes the records to a
 * webhook (this script serves it on 127.0.0.1) instead of the consumer polling, and the retries,
 * the exponential backoff and the dead letters are the subscription's, not the handler's.
 *
 * 1. Payments, in partition order: every third fails once (a transient 503), payment-5 times out
 *    every time. Failed records are retried with backoff (the reference's 100 ms × 2^attempt);
 *    payment-5 is dead-lettered after 3 retries with its headers, and delivery moves on.
 * 2. Transfers, in key order (per account): account acct-9 is broken. Its transfer exhausts its
 *    retries and the key is quarantined: its later transfers wait, in order, while the other
 *    accounts' flow. After the fix, releasing the key delivers them in order.
 *
 *   npx sluice example resilient-subscription
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Admin, PartitionConsumer, Producer, isSluiceApiError, type SubscriptionEvent } from '../client/index.ts';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: process.env.SLUICE_URL ?? 'http://127.0.0.1:7070' },
    prefix: { type: 'string', default: `resilient-${Date.now().toString(36)}` },
    'timeout-ms': { type: 'string', default: '60000' },
  },
});
const { url, prefix } = values;
const deadline = Date.now() + Number(values['timeout-ms']);
const admin = new Admin({ url });

// ---------------------------------------------------------------- the webhook (the handler)
const attempts = new Map<string, number>();
let acct9Fixed = false;
/** Handles a batch in order; answers the records that failed (the first failure and what follows it, per scope). */
function handle(event: SubscriptionEvent): { batchItemFailures: { itemIdentifier: string }[] } {
  const failures: { itemIdentifier: string }[] = [];
  const stopped = new Set<string>();
  for (const r of event.records) {
    const value = r.value as { id: string; account?: string };
    const scope = event.subscription.endsWith('transfers') ? String(r.key) : '';
    if (stopped.has(scope)) {
      failures.push({ itemIdentifier: String(r.offset) });
      continue;
    }
    const attempt = (attempts.get(value.id) ?? 0) + 1;
    attempts.set(value.id, attempt);
    let error: string | undefined;
    if (value.id === 'payment-5') error = 'gateway timeout';
    else if (value.id.startsWith('payment-') && Number(value.id.split('-')[1]) % 3 === 0 && attempt === 1)
      error = 'gateway busy (503)';
    else if (value.account === 'acct-9' && !acct9Fixed) error = 'account locked';
    if (error === undefined) {
      console.log(`Processed ${value.id} on attempt ${attempt}`);
      continue;
    }
    console.log(`${value.id}: ${error} on attempt ${attempt}`);
    failures.push({ itemIdentifier: String(r.offset) });
    stopped.add(scope);
  }
  return { batchItemFailures: failures };
}
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    const answer = handle(JSON.parse(body) as SubscriptionEvent);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const hook = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;

async function until(what: string, done: () => Promise<boolean>): Promise<void> {
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
const settled = async (name: string) =>
  (await admin.describeSubscription(name)).partitions.every((p) => p.lag === 0 && p.retry === null);

// ---------------------------------------------------------------- 1. payments: retries and a dead letter
const payments = `${prefix}.payments`;
const dlq = `${payments}.DLQ`;
for (const topic of [payments, dlq])
  await admin.createTopic(topic, { partitions: 1 }).catch((e: unknown) => {
    if (!isSluiceApiError(e, 'TopicAlreadyExists')) throw e;
  });
await admin.createSubscription({
  name: `${prefix}.payments`,
  topic: payments,
  target: { type: 'https', url: hook },
  startingPosition: 'earliest',
  maxRetries: 3,
  backoff: { initialMs: 200, multiplier: 2, maxMs: 2_000 },
  onFailure: { topic: dlq },
});
const producer = new Producer({ url });
await producer.sendBatch(
  payments,
  Array.from({ length: 6 }, (_, i) => ({ key: `payment-${i + 1}`, value: { id: `payment-${i + 1}` } })),
);
await until('the payments to settle', () => settled(`${prefix}.payments`));
const dead = await new PartitionConsumer({
  url,
  topic: dlq,
  partition: 0,
  autoOffsetReset: 'earliest',
  waitMs: 1000,
}).poll();
console.log(`Dead letters in ${dlq}: ${dead.length}`);
for (const record of dead) {
  console.log(`  ${(record.value as { id: string }).id}:`);
  for (const name of [
    'original_topic',
    'original_partition',
    'original_offset',
    'error_message',
    'failed_at',
    'attempts',
  ])
    console.log(`    ${name}: ${String(record.headers[name])}`);
}

// ---------------------------------------------------------------- 2. transfers: a quarantined key
const transfers = `${prefix}.transfers`;
await admin.createTopic(transfers, { partitions: 1 }).catch((e: unknown) => {
  if (!isSluiceApiError(e, 'TopicAlreadyExists')) throw e;
});
const subscription = `${prefix}.transfers`;
await admin.createSubscription({
  name: subscription,
  topic: transfers,
  target: { type: 'https', url: hook },
  startingPosition: 'earliest',
  ordering: 'key',
  parallelismPerPartition: 2,
  maxRetries: 2,
  backoff: { initialMs: 100, multiplier: 2, maxMs: 1_000 },
});
const transfer = (id: string, account: string) => ({ key: account, value: { id, account } });
await producer.sendBatch(transfers, [transfer('t1', 'acct-1'), transfer('t2', 'acct-9'), transfer('t3', 'acct-2')]);
await until(
  'acct-9 to be quarantined',
  async () => (await admin.describeSubscription(subscription)).quarantined.length > 0,
);
await producer.sendBatch(transfers, [transfer('t4', 'acct-9'), transfer('t5', 'acct-1')]);
await until('the other accounts to flow', async () => (attempts.get('t5') ?? 0) > 0);
const { quarantined } = await admin.describeSubscription(subscription);
for (const q of quarantined)
  console.log(
    `Quarantined ${String(q.key)}: ${q.records} transfer(s) waiting from offset ${q.firstOffset} (${q.lastError})`,
  );
console.log(`t4 delivered while acct-9 was quarantined: ${attempts.has('t4')}`);
acct9Fixed = true;
console.log('Fixed acct-9; releasing it');
const released = await admin.releaseKey(subscription, 'acct-9');
console.log(`Released ${released.records} transfer(s)`);
await until(
  'acct-9 to drain',
  async () =>
    (await admin.describeSubscription(subscription)).quarantined.length === 0 && (await settled(subscription)),
);

await producer.close();
await admin.deleteSubscription(`${prefix}.payments`);
await admin.deleteSubscription(subscription);
server.close();
