import type { BenchSection } from '../section.ts';
import {
  KINESIS_USD_PER_MILLION,
  PRICES_NOTE,
  SQS_USD_PER_MILLION,
  measureCost,
  type ConsumerShape,
  type CostRun,
} from './costPerMessage.ts';

const MESSAGES = Number(process.env.BENCH_S3_TOPIC_MESSAGES ?? 20_000);
const BATCHES = [10, 100, 1000] as const;
/**
 * Messages per row: at least MESSAGES, and at least 200 produce requests, so that a row of 1,000
 * per request does not put a topic's fixed costs (each partition's segments, the group's join)
 * on 20 requests' worth of messages.
 */
const messagesFor = (batch: number) => Math.max(MESSAGES, 200 * batch);
const STORAGES = ['s3', 's3-express', 'dynamodb'] as const;
type Storage = (typeof STORAGES)[number];
/**
 * A throughput consumer, for every row: polls of up to 2,000 records or 4 MB (the response limit
 * of a poll), a commit after each. SQS's figure is its consumer at its best too (batches of 10).
 */
const CONSUMER: ConsumerShape = { maxRecords: 2000, maxBytes: 4 * 1024 * 1024 };

const percentile = (values: readonly number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};

/**
 * Object-storage topics (issue 17): the same ~1 KB order events at 10, 100 and 1,000 records per
 * produce request, to a `storage: "s3"` topic and to a `dynamodb` one, each produced, consumed
 * once by a group, rolled and kept 7 days (`measureCost`, as the `cost` section): records per
 * second of the produce phase, DynamoDB write units per record of the produce requests, S3 PUTs
 * and GETs per 1,000 records, and US dollars per million messages with API Gateway and Lambda
 * included, beside SQS standard (batched by 10) and Kinesis on-demand at their list prices.
 */
export const s3TopicsSection: BenchSection = {
  name: 's3topics',
  async run() {
    const runs: CostRun[] = [];
    for (const batch of BATCHES) {
      for (const storage of STORAGES) {
        runs.push(
          await measureCost({
            storage,
            batch,
            messages: messagesFor(batch),
            prefix: `bench-s3t-${storage}-${batch}`,
            consumer: CONSUMER,
          }),
        );
      }
    }
    const of = (storage: Storage, batch: number) => runs.find((r) => r.storage === storage && r.batch === batch)!;
    const row = (r: CostRun) =>
      `| ${r.storage} | ${r.batch} | ${r.producePerSecond.toFixed(0)} | ${r.produceWriteUnitsPerRecord.toFixed(4)} | ${r.putsPerThousand.toFixed(1)} / ${r.getsPerThousand.toFixed(1)} | ${r.storageOnly.toFixed(4)} | ${r.usd.toFixed(4)} | ${(r.usd / SQS_USD_PER_MILLION).toFixed(2)} | ${percentile(r.produceLatencies, 50).toFixed(1)} / ${percentile(r.produceLatencies, 99).toFixed(1)} |`;
    const s3At100 = of('s3', 100);
    const expressAt100 = of('s3-express', 100);
    const dynamoAt100 = of('dynamodb', 100);
    const summary = {
      s3TopicUsdPerMillion: Number(s3At100.usd.toFixed(4)),
      s3VsDynamoCostRatio: Number((s3At100.usd / dynamoAt100.usd).toFixed(3)),
      s3VsSqsCostRatio: Number((s3At100.usd / SQS_USD_PER_MILLION).toFixed(3)),
      s3VsSqsCostRatioAt1000: Number((of('s3', 1000).usd / SQS_USD_PER_MILLION).toFixed(3)),
      s3TopicWriteUnitsPerRecord: Number(s3At100.produceWriteUnitsPerRecord.toFixed(4)),
      s3ExpressTopicUsdPerMillion: Number(expressAt100.usd.toFixed(4)),
      s3ExpressVsSqsCostRatio: Number((expressAt100.usd / SQS_USD_PER_MILLION).toFixed(3)),
      s3ExpressVsSqsCostRatioAt1000: Number((of('s3-express', 1000).usd / SQS_USD_PER_MILLION).toFixed(3)),
    };
    const phaseTable = (r: CostRun) =>
      Object.entries(r.phases)
        .map(
          ([name, p]) =>
            `${name} ${((p.requests * 1000) / r.messages).toFixed(2)} / ${(((p.write + p.failedConditionUnits) * 1000) / r.messages).toFixed(2)} / ${((p.read * 1000) / r.messages).toFixed(2)}`,
        )
        .join(', ');
    const lineTable = (r: CostRun) =>
      r.lines.map((l) => `  - ${l.item}: ${l.quantity}, $${l.usd.toFixed(4)}`).join('\n');
    return {
      title:
        'Object-storage topics: storage "s3" and "s3-express" against "dynamodb", SQS and Kinesis, per million ~1 KB messages',
      table: [
        '| storage | records per request | produce records/s (local) | write units per record (produce) | S3 PUT / GET per 1,000 records | USD per million: DynamoDB and S3 | USD per million: all (API Gateway, Lambda) | × SQS | produce ms p50 / p99 (local) |',
        '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
        ...runs.map(row),
        `| SQS standard, batched by 10 (send, receive, delete) | | | | | | ${SQS_USD_PER_MILLION.toFixed(4)} | 1.00 | |`,
        `| Kinesis on-demand (1 GB in and out; plus stream-hours) | | | | | | ${KINESIS_USD_PER_MILLION.toFixed(4)} | ${(KINESIS_USD_PER_MILLION / SQS_USD_PER_MILLION).toFixed(2)} | |`,
      ].join('\n'),
      notes: [
        `Each row: ${MESSAGES.toLocaleString('en')} order events (${messagesFor(1000).toLocaleString('en')} at 1,000 per request: 200 requests) of ${s3At100.messageBytes.toFixed(0)} B (JSON, zstd) produced in requests of that many records to one partition each (4 partitions), consumed once by a consumer group polling up to ${CONSUMER.maxRecords.toLocaleString('en')} records or ${CONSUMER.maxBytes / 1024 / 1024} MB and committing after each poll, rolled to S3 segments after the 1 h hot retention, kept 7 days; every DynamoDB capacity unit and S3 operation counted, scaled to a million.`,
        's3 topics: each produce request writes one S3 object (every partition’s batches of the request) and one pointer item per batch; batch objects stay in S3 until the roller’s hourly sweep after their batches rolled (priced at 2.5 h: the 1 h hot retention, the sweep’s 30 min claim window, up to an hour to the next sweep), segments 7 days. s3-express topics: the same, with the batch objects in an S3 Express One Zone directory bucket (the S3 emulator’s second bucket stands in for it here; its prices are applied). dynamodb topics keep the records in the batch items until their TTL (25 h).',
        `At 100 records per request: s3 ${s3At100.usd.toFixed(4)} vs dynamodb ${dynamoAt100.usd.toFixed(4)} USD per million (×${summary.s3VsDynamoCostRatio}), vs SQS ${SQS_USD_PER_MILLION.toFixed(4)} (×${summary.s3VsSqsCostRatio}); s3-express ${expressAt100.usd.toFixed(4)} (×${summary.s3ExpressVsSqsCostRatio} SQS); produce write units per record ${summary.s3TopicWriteUnitsPerRecord}.`,
        'Speeds and latencies are DynamoDB Local and the S3 emulator on this machine: they compare the two storage kinds in one run and say little about AWS, where an S3 PUT takes tens of milliseconds and a DynamoDB write a few.',
        'Lambda duration is assumed (100 ms at 512 MB per request), not measured; API Gateway counts every produce, poll and commit request.',
        PRICES_NOTE,
        `Line items at 100 records per request, s3:\n${lineTable(s3At100)}`,
        `Line items at 1,000 records per request, s3-express:\n${lineTable(of('s3-express', 1000))}`,
        `DynamoDB requests / write units / read units per 1,000 messages by phase at 1,000 per request, s3-express: ${phaseTable(of('s3-express', 1000))}.`,
      ],
      summary,
    };
  },
};
