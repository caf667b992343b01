/**
 * Hourly aggregation, the reference's use of tumbling windows: each store's sales summed per hour
 * of event time, one result per store and hour to `hourly-sales` once the watermark passes the
 * hour's end (sales reach the topic up to 5 s out of order).
 *
 * Runs in memory end to end:
 *   npx sluice example streams/hourlyTotals [--seed 7] [--stores 5] [--hours 4]
 */
import { parseArgs } from 'node:util';
import { combine, count, sum } from '../../core/streams/aggregators.ts';
import { stream } from '../../core/streams/stream.ts';
import { boundedOutOfOrderness, withIdleness } from '../../core/streams/watermarks.ts';
import { tumbling } from '../../core/streams/windows.ts';
import { runInMemory, type Arrival } from './inMemory.ts';
import { prng } from './prng.ts';

export type Sale = { storeId: string; amount: number; timestamp: number };
export type HourlyTotal = { storeId: string; hour: string; sales: number; total: number };

export const hourlyTotalsJob = stream<Sale>('sales', {
  timestamp: (sale) => sale.timestamp,
  watermark: boundedOutOfOrderness('5s'),
  // Every partition sells every minute or so; after 5 quiet minutes the producers have stopped.
  idleness: withIdleness('5m'),
})
  .keyBy((sale) => sale.storeId)
  .window(tumbling({ size: '1h' }))
  .aggregate(combine({ sales: count<Sale>(), total: sum((s: Sale) => s.amount) }))
  .map((w): HourlyTotal => ({
    storeId: w.key,
    hour: new Date(w.window.start).toISOString(),
    sales: w.result.sales,
    total: w.result.total,
  }))
  .to('hourly-sales');

export interface SalesOptions {
  /** @default 7 */
  readonly seed?: number;
  /** @default 5 */
  readonly stores?: number;
  /** @default 4 */
  readonly hours?: number;
  /** Epoch ms of the first sale. @default 2026-01-01T09:00:00Z */
  readonly start?: number;
}

/** Each store sells every 5 to 90 s, 1 to 250 a sale; a sale reaches the topic up to 5 s after it happened. */
export function generateSales(options: SalesOptions = {}): (Arrival & { value: Sale })[] {
  const random = prng(options.seed ?? 7);
  const start = options.start ?? Date.UTC(2026, 0, 1, 9);
  const end = start + (options.hours ?? 4) * 3_600_000;
  const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const sales: (Arrival & { value: Sale })[] = [];
  for (let s = 0; s < (options.stores ?? 5); s++) {
    const storeId = `store-${s + 1}`;
    for (let t = start + between(0, 60_000); t < end; t += between(5_000, 90_000))
      sales.push({
        at: t + between(0, 4_999),
        key: storeId,
        value: { storeId, amount: between(1, 250), timestamp: t },
      });
  }
  return sales;
}

/** Generates sales, produces them to `sales` as they happen, and runs `hourlyTotalsJob` over them. */
export async function runHourlyTotals(options: SalesOptions = {}) {
  const sales = generateSales(options);
  const run = await runInMemory({
    job: hourlyTotalsJob,
    name: 'hourly-totals',
    input: sales,
    partitions: 2,
    tickMs: 60_000,
    // Past the idleness timeout: the watermark reaches the latest sale less 5 s on every partition. The
    // last hour is still open then (its end is after that), as it would be in a live job: it is not printed.
    flushAt: Math.max(...sales.map((s) => s.at)) + 6 * 60_000,
  });
  return { sales, ...run, totals: run.outputs.map((o) => o.value as HourlyTotal) };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string', default: '7' },
      stores: { type: 'string', default: '5' },
      hours: { type: 'string', default: '4' },
    },
  });
  const { sales, totals } = await runHourlyTotals({
    seed: Number(values.seed),
    stores: Number(values.stores),
    hours: Number(values.hours),
  });
  console.log(`Produced ${sales.length} sales`);
  const ordered = [...totals].sort((a, b) => a.hour.localeCompare(b.hour) || a.storeId.localeCompare(b.storeId));
  for (const t of ordered) console.log(`hourly-sales: ${t.hour} ${t.storeId} ${t.sales} sales, ${t.total} in total`);
}
