import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import { DynamoStore } from '../../core/adapters/dynamodb/dynamoStore.ts';
import { createTables } from '../../core/adapters/dynamodb/createTables.ts';
import { ConsumerGroups } from '../../core/groups/consumerGroups.ts';
import { DynamoGroupStore } from '../../core/groups/dynamoGroupStore.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { orderEvents } from '../orderEvents.ts';
import { meteredClient } from '../meteredClient.ts';
import type { BenchSection } from '../section.ts';

/**
 * Consumer groups on DynamoDB Local: the cost of 10 members joining and settling (time and
 * DynamoDB requests), write units per commit, one member's heartbeat in a small and a large
 * group (capacity units), and one member's poll throughput over 8 partitions as a ratio of
 * reading one partition directly.
 */
export const groupsSection: BenchSection = {
  name: 'groups',
  async run() {
    const meter = meteredClient();
    const counter = { client: meter.client, count: () => meter.read().requests, reset: meter.reset };
    const tables = { log: 'bench-groups-log', metadata: 'bench-groups-meta' };
    await createTables(counter.client, tables);
    let groupUnits = 0; // every group-store request's consumed capacity
    const store = new DynamoStore({ client: counter.client, tables });
    const sluice = new Sluice({ log: store, metadata: store });
    const groups = new ConsumerGroups({
      store: new DynamoGroupStore({
        client: counter.client,
        table: tables.metadata,
        onConsumedCapacity: (c: ConsumedCapacity[]) => c.forEach((x) => (groupUnits += x.CapacityUnits ?? 0)),
      }),
      sluice,
    });
    await sluice.createTopic('bench-wide', { partitions: 8 });
    await sluice.createTopic('bench-narrow', { partitions: 1 });

    // 10 members join, then heartbeat (releasing what they are asked to) until stable.
    counter.reset();
    const t0 = performance.now();
    const members: string[] = [];
    for (let i = 0; i < 10; i++)
      members.push((await groups.join('bench-join', { topics: ['bench-wide'], sessionTimeoutMs: 60_000 })).memberId);
    let rounds = 0;
    for (; rounds < 10; rounds++) {
      let moving = false;
      for (const m of members) {
        const v = await groups.heartbeat('bench-join', m);
        if (v.revoking.length > 0) {
          moving = true;
          await groups.heartbeat('bench-join', m, { release: v.revoking });
        }
      }
      if (!moving && (await groups.describe('bench-join')).state === 'Stable') break;
    }
    const settleMs = performance.now() - t0;
    const settleRequests = counter.count();

    // Write units per commit (one partition per commit, as a consumer committing after each batch).
    const owner = await groups.join('bench-commit', { topics: ['bench-narrow'], sessionTimeoutMs: 60_000 });
    const commits = 50;
    groupUnits = 0;
    for (let i = 1; i <= commits; i++)
      await groups.commit('bench-commit', {
        memberId: owner.memberId,
        generation: owner.generation,
        offsets: [{ topic: 'bench-narrow', partition: 0, offset: i }],
      });
    const unitsPerCommit = groupUnits / commits;

    // One member's heartbeat: in the settled 10-member group of 8 partitions, and in a group of
    // 40 members over 2,000 partitions (2 topics × 1,000); the same units if the state is split well.
    const heartbeatUnits = async (group: string, memberId: string) => {
      groupUnits = 0;
      for (let i = 0; i < 10; i++) await groups.heartbeat(group, memberId);
      return groupUnits / 10;
    };
    const smallUnits = await heartbeatUnits('bench-join', members[0]!);
    const wideTopics = ['bench-large-a', 'bench-large-b'];
    for (const topic of wideTopics) await sluice.createTopic(topic, { partitions: 1_000 });
    const large: string[] = [];
    for (let i = 0; i < 40; i++)
      large.push((await groups.join('bench-large', { topics: wideTopics, sessionTimeoutMs: 300_000 })).memberId);
    for (let round = 0; round < 10; round++) {
      let moving = false;
      for (const m of large) {
        const v = await groups.heartbeat('bench-large', m);
        if (v.revoking.length > 0) {
          moving = true;
          await groups.heartbeat('bench-large', m, { release: v.revoking });
        }
      }
      if (!moving) break;
    }
    const largeUnits = await heartbeatUnits('bench-large', large[20]!);

    // Poll throughput: one member over 8 partitions vs direct reads of one partition, same records.
    const events = orderEvents(4000, 11).map((e) => ({ key: e.key, value: e.value }));
    for (let i = 0; i < events.length; i += 100) {
      const batch = events.slice(i, i + 100);
      await sluice.append(
        'bench-wide',
        batch.map((r, k) => ({ ...r, partition: (i / 100 + k) % 8 })),
      );
      await sluice.append(
        'bench-narrow',
        batch.map((r) => ({ ...r, partition: 0 })),
      );
    }
    const reader = await groups.join('bench-poll', {
      topics: ['bench-wide'],
      autoOffsetReset: 'earliest',
      sessionTimeoutMs: 60_000,
    });
    let polled = 0;
    const p0 = performance.now();
    while (polled < events.length)
      polled += (await groups.poll('bench-poll', reader.memberId, { maxRecords: 500 })).records.length;
    const pollRate = polled / ((performance.now() - p0) / 1000);
    let read = 0;
    const r0 = performance.now();
    for (let offset = 0; read < events.length;) {
      const page = await sluice.read('bench-narrow', 0, offset, { maxRecords: 500 });
      read += page.records.length;
      offset = page.nextOffset;
    }
    const readRate = read / ((performance.now() - r0) / 1000);

    return {
      title: 'Consumer groups on DynamoDB Local',
      table: [
        '| measurement | value |',
        '|---|---:|',
        `| 10 members join and settle: time (ms) | ${settleMs.toFixed(0)} |`,
        `| 10 members join and settle: DynamoDB requests | ${settleRequests} |`,
        `| 10 members join and settle: heartbeat rounds | ${rounds + 1} |`,
        `| write units per commit (1 partition; ReturnConsumedCapacity of the transaction) | ${unitsPerCommit.toFixed(2)} |`,
        `| capacity units per heartbeat, 10 members × 8 partitions | ${smallUnits.toFixed(2)} |`,
        `| capacity units per heartbeat, 40 members × 2,000 partitions | ${largeUnits.toFixed(2)} |`,
        `| group poll, 1 member over 8 partitions (records/s) | ${pollRate.toFixed(0)} |`,
        `| direct read of 1 partition (records/s) | ${readRate.toFixed(0)} |`,
        `| ratio poll over 8 / read of 1 | ${(pollRate / readRate).toFixed(2)} |`,
      ].join('\n'),
      notes: [
        'A commit is one TransactWriteItems: a condition check of the group (generation), one of the member (live session), and the offset update, conditional on the member owning the partition; transactional writes cost twice a plain write.',
        'A heartbeat reads the group meta, the member’s own item and session (one BatchGetItem) and the session of the member after it (one Query of one item), and extends its session (one UpdateItem): the same units whatever the size of the group.',
        'A group poll does the same, also reading its positions, fetches the member’s partitions in parallel and writes its positions.',
      ],
      summary: {
        groupSettleMs10Members: Math.round(settleMs),
        groupSettleRequests10Members: settleRequests,
        writeUnitsPerCommit: Number(unitsPerCommit.toFixed(2)),
        heartbeatUnitsLargeGroup: Number(largeUnits.toFixed(2)),
        heartbeatUnitsLargeVsSmallRatio: Number((largeUnits / smallUnits).toFixed(2)),
        pollOver8PartitionsVsSingleReadRatio: Number((pollRate / readRate).toFixed(2)),
      },
    };
  },
};
