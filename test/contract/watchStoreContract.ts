import { describe, expect, it } from 'vitest';
import type { WatchStore } from '../../core/subscriptions/watchStore.ts';

export interface WatchStoreKind {
  readonly name: string;
  make(): Promise<WatchStore>;
}

const HOUR = 3_600_000;

/** What every watch store does: connections with their watches, found per topic, gone with the connection. */
export function watchStoreContract(kind: WatchStoreKind): void {
  describe(`Watch store: ${kind.name}`, () => {
    it('keeps a connection with its principals and watches, and finds each topic’s watchers', async () => {
      const store = await kind.make();
      const now = Date.now();
      await store.openConnection({
        connectionId: 'c1',
        principals: ['iam:a'],
        topics: new Map(),
        expiresAt: now + HOUR,
      });
      await store.openConnection({
        connectionId: 'c2',
        principals: ['anonymous'],
        topics: new Map(),
        expiresAt: now + HOUR,
      });
      await store.watch(
        'c1',
        new Map([
          ['id-orders', 'orders'],
          ['id-pay', 'payments'],
        ]),
        now + HOUR,
      );
      await store.watch('c2', new Map([['id-orders', 'orders']]), now + HOUR);
      const c1 = await store.getConnection('c1', now);
      expect(c1?.principals).toStrictEqual(['iam:a']);
      expect([...(c1?.topics ?? [])].sort()).toStrictEqual([
        ['id-orders', 'orders'],
        ['id-pay', 'payments'],
      ]);
      const orders = await store.watchers('id-orders', now);
      expect(orders.sort((a, b) => a.connectionId.localeCompare(b.connectionId))).toStrictEqual([
        { connectionId: 'c1', topic: 'orders' },
        { connectionId: 'c2', topic: 'orders' },
      ]);
      expect(await store.watchers('id-other', now)).toStrictEqual([]);

      await store.unwatch('c1', ['id-orders']);
      expect((await store.watchers('id-orders', now)).map((w) => w.connectionId)).toStrictEqual(['c2']);
      expect([...((await store.getConnection('c1', now))?.topics.keys() ?? [])]).toStrictEqual(['id-pay']);

      await store.closeConnection('c1');
      expect(await store.getConnection('c1', now)).toBeUndefined();
      expect(await store.watchers('id-pay', now), 'its watches go with it').toStrictEqual([]);
      expect((await store.watchers('id-orders', now)).map((w) => w.connectionId)).toStrictEqual(['c2']);
      await store.closeConnection('c1'); // twice is harmless
      await store.unwatch('nobody', ['id-orders']); // so is an unknown connection
    });

    it('treats expired connections and watches as gone before TTL removes them', async () => {
      const store = await kind.make();
      const now = Date.now();
      await store.openConnection({ connectionId: 'old', principals: [], topics: new Map(), expiresAt: now + 2_000 });
      await store.watch('old', new Map([['id-t', 't']]), now + 2_000);
      expect((await store.watchers('id-t', now)).length).toBe(1);
      expect(await store.getConnection('old', now + 3_000)).toBeUndefined();
      expect(await store.watchers('id-t', now + 3_000)).toStrictEqual([]);
    });
  });
}
