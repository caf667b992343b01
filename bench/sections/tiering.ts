import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTables } from '../../core/adapters/dynamodb/createTables.ts';
import { DynamoStore } from '../../core/adapters/dynamodb/dynamoStore.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { S3ObjectStore, s3ClientFromEnv } from '../../core/tiering/objectStore.ts';
import { Tiering } from '../../core/tiering/tiering.ts';
import { orderEvents } from '../orderEvents.ts';
import type { BenchSection } from '../section.ts';

/** List prices (us-east-1, Standard classes), per GB-month. */
const PRICES = { dynamodbStandard: 0.25, s3Standard: 0.023 };

/**
 * Replay of 1 KB order events from S3 segments against the same records in the hot tier, on
 * DynamoDB Local and s3rver; S3 GETs per 1,000 records replayed; and what 1 TB of history costs
 * per month in each tier at list prices, using the compression measured here.
 */
export const tieringSection: BenchSection = {
  name: 'tiering',
  async run(client: DynamoDBClient) {
    const bucket = process.env.SLUICE_SEGMENT_BUCKET;
    if (bucket === undefined) throw new Error('the tiering section needs SLUICE_SEGMENT_BUCKET and an S3 endpoint');
    const tables = { log: 'bench-tier-log', metadata: 'bench-tier-meta' };
    await createTables(client, tables);
    const store = new DynamoStore({ client, tables });
    const objects = new S3ObjectStore({ client: s3ClientFromEnv(), bucket });
    const writer = new Sluice({ log: store, metadata: store, tiering: { store, objects } });
    const total = 5000;
    const events = orderEvents(total, 5).map((e) => ({ key: e.key, value: e.value, partition: 0 }));
    const rawBytes = events.reduce((n, e) => n + JSON.stringify(e.value).length, 0);
    await writer.createTopic('bench-hot', { config: { compression: 'zstd' } });
    await writer.createTopic('bench-cold', { config: { compression: 'zstd', hotRetentionBytes: 1 } });
    for (let i = 0; i < total; i += 100) {
      await writer.append('bench-hot', events.slice(i, i + 100));
      await writer.append('bench-cold', events.slice(i, i + 100));
    }
    // The last batch stays hot by design; the one run moves the rest (in segments of up to 2,000 batches).
    const tiering = new Tiering({ log: store, metadata: store, store, objects, minRollAgeMs: 0 }); // one writer: safe
    const reports = await tiering.runOnce();
    const segments = reports.reduce((n, r) => n + r.rolled, 0);

    const replay = async (topic: string): Promise<{ rate: number; records: number }> => {
      const reader = new Sluice({ log: store, metadata: store, tiering: { store, objects } }); // cold caches
      let records = 0;
      const t0 = performance.now();
      for (let offset = 0; ;) {
        const page = await reader.read(topic, 0, offset, { maxRecords: 500 });
        records += page.records.length;
        offset = page.nextOffset;
        if (offset >= page.highWatermark) break;
      }
      return { rate: records / ((performance.now() - t0) / 1000), records };
    };
    const hot = await replay('bench-hot');
    objects.gets = 0;
    const cold = await replay('bench-cold');
    const getsPer1000 = (objects.gets / cold.records) * 1000;
    const described = (await writer.describeTopic('bench-cold')).partitions[0]!;
    const segmentRecords = await store.listSegments(
      `${(await writer.listTopics()).find((t) => t.name === 'bench-cold')!.topicId}#0`,
    );
    const storedBytes = segmentRecords.reduce((n, s) => n + s.storedBytes, 0);
    const tieredRaw = segmentRecords.reduce((n, s) => n + s.sizeBytes, 0);
    const ratio = storedBytes / tieredRaw; // compressed / uncompressed
    const tb = 1024; // GB of raw history
    const hotMonthly = tb * ratio * PRICES.dynamodbStandard;
    const tieredMonthly = tb * ratio * PRICES.s3Standard;
    return {
      title: `Tiered storage: replay of ${total} order events (~${Math.round(rawBytes / total)} B) from S3 segments vs the hot tier`,
      table: [
        '| measurement | value |',
        '|---|---:|',
        `| segments written by one roll | ${segments} (tiered through offset ${described.tieredThrough}) |`,
        `| replay from the hot tier (records/s) | ${hot.rate.toFixed(0)} |`,
        `| replay from S3 segments (records/s) | ${cold.rate.toFixed(0)} |`,
        `| ratio S3 / hot | ${(cold.rate / hot.rate).toFixed(2)} |`,
        `| S3 GETs per 1,000 records replayed (index + ranged batch reads) | ${getsPer1000.toFixed(2)} |`,
        `| stored / raw bytes (zstd) | ${ratio.toFixed(3)} |`,
        `| 1 TB of raw history, hot (DynamoDB Standard $${PRICES.dynamodbStandard}/GB-month) | $${hotMonthly.toFixed(2)}/month |`,
        `| 1 TB of raw history, tiered (S3 Standard $${PRICES.s3Standard}/GB-month) | $${tieredMonthly.toFixed(2)}/month |`,
      ].join('\n'),
      notes: [
        'Storage only, at us-east-1 list prices for the Standard classes; DynamoDB also bills per-item overhead (about 100 bytes per batch item) and S3 bills GETs ($0.0004 per 1,000).',
        'A reader fetches a segment index once per container, then one ranged GET per read covering the consecutive batches it needs.',
      ],
      summary: {
        replayS3VsHotRatio: Number((cold.rate / hot.rate).toFixed(2)),
        s3GetsPer1000Records: Number(getsPer1000.toFixed(2)),
        tieredMonthlyUsdPerTb: Number(tieredMonthly.toFixed(2)),
        hotMonthlyUsdPerTb: Number(hotMonthly.toFixed(2)),
      },
    };
  },
};
