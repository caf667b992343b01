import { describe, expect, it } from 'vitest';
import type { ConsumerGroups } from '../../core/groups/consumerGroups.ts';
import type { Leases } from '../../core/leases.ts';
import type { Sluice } from '../../core/log/sluice.ts';
import { Dispatcher, type DeliveryTarget, type SubscriptionRecord } from '../../core/subscriptions/delivery.ts';
import type { Subscription } from '../../core/subscriptions/subscription.ts';
import type { SubscriptionStore } from '../../core/subscriptions/subscriptionStore.ts';
import { Subscriptions } from '../../core/subscriptions/subscriptions.ts';
import { prng } from '../support/prng.ts';
import { clock, code } from '../support/clock.ts';

export interface SubscriptionKind {
  readonly name: string;
  make(
    now: () => number,
  ): Promise<{ sluice: Sluice; groups: ConsumerGroups; store: SubscriptionStore; leases: Leases }>;
}

/** A target that records every call and answers by a script (throw, or name failed offsets). */
class ScriptedTarget implements DeliveryTarget {
  readonly calls: { offsets: number[]; keys: (string | null)[]; partition: number; ok: number[] }[] = [];
  private readonly script: (records: readonly SubscriptionRecord[], call: number) => number[] | 'throw';
  constructor(script: (records: readonly SubscriptionRecord[], call: number) => number[] | 'throw') {
    this.script = script;
  }
  async deliver(_sub: Subscription, records: readonly SubscriptionRecord[]) {
    await new Promise<void>((r) => setImmediate(r));
    const answer = this.script(records, this.calls.length);
    const failed = answer === 'throw' ? records.map((r) => r.offset) : answer;
    this.calls.push({
      offsets: records.map((r) => r.offset),
      keys: records.map((r) => r.key as string | null),
      partition: records[0]!.partition,
      ok: records.map((r) => r.offset).filter((o) => !failed.includes(o)),
    });
    if (answer === 'throw') throw new Error('target unavailable');
    return { failed: answer };
  }
  /** Offsets each successful delivery covered, in call order. */
  delivered(partition = 0): number[] {
    return this.calls.filter((c) => c.partition === partition).flatMap((c) => c.ok);
  }
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
 * Subscriptions on one store kind: in-order delivery, partial failures, retries with backoff,
 * bisection, dead letters, per-key quarantine, crashes between delivery and commit, and a random
 * history checked against an oracle.
 */
export function subscriptionContract(kind: SubscriptionKind, history: { records: number; seeds: number[] }): void {
  const setup = async (spec: Record<string, unknown>, target: DeliveryTarget, partitions = 1) => {
    const c = clock();
    const parts = await kind.make(c.now);
    const { sluice, groups, store, leases } = parts;
    await sluice.createTopic('orders', { partitions });
    await sluice.createTopic('orders.failed', { partitions: 1 });
    const subs = new Subscriptions({ store, sluice, groups, now: c.now });
    await subs.create({
      name: 'billing',
      topic: 'orders',
      target: { type: 'lambda', functionName: 'bill' },
      startingPosition: 'earliest',
      onFailure: { topic: 'orders.failed' },
      ...spec,
    });
    const dispatcher = new Dispatcher({
      sluice,
      groups,
      store,
      target,
      leases,
      now: c.now,
      sleep: async (ms) => c.advance(ms),
      random: () => 0.5,
    });
    return { ...parts, c, subs, dispatcher };
  };

  describe(`subscriptions: ${kind.name}`, () => {
    it('delivers each partition in order, in batches, from the group’s committed offsets', async () => {
      const target = new ScriptedTarget(() => []);
      const { sluice, subs, dispatcher } = await setup({ batchSize: 3 }, target, 2);
      await sluice.append(
        'orders',
        Array.from({ length: 10 }, (_, i) => ({ value: i, partition: i % 2 })),
      );
      const run = await dispatcher.run('billing');
      expect(run).toMatchObject({ delivered: 10, failedAttempts: 0 });
      expect(target.delivered(0)).toStrictEqual([0, 1, 2, 3, 4]);
      expect(target.delivered(1)).toStrictEqual([0, 1, 2, 3, 4]);
      expect(target.calls.every((c) => c.offsets.length <= 3)).toBe(true);
      const d = await subs.describe('billing');
      expect(d.partitions.map((p) => [p.position, p.lag, p.delivered])).toStrictEqual([
        [5, 0, 5],
        [5, 0, 5],
      ]);
      await sluice.append('orders', [{ value: 'late', partition: 1 }]);
      await dispatcher.run('billing');
      expect(target.delivered(1)).toStrictEqual([0, 1, 2, 3, 4, 5]);
    });

    it('retries a partial failure from the failed record with backoff, never redelivering what came before it', async () => {
      let failures = 2;
      const target = new ScriptedTarget((records) =>
        records.some((r) => r.offset === 2) && failures-- > 0 ? [2] : [],
      );
      const { sluice, c, subs, dispatcher } = await setup(
        { batchSize: 5, backoff: { initialMs: 1_000, multiplier: 2, maxMs: 10_000 } },
        target,
      );
      await sluice.append(
        'orders',
        Array.from({ length: 5 }, (_, i) => ({ value: i })),
      );
      const start = c.now();
      await dispatcher.run('billing');
      expect(target.calls.map((x) => x.offsets)).toStrictEqual([
        [0, 1, 2, 3, 4],
        [2, 3, 4],
        [2, 3, 4],
      ]);
      expect(target.calls.at(-1)!.ok, 'the last attempt succeeded').toStrictEqual([2, 3, 4]);
      // Jittered backoff (random 0.5): 750 ms, then 1,500 ms, waited within the run.
      expect(c.now() - start).toBe(2_250);
      expect((await subs.describe('billing')).partitions[0]).toMatchObject({ position: 5, retry: null });
    });

    it('bisects a batch that fails whole to find the poisoned record, dead-letters it after its retries with the failure headers, and moves on', async () => {
      const target = new ScriptedTarget((records) => (records.some((r) => r.offset === 5) ? 'throw' : []));
      const { sluice, subs, dispatcher } = await setup({ batchSize: 8, maxRetries: 2 }, target);
      await sluice.append(
        'orders',
        Array.from({ length: 8 }, (_, i) => ({ key: `k${i}`, value: { n: i }, headers: { trace: `t${i}` } })),
      );
      const run = await dispatcher.run('billing');
      expect(target.calls.map((x) => x.offsets)).toStrictEqual([
        [0, 1, 2, 3, 4, 5, 6, 7], // fails whole: halve
        [0, 1, 2, 3], // delivered
        [4, 5, 6, 7], // fails whole: halve
        [4, 5], // fails whole: halve
        [4], // delivered
        [5, 6, 7], // fails whole: halve
        [5, 6], // fails whole: halve
        [5], // attempt 1 of 2 retries …
        [5],
        [5], // … given up: dead-lettered
        [6, 7],
      ]);
      expect(target.delivered()).toStrictEqual([0, 1, 2, 3, 4, 6, 7]);
      expect(run).toMatchObject({ deadLettered: 1, delivered: 7 });
      const [dead] = await everything(sluice, 'orders.failed');
      expect(dead).toMatchObject({
        key: 'k5',
        value: { n: 5 },
        headers: {
          trace: 't5',
          original_topic: 'orders',
          original_partition: '0',
          original_offset: '5',
          error_message: 'target unavailable',
          attempts: '3',
          subscription: 'billing',
        },
      });
      expect(Date.parse(dead!.headers.failed_at!)).toBeGreaterThan(0);
      expect((await subs.describe('billing')).partitions[0]).toMatchObject({ position: 8, deadLettered: 1 });
    });

    it('waits out a long backoff in a later run, and gives a record up at maxRecordAgeMs', async () => {
      const target = new ScriptedTarget(() => 'throw');
      const { sluice, c, subs, dispatcher } = await setup(
        { maxRetries: 50, maxRecordAgeMs: 60_000, backoff: { initialMs: 20_000, multiplier: 1, maxMs: 20_000 } },
        target,
      );
      await sluice.append('orders', [{ value: 'x' }]);
      await dispatcher.run('billing');
      expect(target.calls.length, 'the first attempt; the retry is 15 s away').toBe(1);
      const retry = (await subs.describe('billing')).partitions[0]!.retry;
      expect(retry).toMatchObject({ offsets: [0], attempt: 1, lastError: 'target unavailable' });
      await dispatcher.run('billing');
      expect(target.calls.length, 'not due yet').toBe(1);
      for (let i = 0; i < 5; i++) {
        c.advance(15_000);
        await dispatcher.run('billing');
      }
      expect(await everything(sluice, 'orders.failed')).toHaveLength(1);
      expect(target.calls.length).toBeLessThan(7);
      expect((await subs.describe('billing')).partitions[0]).toMatchObject({ position: 1, retry: null });
    });

    it('per key: a failing key is retried while other keys flow, in parallel lanes; each key stays in order', async () => {
      const failedOnce = new Set<number>();
      const target = new ScriptedTarget((records) =>
        records
          .filter((r) => r.key === 'a' && !failedOnce.has(r.offset) && failedOnce.add(r.offset))
          .map((r) => r.offset),
      );
      const { sluice, dispatcher } = await setup(
        { ordering: 'key', parallelismPerPartition: 3, batchSize: 12 },
        target,
      );
      const keys = ['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c'];
      await sluice.append(
        'orders',
        keys.map((key, i) => ({ key, value: i })),
      );
      await dispatcher.run('billing');
      const order = (key: string) => target.calls.flatMap((call) => call.ok.filter((o) => keys[o] === key));
      expect(order('a')).toStrictEqual([0, 3, 6, 9]);
      expect(order('b')).toStrictEqual([1, 4, 7, 10]);
      expect(order('c')).toStrictEqual([2, 5, 8, 11]);
      // Only key a's records were sent again.
      const sends = new Map<number, number>();
      for (const o of target.calls.flatMap((x) => x.offsets)) sends.set(o, (sends.get(o) ?? 0) + 1);
      expect([...sends].filter(([, n]) => n > 1).map(([o]) => o)).toStrictEqual([0, 3, 6, 9]);
      expect(target.calls.length, 'three lanes, then key a again').toBe(4);
    });

    it('quarantines a key that exhausts its retries, holds back its later records while others flow, and releases or skips it', async () => {
      let poisoned = true;
      const target = new ScriptedTarget((records) =>
        poisoned ? records.filter((r) => r.key === 'bad').map((r) => r.offset) : [],
      );
      const { sluice, subs, dispatcher } = await setup({ ordering: 'key', maxRetries: 1, batchSize: 4 }, target);
      await sluice.append('orders', [
        { key: 'good', value: 0 },
        { key: 'bad', value: 1 },
        { key: 'good', value: 2 },
        { key: 'bad', value: 3 },
      ]);
      await dispatcher.run('billing');
      await sluice.append('orders', [
        { key: 'bad', value: 4 },
        { key: 'good', value: 5 },
      ]);
      await dispatcher.run('billing');
      expect(target.delivered()).toStrictEqual([0, 2, 5]);
      const d = await subs.describe('billing');
      expect(d.quarantined).toMatchObject([{ key: 'bad', partition: 0, records: 3, firstOffset: 1, releasing: false }]);
      expect(d.partitions[0]!.position).toBe(6);
      expect(
        target.calls.filter((x) => x.offsets.includes(4)),
        'held back, never sent',
      ).toStrictEqual([]);
      expect(await code(() => subs.release('billing', 'nope'))).toBe('KeyNotQuarantined');
      expect(await code(() => subs.update('billing', { ordering: 'partition' })), 'not while keys are parked').toBe(
        'InvalidArgument',
      );
      // A key is named by its text, or by its keyId (for records without a key, or binary keys).
      const [parked] = (await subs.describe('billing')).quarantined;
      expect(await code(() => subs.release('billing', parked!.keyId.slice(0, 8)))).toBe('KeyNotQuarantined');
      // Fixed: release delivers the key's records in order, then the key flows again.
      poisoned = false;
      expect(await subs.release('billing', 'bad')).toStrictEqual({ partitions: [0], records: 3 });
      await sluice.append('orders', [{ key: 'bad', value: 6 }]);
      await dispatcher.run('billing');
      expect(target.delivered()).toStrictEqual([0, 2, 5, 1, 3, 4, 6]);
      expect((await subs.describe('billing')).quarantined).toStrictEqual([]);
      // Poisoned again: this time skipped, the parked records dead-lettered.
      poisoned = true;
      await sluice.append('orders', [
        { key: 'bad', value: 7 },
        { key: 'bad', value: 8 },
      ]);
      await dispatcher.run('billing');
      expect(await subs.skip('billing', 'bad')).toStrictEqual({ partitions: [0], records: 2 });
      expect(
        (await everything(sluice, 'orders.failed')).map((r) => [r.value, r.headers.original_offset]),
      ).toStrictEqual([
        [7, '7'],
        [8, '8'],
      ]);
      expect((await subs.describe('billing')).quarantined).toStrictEqual([]);
    });

    it('starts "latest" where the topic ended when the subscription was created, even when an append rings its first run', async () => {
      const target = new ScriptedTarget(() => []);
      const { sluice, subs, dispatcher } = await setup({ name: 'first', startingPosition: 'earliest' }, target);
      await sluice.append('orders', [{ value: 'before' }]);
      await subs.create({ name: 'late', topic: 'orders', target: { type: 'lambda', functionName: 'f' } });
      expect((await subs.describe('late')).partitions[0]).toMatchObject({ position: null, lag: 0 });
      await sluice.append('orders', [{ value: 'after' }]);
      await dispatcher.run('late');
      expect(target.calls.map((c) => c.offsets)).toStrictEqual([[1]]);
    });

    it('ensures declared subscriptions: created when missing, declared settings applied, others left as set over the API', async () => {
      const target = new ScriptedTarget(() => []);
      const { subs, sluice } = await setup({}, target);
      const declared = {
        name: 'declared',
        topic: 'orders',
        target: { type: 'lambda', functionName: 'f' },
        batchSize: 10,
      };
      expect(await subs.ensure([declared, { ...declared, name: 'later', topic: 'not-yet' }])).toBe(false);
      expect((await subs.get('declared')).batchSize).toBe(10);
      await subs.update('declared', { paused: true });
      expect(await subs.ensure([{ ...declared, batchSize: 20 }])).toBe(true);
      expect(await subs.get('declared')).toMatchObject({ batchSize: 20, paused: true, version: 2 });
      await sluice.createTopic('not-yet', { partitions: 1 });
      expect(await subs.ensure([declared, { ...declared, name: 'later', topic: 'not-yet' }])).toBe(true);
      expect((await subs.list()).map((x) => x.name).sort()).toStrictEqual(['billing', 'declared', 'later']);
      expect((await subs.get('declared')).version, 'back to 10: one more change').toBe(3);
    });

    it('gives each record its own retries: one isolated after others used theirs is not dead-lettered at once', async () => {
      // 0 fails three times (then succeeds); 1 fails once. maxRetries 3: both are delivered.
      const failures = new Map([
        [0, 3],
        [1, 1],
      ]);
      const target = new ScriptedTarget((records) => {
        const first = records.find((r) => (failures.get(r.offset) ?? 0) > 0);
        if (first === undefined) return [];
        failures.set(first.offset, failures.get(first.offset)! - 1);
        return records.filter((r) => r.offset >= first.offset).map((r) => r.offset);
      });
      const { sluice, dispatcher } = await setup(
        { maxRetries: 3, backoff: { initialMs: 1, multiplier: 1, maxMs: 1 } },
        target,
      );
      await sluice.append('orders', [{ value: 0 }, { value: 1 }, { value: 2 }]);
      const run = await dispatcher.run('billing');
      expect(run).toMatchObject({ deadLettered: 0 });
      expect(target.calls.at(-1)!.ok).toStrictEqual([1, 2]);
    });

    it('delivers once after idling longer than its group session (the run keeps its membership alive)', async () => {
      const target = new ScriptedTarget(() => []);
      const { sluice, c, dispatcher } = await setup({}, target);
      await sluice.append('orders', [{ value: 'first' }]);
      await dispatcher.run('billing');
      for (let i = 0; i < 12; i++) {
        c.advance(60_000); // a scheduled run a minute, nothing to deliver
        await dispatcher.run('billing');
      }
      await sluice.append('orders', [{ value: 'after a quiet while' }]);
      expect(await dispatcher.run('billing')).toMatchObject({ delivered: 1 });
      await dispatcher.run('billing');
      expect(target.calls.map((x) => x.offsets)).toStrictEqual([[0], [1]]);
    });

    it('names a quarantined record without a key by its keyId', async () => {
      let poisoned = true;
      const target = new ScriptedTarget((records) =>
        poisoned ? records.filter((r) => r.key === null).map((r) => r.offset) : [],
      );
      const { sluice, subs, dispatcher } = await setup({ ordering: 'key', maxRetries: 0 }, target);
      await sluice.append('orders', [{ value: 'no key' }, { key: 'k', value: 'keyed' }]);
      await dispatcher.run('billing');
      const [parked] = (await subs.describe('billing')).quarantined;
      expect(parked).toMatchObject({ key: null, records: 1 });
      poisoned = false;
      expect(await subs.release('billing', parked!.keyId)).toStrictEqual({ partitions: [0], records: 1 });
      await dispatcher.run('billing');
      expect(target.delivered()).toStrictEqual([1, 0]);
    });

    it('filters records, pauses and resumes, and refuses bad definitions with typed errors', async () => {
      const target = new ScriptedTarget(() => []);
      const { sluice, subs, dispatcher } = await setup(
        { filter: { value: { type: ['order.created'], total: [{ numeric: ['>', 100] }] } } },
        target,
      );
      await sluice.append('orders', [
        { value: { type: 'order.created', total: 50 } },
        { value: { type: 'order.created', total: 500 } },
        { value: { type: 'order.paid', total: 500 } },
        { value: 'not json at all' },
      ]);
      await subs.update('billing', { paused: true });
      await dispatcher.run('billing');
      expect(target.calls).toStrictEqual([]);
      await subs.update('billing', { paused: false });
      await dispatcher.run('billing');
      expect(target.delivered()).toStrictEqual([1]);
      expect((await subs.describe('billing')).partitions[0]!.position).toBe(4);
      for (const bad of [
        { name: 'x', topic: 'orders' },
        { name: 'bad name', topic: 'orders', target: { type: 'lambda', functionName: 'f' } },
        { name: 'x', topic: 'missing', target: { type: 'lambda', functionName: 'f' } },
        { name: 'x', topic: 'orders', target: { type: 'https', url: 'http://example.com/hook' } },
        { name: 'x', topic: 'orders', target: { type: 'https', url: 'https://u:p@example.com/' } },
        { name: 'x', topic: 'orders', target: { type: 'lambda', functionName: 'f' }, batchSize: 0 },
        { name: 'x', topic: 'orders', target: { type: 'lambda', functionName: 'f' }, parallelismPerPartition: 2 },
        { name: 'x', topic: 'orders', target: { type: 'lambda', functionName: 'f' }, filter: { value: 5 } },
        { name: 'x', topic: 'orders', target: { type: 'lambda', functionName: 'f' }, onFailure: { topic: 'nope' } },
        { name: 'x', topic: 'orders', target: { type: 'lambda', functionName: 'f' }, extra: 1 },
      ])
        expect(await code(() => subs.create(bad)), JSON.stringify(bad)).toMatch(
          /^(InvalidArgument|InvalidTopicName|TopicNotFound)$/,
        );
      expect(
        await code(() =>
          subs.create({ name: 'billing', topic: 'orders', target: { type: 'lambda', functionName: 'f' } }),
        ),
      ).toBe('SubscriptionAlreadyExists');
      expect((await subs.list()).map((s) => s.name)).toStrictEqual(['billing']);
      await subs.delete('billing');
      expect(await code(() => subs.describe('billing'))).toBe('SubscriptionNotFound');
    });

    for (const seed of history.seeds) {
      for (const ordering of ['partition', 'key'] as const) {
        it(`history (seed ${seed}, ordering ${ordering}): transient failures, poisoned records and crashes between delivery and commit; nothing lost, order kept, duplicates only of an uncommitted batch`, async () => {
          const random = prng(seed);
          const poisoned = new Set<string>();
          for (let p = 0; p < 2; p++)
            for (let o = 0; o < history.records / 2; o++) if (random() < 0.02) poisoned.add(`${p}/${o}`);
          const isPoisoned = (partition: number, offset: number) => poisoned.has(`${partition}/${offset}`);
          // The target handles records in order (per key, with ordering key) and stops at the first
          // it fails, answering that one and the ones after it (of its key) as failed, as Lambda's
          // partial batch responses are meant to be used.
          const target = new ScriptedTarget((records) => {
            if (random() < 0.15) return 'throw';
            const stopped = new Set<string>();
            const failed: number[] = [];
            for (const r of records) {
              const scope = ordering === 'key' ? String(r.key) : '';
              if (stopped.has(scope) || isPoisoned(r.partition, r.offset) || random() < 0.05) {
                stopped.add(scope);
                failed.push(r.offset);
              }
            }
            return failed;
          });
          const c = clock();
          const parts = await kind.make(c.now);
          const { sluice, groups, store, leases } = parts;
          await sluice.createTopic('orders', { partitions: 2 });
          await sluice.createTopic('orders.failed', { partitions: 1 });
          const subs = new Subscriptions({ store, sluice, groups, now: c.now });
          await subs.create({
            name: 'h',
            topic: 'orders',
            target: { type: 'lambda', functionName: 'f' },
            startingPosition: 'earliest',
            onFailure: { topic: 'orders.failed' },
            ordering,
            maxRetries: 4,
            batchSize: 10,
            ...(ordering === 'key' ? { parallelismPerPartition: 2 } : {}),
          });
          // Crashes: a commit that fails after the delivery (the dispatcher dies before recording it).
          let crashes = 0;
          let commits = 0;
          const crashing = new Proxy(groups, {
            get(t, prop, receiver) {
              if (prop === 'commit')
                return async (...args: Parameters<ConsumerGroups['commit']>) => {
                  // Every seventh commit (not a random draw: partitions interleave differently from run to run).
                  if (++commits % 7 === 3) {
                    crashes++;
                    throw new Error('crashed before the commit');
                  }
                  return t.commit(...args);
                };
              return Reflect.get(t, prop, receiver) as unknown;
            },
          });
          const dispatcher = () =>
            new Dispatcher({
              sluice,
              groups: crashing,
              store,
              target,
              leases,
              now: c.now,
              sleep: async (ms) => c.advance(ms),
              random,
            });
          const keyOf = new Map<string, string>();
          for (let i = 0; i < history.records; i += 50) {
            const batch = Array.from({ length: Math.min(50, history.records - i) }, (_, k) => {
              const n = i + k;
              const key = `k${n % 7}`;
              return { key, value: n, partition: n % 2 };
            });
            const metas = await sluice.append('orders', batch);
            metas.forEach((m, k) => keyOf.set(`${m.partition}/${m.offset}`, batch[k]!.key));
          }
          let runs = 0;
          for (; runs < 400; runs++) {
            c.advance(5_000);
            await dispatcher()
              .run('h')
              .catch((e: unknown) => {
                if (!(e instanceof Error) || !e.message.startsWith('crashed')) throw e;
              });
            const d = await subs.describe('h');
            if (d.partitions.every((p) => p.lag === 0 && p.retry === null)) break;
          }
          expect(runs, 'the history drains').toBeLessThan(400);
          expect(crashes, 'crashes happened').toBeGreaterThan(0);
          const d = await subs.describe('h');
          const dead = (await everything(sluice, 'orders.failed')).map(
            (r) => `${r.headers.original_partition}/${r.headers.original_offset}`,
          );
          const parked = new Set<string>();
          for (const q of (await store.readState('h')).quarantined)
            for (const o of q.offsets) parked.add(`${q.partition}/${o}`);
          const violations: string[] = [];
          for (let p = 0; p < 2; p++) {
            const ok = target.calls.filter((x) => x.partition === p).flatMap((x) => x.ok);
            const firsts = new Map<number, number>(); // offset → index of its first successful delivery
            ok.forEach((o, i) => firsts.has(o) || firsts.set(o, i));
            for (let o = 0; o < history.records / 2; o++) {
              const id = `${p}/${o}`;
              const outcomes = [firsts.has(o), dead.includes(id), parked.has(id)].filter(Boolean).length;
              if (outcomes !== 1)
                violations.push(
                  `${id}: delivered ${firsts.has(o)}, dead ${dead.includes(id)}, parked ${parked.has(id)}`,
                );
              if (isPoisoned(p, o) && firsts.has(o)) violations.push(`${id}: poisoned, yet delivered`);
            }
            // Order: in partition mode the first deliveries follow offsets; per key, within each key.
            const scope = (o: number) => (ordering === 'partition' ? '' : keyOf.get(`${p}/${o}`)!);
            const last = new Map<string, number>();
            for (const [o] of [...firsts].sort((x, y) => x[1] - y[1])) {
              const prev = last.get(scope(o)) ?? -1;
              if (o < prev) violations.push(`${p}/${o} first delivered after ${p}/${prev}`);
              last.set(scope(o), o);
            }
            // Per key, nothing after a parked record of that key was delivered.
            if (ordering === 'key')
              for (const id of parked) {
                const [pp, oo] = id.split('/').map(Number) as [number, number];
                if (pp !== p) continue;
                for (const o of firsts.keys())
                  if (o > oo && keyOf.get(`${p}/${o}`) === keyOf.get(id))
                    violations.push(`${p}/${o} delivered after its key was parked at ${id}`);
              }
          }
          expect(violations.slice(0, 10)).toStrictEqual([]);
          expect(new Set(dead).size, 'each dead letter once').toBe(dead.length);
          if (ordering === 'partition') expect(parked.size).toBe(0);
          else expect(parked.size, 'poisoned keys were parked').toBeGreaterThan(0);
          expect(d.partitions.every((p) => p.position === history.records / 2)).toBe(true);
        });
      }
    }
  });
}
