import { expect, it } from 'vitest';
import { MemoryAtomicWriter } from '../../core/adapters/memory/memoryAtomic.ts';
import { MemoryStore } from '../../core/adapters/memory/memoryStore.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { MemoryShareStore } from '../../core/queues/memoryShareStore.ts';
import { ShareGroups } from '../../core/queues/shareGroups.ts';
import { MemoryTransactionStore } from '../../core/transactions/transactionStore.ts';
import { ConsumerGroups } from '../../core/groups/consumerGroups.ts';
import { MemoryGroupStore } from '../../core/groups/memoryGroupStore.ts';
import { MemoryLeases } from '../../core/leases.ts';
import { Dispatcher, type DeliveryTarget } from '../../core/subscriptions/delivery.ts';
import { MemorySubscriptionStore } from '../../core/subscriptions/subscriptionStore.ts';
import { Subscriptions } from '../../core/subscriptions/subscriptions.ts';
import { Transactions } from '../../core/transactions/transactions.ts';

/** An engine with transactions, in memory. */
function engineWithTransactions() {
  const store = new MemoryStore();
  const txnStore = new MemoryTransactionStore();
  const sluice = new Sluice({ log: store, metadata: store, atomic: new MemoryAtomicWriter(), transactions: txnStore });
  return { sluice, transactions: new Transactions({ sluice, store: txnStore }) };
}

/**
 * The history both tests read: an aborted transaction, a committed one, one left open, then a
 * plain append. Returns what commits the open one.
 */
async function mixedHistory(
  sluice: Sluice,
  transactions: Transactions,
  topic: string,
): Promise<() => Promise<unknown>> {
  const { epoch } = await transactions.init('p');
  const txn = async (value: string, end: 'commit' | 'abort' | 'open') => {
    const { sequence } = await transactions.begin({ transactionalId: 'p', epoch });
    await transactions.append({ transactionalId: 'p', epoch, sequence, append: 0, records: [{ topic, value }] });
    if (end !== 'open') await transactions[end]({ transactionalId: 'p', epoch, sequence });
    return sequence;
  };
  await txn('aborted', 'abort');
  await txn('committed', 'commit');
  const open = await txn('later', 'open');
  await sluice.append(topic, [{ value: 'plain' }]);
  return () => transactions.commit({ transactionalId: 'p', epoch, sequence: open });
}

/** Share groups with `isolation: read_committed` (Kafka's share.isolation.level) over transactions. */
it('a read_committed share group acquires committed transactions only, waits at an open one, and never an aborted one', async () => {
  const { sluice, transactions } = engineWithTransactions();
  const shares = new ShareGroups({ store: new MemoryShareStore(), sluice });
  await sluice.createTopic('jobs', { partitions: 1 });
  const commitOpen = await mixedHistory(sluice, transactions, 'jobs');
  const committed = await shares.join('c', { topics: ['jobs'], isolation: 'read_committed' });
  const everything = await shares.join('u', { topics: ['jobs'] });
  const values = async (group: string, memberId: string) =>
    (await shares.poll(group, memberId, { maxRecords: 100 })).records.map((r) => r.value);
  expect(await values('c', committed.memberId)).toEqual(['committed']);
  expect(await values('u', everything.memberId)).toEqual(['aborted', 'committed', 'later', 'plain']);
  await commitOpen();
  expect(await values('c', committed.memberId)).toEqual(['later', 'plain']);
  expect(await values('c', committed.memberId)).toEqual([]);
  expect(
    await shares.join('c', { topics: ['jobs'], isolation: 'read_uncommitted' }).catch((e: { code: string }) => e.code),
    'the isolation is fixed when the group is created',
  ).toBe('ShareGroupConflict');
});

/** Subscriptions with `isolation: read_committed` (a definition setting) over transactions. */
it('a read_committed subscription delivers committed transactions only, waits at an open one, and never an aborted one', async () => {
  const { sluice, transactions } = engineWithTransactions();
  const groups = new ConsumerGroups({ store: new MemoryGroupStore(), sluice });
  const subscriptionStore = new MemorySubscriptionStore();
  await sluice.createTopic('orders', { partitions: 1 });
  const subscriptions = new Subscriptions({ store: subscriptionStore, sluice, groups });
  const delivered: { name: string; values: unknown[] }[] = [];
  const target: DeliveryTarget = {
    async deliver(sub, records) {
      delivered.push({ name: sub.name, values: records.map((r) => r.value) });
      return { failed: [] };
    },
  };
  const dispatcher = new Dispatcher({ sluice, groups, store: subscriptionStore, target, leases: new MemoryLeases() });
  for (const [name, isolation] of [
    ['committed', 'read_committed'],
    ['everything', 'read_uncommitted'],
  ] as const) {
    await subscriptions.create({
      name,
      topic: 'orders',
      target: { type: 'lambda', functionName: 'bill' },
      startingPosition: 'earliest',
      isolation,
    });
  }
  const commitOpen = await mixedHistory(sluice, transactions, 'orders');
  const run = async (name: string) => {
    delivered.length = 0;
    await dispatcher.run(name);
    return delivered.flatMap((d) => d.values);
  };
  expect(await run('committed')).toEqual(['committed']);
  expect(await run('everything')).toEqual(['aborted', 'committed', 'later', 'plain']);
  expect(await run('committed'), 'stopped at the open transaction').toEqual([]);
  await commitOpen();
  expect(await run('committed')).toEqual(['later', 'plain']);
});
