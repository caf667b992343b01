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
  // S3 Express One Zone: prices.md's PUT, GET and storage; the per-GB upload and retrieval charges
  // are from AWS's S3 FAQ (not in prices.md), and counted too.
  s3ExpressPutPerThousand: 0.00113,
  s3ExpressGetPerThousand: 0.00003,
  s3ExpressStorageGbMonth: 0.11,
  s3ExpressUploadPerGb: 0.0032,
  s3ExpressRetrievalPerGb: 0.0006,
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

export interface Line {
  readonly item: string;
  readonly quantity: string;
  readonly usd: number;
}

/** What one cost run measured (see `measureCost`). */
/** How the measured consumer polls: Kafka's defaults (500 records, 1 MB), or a throughput consumer's. */
export interface ConsumerShape {
  readonly maxRecords: number;
  readonly maxBytes: number;
}

export const KAFKA_DEFAULT_CONSUMER: ConsumerShape = { maxRecords: 500, maxBytes: 1024 * 1024 };

export interface CostRun {
  readonly storage: 'dynamodb' | 's3' | 's3-express';
  readonly batch: number;
  readonly messages: number;
  readonly messageBytes: number;
  readonly lines: Line[];
  /** USD per million messages, everything (DynamoDB, S3, API Gateway, Lambda). */
  readonly usd: number;
  /** USD per million messages, DynamoDB and S3 only. */
  readonly storageOnly: number;
  /** DynamoDB write units per record of the produce requests alone. */
  readonly produceWriteUnitsPerRecord: number;
  /** S3 PUTs and GETs per 1,000 records, over the whole run (produce, consume, roll). */
  readonly putsPerThousand: number;
  readonly getsPerThousand: number;
  /** Records per second of the produce phase (DynamoDB Local and the S3 emulator: ratios only). */
  readonly producePerSecond: number;
  /** Milliseconds of each produce request. */
  readonly produceLatencies: number[];
  readonly phases: Record<string, ReturnType<ReturnType<typeof meteredClient>['read']>>;
  readonly api: { produce: number; poll: number; commit: number };
}

/**
 * One cost run: `messages` ~1 KB order events produced in requests of `batch` (zstd) over 4
 * partitions to a topic of `storage`, consumed once by a consumer group (committing after each
 * poll), rolled to S3 after the hot retention (1 h) and kept 7 days, then removed by retention.
 * Every DynamoDB request's capacity and every S3 operation is counted; dollars per million
 * messages follow from the list prices.
 */
export async function measureCost(options: {
  readonly storage: 'dynamodb' | 's3' | 's3-express';
  readonly batch: number;
  readonly messages: number;
  readonly prefix: string;
  readonly consumer?: ConsumerShape;
}): Promise<CostRun> {
  const { storage, batch, messages } = options;
  const consumer = options.consumer ?? KAFKA_DEFAULT_CONSUMER;
  const meter = meteredClient();
  const tables = { log: `${options.prefix}-log`, metadata: `${options.prefix}-meta` };
  await createTables(meter.client, tables);
  const store = new DynamoStore({ client: meter.client, tables });
  const bucketStore = (bucket: string | undefined) =>
    countingObjects(
      bucket === undefined || process.env.AWS_ENDPOINT_URL_S3 === undefined
        ? new MemoryObjectStore()
        : new S3ObjectStore({ client: s3ClientFromEnv(), bucket }),
    );
  const objects = bucketStore(process.env.SLUICE_SEGMENT_BUCKET);
  // The directory bucket of s3-express topics: the emulator's second bucket stands in for it.
  const express = storage === 's3-express' ? bucketStore(process.env.SLUICE_EXPRESS_BUCKET) : undefined;
  const expressOption = express === undefined ? {} : { expressObjects: express };
  let t = Date.now();
  const now = () => t;
  const tiering = { store, objects, ...expressOption };
  const sluice = new Sluice({ log: store, metadata: store, tiering, now });
  // The consumer's engine is its own, as the groups function's container is not the produce
  // function's: its reads do not hit the producer's cache of the objects it wrote.
  const groups = new ConsumerGroups({
    store: new DynamoGroupStore({ client: meter.client, table: tables.metadata }),
    sluice: new Sluice({ log: store, metadata: store, tiering, now }),
    now,
  });
  const roller = new Tiering({ log: store, metadata: store, store, objects, ...expressOption, now });
  const topic = await sluice.createTopic('orders', {
    config: { partitions: PARTITIONS, compression: 'zstd', storage },
  });
  const member = await groups.join('billing', {
    topics: ['orders'],
    sessionTimeoutMs: 60_000,
    autoOffsetReset: 'earliest',
  });
  const events = orderEvents(messages, 29);
  const messageBytes = events.reduce((n, e) => n + JSON.stringify(e.value).length + e.key.length, 0) / messages;

  // A partition's first append starts its sequencer (a refused reservation and a write, once in
  // the partition's life): one warm-up record per partition first, so that the metered requests
  // are those of a topic in use, which a million messages would be.
  for (let partition = 0; partition < PARTITIONS; partition++)
    await sluice.append('orders', [{ key: events[0]!.key, value: events[0]!.value, partition }]);
  const phases: Record<string, ReturnType<typeof meter.read>> = {};
  const api = { produce: 0, poll: 0, commit: 0 };
  // Produce: one request per `batch` events, to one partition each (as a batching producer sends).
  meter.reset();
  const produceLatencies: number[] = [];
  const produceStart = performance.now();
  // The clock moves 10 s over the whole phase (50 ms a request at 200 requests), within the
  // group member's session, whatever the request size.
  const tick = Math.max(1, Math.floor(10_000 / Math.ceil(messages / batch)));
  for (let i = 0; i < messages; i += batch) {
    const partition = (i / batch) % PARTITIONS;
    const started = performance.now();
    await sluice.append(
      'orders',
      events.slice(i, i + batch).map((e) => ({ key: e.key, value: e.value, partition })),
    );
    produceLatencies.push(performance.now() - started);
    api.produce++;
    t += tick;
  }
  const producePerSecond = messages / ((performance.now() - produceStart) / 1000);
  phases.produce = meter.read();
  // Batch objects of s3 topics are in the segment bucket; of s3-express topics, in the directory bucket.
  const batchObjectBytes = objects.storedBytes();
  const expressBatchBytes = express?.storedBytes() ?? 0;
  // Consume once: poll (the consumer's shape), commit what was polled, until everything was read.
  meter.reset();
  for (let consumed = 0; consumed < messages + PARTITIONS;) {
    const polled = await groups.poll('billing', member.memberId, {
      maxRecords: consumer.maxRecords,
      maxBytes: consumer.maxBytes,
    });
    api.poll++;
    if (api.poll > messages) throw new Error(`the consumer is stuck after ${consumed} records`);
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
  // Roll after the hot retention, then (s3 topics) the daily sweep of batch objects, then
  // retention after 7 days (every hot copy has expired by TTL then).
  t += HOUR + MINUTE;
  meter.reset();
  for (let run = 0; (await roller.runOnce()).some((r) => r.rolled > 0); run++) {
    if (run > 10) throw new Error('the roller keeps rolling');
  }
  // A log's last batch stays hot; what the sweep can take once the next appends roll it.
  t += DAY;
  if (storage !== 'dynamodb') await roller.sweepBatchObjects(topic);
  phases.roll = meter.read();
  const segmentBytes = objects.storedBytes();
  t += 7 * DAY;
  meter.reset();
  await roller.runOnce();
  phases.retention = meter.read();
  const ops = objects.counts();
  const expressOps = express?.counts() ?? { puts: 0, gets: 0, deletes: 0, bytesPut: 0, bytesGot: 0 };

  const total = (k: 'read' | 'write' | 'requests' | 'failedConditionUnits') =>
    Object.values(phases).reduce((n, p) => n + p[k], 0);
  const writeUnits = total('write') + total('failedConditionUnits');
  const readUnits = total('read');
  const perMillion = 1_000_000 / messages;
  // Hot copies stay until their TTL: append + 1 h hot retention + 24 h margin. For a dynamodb
  // topic they hold the records (as compressed as the segments); for an s3 topic, pointers, and
  // the batch objects stay in S3 until the roller's hourly sweep takes them: hot retention (1 h),
  // the claim window (30 min) and up to an hour, BATCH_OBJECT_HOURS. Segments stay 7 days.
  const pointerBytes = storage === 'dynamodb' ? 0 : (messages / batch) * POINTER_ITEM_BYTES;
  const dynamoStoredBytes = storage === 'dynamodb' ? segmentBytes - batchObjectBytes : pointerBytes;
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
      item: `DynamoDB storage: hot ${storage === 'dynamodb' ? 'copies' : 'pointers'} for 25 h (hot retention + TTL margin)`,
      quantity: `${((dynamoStoredBytes * perMillion) / GB).toFixed(3)} GB × 25 h`,
      usd: ((dynamoStoredBytes * perMillion) / GB) * (25 / MONTH_HOURS) * PRICES.dynamoStorageGbMonth,
    },
    {
      item: `S3 PUT (${storage === 's3' ? 'batch objects, ' : ''}segments and claim lists)`,
      quantity: `${(ops.puts * perMillion).toFixed(0)}`,
      usd: ((ops.puts * perMillion) / 1000) * PRICES.s3PutPerThousand,
    },
    {
      item: 'S3 GET (ranged reads)',
      quantity: `${(ops.gets * perMillion).toFixed(0)}`,
      usd: ((ops.gets * perMillion) / 1000) * PRICES.s3GetPerThousand,
    },
    {
      item: `S3 storage: segments for 7 days${storage === 's3' ? ', batch objects for 2.5 h' : ''}`,
      quantity: `${(((segmentBytes - batchObjectBytes) * perMillion) / GB).toFixed(3)} GB × 7 d`,
      usd:
        (((segmentBytes - batchObjectBytes) * perMillion) / GB) * ((7 * 24) / MONTH_HOURS) * PRICES.s3StorageGbMonth +
        ((batchObjectBytes * perMillion) / GB) * (BATCH_OBJECT_HOURS / MONTH_HOURS) * PRICES.s3StorageGbMonth,
    },
    ...(express === undefined
      ? []
      : [
          {
            item: 'S3 Express One Zone PUT and GET (batch objects)',
            quantity: `${(expressOps.puts * perMillion).toFixed(0)} / ${(expressOps.gets * perMillion).toFixed(0)}`,
            usd:
              ((expressOps.puts * perMillion) / 1000) * PRICES.s3ExpressPutPerThousand +
              ((expressOps.gets * perMillion) / 1000) * PRICES.s3ExpressGetPerThousand,
          },
          {
            item: 'S3 Express One Zone upload and retrieval (per GB)',
            quantity: `${((expressOps.bytesPut * perMillion) / GB).toFixed(3)} / ${((expressOps.bytesGot * perMillion) / GB).toFixed(3)} GB`,
            usd:
              ((expressOps.bytesPut * perMillion) / GB) * PRICES.s3ExpressUploadPerGb +
              ((expressOps.bytesGot * perMillion) / GB) * PRICES.s3ExpressRetrievalPerGb,
          },
          {
            item: `S3 Express One Zone storage: batch objects for ${BATCH_OBJECT_HOURS} h`,
            quantity: `${((expressBatchBytes * perMillion) / GB).toFixed(3)} GB × ${BATCH_OBJECT_HOURS} h`,
            usd:
              ((expressBatchBytes * perMillion) / GB) *
              (BATCH_OBJECT_HOURS / MONTH_HOURS) *
              PRICES.s3ExpressStorageGbMonth,
          },
        ]),
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
  return {
    storage,
    batch,
    messages,
    messageBytes,
    lines,
    usd: lines.reduce((n, l) => n + l.usd, 0),
    storageOnly: lines
      .filter((l) => l.item.startsWith('DynamoDB') || l.item.startsWith('S3'))
      .reduce((n, l) => n + l.usd, 0),
    produceWriteUnitsPerRecord: (phases.produce.write + phases.produce.failedConditionUnits) / messages,
    putsPerThousand: ((ops.puts + expressOps.puts) * 1000) / messages,
    getsPerThousand: ((ops.gets + expressOps.gets) * 1000) / messages,
    producePerSecond,
    produceLatencies,
    phases,
    api,
  };
}

/** How long a batch object stays in S3: the hot retention (1 h), the sweep's claim window (30 min), up to an hour to the next sweep. */
const BATCH_OBJECT_HOURS = 2.5;

/** A batch item holding a pointer, as the log table stores it (keys, counts, times, pointer): about this many bytes. */
const POINTER_ITEM_BYTES = 250;

/** SQS standard, batched by 10: send + receive + delete = 0.3 requests per message. */
export const SQS_USD_PER_MILLION = 0.3 * PRICES.sqsPerMillionRequests;
const GB_PER_MILLION_KINESIS = (1_000_000 * 1024) / GB; // Kinesis rounds each record up to 1 KB
/** Kinesis on-demand: 1 GB in + 1 GB out per million 1 KB records (stream-hours on top). */
export const KINESIS_USD_PER_MILLION = GB_PER_MILLION_KINESIS * (PRICES.kinesisPerGbIn + PRICES.kinesisPerGbOut);

/** The list prices a cost figure used, for its notes. */
export const PRICES_NOTE = `Prices (us-east-1 on-demand, ../shared/docs/prices.md): DynamoDB $${PRICES.dynamoWritePerMillion}/M write units, $${PRICES.dynamoReadPerMillion}/M read units, $${PRICES.dynamoStorageGbMonth}/GB-month; S3 $${PRICES.s3PutPerThousand}/1,000 PUT, $${PRICES.s3GetPerThousand}/1,000 GET, $${PRICES.s3StorageGbMonth}/GB-month; S3 Express One Zone $${PRICES.s3ExpressPutPerThousand}/1,000 PUT, $${PRICES.s3ExpressGetPerThousand}/1,000 GET, $${PRICES.s3ExpressStorageGbMonth}/GB-month, $${PRICES.s3ExpressUploadPerGb}/GB up, $${PRICES.s3ExpressRetrievalPerGb}/GB down (the per-GB charges from AWS's S3 FAQ); HTTP API $${PRICES.httpApiPerMillion}/M; Lambda $${PRICES.lambdaPerMillionRequests}/M requests, $${PRICES.lambdaGbSecond}/GB-s; SQS $${PRICES.sqsPerMillionRequests}/M requests; Kinesis $${PRICES.kinesisPerGbIn}/GB in, $${PRICES.kinesisPerGbOut}/GB out, $${PRICES.kinesisStreamHour}/stream-hour.`;

/**
 * Cost per message: 20,000 ~1 KB order events produced in batches of 100 (zstd) over 4 partitions,
 * consumed once by a consumer group (committing after each poll), rolled to S3 after the hot
 * retention (1 h) and kept 7 days, then removed by retention (`measureCost`), beside SQS standard
 * and Kinesis on-demand for the same traffic.
 */
export const costPerMessageSection: BenchSection = {
  name: 'cost',
  async run() {
    const run = await measureCost({ storage: 'dynamodb', batch: BATCH, messages: MESSAGES, prefix: 'bench-cost' });
    const { lines, usd, storageOnly, phases, api, messageBytes } = run;
    return {
      title: 'Cost per million ~1 KB messages: produced in batches of 100, consumed once, kept 7 days',
      table: [
        '| line item | per million messages | USD |',
        '|---|---:|---:|',
        ...lines.map((l) => `| ${l.item} | ${l.quantity} | ${l.usd.toFixed(4)} |`),
        `| **Sluice, total** | | **${usd.toFixed(4)}** |`,
        `| Sluice, DynamoDB and S3 only (no HTTP) | | ${storageOnly.toFixed(4)} |`,
        `| SQS standard, batched by 10 (send, receive, delete: 0.3 requests per message) | 300,000 requests | ${SQS_USD_PER_MILLION.toFixed(4)} |`,
        `| Kinesis on-demand (1 GB in + 1 GB out; plus $${(PRICES.kinesisStreamHour * MONTH_HOURS).toFixed(0)} per stream-month) | ${GB_PER_MILLION_KINESIS.toFixed(3)} GB each way | ${KINESIS_USD_PER_MILLION.toFixed(4)} |`,
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
        PRICES_NOTE,
        'Rolled hot copies expire by TTL (free) instead of being deleted; the roller and lag reporter run on schedules whatever the traffic (a fixed monthly cost, not per message, left out).',
      ],
      summary: { usdPerMillionMessages: Number(usd.toFixed(4)) },
    };
  },
};

/** An object store that counts operations and the bytes of the objects it holds. */
function countingObjects(inner: ObjectStore): ObjectStore & {
  counts(): { puts: number; gets: number; deletes: number; bytesPut: number; bytesGot: number };
  storedBytes(): number;
} {
  let puts = 0;
  let gets = 0;
  let deletes = 0;
  let bytesPut = 0;
  let bytesGot = 0;
  const sizes = new Map<string, number>();
  return {
    async put(key, bytes) {
      puts++;
      bytesPut += bytes.length;
      sizes.set(key, bytes.length);
      await inner.put(key, bytes);
    },
    async getRange(key, start, end) {
      gets++;
      const got = await inner.getRange(key, start, end);
      bytesGot += got.length;
      return got;
    },
    async delete(keys) {
      deletes += keys.length;
      await inner.delete(keys);
    },
    list: (prefix) => inner.list(prefix),
    counts: () => ({ puts, gets, deletes, bytesPut, bytesGot }),
    storedBytes: () => [...sizes.values()].reduce((n, b) => n + b, 0),
  };
}
