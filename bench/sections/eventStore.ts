import { createTables } from '../../core/adapters/dynamodb/createTables.ts';
import { DynamoAtomicWriter } from '../../core/adapters/dynamodb/dynamoAtomic.ts';
import { DynamoStore } from '../../core/adapters/dynamodb/dynamoStore.ts';
import { DynamoEventStoreStore } from '../../core/eventStore/dynamoEventStoreStore.ts';
import { EventStore } from '../../core/eventStore/eventStore.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { meteredClient } from '../meteredClient.ts';
import type { BenchSection } from '../section.ts';

const STREAMS = 16; // written concurrently, one writer each
const APPENDS_PER_STREAM = 12; // each with the exact expected version
const READ_STREAM_EVENTS = 20; // the stream read: 20 events in 20 appends
const OTHERS = [10, 10_000] as const; // events of other streams in the same partition

/** A ~200-byte deposit, as an account stream would hold. */
const deposit = (i: number) => ({
  type: 'Deposited',
  data: { amountCents: 100 + i, reference: `transfer-${i.toString().padStart(8, '0')}`, note: 'x'.repeat(120) },
  metadata: { correlationId: `c-${i}` },
});

async function engine(name: string) {
  const meter = meteredClient();
  const tables = { log: `bench-es-${name}-log`, metadata: `bench-es-${name}-meta` };
  await createTables(meter.client, tables);
  const store = new DynamoStore({ client: meter.client, tables });
  const sluice = new Sluice({ log: store, metadata: store, atomic: new DynamoAtomicWriter({ client: meter.client }) });
  const es = new EventStore({
    sluice,
    store: new DynamoEventStoreStore({ client: meter.client, table: tables.metadata }),
    partitions: 1,
  });
  await es.topic();
  return { es, meter };
}

/**
 * The event store on DynamoDB Local: appends with an exact expected version (each one a
 * TransactWriteItems of the batch, the stream's head and its index entry, after the sequencer's
 * reservation and a read of the head), and what reading one stream costs when its partition holds
 * 10 or 10,000 events of other streams.
 */
export const eventStoreSection: BenchSection = {
  name: 'eventStore',
  async run() {
    // Appends: 16 streams written at once, each append expecting the version the last one left.
    const { es, meter } = await engine('append');
    meter.reset();
    const started = performance.now();
    await Promise.all(
      Array.from({ length: STREAMS }, async (_, s) => {
        for (let v = 0; v < APPENDS_PER_STREAM; v++)
          await es.appendToStream(`account-${s}`, [deposit(v)], { expectedVersion: v - 1 });
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const appended = meter.read();
    const events = STREAMS * APPENDS_PER_STREAM;
    // As AWS bills: DynamoDB Local under-reports transactions (see meteredClient.ts).
    const billed = (m: ReturnType<typeof meter.read>) =>
      m.write - m.transactions.reported + m.transactions.billed + m.failedConditionUnits;
    const writeUnitsPerEvent = billed(appended) / events;
    // Ten events per append: the head and index entry are shared by the append's events.
    const tenMeter = await engine('append10');
    tenMeter.meter.reset();
    for (let v = 0; v < 8; v++)
      await tenMeter.es.appendToStream(
        'batched',
        Array.from({ length: 10 }, (_, k) => deposit(v * 10 + k)),
        { expectedVersion: v * 10 - 1 },
      );
    const ten = tenMeter.meter.read();
    const writeUnitsPerEvent10 = billed(ten) / 80;

    // readStream: the same stream, 10 or 10,000 events of other streams around it in its partition.
    const reads: { others: number; requests: number; readUnits: number; events: number }[] = [];
    for (const others of OTHERS) {
      const r = await engine(`read${others}`);
      const perSide = others / 2;
      const fill = async (from: number) => {
        for (let i = 0; i < perSide; i += 1000)
          await r.es.appendToStream(
            `other-${from + i}`,
            Array.from({ length: Math.min(1000, perSide - i) }, (_, k) => deposit(from + i + k)),
          );
      };
      for (let v = 0; v < READ_STREAM_EVENTS / 2; v++) await r.es.appendToStream('read-me', [deposit(v)]);
      await fill(0);
      for (let v = READ_STREAM_EVENTS / 2; v < READ_STREAM_EVENTS; v++)
        await r.es.appendToStream('read-me', [deposit(v)]);
      await fill(perSide);
      await r.es.readStream('read-me', { maxCount: 1 }); // the topic is cached, as in a warm container
      r.meter.reset();
      const { events: got } = await r.es.readStream('read-me');
      const m = r.meter.read();
      reads.push({ others, requests: m.requests, readUnits: m.read, events: got.length });
    }
    const [few, many] = reads as [(typeof reads)[0], (typeof reads)[0]];
    const costRatio = many.readUnits / few.readUnits;
    return {
      title: 'Event store: appends with an expected version, and stream reads',
      table: [
        '| measurement | value |',
        '|---|---:|',
        `| appends/s (1 event each, ${STREAMS} streams at once, exact expected version; local) | ${(events / seconds).toFixed(0)} |`,
        `| DynamoDB requests per append | ${(appended.requests / events).toFixed(2)} |`,
        `| write units per event, 1 event per append | ${writeUnitsPerEvent.toFixed(2)} |`,
        `| write units per event, 10 events per append | ${writeUnitsPerEvent10.toFixed(2)} |`,
        `| failed conditional writes (lost races) | ${appended.failedConditions} |`,
        ...reads.map(
          (r) =>
            `| readStream of ${r.events} events with ${r.others.toLocaleString('en')} other events in the partition: requests / read units | ${r.requests} / ${r.readUnits} |`,
        ),
      ].join('\n'),
      notes: [
        'An append reads the stream head (GetItem), reserves offsets (UpdateItem) and writes ONE TransactWriteItems: the record batch, the head (conditional on the version read) and an index entry. A transaction bills 2 write units per item per KB, so a single ~300-byte event costs 1 + 3 × 2 = 7 write units; ten events per append share the reservation, head and entry (the 3 KB batch costs 2 × 3).',
        'Write units are what AWS bills: DynamoDB Local’s reported units for everything but transactions, which it under-reports, so those are sized from the request (2 per item per KB); failed conditions (a sequencer’s time-chain guess, lost on a shared partition) are sized likewise.',
        'readStream is one Query of the stream’s index entries and one GetItem per append (its batch, whatever lies around it), so its cost follows the stream’s events; the other streams’ events sit in large batches next to it and are never read.',
        `Target: readStream costs the same within one request at 10 and 10,000 other events (here ${few.requests} vs ${many.requests} requests, ${few.readUnits} vs ${many.readUnits} read units).`,
        'Appends/s are DynamoDB Local figures: compare them within this run only.',
      ],
      summary: {
        eventStoreAppendsPerSecond: Number((events / seconds).toFixed(0)),
        eventStoreWriteUnitsPerEvent: Number(writeUnitsPerEvent.toFixed(2)),
        eventStoreWriteUnitsPerEvent10: Number(writeUnitsPerEvent10.toFixed(2)),
        readStreamCostRatio: Number(costRatio.toFixed(2)),
        readStreamRequestDifference: many.requests - few.requests,
      },
    };
  },
};
