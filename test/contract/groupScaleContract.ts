import { describe, expect, it } from 'vitest';
import type { ConsumerGroups, MembershipView, TopicPartition } from '../../core/groups/consumerGroups.ts';
import type { GroupKind } from '../support/stores.ts';

const key = (p: TopicPartition) => `${p.topic}/${p.partition}`;

/**
 * Heartbeats each member once, releasing what it is asked to release, and records its view;
 * whether any partition was still moving.
 */
export async function heartbeatRound(
  groups: ConsumerGroups,
  group: string,
  members: readonly string[],
  views: Map<string, MembershipView>,
): Promise<boolean> {
  let moving = false;
  for (const m of members) {
    let v = await groups.heartbeat(group, m);
    if (v.revoking.length > 0) {
      v = await groups.heartbeat(group, m, { release: v.revoking });
      moving = true;
    }
    views.set(m, v);
  }
  return moving;
}

/**
 * Heartbeats every member (releasing what it is asked to release) until no partition is moving
 * and every partition is owned; no describe per round, which would read every partition's log.
 */
export async function settleWide(
  groups: ConsumerGroups,
  group: string,
  members: readonly string[],
  partitions: number,
  maxRounds = 8,
): Promise<Map<string, MembershipView>> {
  const views = new Map<string, MembershipView>();
  for (let round = 1; round <= maxRounds; round++) {
    const moving = await heartbeatRound(groups, group, members, views);
    const owned = [...views.values()].reduce((n, v) => n + v.assignments.length, 0);
    if (!moving && owned === partitions) return views;
  }
  throw new Error(`group did not settle in ${maxRounds} rounds`);
}

export interface GroupScale {
  readonly members: number;
  /** Topics of 100 partitions each. */
  readonly topics: number;
}

/**
 * The default: a group larger than one DynamoDB item could describe, 5,000 partitions over 50
 * topics and 100 members. The memory store, which refuses items over 400 KB as DynamoDB does,
 * runs it (the layout of one item per group fails it); DynamoDB Local runs a smaller group, whose
 * first joiner still claims its 1,000 partitions over several transactions and whose describe
 * reads a thousand items, in seconds rather than the minute the full size takes on two cores.
 */
export const WIDE_GROUP: GroupScale = { members: 100, topics: 50 };

/**
 * A group's state must be spread over items that each stay within 400 KB (the stores refuse
 * larger ones), through joins, rebalances, commits and a leave.
 */
export function groupScaleContract(kind: GroupKind, scale: GroupScale = WIDE_GROUP): void {
  const partitions = scale.topics * 100;
  const each = partitions / scale.members;
  const afterLeave = [Math.floor(partitions / (scale.members - 1)), Math.ceil(partitions / (scale.members - 1))];
  describe(`consumer groups beyond one item: ${kind.name}`, () => {
    it(
      `${scale.members} members share ${partitions.toLocaleString('en')} partitions of ${scale.topics} topics: join, settle, commit, leave, describe`,
      { timeout: 600_000 },
      async () => {
        expect(Number.isInteger(each), 'members share the partitions evenly').toBe(true);
        const { sluice, groups } = await kind.make();
        const topics = Array.from({ length: scale.topics }, (_, i) => `wide-${String(i).padStart(2, '0')}`);
        for (const topic of topics) await sluice.createTopic(topic, { partitions: 100 });
        const members: string[] = [];
        for (let i = 0; i < scale.members; i++)
          members.push((await groups.join('wide', { topics, sessionTimeoutMs: 300_000 })).memberId);
        let views = await settleWide(groups, 'wide', members, partitions);
        const owners = new Map<string, string>();
        for (const [m, v] of views)
          for (const p of v.assignments) {
            expect(owners.get(key(p)), `${key(p)} has one owner`).toBeUndefined();
            owners.set(key(p), m);
          }
        expect(owners.size).toBe(partitions);
        for (const v of views.values()) expect(v.assignments.length).toBe(each);

        // Every member commits each of its partitions (one commit each, within MAX_COMMIT_OFFSETS).
        for (const [m, v] of views)
          await groups.commit('wide', {
            memberId: m,
            generation: v.generation,
            offsets: v.assignments.map((p) => ({ ...p, offset: 0, metadata: `by ${m}` })),
          });
        const [leaving, ...staying] = members;
        await groups.leave('wide', leaving!);
        views = await settleWide(groups, 'wide', staying, partitions);
        for (const v of views.values()) expect(afterLeave).toContain(v.assignments.length);

        const d = await groups.describe('wide');
        expect(d.state).toBe('Stable');
        expect(d.members.length).toBe(scale.members - 1);
        expect(d.members.reduce((n, m) => n + m.assignments.length, 0)).toBe(partitions);
        expect(d.offsets.length).toBe(partitions);
        expect(d.offsets.filter((o) => o.committed === 0).length, 'every commit counted').toBe(partitions);
      },
    );
  });
}
