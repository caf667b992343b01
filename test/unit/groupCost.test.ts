import { describe, expect, it } from 'vitest';
import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import { MemoryStore } from '../../core/adapters/memory/memoryStore.ts';
import { ConsumerGroups } from '../../core/groups/consumerGroups.ts';
import { MemoryGroupStore } from '../../core/groups/memoryGroupStore.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { settleWide } from '../contract/groupScaleContract.ts';

/**
 * A member's heartbeat and poll read and write a bounded amount: the same for a member of a small
 * group as for one of a group forty times its size. Both in-memory stores charge what DynamoDB
 * would (read and write units per item, 400 KB items), as in history.test.ts.
 */
interface Cost {
  requests: number;
  units: number;
}

interface Costs {
  /** Every request, to the group store and to the topic and log store. */
  heartbeat: Cost;
  /** The group store's part of a poll: a poll also reads each of the member's own partitions. */
  poll: Cost;
}

async function costsOf(members: number, partitionsPerTopic: number): Promise<Costs> {
  let meter: { group: Cost; log: Cost } | undefined;
  const metered = (part: 'group' | 'log') => (c: ConsumedCapacity[]) => {
    if (meter === undefined) return;
    meter[part].requests++;
    meter[part].units += c.reduce((n, x) => n + (x.CapacityUnits ?? 0), 0);
  };
  let t = 1_800_000_000_000;
  const now = () => t;
  const store = new MemoryStore({ onConsumedCapacity: metered('log') });
  const sluice = new Sluice({ log: store, metadata: store, now });
  const groups = new ConsumerGroups({
    store: new MemoryGroupStore({ onConsumedCapacity: metered('group') }),
    sluice,
    now,
  });
  // The same five topics in both groups, so a member's subscription is the same size.
  const topics = Array.from({ length: 5 }, (_, i) => `t${i}`);
  for (const topic of topics) await sluice.createTopic(topic, { partitions: partitionsPerTopic });
  const ids: string[] = [];
  for (let i = 0; i < members; i++)
    ids.push((await groups.join('g', { topics, sessionTimeoutMs: 300_000, autoOffsetReset: 'earliest' })).memberId);
  await settleWide(groups, 'g', ids, topics.length * partitionsPerTopic);
  // In the middle of the id order: the last member's watch of the next session wraps around to the
  // first with one more Query, in a group of any size, so a member picked at random made this flaky.
  const member = [...ids].sort()[Math.floor(members / 2)]!;
  await groups.poll('g', member); // positions known from here on
  const measure = async (fn: () => Promise<unknown>) => {
    t += 2_000; // past the topic cache, as a heartbeat a few seconds later would be
    meter = { group: { requests: 0, units: 0 }, log: { requests: 0, units: 0 } };
    await fn();
    const cost = meter;
    meter = undefined;
    return cost;
  };
  const heartbeat = await measure(() => groups.heartbeat('g', member));
  const poll = await measure(() => groups.poll('g', member));
  return {
    heartbeat: {
      requests: heartbeat.group.requests + heartbeat.log.requests,
      units: heartbeat.group.units + heartbeat.log.units,
    },
    poll: poll.group,
  };
}

describe('a member’s heartbeat and poll cost the same in any group', () => {
  it('10 members × 100 partitions vs 200 members × 5,000 partitions', { timeout: 300_000 }, async () => {
    const small = await costsOf(10, 20);
    const large = await costsOf(200, 1_000);
    console.log(`# heartbeat ${JSON.stringify(small.heartbeat)} vs ${JSON.stringify(large.heartbeat)}`);
    console.log(`# poll ${JSON.stringify(small.poll)} vs ${JSON.stringify(large.poll)}`);
    expect(large.heartbeat.requests, 'heartbeat requests').toBe(small.heartbeat.requests);
    expect(large.heartbeat.units, 'heartbeat capacity units').toBeLessThanOrEqual(small.heartbeat.units * 1.1);
    expect(large.poll.requests, 'poll: group store requests').toBe(small.poll.requests);
    expect(large.poll.units, 'poll: group store capacity units').toBeLessThanOrEqual(small.poll.units * 1.1);
  });
});
