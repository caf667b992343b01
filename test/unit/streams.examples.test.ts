import { expect, test } from 'vitest';
import { LATE_HEADERS } from '../../core/streams/runner.ts';
import {
  runFraudDetection,
  type FraudAlert,
  type FraudAlertItem,
  type Transaction,
} from '../../examples/streams/fraudDetection.ts';
import { runHourlyTotals, type HourlyTotal } from '../../examples/streams/hourlyTotals.ts';
import { runSessions, type Click, type UserSession } from '../../examples/streams/sessions.ts';

/**
 * The stream examples, run in process as `npx sluice example streams/…` runs them (in memory, the
 * real runner and engine), checked against brute force over the events they generated.
 */

const MINUTE = 60_000;
const canonical = (xs: unknown[]) => xs.map((x) => JSON.stringify(x)).sort();

test('fraud detection: the alerts (topic and table) are brute force’s over the on-time transactions, late ones only on the late topic', async () => {
  const { transactions, outputs, alertItems, late, watermark } = await runFraudDetection({
    seed: 3,
    users: 200,
    minutes: 30,
  });
  expect(watermark).not.toBeNull();

  // Every 5-minute window starting on a minute that has ended by the final watermark, per user.
  const onTime = transactions.filter((t) => !t.late).map((t) => t.value);
  const first = Math.min(...onTime.map((t) => t.timestamp));
  const expected: { key: string; value: FraudAlert }[] = [];
  const expectedItems: FraudAlertItem[] = [];
  for (let s = Math.floor(first / MINUTE) * MINUTE - 4 * MINUTE; s + 5 * MINUTE <= watermark!; s += MINUTE) {
    const byUser = new Map<string, Transaction[]>();
    for (const t of onTime)
      if (t.timestamp >= s && t.timestamp < s + 5 * MINUTE) byUser.set(t.userId, [...(byUser.get(t.userId) ?? []), t]);
    for (const [userId, ts] of byUser) {
      const totalAmount = ts.reduce((a, t) => a + t.amount, 0);
      if (ts.length > 10 || totalAmount > 5000) {
        const alert: FraudAlert = { userId, reason: 'HIGH_VELOCITY', transactionCount: ts.length, totalAmount };
        expected.push({ key: userId, value: alert });
        // The table's item: the alert keyed by user and window start, with the window's bounds.
        const window = { pk: userId, sk: new Date(s).toISOString(), windowStart: s, windowEnd: s + 5 * MINUTE };
        expectedItems.push({ ...alert, ...window });
      }
    }
  }
  expect(expected.length).toBeGreaterThan(10);
  expect(canonical(outputs)).toEqual(canonical(expected));
  // One item per alert (no window fires twice without allowed lateness), in pk and sk order.
  const byKey = (a: FraudAlertItem, b: FraudAlertItem) => (a.pk + a.sk < b.pk + b.sk ? -1 : 1);
  expect(alertItems).toStrictEqual(expectedItems.sort(byKey));

  // Both kinds of fraudster are caught (users 17 and 41 of every 50), and nobody else.
  const fraudsters = transactions.map((t) => t.key).filter((u) => [17, 41].includes(Number(u.slice(5)) % 50));
  expect(new Set(outputs.map((o) => o.key))).toEqual(new Set(fraudsters));
  expect(outputs.some((o) => (o.value as FraudAlert).totalAmount > 5000)).toBe(true);
  expect(outputs.some((o) => (o.value as FraudAlert).transactionCount > 10)).toBe(true);

  // The transactions that arrived minutes late are on transactions-late, with where they came from.
  const sentLate = transactions.filter((t) => t.late).map((t) => t.value);
  expect(sentLate.length).toBeGreaterThan(2);
  expect(canonical(late.map((l) => l.value))).toEqual(canonical(sentLate));
  for (const l of late) {
    expect(l.headers[LATE_HEADERS.source]).toBe('transactions');
    expect(l.headers[LATE_HEADERS.reason]).toBe('late');
    expect(l.key).toBe((l.value as Transaction).userId);
  }
});

test('hourly totals: one result per store and ended hour, brute force’s sums, nothing late', async () => {
  const { sales, totals, late, watermark } = await runHourlyTotals({ seed: 4, stores: 4, hours: 3 });
  const expected = new Map<string, HourlyTotal>();
  for (const { value: s } of sales) {
    const start = Math.floor(s.timestamp / 3_600_000) * 3_600_000;
    if (start + 3_600_000 > watermark!) continue;
    const hour = new Date(start).toISOString();
    const t = expected.get(`${hour} ${s.storeId}`) ?? { storeId: s.storeId, hour, sales: 0, total: 0 };
    expected.set(`${hour} ${s.storeId}`, { ...t, sales: t.sales + 1, total: t.total + s.amount });
  }
  expect(expected.size).toBe(4 * 2); // the third hour is still open at the end
  expect(canonical(totals)).toEqual(canonical([...expected.values()]));
  expect(late).toEqual([]);
});

test('sessions: the user sessions brute force finds with a 30-minute gap, each once', async () => {
  const { clicks, outputs, late, watermark } = await runSessions({ seed: 5, users: 12, hours: 5 });
  const gap = 30 * MINUTE;
  const expected: { key: string; value: UserSession }[] = [];
  const byUser = new Map<string, Click[]>();
  for (const { value: c } of clicks) byUser.set(c.userId, [...(byUser.get(c.userId) ?? []), c]);
  for (const [userId, cs] of byUser) {
    const times = cs.map((c) => c.timestamp).sort((a, b) => a - b);
    let first = 0;
    for (let i = 1; i <= times.length; i++) {
      if (i < times.length && (times[i] as number) - (times[i - 1] as number) < gap) continue;
      const [from, to] = [times[first] as number, times[i - 1] as number];
      if (to + gap <= watermark!) {
        expected.push({
          key: userId,
          value: {
            userId,
            firstClick: new Date(from).toISOString(),
            lastClick: new Date(to).toISOString(),
            clicks: i - first,
            minutes: Math.round((to - from) / MINUTE),
          },
        });
      }
      first = i;
    }
  }
  expect(expected.length).toBeGreaterThan(10);
  expect(canonical(outputs)).toEqual(canonical(expected));
  expect(late).toEqual([]);
});
