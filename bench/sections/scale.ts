import { createTables } from '../../core/adapters/dynamodb/createTables.ts';
import { DynamoStore } from '../../core/adapters/dynamodb/dynamoStore.ts';
import { mapWithLimit, range } from '../../core/async.ts';
import { ConsumerGroups } from '../../core/groups/consumerGroups.ts';
import { DynamoGroupStore } from '../../core/groups/dynamoGroupStore.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { MemoryObjectStore, S3ObjectStore, s3ClientFromEnv, type ObjectStore } from '../../core/tiering/objectStore.ts';
import { Tiering } from '../../core/tiering/tiering.ts';
import { meteredClient } from '../meteredClient.ts';
import type { BenchSection } from '../section.ts';

const MINUTE = 60_000;
// Multiples of the most batches between two time marks (64), so the tail, and so a look-up after
// every record, sits at the same place between two marks at both sizes (see betweenMarks below).
const SIZES = [1_024, 51_200] as const;
const OPERATIONS = [
  'describe',
  'produce',
  'fetch at the tail',
  'fetch from the oldest offset',
  'group poll',
  'offset for a timestamp in S3',
  'offset for a timestamp in the hot tier',
  'offset for a timestamp after every record',
] as const;
type Operation = (typeof OPERATIONS)[number];
interface Cost {
  requests: number;
  units: number;
}

/**
 * Cost at scale, on DynamoDB Local: requests and capacity units of the request paths on a
 * partition with 1,024 and with 51,200 batches of history (the older half rolled to S3 segments,
 * the newer half hot). Target: the 51,200-batch figures within 10% of the 1,024-batch ones.
 */
export const scaleSection: BenchSection = {
  name: 'scale',
  async run() {
    const results = new Map<number, Record<Operation, Cost>>();
    for (const batches of SIZES) results.set(batches, await costsAt(batches));
    const [small, large] = SIZES.map((n) => results.get(n)!) as [Record<Operation, Cost>, Record<Operation, Cost>];
    const ratio = (op: Operation) => large[op].units / small[op].units;
    const rows = OPERATIONS.map(
      (op) =>
        `| ${op} | ${small[op].requests} | ${large[op].requests} | ${small[op].units.toFixed(1)} | ${large[op].units.toFixed(1)} | ${ratio(op).toFixed(2)} |`,
    );
    const worst = Math.max(...OPERATIONS.map(ratio));
    return {
      title: 'Cost at scale: requests and capacity units at 1,024 vs 51,200 batches of history',
      table: [
        '| operation (cold container) | requests, 1k | requests, 50k | capacity units, 1k | capacity units, 50k | units ratio 50k/1k |',
        '|---|---:|---:|---:|---:|---:|',
        ...rows,
      ].join('\n'),
      notes: [
        'One partition of one-record batches (~250 B values); the older half rolled to S3 segments by the roller, the newer half hot in DynamoDB. Each operation runs on a fresh engine (no topic or tail cache), as a cold Lambda container would.',
        'Capacity units are what DynamoDB Local reports (ReturnConsumedCapacity TOTAL); the group poll counts the log and partition reads, not the group store.',
        `Target: ratio ≤ 1.1 for every row; worst here ${worst.toFixed(2)}.`,
      ],
      summary: { historyCostRatio50kVs1k: Number(worst.toFixed(2)) },
    };
  },
};

async function costsAt(batches: number): Promise<Record<Operation, Cost>> {
  const meter = meteredClient();
  const tables = { log: `bench-scale-${batches}-log`, metadata: `bench-scale-${batches}-meta` };
  await createTables(meter.client, tables);
  const store = new DynamoStore({ client: meter.client, tables });
  const bucket = process.env.SLUICE_SEGMENT_BUCKET;
  const objects: ObjectStore =
    bucket === undefined || process.env.AWS_ENDPOINT_URL_S3 === undefined
      ? new MemoryObjectStore()
      : new S3ObjectStore({ client: s3ClientFromEnv(), bucket });
  let t = Date.now() - 20 * MINUTE;
  const now = () => t;
  const engine = () => new Sluice({ log: store, metadata: store, tiering: { store, objects }, now });
  const writer = engine();
  await writer.createTopic('scale', { config: { hotRetentionMs: MINUTE } });
  const value = { orderId: 'order-000000', note: 'x'.repeat(200) };
  // The history: one-record batches appended by eight writers at once (as containers would),
  // timestamped a second apart, in sixteen runs; the older half's runs are rolled to S3 as they
  // come, the newer half stays hot.
  const writers = Array.from({ length: 8 }, engine);
  const tiering = new Tiering({ log: store, metadata: store, store, objects, now });
  const start = t;
  const stampOf = (k: number) => start + k * 1000;
  const landed: { offset: number; timestamp: number }[] = [];
  const runs = 16;
  for (let run = 0; run < runs; run++) {
    const first = (run * batches) / runs;
    t = run < runs / 2 ? stampOf(first + batches / runs) : stampOf(batches);
    const metas = await mapWithLimit(range(batches / runs), 32, (i) =>
      writers[i % writers.length]!.append('scale', [{ key: 'k', value, partition: 0, timestamp: stampOf(first + i) }]),
    );
    landed.push(...metas.flat());
    if (run < runs / 2) {
      t += 2 * MINUTE;
      await tiering.runOnce();
    }
  }
  t = stampOf(batches);
  const groups = new ConsumerGroups({
    store: new DynamoGroupStore({ client: meteredClient().client, table: tables.metadata }),
    sluice: writer,
    now,
  });
  const member = await groups.join('g', { topics: ['scale'], autoOffsetReset: 'earliest', sessionTimeoutMs: 60_000 });
  await groups.poll('g', member.memberId, { maxRecords: 1 });
  const tail = await writer.offsetFor('scale', 0, 'latest');
  // Just after batch k's timestamp: what a scan of every record would answer.
  const offsetFor = async (k: number) => {
    const timestamp = stampOf(k) + 1;
    const expected = landed.reduce((n, r) => (r.timestamp >= timestamp ? Math.min(n, r.offset) : n), Infinity);
    const offset = await engine().offsetFor('scale', 0, { timestamp });
    if (offset !== expected) throw new Error(`offset for ${timestamp}: ${offset}, not ${expected}`);
  };
  // The same place between two marks (every 64 of these batches) at both sizes: a look-up reads
  // from the last mark below the target, up to 64 batches, so anywhere else the units differ.
  const betweenMarks = (share: number) => 64 * Math.floor((batches * share) / 64) + 32;
  const measure = async (fn: () => Promise<unknown>): Promise<Cost> => {
    meter.reset();
    await fn();
    const m = meter.read();
    return { requests: m.requests, units: m.read + m.write };
  };
  return {
    describe: await measure(() => engine().describeTopic('scale')),
    produce: await measure(() => engine().append('scale', [{ value, partition: 0 }])),
    'fetch at the tail': await measure(() => engine().read('scale', 0, tail - 1)),
    'fetch from the oldest offset': await measure(() => engine().read('scale', 0, 0, { maxRecords: 100 })),
    'group poll': await measure(() => groups.poll('g', member.memberId, { maxRecords: 100 })),
    'offset for a timestamp in S3': await measure(() => offsetFor(betweenMarks(0.3))),
    'offset for a timestamp in the hot tier': await measure(() => offsetFor(betweenMarks(0.8))),
    // Later than any record (the produce above added one, timestamped now): the high watermark.
    'offset for a timestamp after every record': await measure(async () => {
      const offset = await engine().offsetFor('scale', 0, { timestamp: t + 1 });
      if (offset !== tail + 1) throw new Error(`offset after every record: ${offset}, not ${tail + 1}`);
    }),
  };
}
