import type { FraudAlert, Transaction } from '../examples/streams/fraudDetection.ts';

const MINUTE = 60_000;
const SIZE = 5 * MINUTE; // the fraud job's windows are 5 minutes long…
const SLIDE = MINUTE; // …and start every minute, so one-minute panes make them up
const BOUND = 5_000; // boundedOutOfOrderness('5s')
const MAX_COUNT = 10; // an alert: more than 10 transactions…
const MAX_TOTAL = 5000; // …or more than 5,000 in total, in one window

/** The start of the minute that holds `t`. */
const minuteOf = (t: number) => Math.floor(t / SLIDE) * SLIDE;

/**
 * The fraud job's arithmetic (examples/streams/fraudDetection.ts) as a plain consumer would write
 * it, for the `streams` bench to price the engine against: per user, counts and sums in one-minute
 * panes in a Map, a watermark 5 s behind the slowest partition's latest event, and each 5-minute
 * window checked when the watermark passes its end. No state store, no exactly-once.
 *
 * Its rules are the engine's (core/streams/job.ts and windowOperator.ts, allowed lateness 0): a
 * transaction whose last window has ended by the watermark is late; the watermark is null until
 * every partition has delivered and never goes back; windows fire in order of end, then user; a
 * pane is dropped once its last window has fired. So over the same records in the same order it
 * raises the same alerts and finds the same late transactions (test/unit/bench.plainFraudDetector.test.ts).
 */
export class PlainFraudDetector {
  private readonly panes = new Map<string, Map<number, { count: number; total: number }>>();
  private readonly latest: (number | null)[];
  private current: number | null = null;

  constructor(partitions: number) {
    this.latest = Array.from({ length: partitions }, () => null);
  }

  /** The watermark (epoch ms), null before every partition has delivered. */
  get watermark(): number | null {
    return this.current;
  }

  /**
   * One transaction of a partition: pushes the alerts of the windows the watermark passed onto
   * `alerts`, and returns true when the transaction was too late for any window (then not counted).
   */
  add(partition: number, txn: Transaction, alerts: FraudAlert[]): boolean {
    const t = txn.timestamp;
    const late = this.current !== null && minuteOf(t) + SIZE <= this.current;
    if (!late) {
      let user = this.panes.get(txn.userId);
      if (user === undefined) this.panes.set(txn.userId, (user = new Map()));
      const pane = user.get(minuteOf(t));
      if (pane === undefined) user.set(minuteOf(t), { count: 1, total: txn.amount });
      else {
        pane.count++;
        pane.total += txn.amount;
      }
    }
    const seen = this.latest[partition];
    if (seen === undefined) throw new RangeError(`partition ${partition} is not one of ${this.latest.length}`);
    if (seen === null || t > seen) this.latest[partition] = t;
    let slowest: number | null = Infinity;
    for (const l of this.latest) slowest = l === null || slowest === null ? null : Math.min(slowest, l);
    if (slowest !== null) this.advance(slowest - BOUND, alerts);
    return late;
  }

  /**
   * The producers have stopped: the watermark moves to the fastest partition's, as the engine's
   * does once every partition is idle, and the windows it passes fire.
   */
  flush(alerts: FraudAlert[]): void {
    const seen = this.latest.filter((l) => l !== null);
    if (seen.length > 0) this.advance(Math.max(...seen) - BOUND, alerts);
  }

  private advance(to: number, alerts: FraudAlert[]): void {
    const from = this.current;
    if (from !== null && to <= from) return;
    this.current = to;
    // Window ends (and pane expiries) fall on whole minutes: nothing to do unless one lies in (from, to].
    if (from !== null && minuteOf(from) + SLIDE > to) return;
    const due: { end: number; userId: string }[] = [];
    for (const [userId, user] of this.panes) {
      const ends = new Set<number>();
      for (const start of user.keys())
        for (let end = start + SLIDE; end <= start + SIZE; end += SLIDE)
          if (end <= to && (from === null || end > from)) ends.add(end);
      for (const end of ends) due.push({ end, userId });
    }
    due.sort((a, b) => a.end - b.end || (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
    for (const { end, userId } of due) {
      const user = this.panes.get(userId)!;
      let transactionCount = 0;
      let totalAmount = 0;
      for (let start = end - SIZE; start < end; start += SLIDE) {
        const pane = user.get(start);
        if (pane === undefined) continue;
        transactionCount += pane.count;
        totalAmount += pane.total;
      }
      if (transactionCount > MAX_COUNT || totalAmount > MAX_TOTAL)
        alerts.push({ userId, reason: 'HIGH_VELOCITY', transactionCount, totalAmount });
    }
    for (const [userId, user] of this.panes) {
      for (const start of user.keys()) if (start + SIZE <= to) user.delete(start);
      if (user.size === 0) this.panes.delete(userId);
    }
  }
}
