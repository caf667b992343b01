import { createTables } from '../../core/adapters/dynamodb/createTables.ts';
import { DynamoStore } from '../../core/adapters/dynamodb/dynamoStore.ts';
import { isSluiceError } from '../../core/errors.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { DynamoShareStore } from '../../core/queues/dynamoShareStore.ts';
import { ShareGroups, type ShareRecord } from '../../core/queues/shareGroups.ts';
import type { PartitionWrite } from '../../core/queues/shareStore.ts';
import { billedClient, type BilledUnits } from '../meteredClient.ts';
import { orderEvents } from '../orderEvents.ts';
import type { BenchSection } from '../section.ts';
import { PRICES } from './costPerMessage.ts';

const TABLES = { log: 'bench-queues-log', metadata: 'bench-queues-meta' };
const TOPIC = 'bench-queue';
/** Records on the topic's one partition; each scaling run (its own share group) accepts all of them. */
const RECORDS = 1_200;
const MEMBER_COUNTS = [1, 4, 16] as const;
/** Records per poll in the scaling runs. */
const SCALING_POLL = 20;
/** The work a consumer does per record, one record after another (queues exist to spread slow work). */
const WORK_MS = 20;
/** Capacity: rounds of one poll of 100 records and one acknowledgement accepting those 100. */
const ACK_ROUNDS = 10;
const ACK_BATCH = 100;
/** SQS standard, receive + delete batched by 10: 0.2 requests per message. */
const SQS_REQUESTS_PER_MESSAGE = 0.2;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

type Units = BilledUnits;

const NO_UNITS: Units = { requests: 0, read: 0, write: 0, failedConditions: 0 };

function add(...all: Units[]): Units {
  return all.reduce(
    (a, u) => ({
      requests: a.requests + u.requests,
      read: a.read + u.read,
      write: a.write + u.write,
      failedConditions: a.failedConditions + u.failedConditions,
    }),
    NO_UNITS,
  );
}

/** The DynamoDB share store, counting partition-state writes refused because the state changed meanwhile. */
class CountingShareStore extends DynamoShareStore {
  writes = 0;
  conflicts = 0;
  override async writePartition(group: string, partition: string, write: PartitionWrite): Promise<boolean> {
    const ok = await super.writePartition(group, partition, write);
    this.writes++;
    if (!ok) this.conflicts++;
    return ok;
  }
}

/**
 * One engine as a Lambda container has it: its own clients, stores and caches. The log and topic
 * metadata go through one metered client, the share state through another, to tell them apart.
 */
function engine() {
  const logMeter = billedClient();
  const shareMeter = billedClient();
  const store = new DynamoStore({ client: logMeter.client, tables: TABLES });
  const sluice = new Sluice({ log: store, metadata: store });
  const shareStore = new CountingShareStore({ client: shareMeter.client, table: TABLES.metadata });
  return { sluice, shares: new ShareGroups({ store: shareStore, sluice }), shareStore, logMeter, shareMeter };
}

interface ScalingRow {
  readonly members: number;
  readonly seconds: number;
  readonly polls: number;
  readonly emptyPolls: number;
  readonly writes: number;
  readonly conflicts: number;
  readonly ackRetries: number;
  readonly requests: number;
}

interface CostRow {
  readonly call: string;
  readonly calls: number;
  readonly records: number;
  readonly share: Units;
  readonly log: Units;
}

/**
 * Share groups (queues on topics, KIP-932) on DynamoDB Local. Scaling: 1, 4 and 16 members, each
 * its own engine, consume one partition of 1,200 ~1 KB records, doing 20 ms of work per record and
 * accepting each poll's records in one acknowledgement; every record must be accepted exactly
 * once. Capacity: one member polls 100 records and accepts them in one acknowledgement, with the
 * units of each call counted, and priced beside SQS. Targets: 16 members ≥ 3× one member's
 * accepted records/s; ≤ 0.1 write units per record accepted in acknowledgements of 100.
 */
export const queuesSection: BenchSection = {
  name: 'queues',
  async run() {
    const setup = engine();
    await createTables(setup.logMeter.client, TABLES);
    await setup.sluice.createTopic(TOPIC, { partitions: 1, config: { compression: 'zstd' } });
    const events = orderEvents(RECORDS, 13);
    for (let i = 0; i < events.length; i += 100)
      await setup.sluice.append(
        TOPIC,
        events.slice(i, i + 100).map((e) => ({ key: e.key, value: e.value, partition: 0 })),
      );

    const rows: ScalingRow[] = [];
    for (const members of MEMBER_COUNTS) rows.push(await scaling(members));
    const rate = (r: ScalingRow) => RECORDS / r.seconds;
    const one = rows.find((r) => r.members === 1)!;
    const scale16v1 = rate(rows.find((r) => r.members === 16)!) / rate(one);

    // Acknowledgements of 100 in one chunk item (polls from offset 0), and across two (from 50).
    const aligned = await capacity('bench-capacity-aligned', ACK_BATCH);
    const straddling = await capacity('bench-capacity-straddling', ACK_BATCH / 2);
    const perRecord = (r: CostRow, u: keyof Units) => (r.share[u] + r.log[u]) / r.records;
    const writeUnitsPerAck = Math.max(perRecord(aligned.ack, 'write'), perRecord(straddling.ack, 'write'));
    const usd = (r: CostRow) =>
      perRecord(r, 'read') * PRICES.dynamoReadPerMillion + perRecord(r, 'write') * PRICES.dynamoWritePerMillion;
    const both = (a: CostRow, b: CostRow, call: string): CostRow => ({
      call,
      calls: a.calls,
      records: a.records,
      share: add(a.share, b.share),
      log: add(a.log, b.log),
    });
    const costRows = [
      aligned.poll,
      aligned.ack,
      straddling.ack,
      both(aligned.poll, aligned.ack, 'poll + acknowledge (one chunk)'),
      both(straddling.poll, straddling.ack, 'poll + acknowledge (two chunks)'),
    ];
    const sqs = SQS_REQUESTS_PER_MESSAGE * PRICES.sqsPerMillionRequests;

    return {
      title: 'Share groups (queues on topics) on DynamoDB Local',
      table: [
        '| members | records accepted | local seconds | local accepted records/s | × one member | polls (empty) | state writes (conflicting) | successful state writes per local second | acks tried again | DynamoDB requests per record |',
        '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
        ...rows.map(
          (r) =>
            `| ${r.members} | ${RECORDS} | ${r.seconds.toFixed(2)} | ${rate(r).toFixed(0)} | ${(rate(r) / rate(one)).toFixed(2)} | ${r.polls} (${r.emptyPolls}) | ${r.writes} (${r.conflicts}) | ${((r.writes - r.conflicts) / r.seconds).toFixed(1)} | ${r.ackRetries} | ${(r.requests / RECORDS).toFixed(2)} |`,
        ),
        '',
        `| call (${ACK_ROUNDS} rounds of ${ACK_BATCH} records, one member) | DynamoDB requests per call | share-state read units per record | log and topic read units per record | write units per record | failed conditions | USD per million records |`,
        '|---|---:|---:|---:|---:|---:|---:|',
        ...costRows.map(
          (r) =>
            `| ${r.call} | ${((r.share.requests + r.log.requests) / r.calls).toFixed(1)} | ${(r.share.read / r.records).toFixed(3)} | ${(r.log.read / r.records).toFixed(3)} | ${perRecord(r, 'write').toFixed(3)} | ${r.share.failedConditions + r.log.failedConditions} | ${usd(r).toFixed(4)} |`,
        ),
        `| SQS standard: receive + delete, batched by 10 (${SQS_REQUESTS_PER_MESSAGE} requests per message) | | | | | | ${sqs.toFixed(4)} |`,
      ].join('\n'),
      notes: [
        `Scaling: one topic with one partition holding ${RECORDS} ~1 KB order events (zstd); per member count a new share group consumes all of them. Each member is its own engine (clients, stores, caches), as a separate Lambda container would be; all start at once and loop: poll (maxRecords ${SCALING_POLL}), work ${WORK_MS} ms per record one after another (a fixed sleep standing for the slow per-record work queues exist to spread), accept the poll's records in one acknowledgement, until every record is accepted. Without the work, throughput on DynamoDB Local is bound by the emulator, not by the share group.`,
        `Every record was accepted exactly once in each run (counted from the acknowledgement results, and describe shows start offset ${RECORDS} with nothing in flight); a duplicate or a missing record fails the section.`,
        `Conflicting state writes are conditional writes of the partition state (the cursor and 100-record chunk items) refused because another member changed an item after it was read; the engine reads again and retries, and a poll that keeps conflicting (12 times) returns nothing (an empty poll; so does one finding every remaining record in flight with other members). Every poll moves the cursor, and polls and acknowledgements write the same chunk items, so members conflict more as they are added: each change is read, decided and written conditionally, and a poll's window between its read and its write includes reading the records from the log, so successful state writes on one partition are close to serial (see their rate per second), and adding members past that adds conflicts rather than throughput.`,
        `Capacity: one member polls ${ACK_BATCH} records and accepts them in one acknowledgement, ${ACK_ROUNDS} rounds after one unmeasured round, in two share groups: one polling from offset 0, so each acknowledgement falls in one chunk item, and one whose first poll took 50 records, so each acknowledgement spans two. An acknowledgement reads the group, the topic id and the partition state, and writes the chunk items it changes: one conditional put (~400 bytes, 1 write unit) for one chunk, a transaction of two (4 units) for two. A poll reads the member, group, topic, offsets, state and the records (zstd batch items of the log), and writes the cursor and the chunks it acquires in, deleting finished ones, in one transaction. writeUnitsPerAck is the larger of the two acknowledgements.`,
        'Units are what DynamoDB Local reports (ReturnConsumedCapacity), except that transactions are billed as DynamoDB does, 2 write units per item and KB (DynamoDB Local reports twice the largest item only), plus the billed units of failed conditions.',
        `Prices (us-east-1 on-demand, ../shared/docs/prices.md): DynamoDB $${PRICES.dynamoReadPerMillion}/M read units, $${PRICES.dynamoWritePerMillion}/M write units; SQS $${PRICES.sqsPerMillionRequests}/M requests. Sluice's figures are DynamoDB units only: API Gateway and Lambda for the poll and the acknowledgement (2 requests per ${ACK_BATCH} records) are not included.`,
        'Seconds and records/s are local figures: read the ratios between member counts and the capacity units, not the absolute DynamoDB Local speeds.',
        `Targets: 16 members ≥ 3× one member's accepted records/s (here ${scale16v1.toFixed(2)}); ≤ 0.1 write units per record accepted in acknowledgements of ${ACK_BATCH} (here ${writeUnitsPerAck.toFixed(3)}).`,
      ],
      summary: {
        shareScale16v1: Number(scale16v1.toFixed(2)),
        writeUnitsPerAck: Number(writeUnitsPerAck.toFixed(3)),
      },
    };
  },
};

/** `members` engines consume the whole partition in a new share group; checks exactly-once acceptance. */
async function scaling(members: number): Promise<ScalingRow> {
  const group = `bench-scale-${members}`;
  const engines = Array.from({ length: members }, () => engine());
  const joined: string[] = [];
  for (const e of engines) joined.push((await e.shares.join(group, { topics: [TOPIC] })).memberId);
  for (const e of engines) {
    e.logMeter.reset();
    e.shareMeter.reset();
  }
  const accepted = new Array<number>(RECORDS).fill(0);
  let done = 0;
  let polls = 0;
  let emptyPolls = 0;
  let ackRetries = 0;
  const t0 = performance.now();
  await Promise.all(
    engines.map(async ({ shares }, i) => {
      const memberId = joined[i]!;
      while (done < RECORDS) {
        const { records } = await shares.poll(group, memberId, { maxRecords: SCALING_POLL });
        polls++;
        if (records.length === 0) {
          emptyPolls++;
          await sleep(WORK_MS);
          continue;
        }
        for (const _ of records) await sleep(WORK_MS);
        // Not `done += await …`: that reads `done` before the await, losing the other members' counts.
        const n = await acceptAll(shares, group, memberId, records, accepted, () => ackRetries++);
        done += n;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const wrong = accepted.flatMap((n, offset) => (n === 1 ? [] : [`${offset}: ${n}×`]));
  if (wrong.length > 0)
    throw new Error(`${members} members: records not accepted exactly once (${wrong.slice(0, 10).join(', ')})`);
  const view = (await engines[0]!.shares.describe(group)).partitions[0]!;
  if (view.startOffset !== RECORDS || view.inFlight !== 0 || view.lag !== 0)
    throw new Error(`${members} members: describe shows ${JSON.stringify(view)} after every record was accepted`);
  const requests = engines.reduce((n, e) => n + e.logMeter.read().requests + e.shareMeter.read().requests, 0);
  for (let i = 0; i < members; i++) await engines[i]!.shares.leave(group, joined[i]!);
  return {
    members,
    seconds,
    polls,
    emptyPolls,
    writes: engines.reduce((n, e) => n + e.shareStore.writes, 0),
    conflicts: engines.reduce((n, e) => n + e.shareStore.conflicts, 0),
    ackRetries,
    requests,
  };
}

/**
 * Accepts a poll's records in one acknowledgement, counting each accepted offset in `accepted`;
 * an acknowledgement given up after repeated conflicts (ShareGroupConflict) is tried again.
 */
async function acceptAll(
  shares: ShareGroups,
  group: string,
  memberId: string,
  records: readonly ShareRecord[],
  accepted: number[],
  retried: () => void,
): Promise<number> {
  const acks = records.map((r) => ({
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    type: 'accept' as const,
  }));
  for (;;) {
    try {
      const results = await shares.acknowledge(group, memberId, acks);
      const refused = results.filter((r) => !r.ok);
      if (refused.length > 0) throw new Error(`acknowledgement refused: ${JSON.stringify(refused.slice(0, 3))}`);
      for (const r of results) accepted[r.offset] = (accepted[r.offset] ?? 0) + 1;
      return results.length;
    } catch (e) {
      if (!isSluiceError(e, 'ShareGroupConflict')) throw e;
      retried();
    }
  }
}

/**
 * One member in a new share group: a first, unmeasured round polling `first` records (filling the
 * engine's caches and making the cursor), then `ACK_ROUNDS` × (poll 100, accept those 100 in one
 * acknowledgement), metering the two calls apart.
 */
async function capacity(group: string, first: number): Promise<{ poll: CostRow; ack: CostRow }> {
  const e = engine();
  const { memberId } = await e.shares.join(group, { topics: [TOPIC] });
  const where = first % 100 === 0 ? 'one chunk' : 'two chunks';
  const poll = { call: `poll (maxRecords ${ACK_BATCH})`, calls: 0, records: 0, share: NO_UNITS, log: NO_UNITS };
  const ack = {
    call: `acknowledge ${ACK_BATCH} accepts (${where})`,
    calls: 0,
    records: 0,
    share: NO_UNITS,
    log: NO_UNITS,
  };
  const warm = await e.shares.poll(group, memberId, { maxRecords: first });
  await acceptAll(e.shares, group, memberId, warm.records, [], () => undefined);
  const measured = async <T>(row: typeof poll, call: () => Promise<T>): Promise<T> => {
    e.logMeter.reset();
    e.shareMeter.reset();
    const result = await call();
    row.share = add(row.share, e.shareMeter.read());
    row.log = add(row.log, e.logMeter.read());
    row.calls++;
    return result;
  };
  for (let round = 0; round < ACK_ROUNDS; round++) {
    const { records } = await measured(poll, () => e.shares.poll(group, memberId, { maxRecords: ACK_BATCH }));
    if (records.length !== ACK_BATCH) throw new Error(`${group}, round ${round}: polled ${records.length} records`);
    await measured(ack, () => acceptAll(e.shares, group, memberId, records, [], () => undefined));
    poll.records += records.length;
    ack.records += records.length;
  }
  return { poll, ack };
}
