/**
 * The reference's Flink fraud-detection pipeline on Sluice, line for line: transactions keyed by
 * user, 5-minute event-time windows sliding every minute, watermarks 5 s behind the latest event,
 * an alert `{userId, reason: "HIGH_VELOCITY", transactionCount, totalAmount}` to `fraud-alerts`
 * when a user has more than 10 transactions or more than 5,000 in total, and to a DynamoDB table
 * (`fraud-alerts-table`: one item per user and window, `pk` the user, `sk` the window's start) in
 * the same atomic write. Transactions too late for any window go to `transactions-late` rather
 * than nowhere.
 *
 * Runs in memory end to end (the engine, the atomic writer, the job state and the table all in memory):
 *   npx sluice example streams/fraudDetection [--seed 7] [--users 200] [--minutes 30]
 */
import { parseArgs } from 'node:util';
import { combine, count, sum } from '../../core/streams/aggregators.ts';
import { stream } from '../../core/streams/stream.ts';
import { boundedOutOfOrderness, withIdleness } from '../../core/streams/watermarks.ts';
import { sliding } from '../../core/streams/windows.ts';
import { prng } from './prng.ts';
import { runInMemory, type Arrival } from './inMemory.ts';

export type Transaction = { txnId: string; userId: string; amount: number; timestamp: number };
export type FraudAlert = { userId: string; reason: 'HIGH_VELOCITY'; transactionCount: number; totalAmount: number };
/** An item of `fraud-alerts-table`: the alert, keyed by user (`pk`) and window start (`sk`, ISO 8601). */
export type FraudAlertItem = FraudAlert & { pk: string; sk: string; windowStart: number; windowEnd: number };

// DataStream<Transaction> transactions = env.fromSource(source, WatermarkStrategy.forBoundedOutOfOrderness(…))
export const fraudJob = stream<Transaction>('transactions', {
  timestamp: (txn) => txn.timestamp,
  watermark: boundedOutOfOrderness('5s'),
  // Not in the reference (its source never goes quiet): lets the last windows fire once producers stop.
  // Longer than any lull of a busy partition: a partition that comes back from idleness finds the
  // watermark where the others took it, and its first events may be late.
  idleness: withIdleness('5m'),
})
  .keyBy((txn) => txn.userId)
  .window(sliding({ size: '5m', slide: '1m' }))
  .aggregate(combine({ transactionCount: count<Transaction>(), totalAmount: sum((t: Transaction) => t.amount) }))
  .filter((w) => w.result.transactionCount > 10 || w.result.totalAmount > 5000)
  .map((w): FraudAlert => ({
    userId: w.key,
    reason: 'HIGH_VELOCITY',
    transactionCount: w.result.transactionCount,
    totalAmount: w.result.totalAmount,
  }))
  .to('fraud-alerts')
  // Deployed: new JobRunner({ …, tables: new DynamoTableSink({ tables: { 'fraud-alerts-table': 'prod-fraud-alerts' } }) })
  .toTable('fraud-alerts-table');

export interface GeneratorOptions {
  /** Seeds the generator: the same seed gives the same transactions. @default 7 */
  readonly seed?: number;
  /** Users in all, fraudsters included. @default 200 */
  readonly users?: number;
  /** Minutes of traffic. @default 30 */
  readonly minutes?: number;
  /** Epoch ms of the first minute. @default 2026-01-01T00:00:00Z */
  readonly start?: number;
}

/** One generated transaction, when it reaches the topic, and whether it was sent far too late. */
export interface GeneratedTransaction extends Arrival {
  readonly value: Transaction;
  readonly late: boolean;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;

/**
 * Realistic traffic. Normal users pay 5 to 300 every 45 s to 4 min (at most 7 payments and 2,100
 * in any 5 minutes: never flagged). Of every 50 users one tests stolen cards (12 to 20 payments of
 * 1 to 20 within 3 minutes) and one empties an account (3 payments of 1,800 to 2,500 within 2
 * minutes). Each event reaches the topic up to 5 s after its event time, so the order is off by
 * up to the watermark bound; one payment in 150 (before the last 15 minutes) comes from a phone
 * that was offline and arrives 8 to 15 minutes late, when its windows have all fired.
 */
export function generateTransactions(options: GeneratorOptions = {}): GeneratedTransaction[] {
  const random = prng(options.seed ?? 7);
  const users = options.users ?? 200;
  const minutes = options.minutes ?? 30;
  const start = options.start ?? Date.UTC(2026, 0, 1);
  const end = start + minutes * MINUTE;
  const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const events: { userId: string; amount: number; timestamp: number }[] = [];
  for (let u = 0; u < users; u++) {
    const userId = `user-${String(u).padStart(4, '0')}`;
    for (let t = start + between(0, 2 * MINUTE); t < end; t += between(45 * SECOND, 4 * MINUTE))
      events.push({ userId, amount: between(5, 300), timestamp: t });
    // Bursts end at least 8 minutes before the traffic does, so their windows fire within the run.
    const burstAt = start + between(5 * MINUTE, Math.max(5, minutes - 8) * MINUTE);
    if (u % 50 === 17) {
      for (let i = between(12, 20); i > 0; i--)
        events.push({ userId, amount: between(1, 20), timestamp: burstAt + between(0, 3 * MINUTE) });
    }
    if (u % 50 === 41) {
      for (let i = 0; i < 3; i++)
        events.push({ userId, amount: between(1800, 2500), timestamp: burstAt + between(0, 2 * MINUTE) });
    }
  }
  return events.map((e, i) => {
    // Only while the traffic goes on: a straggler after the last window fired is just another event.
    const late = random() < 1 / 150 && e.timestamp + 15 * MINUTE < end;
    const at = late ? e.timestamp + between(8 * MINUTE, 15 * MINUTE) : e.timestamp + between(0, 5 * SECOND - 1);
    return { at, key: e.userId, value: { txnId: `txn-${i}`, ...e }, late };
  });
}

/** Generates transactions, produces them to `transactions` as they arrive, and runs `fraudJob` over them. */
export async function runFraudDetection(options: GeneratorOptions = {}) {
  const transactions = generateTransactions(options);
  const lastArrival = Math.max(...transactions.map((t) => t.at));
  const run = await runInMemory({
    job: fraudJob,
    name: 'fraud-detector',
    input: transactions,
    partitions: 4,
    tickMs: MINUTE,
    flushAt: lastArrival + 6 * MINUTE, // past the idleness timeout
  });
  return {
    transactions,
    ...run,
    alerts: run.outputs.map((o) => o.value as FraudAlert),
    alertItems: (run.tables['fraud-alerts-table'] ?? []) as FraudAlertItem[],
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string', default: '7' },
      users: { type: 'string', default: '200' },
      minutes: { type: 'string', default: '30' },
    },
  });
  const options = { seed: Number(values.seed), users: Number(values.users), minutes: Number(values.minutes) };
  const { transactions, alerts, alertItems, late } = await runFraudDetection(options);
  console.log(
    `Produced ${transactions.length} transactions from ${options.users} users over ${options.minutes} minutes`,
  );
  for (const alert of alerts) console.log(`fraud-alerts: ${JSON.stringify(alert)}`);
  console.log(`${alerts.length} alerts for ${new Set(alerts.map((a) => a.userId)).size} users`);
  console.log(`${alertItems.length} items in fraud-alerts-table (one per user and window), e.g.`);
  for (const item of alertItems.slice(0, 3)) console.log(`  ${JSON.stringify(item)}`);
  console.log(`${late.length} late transactions sent to transactions-late`);
}
