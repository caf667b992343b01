import { describe, expect, it } from 'vitest';
import type { Exchanges } from '../../core/exchanges/exchanges.ts';
import type { Sluice } from '../../core/log/sluice.ts';
import { DeadLetters, type DeathEntry } from '../../core/queues/deadLetters.ts';
import type { Queues } from '../../core/queues/queues.ts';
import type { ShareGroups } from '../../core/queues/shareGroups.ts';
import { clock, code } from '../support/clock.ts';

/** A queue's parts on one store kind; `exchanges` admits through `queues`, share groups dead-letter to `exchanges`. */
export interface QueueKind {
  readonly name: string;
  make(now: () => number): Promise<{ sluice: Sluice; shares: ShareGroups; exchanges: Exchanges; queues: Queues }>;
}

async function everything(sluice: Sluice, topic: string) {
  const out: { key: unknown; value: unknown; headers: Record<string, string> }[] = [];
  for (let offset = 0; ;) {
    const got = await sluice.read(topic, 0, offset, { maxRecords: 500 });
    if (got.records.length === 0) return out;
    for (const r of got.records)
      out.push({ key: r.key, value: r.value, headers: r.headers as unknown as Record<string, string> });
    offset = got.nextOffset;
  }
}

/**
 * RabbitMQ-style queues over share groups: declarations, time to live, length limits with both
 * overflow modes, and dead-letter exchanges with `x-death`, each checked against what RabbitMQ
 * documents (https://www.rabbitmq.com/docs/ttl, /maxlength, /dlx).
 */
export function queueContract(kind: QueueKind): void {
  describe(`queues: ${kind.name}`, () => {
    it('declares a queue as a one-partition topic and a share group; again as it is changes nothing; differently, or over another topic, is a conflict', async () => {
      const c = clock();
      const { sluice, shares, queues } = await kind.make(c.now);
      const first = await queues.declare({ name: 'tasks', deliveryLimit: 3, maxLength: 10 });
      expect(first.created).toBe(true);
      expect(first.queue).toMatchObject({
        name: 'tasks',
        messages: 0,
        ready: 0,
        unacknowledged: 0,
        consumers: 0,
        settings: { queue: true, deliveryLimit: 3, maxLength: 10, overflow: 'drop-head', topics: ['tasks'] },
      });
      expect((await sluice.partitionCounts(['tasks'])).tasks).toBe(1);
      const again = await queues.declare({ name: 'tasks', deliveryLimit: 3, maxLength: 10 });
      expect(again.created).toBe(false);
      expect(await code(() => queues.declare({ name: 'tasks', deliveryLimit: 4, maxLength: 10 }))).toBe(
        'QueueConflict',
      );
      await sluice.createTopic('plain', { partitions: 1 });
      expect(await code(() => queues.declare({ name: 'plain' })), 'a topic that is not a queue').toBe('QueueConflict');
      expect(await queues.list()).toStrictEqual(['tasks']);
      // Consumers join the queue's share group on its topic, and only that topic.
      expect(await code(() => shares.join('tasks', { topics: ['plain'] }))).toBe('ShareGroupConflict');
      await sluice.append('tasks', [{ value: 'a' }, { value: 'b' }, { value: 'c' }]);
      const m = await shares.join('tasks', { topics: ['tasks'] });
      const got = await shares.poll('tasks', m.memberId, { maxRecords: 1 });
      await shares.acknowledge('tasks', m.memberId, [{ topic: 'tasks', partition: 0, offset: 0, type: 'reject' }]);
      await shares.poll('tasks', m.memberId, { maxRecords: 1 });
      expect(got.records.map((r) => r.value)).toStrictEqual(['a']);
      expect(await queues.describe('tasks')).toMatchObject({
        messages: 2,
        ready: 1,
        unacknowledged: 1,
        archived: 1,
        consumers: 1,
      });
      expect(await code(() => queues.delete('tasks')), 'a live consumer').toBe('ShareGroupConflict');
      await shares.leave('tasks', m.memberId);
      await queues.delete('tasks');
      expect(await code(() => queues.describe('tasks'))).toBe('QueueNotFound');
      expect((await sluice.partitionCounts(['tasks'])).tasks).toBeUndefined();
      expect(await queues.list()).toStrictEqual([]);
    });

    it('refuses bad declarations with typed errors and writes nothing', async () => {
      const { sluice, queues, shares } = await kind.make(clock().now);
      const bad: unknown[] = [
        null,
        [],
        { name: 'bad name' },
        { name: 'q', maxLength: 0 },
        { name: 'q', maxLength: 1.5 },
        { name: 'q', overflow: 'reject-publish' },
        { name: 'q', maxLength: 5, overflow: 'drop-tail' },
        { name: 'q', messageTtlMs: -1 },
        { name: 'q', deadLetterExchange: 'x', deadLetterTopic: 'y' },
        { name: 'q', deadLetterRoutingKey: 'k' },
        { name: 'q', deadLetterTopic: 'missing' },
        { name: 'q', deliveryLimit: 99 },
        { name: 'q', unknown: 1 },
      ];
      for (const input of bad)
        expect(await code(() => queues.declare(input)), JSON.stringify(input)).toMatch(
          /^(InvalidArgument|InvalidTopicName|TopicNotFound)$/,
        );
      expect(await sluice.listTopics()).toStrictEqual([]);
      expect(await shares.list()).toStrictEqual([]);
    });

    it('dead-letters messages past the queue TTL or their own expiration instead of delivering them (reason expired, x-death with original-expiration)', async () => {
      const c = clock();
      const { sluice, shares, exchanges, queues } = await kind.make(c.now);
      await sluice.createTopic('dead', { partitions: 1 });
      await exchanges.declare('dlx', { type: 'fanout' });
      await exchanges.bind('dlx', { destination: { topic: 'dead' } });
      await exchanges.declare('work', { type: 'direct' });
      await queues.declare({ name: 'jobs', messageTtlMs: 60_000, deadLetterExchange: 'dlx' });
      await exchanges.bind('work', { destination: { topic: 'jobs' }, bindingKey: 'job' });
      await exchanges.publish('work', { routingKey: 'job', value: 'old' });
      c.advance(30_000);
      await exchanges.publish('work', { routingKey: 'job', value: 'short', expiration: 10_000 });
      await exchanges.publish('work', { routingKey: 'job', value: 'fresh' });
      c.advance(30_000); // old: 60 s (the queue's TTL); short: 30 s of its own 10 s; fresh: 30 s
      const m = await shares.join('jobs', { topics: ['jobs'] });
      const got = await shares.poll('jobs', m.memberId);
      expect(got.records.map((r) => r.value)).toStrictEqual(['fresh']);
      const dead = await everything(sluice, 'dead');
      expect(dead.map((d) => [d.value, d.headers.reason])).toStrictEqual([
        ['old', 'expired'],
        ['short', 'expired'],
      ]);
      const deaths = dead.map((d) => JSON.parse(d.headers['x-death']!) as DeathEntry[]);
      expect(deaths[0]).toStrictEqual([
        {
          queue: 'jobs',
          reason: 'expired',
          count: 1,
          time: new Date(c.now()).toISOString(),
          exchange: 'work',
          'routing-keys': ['job'],
        },
      ]);
      expect(deaths[1]![0]!['original-expiration'], 'the expiration moves into x-death').toBe('10000');
      expect(dead[1]!.headers['x-expiration'], 'and off the dead letter, which must not expire again').toBeUndefined();
      expect(dead[1]!.headers).toMatchObject({ 'x-exchange': 'dlx', 'x-routing-key': 'job' });
      expect((await queues.describe('jobs')).archived).toBe(2);
    });

    it('drop-head: over maxLength the oldest ready messages are dead-lettered (max-length), never those a consumer holds', async () => {
      const c = clock();
      const { sluice, shares, queues } = await kind.make(c.now);
      await sluice.createTopic('jobs.dlq', { partitions: 1 });
      await queues.declare({ name: 'jobs', maxLength: 3, deadLetterTopic: 'jobs.dlq' });
      await sluice.append('jobs', [{ value: 0 }, { value: 1 }]);
      const m = await shares.join('jobs', { topics: ['jobs'] });
      const held = await shares.poll('jobs', m.memberId, { maxRecords: 2 });
      expect(held.records.map((r) => r.value)).toStrictEqual([0, 1]);
      await sluice.append(
        'jobs',
        [2, 3, 4, 5].map((value) => ({ value })),
      );
      // 2 unacknowledged + 4 ready = 6 over 3: the 3 oldest ready (2, 3, 4) go; 5 stays.
      const next = await shares.poll('jobs', m.memberId);
      expect(next.records.map((r) => r.value)).toStrictEqual([5]);
      const dead = await everything(sluice, 'jobs.dlq');
      expect(dead.map((d) => [d.value, d.headers.reason, d.headers.original_offset])).toStrictEqual([
        [2, 'max-length', '2'],
        [3, 'max-length', '3'],
        [4, 'max-length', '4'],
      ]);
      // A released message is ready again, and the oldest ready one: it goes first.
      await shares.acknowledge('jobs', m.memberId, [
        { topic: 'jobs', partition: 0, offset: 0, type: 'release' },
        { topic: 'jobs', partition: 0, offset: 1, type: 'accept' },
      ]);
      await sluice.append('jobs', [{ value: 6 }, { value: 7 }]);
      const last = await shares.poll('jobs', m.memberId);
      expect(last.records.map((r) => r.value).sort()).toStrictEqual([6, 7]);
      expect((await everything(sluice, 'jobs.dlq')).map((d) => d.value)).toStrictEqual([2, 3, 4, 0]);
      expect(await queues.describe('jobs')).toMatchObject({ messages: 3, unacknowledged: 3, ready: 0, archived: 4 });
    });

    it('reject-publish: a full queue refuses produces and publishes (QueueFull, nothing written); other destinations still get the message', async () => {
      const c = clock();
      const { sluice, shares, exchanges, queues } = await kind.make(c.now);
      await queues.declare({ name: 'small', maxLength: 2, overflow: 'reject-publish' });
      await sluice.createTopic('audit', { partitions: 1 });
      await exchanges.declare('all', { type: 'fanout' });
      await exchanges.bind('all', { destination: { topic: 'small' } });
      await queues.admit('small', 2);
      await sluice.append('small', [{ value: 'a' }, { value: 'b' }]);
      expect(await code(() => queues.admit('small', 1))).toBe('QueueFull');
      expect(await code(() => exchanges.publish('all', { routingKey: '', value: 'c' })), 'its only destination').toBe(
        'QueueFull',
      );
      await exchanges.bind('all', { destination: { topic: 'audit' } });
      const partly = await exchanges.publish('all', { routingKey: '', value: 'd' });
      expect(partly.routed.map((r) => r.topic)).toStrictEqual(['audit']);
      expect(partly.skipped).toStrictEqual([{ topic: 'small', reason: 'QueueFull' }]);
      expect((await everything(sluice, 'small')).map((r) => r.value)).toStrictEqual(['a', 'b']);
      await queues.admit('plain-topics-are-never-full', 1_000_000);
      // Consuming makes room.
      const m = await shares.join('small', { topics: ['small'] });
      const got = await shares.poll('small', m.memberId, { maxRecords: 1 });
      expect(await code(() => queues.admit('small', 1)), 'unacknowledged messages still count').toBe('QueueFull');
      await shares.acknowledge('small', m.memberId, [
        { topic: 'small', partition: 0, offset: got.records[0]!.offset, type: 'accept' },
      ]);
      await queues.admit('small', 1);
      const routed = await exchanges.publish('all', { routingKey: '', value: 'e' });
      expect(routed.routed.map((r) => r.topic)).toStrictEqual(['audit', 'small']);
      // A dead letter whose only destination is the full queue is dropped; the rejection still applies.
      await queues.declare({ name: 'feeder', deadLetterExchange: 'to-small' });
      await exchanges.declare('to-small', { type: 'fanout' });
      await exchanges.bind('to-small', { destination: { topic: 'small' } });
      await sluice.append('feeder', [{ value: 'f' }]);
      const f = await shares.join('feeder', { topics: ['feeder'] });
      await shares.poll('feeder', f.memberId);
      const [rejected] = await shares.acknowledge('feeder', f.memberId, [
        { topic: 'feeder', partition: 0, offset: 0, type: 'reject' },
      ]);
      expect(rejected!.ok).toBe(true);
      expect(await queues.describe('feeder')).toMatchObject({ messages: 0, archived: 1 });
      expect((await everything(sluice, 'small')).map((r) => r.value)).toStrictEqual(['a', 'b', 'e']);
    });

    it('dead-letter exchanges: x-death counts repeats per queue and reason, the first and last deaths are kept, and the routing key can be replaced', async () => {
      const c = clock();
      const { sluice, shares, exchanges, queues } = await kind.make(c.now);
      await exchanges.declare('orders', { type: 'topic' });
      await exchanges.declare('retry', { type: 'direct' });
      await queues.declare({ name: 'billing', deadLetterExchange: 'retry', deadLetterRoutingKey: 'again' });
      await exchanges.bind('orders', { destination: { topic: 'billing' }, bindingKey: 'order.*' });
      // Dead letters come back to the same queue: a retry loop, as RabbitMQ users build with DLXs.
      await exchanges.bind('retry', { destination: { topic: 'billing' }, bindingKey: 'again' });
      await exchanges.publish('orders', { routingKey: 'order.created', value: { id: 7 }, headers: { trace: 't-7' } });
      const m = await shares.join('billing', { topics: ['billing'] });
      const deaths: DeathEntry[][] = [];
      for (let round = 0; round < 3; round++) {
        const [r] = (await shares.poll('billing', m.memberId)).records;
        expect(r!.value).toStrictEqual({ id: 7 });
        expect(r!.headers.trace).toBe('t-7');
        if (round > 0) deaths.push(JSON.parse(r!.headers['x-death'] as string) as DeathEntry[]);
        if (round > 0) expect(r!.headers['x-first-death-exchange']).toBe('orders');
        c.advance(1_000);
        await shares.acknowledge('billing', m.memberId, [
          { topic: 'billing', partition: 0, offset: r!.offset, type: 'reject', errorMessage: `try ${round}` },
        ]);
      }
      expect(
        deaths.map((d) => d.map((e) => [e.queue, e.reason, e.count, e.exchange, e['routing-keys']])),
      ).toStrictEqual([
        [['billing', 'rejected', 1, 'orders', ['order.created']]],
        [['billing', 'rejected', 2, 'orders', ['order.created']]], // counted in the first entry, as RabbitMQ does
      ]);
      const [last] = (await shares.poll('billing', m.memberId)).records;
      expect(last!.headers).toMatchObject({
        'x-first-death-queue': 'billing',
        'x-first-death-reason': 'rejected',
        'x-first-death-exchange': 'orders',
        'x-last-death-queue': 'billing',
        'x-last-death-reason': 'rejected',
        'x-last-death-exchange': 'retry',
        'x-exchange': 'retry',
        'x-routing-key': 'again',
        error_message: 'try 2',
      });
      expect(JSON.parse(last!.headers['x-death'] as string)[0].count).toBe(3);
      expect((await everything(sluice, 'billing')).length, 'one record per death: 1 + 3').toBe(4);
    });

    it('writes each dead letter once, even when writing is repeated (a crash between the dead letter and the state write)', async () => {
      const c = clock();
      const { sluice, exchanges } = await kind.make(c.now);
      await sluice.createTopic('src', { partitions: 1 });
      await sluice.createTopic('dlq', { partitions: 1 });
      await exchanges.declare('dlx', { type: 'fanout' });
      await exchanges.bind('dlx', { destination: { topic: 'dlq' } });
      await sluice.append('src', [{ value: 'x' }, { value: 'y' }]);
      const letters = new DeadLetters({ sluice, exchanges, now: c.now });
      const settings = {
        name: 'g',
        start: 'earliest' as const,
        lockMs: 1_000,
        deliveryLimit: 1,
        maxInFlight: 100,
        deadLetterExchange: 'dlx',
        createdAt: 0,
      };
      const ids = await sluice.topicIds(['src']);
      const p = { topic: 'src', partition: 0, key: `${ids.get('src')!}/0` };
      const archives = [
        { offset: 0, reason: 'rejected' as const, deliveryCount: 1 },
        { offset: 1, reason: 'delivery-limit' as const, deliveryCount: 1 },
      ];
      await letters.write(settings, p, archives);
      c.advance(5_000);
      await letters.write(settings, p, archives);
      await letters.write(settings, p, archives.slice(1));
      expect((await everything(sluice, 'dlq')).map((d) => [d.value, d.headers.reason])).toStrictEqual([
        ['x', 'rejected'],
        ['y', 'delivery-limit'],
      ]);
    });
  });
}
