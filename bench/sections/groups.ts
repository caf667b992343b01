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
 * DynamoDB requests), write units per commit, and one member's poll throughput over 8 partitions
 * as a ratio of reading one partition directly.
 */
export const groupsSection: BenchSection = {
  name: 'groups',
  async run() {
    const meter = meteredClient();
    const counter = { client: meter.client, count: () => meter.read().requests, reset: meter.reset };
    const tables = { log: 'bench-groups-log', metadata: 'bench-groups-meta' };
    await createTables(counter.client, tables);
    let commitUnits = 0;
    const store = new DynamoStore({ client: counter.client, tables });
    const sluice = new Sluice({ log: store, metadata: store });
    const groups = new ConsumerGroups({
      store: new DynamoGroupStore({
        client: counter.client,
        table: tables.metadata,
        onConsumedCapacity: (c: ConsumedCapacity[]) => c.forEach((x) => (commitUnits += x.CapacityUnits ?? 0)),
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
    commitUnits = 0;
    for (let i = 1; i <= commits; i++)
      await groups.commit('bench-commit', {
        memberId: owner.memberId,
        generation: owner.generation,
        offsets: [{ topic: 'bench-narrow', partition: 0, offset: i }],
      });
    const unitsPerCommit = commitUnits / commits;

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
        `| group poll, 1 member over 8 partitions (records/s) | ${pollRate.toFixed(0)} |`,
        `| direct read of 1 partition (records/s) | ${readRate.toFixed(0)} |`,
        `| ratio poll over 8 / read of 1 | ${(pollRate / readRate).toFixed(2)} |`,
      ].join('\n'),
      notes: [
        'A commit is one TransactWriteItems: a condition check of the group (owner and generation), one of the member (live session), and the offset put; transactional writes cost twice a plain write.',
        'A group poll reads the group (one Query), fetches the member’s partitions in parallel and updates its position and session (one UpdateItem).',
      ],
      summary: {
        groupSettleMs10Members: Math.round(settleMs),
        groupSettleRequests10Members: settleRequests,
        writeUnitsPerCommit: Number(unitsPerCommit.toFixed(2)),
        pollOver8PartitionsVsSingleReadRatio: Number((pollRate / readRate).toFixed(2)),
      },
    };
  },
};
