import { describe, expect, it } from 'vitest';
import { MemoryWatchStore } from '../../core/subscriptions/watchStore.ts';
import { Watchers, type Doorbell, type RecordsFrame } from '../../core/subscriptions/watchers.ts';
import { NotAuthorized } from '../../core/errors.ts';
import type { Access } from '../../core/security/acl.ts';
import type { Caller } from '../../core/security/authorizer.ts';
import { watchStoreContract } from '../contract/watchStoreContract.ts';

watchStoreContract({ name: 'memory', make: async () => new MemoryWatchStore() });

const TOPICS = new Map([
  ['orders', 'id-orders'],
  ['payments', 'id-payments'],
  ['secret', 'id-secret'],
]);

function setup() {
  const store = new MemoryWatchStore();
  const watchers = new Watchers({
    store,
    topicIds: async (names) => new Map(names.filter((n) => TOPICS.has(n)).map((n) => [n, TOPICS.get(n)!])),
    // Only `iam:bob` is refused, and only on `secret`.
    authorize: async (caller: Caller, accesses: readonly Access[]) => {
      for (const a of accesses)
        if (caller.principals.includes('iam:bob') && a.resourceName === 'secret')
          throw new NotAuthorized(a.operation, a.resourceType, a.resourceName);
    },
  });
  const rung: { connectionId: string; frame: RecordsFrame }[] = [];
  const gone = new Set<string>();
  const doorbell: Doorbell = {
    ring: async (connectionId, frame) => {
      if (gone.has(connectionId)) return 'gone';
      rung.push({ connectionId, frame });
      return 'sent';
    },
  };
  return { store, watchers, rung, gone, doorbell };
}

describe('Watchers', () => {
  it('rings each watcher of a touched topic once, naming the touched partitions, with one query per topic', async () => {
    const { store, watchers, rung, doorbell } = setup();
    await watchers.connect('a', { principals: ['anonymous'] });
    await watchers.connect('b', { principals: ['anonymous'] });
    expect(await watchers.watch('a', ['orders', 'payments'])).toStrictEqual({ topics: ['orders', 'payments'] });
    await watchers.watch('b', ['orders']);
    const report = await watchers.notify(
      [
        { topicId: 'id-orders', partition: 2 },
        { topicId: 'id-orders', partition: 0 },
        { topicId: 'id-orders', partition: 2 },
        { topicId: 'id-unwatched', partition: 0 },
      ],
      doorbell,
    );
    expect(report).toStrictEqual({ rung: 2, removed: 0 });
    expect(store.queries, 'one query per touched topic').toBe(2);
    expect(rung.sort((x, y) => x.connectionId.localeCompare(y.connectionId))).toStrictEqual([
      { connectionId: 'a', frame: { type: 'records', topic: 'orders', partitions: [0, 2] } },
      { connectionId: 'b', frame: { type: 'records', topic: 'orders', partitions: [0, 2] } },
    ]);
  });

  it('removes a connection API Gateway says is gone, with all its watches', async () => {
    const { store, watchers, doorbell, gone, rung } = setup();
    await watchers.connect('stale', { principals: ['anonymous'] });
    await watchers.connect('live', { principals: ['anonymous'] });
    await watchers.watch('stale', ['orders', 'payments']);
    await watchers.watch('live', ['orders']);
    gone.add('stale');
    expect(await watchers.notify([{ topicId: 'id-orders', partition: 0 }], doorbell)).toStrictEqual({
      rung: 1,
      removed: 1,
    });
    expect(await store.getConnection('stale', Date.now())).toBeUndefined();
    expect(await store.watchers('id-payments', Date.now())).toStrictEqual([]);
    expect(rung.map((r) => r.connectionId)).toStrictEqual(['live']);
  });

  it('refuses bad input, unknown topics, unknown connections and what the ACLs deny, writing nothing', async () => {
    const { store, watchers } = setup();
    await watchers.connect('bob', { principals: ['iam:bob'] });
    for (const bad of [undefined, 'orders', [], [42], ['bad name!'], Array.from({ length: 101 }, (_, i) => `t${i}`)])
      expect((await rejection(watchers.watch('bob', bad)))?.name).toMatch(/InvalidArgument|InvalidTopicName/);
    expect((await rejection(watchers.watch('bob', ['orders', 'nope'])))?.name).toBe('TopicNotFound');
    expect((await rejection(watchers.watch('bob', ['orders', 'secret'])))?.name).toBe('NotAuthorized');
    expect((await rejection(watchers.watch('ghost', ['orders'])))?.name).toBe('UnknownConnection');
    expect(await store.watchers('id-orders', Date.now()), 'nothing written').toStrictEqual([]);
    expect((await store.getConnection('bob', Date.now()))?.topics.size).toBe(0);
  });

  it('unwatch stops the rings; disconnect removes everything', async () => {
    const { watchers, doorbell, rung } = setup();
    await watchers.connect('a', { principals: ['anonymous'] });
    await watchers.watch('a', ['orders', 'payments']);
    await watchers.unwatch('a', ['orders']);
    await watchers.notify([{ topicId: 'id-orders', partition: 0 }], doorbell);
    expect(rung).toStrictEqual([]);
    await watchers.disconnect('a');
    await watchers.notify([{ topicId: 'id-payments', partition: 0 }], doorbell);
    expect(rung).toStrictEqual([]);
    expect((await rejection(watchers.unwatch('a', ['orders'])))?.name).toBe('UnknownConnection');
  });
});

async function rejection(p: Promise<unknown>): Promise<Error | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
}
