import { expect, test } from 'vitest';
import { combine, count, sum } from '../../core/streams/aggregators.ts';
import type { InputRecord, JobState, LateRecord, OutputRecord } from '../../core/streams/job.ts';
import { stream } from '../../core/streams/stream.ts';
import { boundedOutOfOrderness, withIdleness } from '../../core/streams/watermarks.ts';
import { sliding } from '../../core/streams/windows.ts';

/**
 * The reference’s fraud rule on the core model: transactions keyed by user, 5-minute windows
 * sliding every minute, an alert when a user has more than 10 transactions or more than 5,000 in
 * total. The runner, the topics and the DynamoDB sink come later; here the job is stepped by hand.
 */

interface Transaction {
  userId: string;
  amount: number;
  timestamp: number;
}

interface Alert {
  userId: string;
  reason: 'HIGH_VELOCITY';
  transactionCount: number;
  totalAmount: number;
}

const fraudAlerts = stream<Transaction>('transactions', {
  timestamp: (t) => t.timestamp,
  watermark: boundedOutOfOrderness('5s'),
  idleness: withIdleness('1m'),
})
  .keyBy((t) => t.userId)
  .window(sliding({ size: '5m', slide: '1m' }), { lateTopic: 'transactions-late' })
  .aggregate(combine({ count: count<Transaction>(), total: sum((t: Transaction) => t.amount) }))
  .filter((w) => w.result.count > 10 || w.result.total > 5000)
  .map((w): Alert => ({
    userId: w.key,
    reason: 'HIGH_VELOCITY',
    transactionCount: w.result.count,
    totalAmount: w.result.total,
  }))
  .to('fraud-alerts');

/** mulberry32: a small seeded generator, so the test is the same every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MINUTE = 60_000;
const START = Date.UTC(2026, 0, 1);

/**
 * 30 minutes of transactions from 200 users on 4 partitions: normal users pay 10–200 every 45 s
 * to 3 min; `burst` pays 15 times in 3 minutes, `whale` three times 2,000 in 2 minutes. Event
 * times trail arrival by up to 5 s; a few transactions arrive 10 minutes late.
 */
function generate() {
  const rand = random(16);
  const arrivals: { arrival: number; t: Transaction; late: boolean }[] = [];
  const normalUsers = Array.from({ length: 198 }, (_, i) => `user-${i}`);
  for (const userId of normalUsers) {
    for (let at = START + rand() * 3 * MINUTE; at < START + 30 * MINUTE; at += 45_000 + rand() * 135_000) {
      arrivals.push({ arrival: at, t: { userId, amount: 10 + Math.floor(rand() * 191), timestamp: 0 }, late: false });
    }
  }
  for (let i = 0; i < 15; i++) {
    const at = START + 12 * MINUTE + i * 12_000;
    arrivals.push({ arrival: at, t: { userId: 'burst', amount: 25, timestamp: 0 }, late: false });
  }
  for (let i = 0; i < 3; i++) {
    const at = START + 20 * MINUTE + i * MINUTE;
    arrivals.push({ arrival: at, t: { userId: 'whale', amount: 2000, timestamp: 0 }, late: false });
  }
  for (const a of arrivals) a.t.timestamp = Math.floor(a.arrival - rand() * 5_000);
  for (let i = 0; i < 5; i++) {
    const at = START + (15 + i * 2) * MINUTE;
    const userId = normalUsers[i * 7] as string;
    arrivals.push({ arrival: at, t: { userId, amount: 3000, timestamp: at - 10 * MINUTE }, late: true });
  }
  arrivals.sort((a, b) => a.arrival - b.arrival);
  const users = [...normalUsers, 'burst', 'whale'];
  const next = new Map<number, number>();
  const records = arrivals.map((a) => {
    const partition = users.indexOf(a.t.userId) % 4;
    const offset = next.get(partition) ?? 0;
    next.set(partition, offset + 1);
    return { record: { partition, offset, value: a.t } satisfies InputRecord, arrival: a.arrival, late: a.late };
  });
  return { records };
}

test('the fraud rule flags the burst and the whale, nobody else, and sends late transactions aside', () => {
  const { records } = generate();
  let stored = JSON.stringify(fraudAlerts.initialState([0, 1, 2, 3]));
  const outputs: OutputRecord[] = [];
  const late: LateRecord[] = [];
  for (let i = 0; i < records.length; i += 97) {
    const batch = records.slice(i, i + 97);
    const now = (batch.at(-1) as (typeof records)[number]).arrival;
    const r = fraudAlerts.step(
      JSON.parse(stored) as JobState,
      batch.map((b) => b.record),
      now,
    );
    outputs.push(...r.outputs);
    late.push(...r.late);
    stored = JSON.stringify(r.state);
  }
  const final = JSON.parse(stored) as JobState;

  // The late side output holds exactly the transactions that came 10 minutes late.
  expect(late.map((l) => l.value)).toEqual(records.filter((r) => r.late).map((r) => r.record.value));
  expect(late.every((l) => l.topic === 'transactions-late' && l.reason === 'late')).toBe(true);

  // Brute force over the on-time transactions, for every window the watermark has passed.
  const onTime = records.filter((r) => !r.late).map((r) => r.record.value);
  const expected: { key: string; alert: Alert }[] = [];
  for (
    let s = Math.floor((START - 5 * MINUTE) / MINUTE) * MINUTE;
    s + 5 * MINUTE <= (final.watermark as number);
    s += MINUTE
  ) {
    const byUser = new Map<string, Transaction[]>();
    for (const t of onTime)
      if (t.timestamp >= s && t.timestamp < s + 5 * MINUTE) byUser.set(t.userId, [...(byUser.get(t.userId) ?? []), t]);
    for (const [userId, ts] of byUser) {
      const total = ts.reduce((a, t) => a + t.amount, 0);
      if (ts.length > 10 || total > 5000) {
        expected.push({
          key: userId,
          alert: { userId, reason: 'HIGH_VELOCITY', transactionCount: ts.length, totalAmount: total },
        });
      }
    }
  }
  const got = outputs.map((o) => ({ key: o.key, alert: o.value as Alert }));
  expect(outputs.every((o) => o.topic === 'fraud-alerts')).toBe(true);
  const canonical = (xs: unknown[]) => xs.map((x) => JSON.stringify(x)).sort();
  expect(canonical(got)).toEqual(canonical(expected));
  expect(new Set(got.map((g) => g.alert.userId))).toEqual(new Set(['burst', 'whale']));
  expect(got.filter((g) => g.key === 'burst').some((g) => g.alert.transactionCount === 15)).toBe(true);
  expect(got.filter((g) => g.key === 'whale').some((g) => g.alert.totalAmount === 6000)).toBe(true);
});
