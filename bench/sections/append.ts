import {
  BatchWriteItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type ConsumedCapacity,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { createTables } from '../../core/adapters/dynamodb/createTables.ts';
import { DynamoStore } from '../../core/adapters/dynamodb/dynamoStore.ts';
import { Sluice } from '../../core/log/sluice.ts';
import type { Compression } from '../../core/log/topicConfig.ts';
import { orderEvents } from '../orderEvents.ts';
import type { BenchSection } from '../section.ts';

interface Row {
  name: string;
  records: number;
  payloadBytes: number;
  seconds: number;
  writeUnits: number;
}

const utf8 = new TextEncoder();

/**
 * Appending 1 KB order events to one partition, one writer, three ways:
 * (a) Sluice, batches of 1, 10 and 100 records; (b) the naive design, an atomic counter item
 * (`UpdateItem ADD`) then one `PutItem` per record; (c) raw `BatchWriteItem` of the same bytes,
 * one item per record, no sequencing: what the storage does with no ordering at all.
 */
export const appendSection: BenchSection = {
  name: 'append',
  async run(client: DynamoDBClient) {
    const total = 2000;
    const events = orderEvents(total, 7);
    const payloads = events.map((e) => utf8.encode(JSON.stringify(e.value)));
    const payloadBytes = payloads.reduce((n, p) => n + p.length, 0);
    const rows: Row[] = [];
    let units = 0;
    const meter = (c: ConsumedCapacity[]): void => {
      for (const x of c) units += x.CapacityUnits ?? 0;
    };

    const sluiceRun = async (batch: number, compression: Compression, count: number): Promise<Row> => {
      const tables = {
        log: `bench-append-${batch}-${compression}-log`,
        metadata: `bench-append-${batch}-${compression}-meta`,
      };
      await createTables(client, tables);
      const store = new DynamoStore({ client, tables, onConsumedCapacity: meter });
      const sluice = new Sluice({ log: store, metadata: store });
      await sluice.createTopic('orders', { config: { compression } });
      await sluice.append('orders', [{ value: 'warm-up', partition: 0 }]);
      units = 0;
      const start = performance.now();
      for (let i = 0; i < count; i += batch) {
        await sluice.append(
          'orders',
          events.slice(i, i + batch).map((e) => ({ key: e.key, value: e.value, partition: 0 })),
        );
      }
      const seconds = (performance.now() - start) / 1000;
      return {
        name: `(a) Sluice, batch ${batch}, ${compression}`,
        records: count,
        payloadBytes: bytesOf(count),
        seconds,
        writeUnits: units,
      };
    };
    const bytesOf = (count: number): number => payloads.slice(0, count).reduce((n, p) => n + p.length, 0);

    rows.push(await sluiceRun(1, 'none', 500));
    rows.push(await sluiceRun(10, 'none', total));
    rows.push(await sluiceRun(100, 'none', total));
    rows.push(await sluiceRun(1, 'zstd', 500));
    rows.push(await sluiceRun(10, 'zstd', total));
    rows.push(await sluiceRun(100, 'zstd', total));
    rows.push(await sluiceRun(100, 'gzip', total));

    // (b) naive: counter + put per record.
    {
      const table = 'bench-naive';
      await createTables(client, { log: `${table}-log`, metadata: `${table}-meta` });
      const count = 500;
      units = 0;
      const start = performance.now();
      for (let i = 0; i < count; i++) {
        const counter = await client.send(
          new UpdateItemCommand({
            TableName: `${table}-meta`,
            Key: { pk: { S: 'counter' }, sk: { S: 'orders#0' } },
            UpdateExpression: 'ADD next_offset :one',
            ExpressionAttributeValues: { ':one': { N: '1' } },
            ReturnValues: 'UPDATED_NEW',
            ReturnConsumedCapacity: 'TOTAL',
          }),
        );
        meter(counter.ConsumedCapacity ? [counter.ConsumedCapacity] : []);
        const offset = Number(counter.Attributes!.next_offset!.N) - 1;
        const put = await client.send(
          new PutItemCommand({
            TableName: `${table}-log`,
            Item: {
              pk: { S: 'orders#0' },
              sk: { N: String(offset) },
              k: { S: events[i]!.key },
              v: { B: payloads[i]! },
            },
            ReturnConsumedCapacity: 'TOTAL',
          }),
        );
        meter(put.ConsumedCapacity ? [put.ConsumedCapacity] : []);
      }
      rows.push({
        name: '(b) naive: counter UpdateItem + PutItem per record',
        records: count,
        payloadBytes: bytesOf(count),
        seconds: (performance.now() - start) / 1000,
        writeUnits: units,
      });
    }

    // (c) raw BatchWriteItem, 25 items per call, no sequencing.
    {
      const table = 'bench-raw';
      await createTables(client, { log: `${table}-log`, metadata: `${table}-meta` });
      units = 0;
      const start = performance.now();
      for (let i = 0; i < total; i += 25) {
        let pending = payloads.slice(i, i + 25).map((p, k) => ({
          PutRequest: {
            Item: { pk: { S: 'orders#0' }, sk: { N: String(i + k) }, k: { S: events[i + k]!.key }, v: { B: p } },
          },
        }));
        while (pending.length > 0) {
          const out = await client.send(
            new BatchWriteItemCommand({ RequestItems: { [`${table}-log`]: pending }, ReturnConsumedCapacity: 'TOTAL' }),
          );
          meter(out.ConsumedCapacity ?? []);
          pending = (out.UnprocessedItems?.[`${table}-log`] ?? []) as typeof pending;
        }
      }
      rows.push({
        name: '(c) raw BatchWriteItem, 25 per call, unsequenced',
        records: total,
        payloadBytes,
        seconds: (performance.now() - start) / 1000,
        writeUnits: units,
      });
    }

    const rate = (r: Row): number => r.records / r.seconds;
    const byteRate = (r: Row): number => r.payloadBytes / r.seconds;
    const headline = rows.find((r) => r.name === '(a) Sluice, batch 100, zstd')!;
    const naive = rows.find((r) => r.name.startsWith('(b)'))!;
    const raw = rows.find((r) => r.name.startsWith('(c)'))!;

    const table = [
      '| writer | records | records/s | payload MB/s | write units / record | payload bytes / write unit | records/s vs naive | bytes/s vs raw |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      ...rows.map(
        (r) =>
          `| ${r.name} | ${r.records} | ${rate(r).toFixed(0)} | ${(byteRate(r) / 1e6).toFixed(2)} | ${(r.writeUnits / r.records).toFixed(3)} | ${(r.payloadBytes / r.writeUnits).toFixed(0)} | ${(rate(r) / rate(naive)).toFixed(2)} | ${(byteRate(r) / byteRate(raw)).toFixed(2)} |`,
      ),
    ].join('\n');
    return {
      title: `Append: ${total} order events of ~${Math.round(payloadBytes / total)} bytes to one partition, one writer, DynamoDB Local`,
      table,
      notes: [
        'Ratios are measured in this one run; DynamoDB Local is a behaviour emulator, so absolute rates say little about AWS.',
        'Write units come from ReturnConsumedCapacity. On AWS one partition key takes about 1,000 write units/s, so payload bytes per write unit × 1,000 is the per-partition ceiling in bytes/s.',
      ],
      summary: {
        recordsPerSecRatioVsNaive: round(rate(headline) / rate(naive)),
        bytesPerSecRatioVsRaw: round(byteRate(headline) / byteRate(raw)),
        payloadBytesPerWriteUnit: Math.round(headline.payloadBytes / headline.writeUnits),
        writeUnitsPerRecordBatch100Zstd: round(headline.writeUnits / headline.records, 4),
        writeUnitsPerRecordNaive: round(naive.writeUnits / naive.records, 4),
      },
    };
  },
};

function round(n: number, digits = 2): number {
  return Number(n.toFixed(digits));
}
