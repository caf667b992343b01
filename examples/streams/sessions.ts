/**
 * Session windows, the reference's tool for user session analysis: each user's clicks grouped into
 * sessions that end after 30 minutes without activity, one summary per session to `user-sessions`
 * once the watermark passes the session's end (its last click plus the gap).
 *
 * Runs in memory end to end:
 *   npx sluice example streams/sessions [--seed 7] [--users 20] [--hours 6]
 */
import { parseArgs } from 'node:util';
import { combine, count, max, min } from '../../core/streams/aggregators.ts';
import { stream } from '../../core/streams/stream.ts';
import { boundedOutOfOrderness } from '../../core/streams/watermarks.ts';
import { session } from '../../core/streams/windows.ts';
import { runInMemory, type Arrival } from './inMemory.ts';
import { prng } from './prng.ts';

export type Click = { userId: string; page: string; timestamp: number };
export type UserSession = { userId: string; firstClick: string; lastClick: string; clicks: number; minutes: number };

const MINUTE = 60_000;

export const sessionsJob = stream<Click>('clicks', {
  timestamp: (click) => click.timestamp,
  watermark: boundedOutOfOrderness('5s'),
  // No idleness: with few users a partition is often quiet for many minutes, and the clicks it then
  // delivers would be judged against the watermark the other partitions moved on, and sent aside
  // as late. The price: the job's watermark waits for the slowest partition.
})
  .keyBy((click) => click.userId)
  .window(session({ gap: '30m' }))
  .aggregate(
    combine({
      clicks: count<Click>(),
      first: min((c: Click) => c.timestamp),
      last: max((c: Click) => c.timestamp),
    }),
  )
  .map((w): UserSession => ({
    userId: w.key,
    firstClick: new Date(w.result.first as number).toISOString(),
    lastClick: new Date(w.result.last as number).toISOString(),
    clicks: w.result.clicks,
    minutes: Math.round(((w.result.last as number) - (w.result.first as number)) / MINUTE),
  }))
  .to('user-sessions');

export interface ClickOptions {
  /** @default 7 */
  readonly seed?: number;
  /** @default 20 */
  readonly users?: number;
  /** @default 6 */
  readonly hours?: number;
  /** Epoch ms of the first click. @default 2026-01-01T08:00:00Z */
  readonly start?: number;
}

const PAGES = ['/', '/search', '/product', '/cart', '/checkout', '/account'];

/**
 * Each user comes back after 35 minutes to 3 hours of quiet and clicks 2 to 25 times, 5 s to 10
 * minutes apart; a click reaches the topic up to 5 s after it happened.
 */
export function generateClicks(options: ClickOptions = {}): (Arrival & { value: Click })[] {
  const random = prng(options.seed ?? 7);
  const start = options.start ?? Date.UTC(2026, 0, 1, 8);
  const end = start + (options.hours ?? 6) * 60 * MINUTE;
  const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const clicks: (Arrival & { value: Click })[] = [];
  for (let u = 0; u < (options.users ?? 20); u++) {
    const userId = `user-${u + 1}`;
    for (let t = start + between(0, 60 * MINUTE); t < end; t += between(35 * MINUTE, 180 * MINUTE)) {
      for (let n = between(2, 25); n > 0 && t < end; n--, t += between(5_000, 10 * MINUTE)) {
        const page = PAGES[between(0, PAGES.length - 1)] as string;
        clicks.push({ at: t + between(0, 4_999), key: userId, value: { userId, page, timestamp: t } });
      }
    }
  }
  return clicks;
}

/** Generates clicks, produces them to `clicks` as they happen, and runs `sessionsJob` over them. */
export async function runSessions(options: ClickOptions = {}) {
  const clicks = generateClicks(options);
  const run = await runInMemory({
    job: sessionsJob,
    name: 'user-sessions',
    input: clicks,
    partitions: 2,
    tickMs: MINUTE,
    // Sessions whose last click is less than the gap before the watermark are still open at the
    // end, as they would be in a live job.
    flushAt: Math.max(...clicks.map((c) => c.at)) + MINUTE,
  });
  return { clicks, ...run, sessions: run.outputs.map((o) => o.value as UserSession) };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string', default: '7' },
      users: { type: 'string', default: '20' },
      hours: { type: 'string', default: '6' },
    },
  });
  const { clicks, sessions } = await runSessions({
    seed: Number(values.seed),
    users: Number(values.users),
    hours: Number(values.hours),
  });
  console.log(`Produced ${clicks.length} clicks`);
  const ordered = [...sessions].sort((a, b) => a.firstClick.localeCompare(b.firstClick));
  for (const s of ordered)
    console.log(`user-sessions: ${s.userId} ${s.firstClick} to ${s.lastClick}: ${s.clicks} clicks in ${s.minutes} min`);
}
