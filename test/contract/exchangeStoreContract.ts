import { describe, expect, it } from 'vitest';
import { parseBinding, type Binding } from '../../core/exchanges/exchange.ts';
import type { ExchangeStore } from '../../core/exchanges/exchangeStore.ts';
import { Exchanges } from '../../core/exchanges/exchanges.ts';
import type { Sluice } from '../../core/log/sluice.ts';

/** What a promise rejects with; fails the test when it resolves. */
async function thrownBy(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (e: unknown) => e as Record<string, unknown>,
  );
}

export interface ExchangeKind {
  readonly name: string;
  make(): Promise<{ store: ExchangeStore; sluice: Sluice }>;
}

const toTopic = (topic: string, bindingKey = '', args?: Record<string, string | null>): Binding =>
  parseBinding({ destination: { topic }, bindingKey, ...(args === undefined ? {} : { arguments: args }) });
const toExchange = (exchange: string, bindingKey = ''): Binding =>
  parseBinding({ destination: { exchange }, bindingKey });
const declared = (name: string, type = 'direct', alternateExchange: string | null = null) => ({
  name,
  type: type as 'direct',
  alternateExchange,
  createdAt: 1,
});

/** What every exchange store does, and what the exchanges built on it do with either store. */
export function exchangeStoreContract(kind: ExchangeKind): void {
  describe(`exchange store: ${kind.name}`, () => {
    it('creates an exchange once, lists and loads it with its bindings, and deletes it with them', async () => {
      const { store } = await kind.make();
      expect(await store.listExchanges()).toStrictEqual([]);
      expect(await store.createExchange(declared('logs', 'topic'))).toStrictEqual({
        exchange: declared('logs', 'topic'),
        created: true,
      });
      const again = await store.createExchange({ ...declared('logs', 'fanout'), createdAt: 2 });
      expect(again, 'the existing one, unchanged').toStrictEqual({
        exchange: declared('logs', 'topic'),
        created: false,
      });
      await store.createExchange(declared('audit', 'fanout', 'logs'));
      expect((await store.listExchanges()).map((x) => x.name)).toStrictEqual(['audit', 'logs']);
      const first = await store.putBinding('logs', toTopic('errors', '*.error'));
      expect(first.created).toBe(true);
      expect((await store.putBinding('logs', toTopic('errors', '*.error'))).created, 'an equal binding').toBe(false);
      await store.putBinding('logs', toTopic('all', '#', { a: null }));
      const loaded = await store.loadExchange('logs');
      expect(loaded?.exchange).toStrictEqual(declared('logs', 'topic'));
      expect(loaded?.bindings.map((b) => [b.destination, b.bindingKey, b.arguments]).sort()).toStrictEqual(
        [
          [{ topic: 'errors' }, '*.error', {}],
          [{ topic: 'all' }, '#', { a: null }],
        ].sort(),
      );
      expect(await store.deleteBinding('logs', toTopic('errors', '*.error'))).toBe(true);
      expect(await store.deleteBinding('logs', toTopic('errors', '*.error')), 'already gone').toBe(false);
      expect((await store.loadExchange('logs'))?.bindings.length).toBe(1);
      expect(await store.deleteExchange('logs')).toBe(true);
      expect(await store.deleteExchange('logs')).toBe(false);
      expect(await store.loadExchange('logs')).toBeUndefined();
      expect((await store.listExchanges()).map((x) => x.name)).toStrictEqual(['audit']);
      await store.createExchange(declared('logs', 'direct'));
      expect((await store.loadExchange('logs'))?.bindings, 'a namesake starts without bindings').toStrictEqual([]);
    });

    it('refuses bindings of or to exchanges that do not exist, and removes bindings to a deleted exchange', async () => {
      const { store } = await kind.make();
      await store.createExchange(declared('a'));
      expect((await thrownBy(store.putBinding('nope', toTopic('t')))).code).toBe('ExchangeNotFound');
      expect((await thrownBy(store.putBinding('a', toExchange('b')))).code).toBe('ExchangeNotFound');
      expect((await store.loadExchange('a'))?.bindings).toStrictEqual([]);
      await store.createExchange(declared('b'));
      await store.putBinding('a', toExchange('b', 'k'));
      await store.putBinding('a', toTopic('t', 'k'));
      expect(await store.deleteExchange('b')).toBe(true);
      const left = (await store.loadExchange('a'))?.bindings;
      expect(
        left?.map((b) => b.destination),
        'the binding to b went with b',
      ).toStrictEqual([{ topic: 't' }]);
      await store.createExchange(declared('b'));
      expect(await store.deleteBinding('a', toExchange('b', 'k')), 'not resurrected').toBe(false);
      await store.putBinding('a', toExchange('b', 'k'));
      expect(await store.deleteExchange('a')).toBe(true);
      expect((await store.loadExchange('b'))?.bindings).toStrictEqual([]);
      expect(await store.deleteExchange('b')).toBe(true);
    });

    it('routes through exchanges: topics by type, exchange-to-exchange, de-duplicated, alternates, mandatory', async () => {
      const { store, sluice } = await kind.make();
      const exchanges = new Exchanges({ store, sluice });
      for (const t of ['orders-eu', 'orders-all', 'audit', 'unrouted']) await sluice.createTopic(t, { partitions: 2 });
      await exchanges.declare('orders', { type: 'topic', alternateExchange: 'lost' });
      await exchanges.declare('lost', { type: 'fanout' });
      await exchanges.declare('copy', { type: 'fanout' });
      expect((await exchanges.declare('orders', { type: 'topic', alternateExchange: 'lost' })).created).toBe(false);
      expect((await thrownBy(exchanges.declare('orders', { type: 'direct' }))).code).toBe('ExchangeAlreadyExists');
      await exchanges.bind('orders', { destination: { topic: 'orders-eu' }, bindingKey: 'order.eu.*' });
      await exchanges.bind('orders', { destination: { topic: 'orders-all' }, bindingKey: 'order.#' });
      await exchanges.bind('orders', { destination: { exchange: 'copy' }, bindingKey: 'order.eu.#' });
      await exchanges.bind('copy', { destination: { topic: 'audit' } });
      await exchanges.bind('copy', { destination: { topic: 'orders-eu' } }); // a second path to orders-eu
      await exchanges.bind('lost', { destination: { topic: 'unrouted' } });
      expect((await thrownBy(exchanges.bind('orders', { destination: { topic: 'missing' } }))).code).toBe(
        'TopicNotFound',
      );
      const loop = await thrownBy(exchanges.bind('copy', { destination: { exchange: 'orders' } }));
      expect([loop.code, loop.path]).toStrictEqual(['BindingLoop', ['copy', 'orders']]);
      expect((await thrownBy(exchanges.bind('copy', { destination: { exchange: 'copy' } }))).code).toBe('BindingLoop');

      const published = await exchanges.publish('orders', {
        routingKey: 'order.eu.created',
        key: 'o-1',
        value: { id: 1 },
        headers: { source: 'test' },
      });
      expect(
        published.routed.map((r) => r.topic),
        'each topic once',
      ).toStrictEqual(['audit', 'orders-all', 'orders-eu']);
      const eu = published.routed.find((r) => r.topic === 'orders-eu')!;
      const { records } = await sluice.read('orders-eu', eu.partition, eu.offset);
      expect(records.length).toBe(1);
      expect(records[0]!.headers).toStrictEqual({
        source: 'test',
        'x-exchange': 'orders',
        'x-routing-key': 'order.eu.created',
      });
      expect([records[0]!.key, records[0]!.value]).toStrictEqual(['o-1', { id: 1 }]);

      const lost = await exchanges.publish('orders', { routingKey: 'invoice.paid', value: 1 });
      expect(
        lost.routed.map((r) => r.topic),
        'to the alternate exchange',
      ).toStrictEqual(['unrouted']);
      await exchanges.declare('plain', { type: 'direct' });
      expect(await exchanges.publish('plain', { routingKey: 'x', value: 1 })).toStrictEqual({
        routed: [],
        skipped: [],
      });
      const noRoute = await thrownBy(exchanges.publish('plain', { routingKey: 'x', value: 1, mandatory: true }));
      expect(noRoute.code).toBe('NoRoute');
      expect((await thrownBy(exchanges.publish('absent', { routingKey: 'x', value: 1 }))).code).toBe(
        'ExchangeNotFound',
      );
    });

    it('lands a retried publish with the same messageId once per destination, with the original offsets', async () => {
      const { store, sluice } = await kind.make();
      const exchanges = new Exchanges({ store, sluice });
      for (const t of ['a', 'b']) await sluice.createTopic(t, { partitions: 3 });
      await exchanges.declare('fan', { type: 'fanout' });
      for (const t of ['a', 'b']) await exchanges.bind('fan', { destination: { topic: t } });
      const message = { routingKey: '', value: { n: 1 }, messageId: 'm-1', expiration: 60_000 };
      const first = await exchanges.publish('fan', message);
      const retried = await exchanges.publish('fan', message);
      expect(retried).toStrictEqual(first);
      const other = await exchanges.publish('fan', { ...message, messageId: 'm-2' });
      for (const t of ['a', 'b']) {
        const described = await sluice.describeTopic(t);
        const total = described.partitions.reduce((n, p) => n + p.highWatermark, 0);
        expect(total, `${t}: m-1 once, m-2 once`).toBe(2);
      }
      expect(other.routed).not.toStrictEqual(first.routed);
      const a = first.routed[0]!;
      const [record] = (await sluice.read('a', a.partition, a.offset)).records;
      expect(record!.headers).toMatchObject({ 'x-message-id': 'm-1', 'x-expiration': '60000' });
    });

    it('skips and reports a destination topic deleted since the bind, and sees changes made in this container at once', async () => {
      const { store, sluice } = await kind.make();
      const exchanges = new Exchanges({ store, sluice });
      for (const t of ['kept', 'doomed']) await sluice.createTopic(t);
      await exchanges.declare('d', { type: 'direct' });
      await exchanges.bind('d', { destination: { topic: 'kept' }, bindingKey: 'k' });
      expect((await exchanges.publish('d', { routingKey: 'k', value: 1 })).routed.length).toBe(1);
      await exchanges.bind('d', { destination: { topic: 'doomed' }, bindingKey: 'k' });
      expect((await exchanges.publish('d', { routingKey: 'k', value: 1 })).routed.length, 'a new binding counts').toBe(
        2,
      );
      await sluice.deleteTopic('doomed');
      const after = await exchanges.publish('d', { routingKey: 'k', value: 2 });
      expect(after.routed.map((r) => r.topic)).toStrictEqual(['kept']);
      expect(after.skipped).toStrictEqual([{ topic: 'doomed', reason: 'TopicNotFound' }]);
      await exchanges.unbind('d', { destination: { topic: 'kept' }, bindingKey: 'k' });
      expect((await exchanges.publish('d', { routingKey: 'k', value: 3 })).routed).toStrictEqual([]);
      expect((await thrownBy(exchanges.unbind('d', { destination: { topic: 'kept' }, bindingKey: 'k' }))).code).toBe(
        'BindingNotFound',
      );
    });
  });
}
