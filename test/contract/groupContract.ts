import { describe, expect, it } from 'vitest';
import { isSluiceError } from '../../core/errors.ts';
import type { ConsumerGroups, MembershipView, TopicPartition } from '../../core/groups/consumerGroups.ts';
import { heartbeatRound } from './groupScaleContract.ts';
import type { GroupKind } from '../support/stores.ts';
import { clock } from '../support/clock.ts';

/** A settable clock so session expiry is tested without sleeping. */

const keys = (ps: readonly TopicPartition[]) => ps.map((p) => `${p.topic}/${p.partition}`).sort();

/** Heartbeats every member, releasing what it is asked to release, until no partition is moving. */
async function settle(
  groups: ConsumerGroups,
  group: string,
  members: string[],
  maxRounds = 10,
): Promise<{ rounds: number; views: Map<string, MembershipView> }> {
  const views = new Map<string, MembershipView>();
  for (let round = 1; round <= maxRounds; round++) {
    const moving = await heartbeatRound(groups, group, members, views);
    const d = await groups.describe(group);
    if (!moving && d.state === 'Stable') return { rounds: round, views };
  }
  throw new Error(`group did not settle in ${maxRounds} rounds`);
}

export function groupContract(kind: GroupKind): void {
  describe(`consumer groups: ${kind.name}`, () => {
    it('joins, polls from the committed offset, commits with metadata, and reports lag', async () => {
      const c = clock();
      const { sluice, groups } = await kind.make(c.now);
      await sluice.createTopic('events', { partitions: 2 });
      await sluice.append(
        'events',
        Array.from({ length: 10 }, (_, i) => ({ value: i, partition: i % 2 })),
      );
      const a = await groups.join('g1', { topics: ['events'], autoOffsetReset: 'earliest' });
      expect(keys(a.assignments)).toStrictEqual(['events/0', 'events/1']);
      const first = await groups.poll('g1', a.memberId, { maxRecords: 4 });
      expect(first.records.length).toBe(4);
      const rest = await groups.poll('g1', a.memberId, { maxRecords: 100 });
      expect(first.records.length + rest.records.length, 'the position advances without commits').toBe(10);
      await groups.commit('g1', {
        memberId: a.memberId,
        generation: a.generation,
        offsets: [{ topic: 'events', partition: 0, offset: 3, metadata: 'batch-7' }],
      });
      const d = await groups.describe('g1');
      expect(d.state).toBe('Stable');
      expect(d.offsets.map((o) => [o.partition, o.committed, o.highWatermark, o.lag, o.metadata])).toStrictEqual([
        [0, 3, 5, 2, 'batch-7'],
        [1, null, 5, 5, null],
      ]);
      expect(d.totalLag).toBe(7);
      expect((await groups.listGroups()).map((g) => [g.group, g.members])).toStrictEqual([['g1', 1]]);

      // A new member starts from the committed offset, not from the old member's position.
      await groups.leave('g1', a.memberId);
      const b = await groups.join('g1', { topics: ['events'], autoOffsetReset: 'latest' });
      const again = await groups.poll('g1', b.memberId, { maxRecords: 100 });
      expect(again.records.filter((r) => r.partition === 0).map((r) => r.offset)).toStrictEqual([3, 4]);
      expect(
        again.records.filter((r) => r.partition === 1).map((r) => r.offset),
        'no commit and autoOffsetReset latest: starts at the end',
      ).toStrictEqual([]);
    });

    it('hands a partition to its new owner only after the old owner released it or expired', async () => {
      const c = clock();
      const { sluice, groups } = await kind.make(c.now);
      await sluice.createTopic('moves', { partitions: 4 });
      const a = await groups.join('g2', { topics: ['moves'], sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 5_000 });
      const b = await groups.join('g2', { topics: ['moves'], sessionTimeoutMs: 10_000 });
      expect(b.assignments, 'nothing is free yet').toStrictEqual([]);
      const aView = await groups.heartbeat('g2', a.memberId);
      expect(aView.assignments.length, 'A keeps half and keeps consuming').toBe(2);
      expect(aView.revoking.length).toBe(2);
      expect(
        (await groups.heartbeat('g2', b.memberId)).assignments,
        'still not free: A has not released',
      ).toStrictEqual([]);
      await groups.heartbeat('g2', a.memberId, { release: [aView.revoking[0]!] });
      expect(keys((await groups.heartbeat('g2', b.memberId)).assignments)).toStrictEqual(keys([aView.revoking[0]!]));
      // A never releases the other one: after the rebalance timeout it is taken.
      c.advance(5_001);
      await groups.heartbeat('g2', b.memberId);
      expect((await groups.heartbeat('g2', b.memberId)).assignments.length).toBe(2);
      expect(keys((await groups.heartbeat('g2', a.memberId)).assignments)).toStrictEqual(keys(aView.assignments));
    });

    it('fences zombies: 0 commits accepted from an older generation, an expired session or a non-owner', async () => {
      const c = clock();
      const { sluice, groups } = await kind.make(c.now);
      await sluice.createTopic('fence', { partitions: 2 });
      await sluice.append(
        'fence',
        Array.from({ length: 20 }, (_, i) => ({ value: i, partition: i % 2 })),
      );
      const a = await groups.join('g3', { topics: ['fence'], sessionTimeoutMs: 5_000 });
      const b = await groups.join('g3', { topics: ['fence'], sessionTimeoutMs: 5_000 });
      await settle(groups, 'g3', [a.memberId, b.memberId]);
      const aNow = await groups.heartbeat('g3', a.memberId);
      const mine = aNow.assignments[0]!;
      const theirs = (await groups.heartbeat('g3', b.memberId)).assignments[0]!;
      let accepted = 0;
      const attempt = async (memberId: string, generation: number, p: TopicPartition, offset: number, code: string) => {
        try {
          await groups.commit('g3', { memberId, generation, offsets: [{ ...p, offset }] });
          accepted++;
        } catch (e) {
          expect(isSluiceError(e, code), `expected ${code}, got ${String(e)}`).toBeTruthy();
        }
      };
      for (let i = 0; i < 5; i++) await attempt(a.memberId, a.generation, mine, i + 1, 'FencedMember'); // a.generation is old now
      await attempt(a.memberId, aNow.generation, theirs, 1, 'NotAssigned');
      expect(accepted).toBe(0);
      await attempt(a.memberId, aNow.generation, mine, 5, 'never'); // the current owner in the current generation
      expect(accepted).toBe(1);
      await attempt(a.memberId, aNow.generation, mine, 4, 'OffsetRegression');
      // A stops heartbeating: once its session ends it can commit nothing, even before anyone notices.
      c.advance(5_001);
      accepted = 0;
      await attempt(a.memberId, aNow.generation, mine, 9, 'FencedMember');
      expect(accepted).toBe(0);
      const d = await groups.describe('g3');
      expect(
        d.members.map((m) => m.memberId),
        'both sessions ended; the describe removed them',
      ).toStrictEqual([]);
      expect(d.offsets.find((o) => o.partition === mine.partition)!.committed, 'only the accepted commit counts').toBe(
        5,
      );
    });

    it('keeps a static member’s partitions, without a rebalance, when it restarts within its session', async () => {
      const c = clock();
      const { sluice, groups } = await kind.make(c.now);
      await sluice.createTopic('static', { partitions: 6 });
      const a = await groups.join('g4', { topics: ['static'], instanceId: 'worker-a', sessionTimeoutMs: 30_000 });
      const b = await groups.join('g4', { topics: ['static'], instanceId: 'worker-b', sessionTimeoutMs: 30_000 });
      const { views } = await settle(groups, 'g4', [a.memberId, b.memberId]);
      const before = await groups.describe('g4');
      c.advance(10_000); // worker-a restarts (no leave) and comes back within its session
      const a2 = await groups.join('g4', { topics: ['static'], instanceId: 'worker-a', sessionTimeoutMs: 30_000 });
      expect(a2.generation, 'no new generation').toBe(before.generation);
      expect(keys(a2.assignments), 'same partitions').toStrictEqual(keys(views.get(a.memberId)!.assignments));
      expect(keys((await groups.heartbeat('g4', b.memberId)).assignments), 'b undisturbed').toStrictEqual(
        keys(views.get(b.memberId)!.assignments),
      );
      await expect(groups.heartbeat('g4', a.memberId), 'the old incarnation is fenced').rejects.toSatisfy((e) =>
        isSluiceError(e, 'UnknownMember'),
      );
    });

    it('crash mid-batch: uncommitted records go to the next owner again; committed offsets never go backwards', async () => {
      const c = clock();
      const { sluice, groups } = await kind.make(c.now);
      await sluice.createTopic('crash', { partitions: 1 });
      await sluice.append(
        'crash',
        Array.from({ length: 30 }, (_, i) => ({ value: i })),
      );
      const a = await groups.join('g5', { topics: ['crash'], sessionTimeoutMs: 5_000, autoOffsetReset: 'earliest' });
      const batch = await groups.poll('g5', a.memberId, { maxRecords: 20 });
      expect(batch.records.length).toBe(20);
      // Processes all 20, commits after the first 12, then crashes.
      await groups.commit('g5', {
        memberId: a.memberId,
        generation: batch.generation,
        offsets: [{ topic: 'crash', partition: 0, offset: 12 }],
      });
      const committed: number[] = [12];
      c.advance(6_000);
      const b = await groups.join('g5', { topics: ['crash'], sessionTimeoutMs: 5_000, autoOffsetReset: 'earliest' });
      const redelivered = await groups.poll('g5', b.memberId, { maxRecords: 100 });
      expect(
        redelivered.records.map((r) => r.offset),
        'from the committed offset: 12..19 again, then the rest',
      ).toStrictEqual(Array.from({ length: 18 }, (_, i) => 12 + i));
      await groups.commit('g5', {
        memberId: b.memberId,
        generation: redelivered.generation,
        offsets: [{ topic: 'crash', partition: 0, offset: 30 }],
      });
      committed.push(30);
      await expect(
        groups.commit('g5', {
          memberId: b.memberId,
          generation: redelivered.generation,
          offsets: [{ topic: 'crash', partition: 0, offset: 20 }],
        }),
      ).rejects.toSatisfy((e) => isSluiceError(e, 'OffsetRegression'));
      committed.push((await groups.describe('g5')).offsets[0]!.committed!);
      expect(committed, 'never backwards').toStrictEqual([12, 30, 30]);
    });

    it('resets offsets and deletes groups only while empty', async () => {
      const c = clock();
      const { sluice, groups } = await kind.make(c.now);
      await sluice.createTopic('admin', { partitions: 2 });
      await sluice.append(
        'admin',
        Array.from({ length: 6 }, (_, i) => ({ value: i, partition: i % 2, timestamp: 1000 + i })),
      );
      const a = await groups.join('g6', { topics: ['admin'], sessionTimeoutMs: 5_000 });
      await expect(groups.resetOffsets('g6', 'admin', 'earliest')).rejects.toSatisfy((e) =>
        isSluiceError(e, 'GroupNotEmpty'),
      );
      await expect(groups.deleteGroup('g6')).rejects.toSatisfy((e) => isSluiceError(e, 'GroupNotEmpty'));
      await groups.leave('g6', a.memberId);
      expect(await groups.resetOffsets('g6', 'admin', 'latest')).toStrictEqual([
        { topic: 'admin', partition: 0, offset: 3 },
        { topic: 'admin', partition: 1, offset: 3 },
      ]);
      expect(
        (await groups.resetOffsets('g6', 'admin', { timestamp: 1003 })).map((o) => o.offset),
        'first at or after 1003: 1004 on p0, 1003 on p1',
      ).toStrictEqual([2, 1]);
      expect(
        (await groups.resetOffsets('g6', 'admin', { offset: 99 })).map((o) => o.offset),
        'clamped to the log',
      ).toStrictEqual([3, 3]);
      expect(
        (await groups.resetOffsets('g6', 'admin', 'earliest')).map((o) => o.offset),
        'an explicit reset may go back',
      ).toStrictEqual([0, 0]);
      await groups.deleteGroup('g6');
      await expect(groups.describe('g6')).rejects.toSatisfy((e) => isSluiceError(e, 'GroupNotFound'));
      await expect(groups.join('g6', { topics: ['nope'] })).rejects.toSatisfy((e) => isSluiceError(e, 'TopicNotFound'));
      await expect(groups.join('g6', { topics: ['admin'], sessionTimeoutMs: 5 })).rejects.toSatisfy((e) =>
        isSluiceError(e, 'InvalidArgument'),
      );
      await expect(groups.poll('g6', 'not-a-member')).rejects.toSatisfy((e) => isSluiceError(e, 'UnknownMember'));
    });

    it('scale: 50 members on a 64-partition topic settle balanced (within one of the mean) in a bounded number of rounds', async () => {
      const { sluice, groups } = await kind.make();
      await sluice.createTopic('wide', { partitions: 64 });
      const members: string[] = [];
      for (let i = 0; i < 50; i++)
        members.push((await groups.join('g7', { topics: ['wide'], sessionTimeoutMs: 120_000 })).memberId);
      const { rounds, views } = await settle(groups, 'g7', members, 6);
      const counts = members.map((m) => views.get(m)!.assignments.length);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(64);
      const mean = 64 / 50;
      for (const n of counts)
        expect(Math.abs(n - mean) < 1, `${n} partitions is not within one of the mean ${mean}`).toBeTruthy();
      console.log(`# ${kind.name}: 50 members / 64 partitions settled in ${rounds} heartbeat round(s)`);
    });

    describe('regressions from review', () => {
      it("a record larger than its partition's share of the budget is not starved by busy partitions", async () => {
        const { sluice, groups } = await kind.make();
        await sluice.createTopic('starve', { partitions: 4 });
        await sluice.append('starve', [{ value: 'b'.repeat(50_000), partition: 0 }]);
        const m = await groups.join('starving', { topics: ['starve'], autoOffsetReset: 'earliest' });
        let delivered = false;
        // Each poll the other partitions have fresh small records; the large one's partition is
        // first in the rotation one poll in four, and then it comes, whatever its size.
        for (let poll = 0; poll < 40 && !delivered; poll++) {
          for (let p = 1; p < 4; p++) await sluice.append('starve', [{ value: `small-${poll}`, partition: p }]);
          const { records } = await groups.poll('starving', m.memberId, { maxBytes: 100_000 });
          delivered = records.some((r) => r.partition === 0);
        }
        expect(delivered, 'the large record was delivered').toBe(true);
      });

      it('a poll shares one byte budget across partitions', async () => {
        const { sluice, groups } = await kind.make();
        await sluice.createTopic('heavy', { partitions: 8 });
        for (let p = 0; p < 8; p++)
          await sluice.append(
            'heavy',
            Array.from({ length: 12 }, () => ({ value: 'x'.repeat(100_000), partition: p })),
          );
        const m = await groups.join('budget', { topics: ['heavy'], autoOffsetReset: 'earliest' });
        const { records } = await groups.poll('budget', m.memberId, { maxBytes: 1024 * 1024 });
        const bytes = records.reduce((n, r) => n + (r.value as string).length, 0);
        expect(bytes <= 1024 * 1024 + 8 * 100_100, `a poll returned ${bytes} bytes`).toBeTruthy();
        await expect(groups.poll('budget', m.memberId, { maxBytes: 16 * 1024 * 1024 })).rejects.toSatisfy((e) =>
          isSluiceError(e, 'InvalidArgument'),
        );
      });

      it('seek moves the position once; later polls go on from there', async () => {
        const { sluice, groups } = await kind.make();
        await sluice.createTopic('seeking');
        await sluice.append(
          'seeking',
          Array.from({ length: 12 }, (_, i) => ({ value: i })),
        );
        const m = await groups.join('seek', { topics: ['seeking'], autoOffsetReset: 'earliest' });
        expect(
          (
            await groups.poll('seek', m.memberId, {
              maxRecords: 3,
              seek: [{ topic: 'seeking', partition: 0, offset: 5 }],
            })
          ).records.map((r) => r.offset),
        ).toStrictEqual([5, 6, 7]);
        expect((await groups.poll('seek', m.memberId, { maxRecords: 3 })).records.map((r) => r.offset)).toStrictEqual([
          8, 9, 10,
        ]);
        await expect(
          groups.poll('seek', m.memberId, {
            paused: [{ topic: 'other', partition: 7 }],
            seek: [{ topic: 'other', partition: 7, offset: 1 }],
          }),
        ).rejects.toSatisfy((e) => isSluiceError(e, 'NotAssigned'));
      });

      it('a joining member of another topic does not reshuffle the partitions of the others', async () => {
        const { sluice, groups } = await kind.make();
        await sluice.createTopic('x', { partitions: 4 });
        await sluice.createTopic('y', { partitions: 2 });
        const a = await groups.join('mixed', { topics: ['x'] });
        const b = await groups.join('mixed', { topics: ['x'] });
        const { views } = await settle(groups, 'mixed', [a.memberId, b.memberId]);
        const c = await groups.join('mixed', { topics: ['y'] });
        const after = await settle(groups, 'mixed', [a.memberId, b.memberId, c.memberId]);
        expect(keys(after.views.get(a.memberId)!.assignments)).toStrictEqual(keys(views.get(a.memberId)!.assignments));
        expect(keys(after.views.get(b.memberId)!.assignments)).toStrictEqual(keys(views.get(b.memberId)!.assignments));
        expect(keys(after.views.get(c.memberId)!.assignments)).toStrictEqual(['y/0', 'y/1']);
      });

      it('member ids and topic names that are Object.prototype keys are plain names', async () => {
        const { sluice, groups } = await kind.make();
        await sluice.createTopic('constructor', { partitions: 2 });
        const m = await groups.join('proto', { topics: ['constructor'] });
        expect(keys(m.assignments)).toStrictEqual(['constructor/0', 'constructor/1']);
        for (const id of ['__proto__', 'constructor', 'toString', 'x'.repeat(2000)]) {
          await expect(groups.heartbeat('proto', id)).rejects.toSatisfy((e) => isSluiceError(e, 'UnknownMember'));
          await expect(groups.leave('proto', id)).rejects.toSatisfy((e) => isSluiceError(e, 'UnknownMember'));
          await expect(
            groups.commit('proto', {
              memberId: id,
              generation: m.generation,
              offsets: [{ topic: 'constructor', partition: 0, offset: 1 }],
            }),
          ).rejects.toSatisfy((e) => isSluiceError(e, 'FencedMember'));
        }
        expect((await groups.describe('proto')).generation, 'nothing changed').toBe(m.generation);
        await expect(groups.join('proto', { topics: ['toString'] })).rejects.toSatisfy((e) =>
          isSluiceError(e, 'TopicNotFound'),
        );
      });

      it('offsets of a deleted topic do not bind the topic created again under its name', async () => {
        const { sluice, groups } = await kind.make();
        await sluice.createTopic('reborn');
        await sluice.append(
          'reborn',
          Array.from({ length: 12 }, (_, i) => ({ value: i })),
        );
        let m = await groups.join('rebirth', { topics: ['reborn'], autoOffsetReset: 'earliest' });
        await groups.commit('rebirth', {
          memberId: m.memberId,
          generation: m.generation,
          offsets: [{ topic: 'reborn', partition: 0, offset: 10 }],
        });
        await groups.leave('rebirth', m.memberId);
        await sluice.deleteTopic('reborn');
        await sluice.createTopic('reborn');
        await sluice.append(
          'reborn',
          Array.from({ length: 3 }, (_, i) => ({ value: i })),
        );
        m = await groups.join('rebirth', { topics: ['reborn'], autoOffsetReset: 'earliest' });
        expect((await groups.poll('rebirth', m.memberId)).records.map((r) => r.offset)).toStrictEqual([0, 1, 2]);
        await groups.commit('rebirth', {
          memberId: m.memberId,
          generation: m.generation,
          offsets: [{ topic: 'reborn', partition: 0, offset: 3 }],
        });
        expect((await groups.describe('rebirth')).offsets[0]!.committed).toBe(3);
      });

      it('a refused call still saves what reconcile noticed; a failing poll still extends the session', async () => {
        const c = clock();
        const { sluice, groups, groupStore } = await kind.make(c.now);
        await sluice.createTopic('notice', { partitions: 2 });
        const a = await groups.join('notice', { topics: ['notice'], sessionTimeoutMs: 2_000 });
        c.advance(2_001);
        await expect(groups.heartbeat('notice', a.memberId)).rejects.toSatisfy((e) =>
          isSluiceError(e, 'UnknownMember'),
        );
        const stored = await groupStore.loadGroup('notice');
        expect(Object.keys(stored.sessions), 'the expiry was written').toStrictEqual([]);
        expect(Object.keys(stored.targets), 'and the group rebalanced without it').toStrictEqual([]);
        const b = await groups.join('notice', {
          topics: ['notice'],
          sessionTimeoutMs: 2_000,
          autoOffsetReset: 'error',
        });
        for (let i = 0; i < 4; i++) {
          c.advance(1_500);
          await expect(groups.poll('notice', b.memberId)).rejects.toSatisfy((e) =>
            isSluiceError(e, 'NoCommittedOffset'),
          );
        }
        expect((await groups.heartbeat('notice', b.memberId)).memberId, 'polls kept the session alive').toBe(
          b.memberId,
        );
      });

      it('many expired members are removed over successive writes without failing the group', async () => {
        const c = clock();
        const { sluice, groups, groupStore } = await kind.make(c.now);
        await sluice.createTopic('crowd', { partitions: 4 });
        for (let i = 0; i < 120; i++) await groups.join('crowd', { topics: ['crowd'], sessionTimeoutMs: 2_000 });
        c.advance(2_001);
        const d = await groups.describe('crowd');
        expect(d.members.length).toBe(0);
        for (let i = 0; i < 3 && Object.keys((await groupStore.loadGroup('crowd')).members).length > 0; i++)
          await groups.describe('crowd');
        expect(
          Object.keys((await groupStore.loadGroup('crowd')).members).length,
          'every expired member item is gone',
        ).toBe(0);
        const fresh = await groups.join('crowd', { topics: ['crowd'] });
        expect(fresh.assignments.length).toBe(4);
      });

      it('a member can poll 200 partitions', async () => {
        const { sluice, groups } = await kind.make();
        await sluice.createTopic('very-wide', { partitions: 200 });
        const m = await groups.join('wide-poll', { topics: ['very-wide'], autoOffsetReset: 'earliest' });
        expect(m.assignments.length).toBe(200);
        await sluice.append('very-wide', [{ value: 'a', partition: 199 }]);
        expect((await groups.poll('wide-poll', m.memberId)).records.map((r) => r.value)).toStrictEqual(['a']);
        expect((await groups.poll('wide-poll', m.memberId)).records).toStrictEqual([]);
      });
    });
  });
}
