import { describe, expect, it } from 'vitest';
import { isSluiceError } from '../../core/errors.ts';
import type { Sluice } from '../../core/log/sluice.ts';
import { ShareGroups, type Ack, type ShareRecord } from '../../core/queues/shareGroups.ts';
import { prng } from '../support/prng.ts';
import type { Redrive } from '../../core/queues/redrive.ts';
import { clock } from '../support/clock.ts';

export interface ShareKind {
  readonly name: string;
  make(now: () => number): Promise<{ sluice: Sluice; shares: ShareGroups; redrive: Redrive }>;
}

async function deadLetters(sluice: Sluice, topic: string) {
  const out: { headers: Record<string, string | Uint8Array>; value: unknown }[] = [];
  for (let p = 0; p < 1; p++) {
    for (let offset = 0; ;) {
      const got = await sluice.read(topic, p, offset, { maxRecords: 500 });
      out.push(...got.records.map((r) => ({ headers: r.headers, value: r.value })));
      if (got.records.length === 0) break;
      offset = got.nextOffset;
    }
  }
  return out;
}

/**
 * Share groups on one store kind: the record lifecycle, dead letters, and a history checker with
 * many members polling, acknowledging, releasing, rejecting and crashing at random.
 */
export function shareGroupContract(
  kind: ShareKind,
  history: { members: number; records: number; seeds: number[] },
): void {
  describe(`share groups: ${kind.name}`, () => {
    it('delivers each record to one member under a lock; accept finishes it, release and lock expiry redeliver it with a higher count', async () => {
      const c = clock();
      const { sluice, shares } = await kind.make(c.now);
      await sluice.createTopic('jobs', { partitions: 1 });
      await sluice.append(
        'jobs',
        Array.from({ length: 5 }, (_, i) => ({ value: `job-${i}`, partition: 0 })),
      );
      const a = await shares.join('workers', { topics: ['jobs'], lockMs: 10_000 });
      const b = await shares.join('workers', { topics: ['jobs'] });
      expect(a.settings).toMatchObject({ lockMs: 10_000, deliveryLimit: 5, start: 'earliest', maxInFlight: 2_000 });

      const first = (await shares.poll('workers', a.memberId, { maxRecords: 2 })).records;
      expect(first.map((r) => [r.offset, r.value, r.deliveryCount, r.lockedUntil])).toStrictEqual([
        [0, 'job-0', 1, c.now() + 10_000],
        [1, 'job-1', 1, c.now() + 10_000],
      ]);
      const second = (await shares.poll('workers', b.memberId, { maxRecords: 10 })).records;
      expect(
        second.map((r) => r.offset),
        'b gets the others, not a’s',
      ).toStrictEqual([2, 3, 4]);
      const acks = await shares.acknowledge('workers', a.memberId, [
        { topic: 'jobs', partition: 0, offset: 0, type: 'accept' },
        { topic: 'jobs', partition: 0, offset: 1, type: 'release', delayMs: 5_000 },
        { topic: 'jobs', partition: 0, offset: 2, type: 'accept' }, // b's
      ]);
      expect(acks.map((x) => [x.offset, x.ok, x.ok ? undefined : x.error.code])).toStrictEqual([
        [0, true, undefined],
        [1, true, undefined],
        [2, false, 'RecordNotHeld'],
      ]);
      expect((await shares.poll('workers', b.memberId)).records, 'released with a delay: not yet').toStrictEqual([]);
      c.advance(5_000);
      const again = (await shares.poll('workers', b.memberId)).records;
      expect(again.map((r) => [r.offset, r.deliveryCount])).toStrictEqual([[1, 2]]);
      // b crashes holding 1..4; after its lock, a gets them again.
      c.advance(10_000);
      const redelivered = (await shares.poll('workers', a.memberId)).records;
      expect(redelivered.map((r) => [r.offset, r.deliveryCount])).toStrictEqual([
        [1, 3],
        [2, 2],
        [3, 2],
        [4, 2],
      ]);
      const late = await shares.acknowledge('workers', b.memberId, [
        { topic: 'jobs', partition: 0, offset: 3, type: 'accept' },
      ]);
      expect(late[0]!.ok, 'a lock that expired is no longer held').toBe(false);
      await shares.acknowledge(
        'workers',
        a.memberId,
        [1, 2, 3, 4].map((offset) => ({ topic: 'jobs', partition: 0, offset, type: 'accept' as const })),
      );
      const d = await shares.describe('workers');
      expect(d.partitions.map((p) => [p.startOffset, p.inFlight, p.lag])).toStrictEqual([[5, 0, 0]]);
    });

    it('renew extends a lock; reject and the delivery limit archive records and dead-letter them once, with their headers', async () => {
      const c = clock();
      const { sluice, shares } = await kind.make(c.now);
      await sluice.createTopic('orders', { partitions: 1 });
      await sluice.createTopic('orders.dlq', { partitions: 1 });
      await sluice.append('orders', [
        { key: 'o-1', value: { total: 1 }, headers: { trace: 't1' }, partition: 0 },
        { key: 'o-2', value: { total: 2 }, partition: 0 },
        { key: 'o-3', value: { total: 3 }, partition: 0 },
      ]);
      const m = await shares.join('billing', {
        topics: ['orders'],
        lockMs: 5_000,
        deliveryLimit: 2,
        deadLetterTopic: 'orders.dlq',
      });
      await shares.poll('billing', m.memberId);
      c.advance(4_000);
      await shares.acknowledge('billing', m.memberId, [{ topic: 'orders', partition: 0, offset: 2, type: 'renew' }]);
      await shares.acknowledge('billing', m.memberId, [
        { topic: 'orders', partition: 0, offset: 0, type: 'reject', errorMessage: 'no such customer' },
        { topic: 'orders', partition: 0, offset: 1, type: 'release', errorMessage: 'timeout calling payments' },
      ]);
      c.advance(2_000); // offset 2's renewed lock still holds; 1 is available again
      expect((await shares.poll('billing', m.memberId)).records.map((r) => [r.offset, r.deliveryCount])).toStrictEqual([
        [1, 2],
      ]);
      c.advance(5_000); // both locks expired: 1 at its limit is archived, 2 comes back
      expect((await shares.poll('billing', m.memberId)).records.map((r) => [r.offset, r.deliveryCount])).toStrictEqual([
        [2, 2],
      ]);
      const dlq = await deadLetters(sluice, 'orders.dlq');
      expect(dlq.map((r) => r.value)).toStrictEqual([{ total: 1 }, { total: 2 }]);
      const { failed_at: failedAt, ...headers } = dlq[0]!.headers;
      expect(typeof failedAt).toBe('string');
      expect(headers).toStrictEqual({
        trace: 't1',
        original_topic: 'orders',
        original_partition: '0',
        original_offset: '0',
        delivery_count: '1',
        reason: 'rejected',
        share_group: 'billing',
        error_message: 'no such customer',
      });
      expect(dlq[1]!.headers).toMatchObject({
        reason: 'delivery-limit',
        delivery_count: '2',
        error_message: 'timeout calling payments',
      });
      const d = await shares.describe('billing');
      expect(d.partitions[0]).toMatchObject({ startOffset: 2, archived: 2, inFlight: 1, acquired: 1 });
    });

    it('redrives dead letters to their original topic once each, oldest first, without the failure headers', async () => {
      const c = clock();
      const { sluice, shares, redrive } = await kind.make(c.now);
      await sluice.createTopic('mail', { partitions: 1 });
      await sluice.createTopic('mail.dlq', { partitions: 2 });
      await sluice.createTopic('mail.retry', { partitions: 1 });
      await sluice.append(
        'mail',
        [0, 1, 2, 3].map((i) => ({ key: `m-${i}`, value: i, headers: { kind: 'welcome' }, partition: 0 })),
      );
      const m = await shares.join('senders', { topics: ['mail'], deadLetterTopic: 'mail.dlq' });
      await shares.poll('senders', m.memberId);
      await shares.acknowledge(
        'senders',
        m.memberId,
        [0, 1, 2, 3].map((offset) => ({
          topic: 'mail',
          partition: 0,
          offset,
          type: 'reject' as const,
          errorMessage: 'smtp down',
        })),
      );
      const first = await redrive.redrive('mail.dlq', { maxRecords: 3 });
      expect(first.redriven.map((r) => r.to?.topic)).toStrictEqual(['mail', 'mail', 'mail']);
      expect(first.remaining).toBe(1);
      const again = await redrive.redrive('mail.dlq', { toTopic: 'mail.retry' });
      expect(again.redriven.map((r) => r.to?.topic)).toStrictEqual(['mail.retry']);
      expect((await redrive.redrive('mail.dlq')).redriven, 'each dead letter once').toStrictEqual([]);
      const back = (await sluice.read('mail', 0, 4)).records;
      expect(back).toHaveLength(3);
      for (const r of back) {
        expect(Object.keys(r.headers).sort()).toStrictEqual(['kind', 'redriven_from']);
        expect(String(r.headers.redriven_from)).toMatch(/^mail\.dlq\/[01]\/\d+$/);
      }
      const retried = (await sluice.read('mail.retry', 0, 0)).records;
      expect(retried.map((r) => r.key)).toHaveLength(1);
      expect(new Set([...back, ...retried].map((r) => r.value))).toStrictEqual(new Set([0, 1, 2, 3]));
    });

    it('refuses bad input with typed errors and a different setting for an existing group', async () => {
      const c = clock();
      const { sluice, shares } = await kind.make(c.now);
      await sluice.createTopic('t', { partitions: 1 });
      const codes = async (f: () => Promise<unknown>) =>
        f().then(
          () => 'ok',
          (e: unknown) => (isSluiceError(e) ? e.code : String(e)),
        );
      expect(await codes(() => shares.join('bad name', { topics: ['t'] }))).toBe('InvalidArgument');
      expect(await codes(() => shares.join('g', { topics: [] }))).toBe('InvalidArgument');
      expect(await codes(() => shares.join('g', { topics: ['missing'] }))).toBe('TopicNotFound');
      expect(await codes(() => shares.join('g', { topics: ['t'], deliveryLimit: 0 }))).toBe('InvalidArgument');
      const m = await shares.join('g', { topics: ['t'], lockMs: 2_000 });
      expect(await codes(() => shares.join('g', { topics: ['t'], lockMs: 3_000 }))).toBe('ShareGroupConflict');
      expect(await codes(() => shares.poll('g', '00000000-0000-0000-0000-000000000000'))).toBe('UnknownShareMember');
      expect(await codes(() => shares.poll('nope', m.memberId))).toBe('ShareGroupNotFound');
      expect(
        await codes(() =>
          shares.acknowledge('g', m.memberId, [{ topic: 't', partition: 0, offset: -1, type: 'accept' }]),
        ),
      ).toBe('InvalidArgument');
      expect(
        await codes(() =>
          shares.acknowledge('g', m.memberId, [{ topic: 't', partition: 0, offset: 0, type: 'accept', delayMs: 5 }]),
        ),
      ).toBe('InvalidArgument');
      expect(await codes(() => shares.delete('g'))).toBe('ShareGroupConflict');
      await shares.leave('g', m.memberId);
      await shares.delete('g');
      expect(await codes(() => shares.describe('g'))).toBe('ShareGroupNotFound');
    });

    for (const seed of history.seeds) {
      it(`history (seed ${seed}): ${history.members} members poll, accept, release, reject and crash at random, and records expire; every record is accepted once or dead-lettered once, never held by two, never delivered expired, counted exactly`, async () => {
        const random = prng(seed);
        const c = clock();
        const { sluice, shares } = await kind.make(c.now);
        const topic = `work-${seed}`;
        await sluice.createTopic(topic, { partitions: 2 });
        await sluice.createTopic(`${topic}.dlq`, { partitions: 1 });
        // One record in ten has a time to live of its own (an exchange's per-message expiration):
        // it is dead-lettered as expired if no member got it in time, and never delivered after.
        const expiration = new Map<string, number>();
        const appendedAt = c.now();
        const ttls = prng(seed + 1_000);
        for (let i = 0; i < history.records; i += 100)
          await sluice.append(
            topic,
            Array.from({ length: Math.min(100, history.records - i) }, (_, k) => {
              const ttl = ttls() < 0.1 ? Math.floor(ttls() * 120_000) : undefined;
              if (ttl !== undefined) expiration.set(`${(i + k) % 2}/${Math.floor((i + k) / 2)}`, ttl);
              return {
                value: i + k,
                partition: (i + k) % 2,
                ...(ttl === undefined ? {} : { headers: { 'x-expiration': String(ttl) } }),
              };
            }),
          );
        const lockMs = 20_000;
        const settings = { topics: [topic], lockMs, deliveryLimit: 3, deadLetterTopic: `${topic}.dlq` };

        // The oracle records every delivery and every acknowledgement with the interval of the
        // call that made it (calls overlap, so their answers arrive in any order), and checks the
        // whole history at the end.
        interface Hold {
          readonly member: string;
          readonly count: number;
          readonly acquiredAt: number;
          readonly until: number;
          readonly pollEnd: number;
        }
        interface Done {
          readonly member: string;
          readonly type: string;
          readonly callStart: number;
          readonly callEnd: number;
        }
        const holds = new Map<string, Hold[]>();
        const dones = new Map<string, Done[]>();
        const accepted = new Map<string, number>();
        const renewals = new Map<string, { member: string; until: number }[]>();
        const id = (r: { partition: number; offset: number }) => `${r.partition}/${r.offset}`;
        const push = <T>(m: Map<string, T[]>, k: string, v: T) => m.set(k, [...(m.get(k) ?? []), v]);

        const poll = async (member: string, maxRecords: number) => {
          const got = (await shares.poll('pool', member, { maxRecords })).records;
          const pollEnd = c.now();
          for (const r of got)
            push(holds, id(r), {
              member,
              count: r.deliveryCount,
              acquiredAt: r.lockedUntil - lockMs,
              until: r.lockedUntil,
              pollEnd,
            });
          return got;
        };
        const acknowledge = async (member: string, acks: Ack[]) => {
          const callStart = c.now();
          const results = await shares.acknowledge('pool', member, acks);
          const callEnd = c.now();
          results.forEach((res, i) => {
            if (!res.ok) return;
            if (acks[i]!.type === 'renew') {
              // The lock now runs to lockMs after some instant of this call.
              push(renewals, id(res), { member, until: callEnd + lockMs });
              return;
            }
            push(dones, id(res), { member, type: acks[i]!.type, callStart, callEnd });
            if (acks[i]!.type === 'accept') accepted.set(id(res), (accepted.get(id(res)) ?? 0) + 1);
          });
        };

        const actor = async (n: number) => {
          let { memberId } = await shares.join('pool', settings);
          const held: ShareRecord[] = [];
          for (let step = 0; step < 400; step++) {
            c.advance(Math.floor(random() * 1500));
            const roll = random();
            if (roll < 0.02) {
              // Crash: forget what it holds (its locks expire) and join again as a new member.
              held.length = 0;
              ({ memberId } = await shares.join('pool', settings));
              continue;
            }
            if (held.length === 0 || roll < 0.35) {
              const got = await poll(memberId, 1 + Math.floor(random() * 20)).catch((e: unknown) => {
                if (!isSluiceError(e, 'UnknownShareMember')) throw e;
                return undefined; // its session ended while it only acknowledged: join again
              });
              if (got === undefined) {
                held.length = 0;
                ({ memberId } = await shares.join('pool', settings));
                continue;
              }
              held.push(...got);
              if (got.length === 0 && held.length === 0) {
                const d = await shares.describe('pool');
                if (d.partitions.every((p) => p.lag === 0)) return;
                c.advance(2_000);
              }
              continue;
            }
            const batch = held.splice(0, 1 + Math.floor(random() * held.length));
            await acknowledge(
              memberId,
              batch.map((r) => {
                const x = random();
                const type = x < 0.75 ? 'accept' : x < 0.8 ? 'renew' : x < 0.93 ? 'release' : 'reject';
                return {
                  topic: r.topic,
                  partition: r.partition,
                  offset: r.offset,
                  type,
                  ...(type === 'release' || type === 'reject' ? { errorMessage: `failed by ${n}` } : {}),
                };
              }),
            );
          }
        };
        await Promise.all(Array.from({ length: history.members }, (_, n) => actor(n)));
        // Whatever the actors left (crashed holders' records): one clean-up member drains it.
        const cleaner = await shares.join('pool', settings);
        for (let round = 0; round < 200; round++) {
          c.advance(lockMs + 1);
          const got = await poll(cleaner.memberId, 500);
          if (got.length > 0)
            await acknowledge(
              cleaner.memberId,
              got.map((r) => ({ topic: r.topic, partition: r.partition, offset: r.offset, type: 'accept' as const })),
            );
          const d = await shares.describe('pool');
          if (got.length === 0 && d.partitions.every((p) => p.lag === 0)) break;
        }

        const violations: string[] = [];
        for (const [k, list] of holds) {
          const sorted = [...list].sort((x, y) => x.count - y.count);
          // Delivery counts: 1, 2, 3, … once each.
          sorted.forEach(
            (h, i) => h.count !== i + 1 && violations.push(`${k}: delivery ${i + 1} came with count ${h.count}`),
          );
          // Never held by two: the next delivery comes after the lock ended, or after the holder
          // acknowledged it in a call that started before that delivery's poll ended.
          for (let i = 0; i + 1 < sorted.length; i++) {
            const [a, b] = [sorted[i]!, sorted[i + 1]!];
            const released = (dones.get(k) ?? []).some(
              (d) => d.member === a.member && d.callStart <= b.pollEnd && d.callEnd >= a.acquiredAt,
            );
            if (a.until > b.acquiredAt && !released)
              violations.push(
                `${k}: delivery ${b.count} to ${b.member} at ${b.acquiredAt} while ${a.member} held it until ${a.until}`,
              );
          }
        }
        // An acknowledgement succeeds only from a holder whose lock had not ended when it began.
        for (const [k, list] of dones) {
          for (const d of list) {
            // Its lock as acquired, or as a renewal extended it.
            const until = (h: Hold) =>
              Math.max(h.until, ...(renewals.get(k) ?? []).filter((r) => r.member === h.member).map((r) => r.until));
            const ok = (holds.get(k) ?? []).some(
              (h) => h.member === d.member && until(h) > d.callStart && h.acquiredAt <= d.callEnd,
            );
            if (!ok) violations.push(`${k}: ${d.member} acknowledged (${d.type}) without holding it`);
          }
        }
        // A record is never delivered once its time to live has run out.
        for (const [k, ttl] of expiration)
          for (const h of holds.get(k) ?? [])
            if (h.acquiredAt >= appendedAt + ttl)
              violations.push(`${k}: delivered at ${h.acquiredAt}, after it expired at ${appendedAt + ttl}`);
        expect(violations.slice(0, 10)).toStrictEqual([]);
        const letters = await deadLetters(sluice, `${topic}.dlq`);
        const dead = letters.map((r) => `${String(r.headers.original_partition)}/${String(r.headers.original_offset)}`);
        for (const r of letters.filter((l) => l.headers.reason === 'expired'))
          expect(
            expiration.has(`${String(r.headers.original_partition)}/${String(r.headers.original_offset)}`),
            'only records with a time to live expire',
          ).toBe(true);
        expect(
          letters.filter((l) => l.headers.reason === 'expired').length,
          'the history expired some',
        ).toBeGreaterThan(0);
        expect(new Set(dead).size, 'each dead letter once').toBe(dead.length);
        for (const [k, n] of accepted) expect(n, `${k} accepted once`).toBe(1);
        for (const k of dead) expect(accepted.has(k), `${k} dead-lettered and accepted`).toBe(false);
        expect(accepted.size + dead.length, 'every record accepted or dead-lettered').toBe(history.records);
        const d = await shares.describe('pool');
        expect(d.partitions.map((p) => p.lag)).toStrictEqual([0, 0]);
        expect(d.partitions.reduce((n, p) => n + p.archived, 0)).toBe(dead.length);
        expect(dead.length, 'the history rejected and exhausted some').toBeGreaterThan(0);
      });
    }
  });
}
