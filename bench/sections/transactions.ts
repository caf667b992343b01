import { createTables } from '../../core/adapters/dynamodb/createTables.ts';
import { DynamoAtomicWriter } from '../../core/adapters/dynamodb/dynamoAtomic.ts';
import { DynamoStore } from '../../core/adapters/dynamodb/dynamoStore.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { DynamoTransactionStore } from '../../core/transactions/dynamoTransactionStore.ts';
import { Transactions } from '../../core/transactions/transactions.ts';
import { billedClient, type BilledUnits } from '../meteredClient.ts';
import { orderEvents } from '../orderEvents.ts';
import type { BenchSection } from '../section.ts';
import { PRICES } from './costPerMessage.ts';

const TABLES = { log: 'bench-txn-log', metadata: 'bench-txn-meta' };
const TOPIC = 'bench-txn';
const PARTITIONS = 10;
/** Rounds of one append of one ~1 KB order event to each of the 10 partitions. */
const ROUNDS = 40;

interface Row {
  readonly how: string;
  readonly seconds: number;
  readonly records: number;
  readonly units: BilledUnits;
}

/**
 * Transactions against plain appends of the same records: ten ~1 KB order events per call, one
 * to each of ten partitions. Plain appends write each partition's batch on its own (a reservation
 * and a put per partition, in parallel); a single-request transaction reserves the same offsets
 * and puts all ten batches and the producer's state in one TransactWriteItems, which DynamoDB
 * bills twice (2 write units per KB per item); a multi-request transaction adds begin, the open
 * notes and the decision, and a marker per partition.
 */
export const transactionsSection: BenchSection = {
  name: 'transactions',
  async run(client) {
    await createTables(client, TABLES);
    const meter = billedClient();
    const store = new DynamoStore({ client: meter.client, tables: TABLES });
    const transactionStore = new DynamoTransactionStore({ client: meter.client, table: TABLES.metadata });
    const sluice = new Sluice({
      log: store,
      metadata: store,
      atomic: new DynamoAtomicWriter({ client: meter.client }),
      transactions: transactionStore,
    });
    const transactions = new Transactions({ sluice, store: transactionStore });
    await sluice.createTopic(TOPIC, { partitions: PARTITIONS, config: { compression: 'zstd' } });
    const events = orderEvents(ROUNDS * PARTITIONS * 3, 15);
    const round = (r: number, offset: number) =>
      Array.from({ length: PARTITIONS }, (_, p) => ({
        topic: TOPIC,
        partition: p,
        ...events[offset + r * PARTITIONS + p]!,
      }));
    // Warm the topic cache and each partition's sequencer, so no run pays for the first appends.
    await sluice.append(
      TOPIC,
      round(0, 0).map(({ topic: _t, ...r }) => r),
    );
    const { epoch } = await transactions.init('bench-producer');

    const measure = async (how: string, call: (r: number) => Promise<unknown>): Promise<Row> => {
      meter.reset();
      const started = performance.now();
      for (let r = 0; r < ROUNDS; r++) await call(r);
      return { how, seconds: (performance.now() - started) / 1000, records: ROUNDS * PARTITIONS, units: meter.read() };
    };
    const plain = await measure('plain appends (one call, 10 partitions)', (r) =>
      sluice.append(
        TOPIC,
        round(r, 0).map(({ topic: _t, ...rest }) => rest),
      ),
    );
    const single = await measure('single-request transaction', (r) =>
      transactions.transact({
        transactionalId: 'bench-producer',
        epoch,
        sequence: r,
        records: round(r, ROUNDS * PARTITIONS),
      }),
    );
    const multi = await measure('multi-request transaction (begin, one append, commit)', async (r) => {
      const { sequence } = await transactions.begin({ transactionalId: 'bench-producer', epoch });
      await transactions.append({
        transactionalId: 'bench-producer',
        epoch,
        sequence,
        append: 0,
        records: round(r, 2 * ROUNDS * PARTITIONS),
      });
      await transactions.commit({ transactionalId: 'bench-producer', epoch, sequence });
    });
    const rows = [plain, single, multi];
    const rate = (row: Row) => row.records / row.seconds;
    const perRecord = (row: Row, n: number) => n / row.records;
    const usdPerMillion = (row: Row) =>
      perRecord(row, row.units.write) * PRICES.dynamoWritePerMillion +
      perRecord(row, row.units.read) * PRICES.dynamoReadPerMillion;
    const ratio = rate(single) / rate(plain);
    return {
      title: 'Transactions vs plain appends on DynamoDB Local (10 partitions, ~1 KB order events)',
      table: [
        '| how | records | local records/s | × plain | DynamoDB requests per record | write units per record | read units per record | USD per million records (DynamoDB) |',
        '|---|---:|---:|---:|---:|---:|---:|---:|',
        ...rows.map(
          (row) =>
            `| ${row.how} | ${row.records} | ${rate(row).toFixed(0)} | ${(rate(row) / rate(plain)).toFixed(2)} | ${perRecord(row, row.units.requests).toFixed(2)} | ${perRecord(row, row.units.write).toFixed(2)} | ${perRecord(row, row.units.read).toFixed(2)} | ${usdPerMillion(row).toFixed(3)} |`,
        ),
      ].join('\n'),
      notes: [
        `${ROUNDS} calls each of ${PARTITIONS} records, one per partition; the rate ratio is measured in this one run (DynamoDB Local's absolute speed says little).`,
        'Write units are billed as DynamoDB does: a TransactWriteItems costs 2 units per KB per item (DynamoDB Local reports less; the meter corrects it), a failed condition what the write would.',
        `A single-request transaction costs about twice the write units of plain appends (the transaction premium) plus one producer-state item; a multi-request one adds begin, an open note per partition, the decision and a marker per partition. At ${PRICES.dynamoWritePerMillion} USD per million write units.`,
      ],
      summary: {
        txnVsPlainAppendRatio: Number(ratio.toFixed(2)),
        txnWriteUnitsPerRecord: Number(perRecord(single, single.units.write).toFixed(2)),
        plainWriteUnitsPerRecord: Number(perRecord(plain, plain.units.write).toFixed(2)),
      },
    };
  },
};
