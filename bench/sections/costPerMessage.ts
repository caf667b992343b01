import { createTables } from '../../core/adapters/dynamodb/createTables.ts';
import { DynamoStore } from '../../core/adapters/dynamodb/dynamoStore.ts';
import { ConsumerGroups } from '../../core/groups/consumerGroups.ts';
import { DynamoGroupStore } from '../../core/groups/dynamoGroupStore.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { MemoryObjectStore, S3ObjectStore, s3ClientFromEnv, type ObjectStore } from '../../core/tiering/objectStore.ts';
import { Tiering } from '../../core/tiering/tiering.ts';
import { meteredClient } from '../meteredClient.ts';
import { orderEvents } from '../orderEvents.ts';
import type { BenchSection } from '../section.ts';

/** us-east-1 on-demand list prices (../shared/docs/prices.md), in USD. */
export const PRICES = {
  dynamoWritePerMillion: 0.625,
  dynamoReadPerMillion: 0.125,
  dynamoStorageGbMonth: 0.25,
  s3PutPerThousand: 0.005,
  s3GetPerThousand: 0.0004,
  s3StorageGbMonth: 0.023,
  lambdaPerMillionRequests: 0.2,
  lambdaGbSecond: 0.0000133334,
  httpApiPerMillion: 1.0,
  webSocketMessagesPerMillion: 1.0,
  webSocketConnectionMinutesPerMillion: 0.25,
  sqsPerMillionRequests: 0.4,
  kinesisPerGbIn: 0.08,
  kinesisPerGbOut: 0.04,
  kinesisStreamHour: 0.04,
} as const;

const MESSAGES = Number(process.env.BENCH_COST_MESSAGES ?? 20_000);
const BATCH = 100;
const PARTITIONS = 4;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const MONTH_HOURS = 730;
const GB = 1024 ** 3;
/** Lambda duration is not measured locally (local speed is not AWS's): an assumed figure, stated in the output. */
const ASSUMED_LAMBDA = { ms: 100, mb: 512 };

interface Line {
  readonly item: string;
  readonly quantity: string;
  readonly usd: number;
}

/**
 * Cost per message: 20,000 ~1 KB order events produced in batches of 100 (zstd) over 4 partitions,
 * consumed once by a consumer group (committing after each poll), rolled to S3 after the hot
 * retention (1 h) and kept 7 days, then removed by retention. Every DynamoDB request's capacity and
 * every S3 operation is counted; dollars per million messages follow from the list prices, beside
 * SQS standard and Kinesis on-demand for the same traffic.
 */
export const costPerMessageSection: BenchSection = {
  name: 'cost',
  async run() {
    const meter = meteredClient();
    const tables = { log: 'bench-cost-log', metadata: 'bench-cost-meta' };
    await createTables(meter.client, tables);
    const store = new DynamoStore({ client: meter.client, tables });
    const objects = countingObjects(
      process.env.SLUICE_SEGMENT_BUCKET === undefined || process.env.AWS_ENDPOINT_URL_S3 === undefined
        ? new MemoryObjectStore()
        : new S3ObjectStore({ client: s3ClientFromEnv(), bucket: process.env.SLUICE_SEGMENT_BUCKET }),
    );
    let t = Date.now();
    const now = () => t;
    const tiering = { store, objects };
    const sluice = new Sluice({ log: store, metadata: store, tiering, now });
    const groups = new ConsumerGroups({
      store: new DynamoGroupStore({ client: meter.client, table: tables.metadata }),
      sluice,
      now,
    });
    const roller = new Tiering({ log: store, metadata: store, store, objects, now });
    await sluice.createTopic('orders', { config: { partitions: PARTITIONS, compression: 'zstd' } });
    const member = await groups.join('billing', {
      topics: ['orders'],
      sessionTimeoutMs: 60_000,
      autoOffsetReset: 'earliest',
    });
    const events = orderEvents(MESSAGES, 29);
    const messageBytes = events.reduce((n, e) => n + JSON.stringify(e.value).length + e.key.length, 0) / MESSAGES;

    const phases: Record<string, ReturnType<typeof meter.read>> = {};
    const api = { produce: 0, poll: 0, commit: 0 };
    // Produce: one request per 100 events, to one partition each (as a batching producer sends).
    meter.reset();
    for (let i = 0; i < MESSAGES; i += BATCH) {
      const partition = (i / BATCH) % PARTITIONS;
      await sluice.append(
        'orders',
        events.slice(i, i + BATCH).map((e) => ({ key: e.key, value: e.value, partition })),
      );
      api.produce++;
      t += 50;
    }
    phases.produce = meter.read();
    // Consume once: poll up to 500 records, commit what was polled, until everything was read.
    meter.reset();
    for (let consumed = 0; consumed < MESSAGES;) {
      const polled = await groups.poll('billing', member.memberId, { maxRecords: 500 });
      api.poll++;
      if (api.poll > MESSAGES) throw new Error(`the consumer is stuck after ${consumed} records`);
      if (polled.records.length === 0) continue;
      consumed += polled.records.length;
      const next = new Map<number, number>();
      for (const r of polled.records) next.set(r.partition, r.offset + 1);
      await groups.commit('billing', {
        memberId: member.memberId,
        generation: polled.generation,
        offsets: [...next].map(([partition, offset]) => ({ topic: 'orders', partition, offset })),
      });
      api.commit++;
    }
    phases.consume = meter.read();
    // Roll after the hot retention, then retention after 7 days (every hot copy has expired by TTL then).
    t += HOUR + MINUTE;
    meter.reset();
    for (let run = 0; (await roller.runOnce()).some((r) => r.rolled > 0); run++) {
      if (run > 10) throw new Error('the roller keeps rolling');
    }
    phases.roll = meter.read();
    const segmentBytes = objects.storedBytes();
    const rollOps = objects.counts();
    t += 7 * DAY;
    meter.reset();
    await roller.runOnce();
    phases.retention = meter.read();

    const total = (k: 'read' | 'write' | 'requests' | 'failedConditionUnits') =>
      Object.values(phases).reduce((n, p) => n + p[k], 0);
    const writeUnits = total('write') + total('failedConditionUnits');
    const readUnits = total('read');
    const perMillion = 1_000_000 / MESSAGES;
    // Hot copies (the same compressed batches the segments hold) stay until their TTL: append +
    // 1 h hot retention + 24 h margin. Segments stay 7 days.
    const dynamoStoredBytes = segmentBytes;
    const invocations = api.produce + api.poll + api.commit;
    const lines: Line[] = [
      {
        item: 'DynamoDB write units (reservations, batches, group commits and positions, roll state)',
        quantity: `${(writeUnits * perMillion).toFixed(0)} WRU`,
        usd: ((writeUnits * perMillion) / 1e6) * PRICES.dynamoWritePerMillion,
      },
      {
        item: 'DynamoDB read units (polls, group state, roll scans)',
        quantity: `${(readUnits * perMillion).toFixed(0)} RRU`,
        usd: ((readUnits * perMillion) / 1e6) * PRICES.dynamoReadPerMillion,
      },
      {
        item: 'DynamoDB storage: hot copies for 25 h (hot retention + TTL margin)',
        quantity: `${((dynamoStoredBytes * perMillion) / GB).toFixed(3)} GB × 25 h`,
        usd: ((dynamoStoredBytes * perMillion) / GB) * (25 / MONTH_HOURS) * PRICES.dynamoStorageGbMonth,
      },
      {
        item: 'S3 PUT (segments and claim lists)',
        quantity: `${(rollOps.puts * perMillion).toFixed(0)}`,
        usd: ((rollOps.puts * perMillion) / 1000) * PRICES.s3PutPerThousand,
      },
      {
        item: 'S3 GET (ranged reads)',
        quantity: `${(rollOps.gets * perMillion).toFixed(0)}`,
        usd: ((rollOps.gets * perMillion) / 1000) * PRICES.s3GetPerThousand,
      },
      {
        item: 'S3 storage for 7 days',
        quantity: `${((segmentBytes * perMillion) / GB).toFixed(3)} GB × 7 d`,
        usd: ((segmentBytes * perMillion) / GB) * ((7 * 24) / MONTH_HOURS) * PRICES.s3StorageGbMonth,
      },
      {
        item: 'API Gateway HTTP API requests (produce, poll, commit)',
        quantity: `${(invocations * perMillion).toFixed(0)}`,
        usd: ((invocations * perMillion) / 1e6) * PRICES.httpApiPerMillion,
      },
      {
        item: 'Lambda requests',
        quantity: `${(invocations * perMillion).toFixed(0)}`,
        usd: ((invocations * perMillion) / 1e6) * PRICES.lambdaPerMillionRequests,
      },
      {
        item: `Lambda duration (assumed ${ASSUMED_LAMBDA.ms} ms at ${ASSUMED_LAMBDA.mb} MB arm64 per request)`,
        quantity: `${((invocations * perMillion * ASSUMED_LAMBDA.ms * ASSUMED_LAMBDA.mb) / 1024 / 1000).toFixed(0)} GB-s`,
        usd: ((invocations * perMillion * ASSUMED_LAMBDA.ms * ASSUMED_LAMBDA.mb) / 1024 / 1000) * PRICES.lambdaGbSecond,
      },
    ];
    const usd = lines.reduce((n, l) => n + l.usd, 0);
    const storageOnly = lines.slice(0, 6).reduce((n, l) => n + l.usd, 0);
    const sqs = 0.3 * PRICES.sqsPerMillionRequests; // send + receive + delete, batched by 10
    const gbPerMillion = (1_000_000 * 1024) / GB; // Kinesis rounds each record up to 1 KB
    const kinesis = gbPerMillion * (PRICES.kinesisPerGbIn + PRICES.kinesisPerGbOut);
    return {
      title: 'Cost per million ~1 KB messages: produced in batches of 100, consumed once, kept 7 days',
      table: [
        '| line item | per million messages | USD |',
        '|---|---:|---:|',
        ...lines.map((l) => `| ${l.item} | ${l.quantity} | ${l.usd.toFixed(4)} |`),
        `| **Sluice, total** | | **${usd.toFixed(4)}** |`,
        `| Sluice, DynamoDB and S3 only (no HTTP) | | ${storageOnly.toFixed(4)} |`,
        `| SQS standard, batched by 10 (send, receive, delete: 0.3 requests per message) | 300,000 requests | ${sqs.toFixed(4)} |`,
        `| Kinesis on-demand (1 GB in + 1 GB out; plus $${(PRICES.kinesisStreamHour * MONTH_HOURS).toFixed(0)} per stream-month) | ${gbPerMillion.toFixed(3)} GB each way | ${kinesis.toFixed(4)} |`,
      ].join('\n'),
      notes: [
        `Measured on DynamoDB Local with ReturnConsumedCapacity over ${MESSAGES.toLocaleString('en')} order events of ${messageBytes.toFixed(0)} B (JSON) on ${PARTITIONS} partitions, then scaled to a million; S3 operations counted at the object store.`,
        `Requests: ${api.produce} produce, ${api.poll} polls and ${api.commit} commits. Per phase, DynamoDB requests / write units / read units per 1,000 messages: ${Object.entries(
          phases,
        )
          .map(
            ([name, p]) =>
              `${name} ${p.requests} / ${(((p.write + p.failedConditionUnits) * 1000) / MESSAGES).toFixed(0)} / ${((p.read * 1000) / MESSAGES).toFixed(0)}`,
          )
          .join(', ')}.`,
        `Prices (us-east-1 on-demand, ../shared/docs/prices.md): DynamoDB $${PRICES.dynamoWritePerMillion}/M write units, $${PRICES.dynamoReadPerMillion}/M read units, $${PRICES.dynamoStorageGbMonth}/GB-month; S3 $${PRICES.s3PutPerThousand}/1,000 PUT, $${PRICES.s3GetPerThousand}/1,000 GET, $${PRICES.s3StorageGbMonth}/GB-month; HTTP API $${PRICES.httpApiPerMillion}/M; Lambda $${PRICES.lambdaPerMillionRequests}/M requests, $${PRICES.lambdaGbSecond}/GB-s; SQS $${PRICES.sqsPerMillionRequests}/M requests; Kinesis $${PRICES.kinesisPerGbIn}/GB in, $${PRICES.kinesisPerGbOut}/GB out, $${PRICES.kinesisStreamHour}/stream-hour.`,
        'Rolled hot copies expire by TTL (free) instead of being deleted; the roller and lag reporter run on schedules whatever the traffic (a fixed monthly cost, not per message, left out).',
      ],
      summary: { usdPerMillionMessages: Number(usd.toFixed(4)) },
    };
  },
};

/** An object store that counts operations and the bytes of the objects it holds. */
function countingObjects(inner: ObjectStore): ObjectStore & {
  counts(): { puts: number; gets: number; deletes: number };
  storedBytes(): number;
} {
  let puts = 0;
  let gets = 0;
  let deletes = 0;
  const sizes = new Map<string, number>();
  return {
    async put(key, bytes) {
      puts++;
      sizes.set(key, bytes.length);
      await inner.put(key, bytes);
    },
    async getRange(key, start, end) {
      gets++;
      return inner.getRange(key, start, end);
    },
    async delete(keys) {
      deletes += keys.length;
      await inner.delete(keys);
    },
    list: (prefix) => inner.list(prefix),
    counts: () => ({ puts, gets, deletes }),
    storedBytes: () => [...sizes.values()].reduce((n, b) => n + b, 0),
  };
}
