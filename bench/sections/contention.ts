import { createTables } from '../../core/adapters/dynamodb/createTables.ts';
import { DynamoStore } from '../../core/adapters/dynamodb/dynamoStore.ts';
import { isSluiceError } from '../../core/errors.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { meteredClient } from '../meteredClient.ts';
import { orderEvents } from '../orderEvents.ts';
import type { BenchSection } from '../section.ts';

const WRITERS = [1, 8, 32, 64] as const;
const BATCH_SIZES = [1, 100] as const;
/** Appends per configuration, shared among its writers (at least 4 each). */
const APPENDS = { 1: 512, 100: 128 } as const;

interface Row {
  readonly writers: number;
  readonly batch: number;
  readonly appends: number;
  readonly seconds: number;
  readonly failedConditionalWrites: number;
  readonly writeUnits: number;
  readonly p99Ms: number;
  readonly contention: number;
}

/**
 * Contention: 1 to 64 writers appending to one partition at once, each through its own engine (as
 * separate Lambda containers would), with single-record and 100-record batches of ~1 KB order
 * events (zstd). Offsets come from the partition's sequencer, so writers should neither fail nor
 * pay for lost races. Targets: no AppendContention at 64 writers; write units per record at 64
 * writers at most 1.2× the single writer's.
 */
export const contentionSection: BenchSection = {
  name: 'contention',
  async run() {
    const rows: Row[] = [];
    for (const batch of BATCH_SIZES) for (const writers of WRITERS) rows.push(await measure(writers, batch));
    const unitsPerRecord = (r: Row) => r.writeUnits / (r.appends * r.batch);
    const single = (batch: number) => rows.find((r) => r.writers === 1 && r.batch === batch)!;
    const at64 = rows.filter((r) => r.writers === 64);
    const ratio = Math.max(...at64.map((r) => unitsPerRecord(r) / unitsPerRecord(single(r.batch))));
    const lines = rows.map((r) => {
      const base = single(r.batch);
      return `| ${r.writers} | ${r.batch} | ${r.appends} | ${(r.appends / r.seconds).toFixed(0)} | ${(r.appends / r.seconds / (base.appends / base.seconds)).toFixed(2)} | ${r.failedConditionalWrites} | ${(r.writeUnits / r.appends).toFixed(2)} | ${unitsPerRecord(r).toFixed(3)} | ${(unitsPerRecord(r) / unitsPerRecord(base)).toFixed(2)} | ${r.p99Ms.toFixed(0)} | ${r.contention} |`;
    });
    return {
      title: 'Contention: concurrent writers on one partition',
      table: [
        '| writers | records per append | appends | local appends/s | × one writer | failed conditional writes | write units per append | write units per record | × one writer | local p99 ms | AppendContention |',
        '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
        ...lines,
      ].join('\n'),
      notes: [
        'Each writer is its own engine (no shared cache), appending ~1 KB order events with zstd to partition 0 of one topic on DynamoDB Local; appends are spread evenly over the writers. Each writer appended once before the measurement: the first writers of a new partition start its sequencer, with up to two failed conditions each, once.',
        'Every append pays one write unit for its reservation (an atomic counter update) besides its batch: a single ~1 KB record costs 2 units instead of 1, a batch of 100 about 4% more; in return n writers cost n reservations and n puts, where racing for the tail cost up to n failed puts each.',
        'Write units are what DynamoDB Local reports for successful writes (the sequencer reservation and the batch) plus, for each failed conditional write, the units of the item it tried to write (DynamoDB bills a failed condition like a write but reports no capacity with the error).',
        'Appends/s and latency are local figures: read them as ratios between rows of this run, not as AWS speeds.',
        `Targets: AppendContention 0 at 64 writers (here ${at64.reduce((n, r) => n + r.contention, 0)}); write units per record at 64 writers ≤ 1.2× one writer's (here ${ratio.toFixed(2)}).`,
      ],
      summary: {
        contention64Failures: at64.reduce((n, r) => n + r.contention, 0),
        contention64WriteUnitRatio: Number(ratio.toFixed(2)),
      },
    };
  },
};

async function measure(writers: number, batch: 1 | 100): Promise<Row> {
  const meter = meteredClient();
  const tables = {
    log: `bench-contention-${writers}-${batch}-log`,
    metadata: `bench-contention-${writers}-${batch}-meta`,
  };
  await createTables(meter.client, tables);
  const store = new DynamoStore({ client: meter.client, tables });
  await new Sluice({ log: store, metadata: store }).createTopic('contended', { config: { compression: 'zstd' } });
  const events = orderEvents(batch * 8, writers * 1000 + batch);
  const perWriter = Math.max(4, Math.ceil(APPENDS[batch] / writers));
  const latencies: number[] = [];
  let contention = 0;
  // Each writer appends once first: a new partition's sequencer starts with the first writers
  // (a few failed conditions, once per partition), which is not what this measures.
  const engines = Array.from({ length: writers }, () => new Sluice({ log: store, metadata: store }));
  await Promise.all(engines.map((sluice) => sluice.append('contended', [{ ...events[0]!, partition: 0 }])));
  meter.reset();
  const started = performance.now();
  await Promise.all(
    engines.map(async (sluice) => {
      for (let i = 0; i < perWriter; i++) {
        const records = Array.from({ length: batch }, (_, k) => ({
          ...events[(i * batch + k) % events.length]!,
          partition: 0,
        }));
        const t0 = performance.now();
        try {
          await sluice.append('contended', records);
        } catch (e) {
          if (!isSluiceError(e, 'AppendContention')) throw e;
          contention++;
        }
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const m = meter.read();
  latencies.sort((a, b) => a - b);
  return {
    writers,
    batch,
    appends: writers * perWriter,
    seconds,
    failedConditionalWrites: m.failedConditions,
    writeUnits: m.write + m.failedConditionUnits,
    p99Ms: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))]!,
    contention,
  };
}
