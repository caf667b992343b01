import { describe, expect, it } from 'vitest';
import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import { MemoryStore } from '../../core/adapters/memory/memoryStore.ts';
import { ConsumerGroups } from '../../core/groups/consumerGroups.ts';
import { MemoryGroupStore } from '../../core/groups/memoryGroupStore.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { MemoryObjectStore } from '../../core/tiering/objectStore.ts';
import { Tiering } from '../../core/tiering/tiering.ts';

/**
 * Scale is part of correctness: the requests an operation makes, and the capacity they consume,
 * must not grow with a partition's history. The in-memory store charges what DynamoDB would (1 MB
 * query pages, read and write units), so a path that lists or scans history shows here.
 */
const MINUTE = 60_000;
const SMALL = 1_000;
const LARGE = 50_000;

interface Cost {
  requests: number;
  units: number;
  /** Requests to the object store (S3): segment indexes and batches. */
  objectRequests: number;
}

type Operation =
  | 'describe'
  | 'produce'
  | 'fetch at the tail'
  | 'fetch from the oldest offset'
  | 'group poll'
  | 'offset for a timestamp in S3'
  | 'offset for a timestamp in the hot tier'
  | 'offset for a timestamp after every record'
  | 'describe with sizes';

/** A partition with `batches` one-record batches: the older half rolled to S3 segments, the newer half hot. */
async function costsAt(batches: number): Promise<Record<Operation, Cost>> {
  let meter: Cost | undefined;
  const store = new MemoryStore({
    onConsumedCapacity: (c: ConsumedCapacity[]) => {
      if (meter === undefined) return;
      meter.requests++;
      meter.units += c.reduce((n, x) => n + (x.CapacityUnits ?? 0), 0);
    },
  });
  const objects = new MemoryObjectStore();
  const getRange = objects.getRange.bind(objects);
  objects.getRange = (key, start, end) => {
    if (meter !== undefined) meter.objectRequests++;
    return getRange(key, start, end);
  };
  let t = 1_800_000_000_000;
  const now = () => t;
  const engine = () => new Sluice({ log: store, metadata: store, tiering: { store, objects }, now });
  const writer = engine();
  await writer.createTopic('history', { config: { hotRetentionMs: MINUTE } });
  const value = { orderId: 'order-000000', note: 'x'.repeat(200) };
  // Create times a second apart, a day before they are appended, out of order within each ten.
  const dayBefore = t - 24 * 60 * MINUTE;
  const stamp = (i: number) => dayBefore + 1000 * (i - (i % 10) + ((i * 7) % 10));
  for (let i = 0; i < batches; i++) {
    if (i === batches / 2) t += 10 * MINUTE; // the first half is old enough to roll
    await writer.append('history', [{ key: `k${i % 97}`, value, partition: 0, timestamp: stamp(i) }]);
  }
  await new Tiering({ log: store, metadata: store, store, objects, now }).runOnce();
  const groups = new ConsumerGroups({ store: new MemoryGroupStore(), sluice: writer, now });
  const tail = await writer.offsetFor('history', 0, 'latest');
  expect(tail).toBe(batches);

  const measure = async (fn: () => Promise<unknown>): Promise<Cost> => {
    meter = { requests: 0, units: 0, objectRequests: 0 };
    await fn();
    const cost = meter;
    meter = undefined;
    return cost;
  };
  // Each operation on a fresh engine (no topic or tail cache), as a cold Lambda container would run it.
  const member = await groups.join('g', { topics: ['history'], autoOffsetReset: 'earliest' });
  await groups.poll('g', member.memberId, { maxRecords: 1 }); // settles the assignment
  const offsetFor = async (i: number, expected: number): Promise<Cost> => {
    let found: number | undefined;
    const cost = await measure(async () => (found = await engine().offsetFor('history', 0, { timestamp: stamp(i) })));
    expect(found, `the offset for the timestamp of record ${i}`).toBe(expected);
    return cost;
  };
  // Record i holds stamp(i); the first record at or after it is i itself, or one of the ten before
  // it (stamps are shuffled within each ten).
  const firstAtOrAfter = (i: number) => Array.from({ length: batches }, (_, k) => k).find((k) => stamp(k) >= stamp(i))!;
  const inS3 = Math.floor(batches / 4) + 3;
  const inHotTier = Math.floor((batches * 3) / 4) + 5;
  return {
    describe: await measure(() => engine().describeTopic('history')),
    produce: await measure(() => engine().append('history', [{ value, partition: 0 }])),
    'fetch at the tail': await measure(() => engine().read('history', 0, tail - 1)),
    'fetch from the oldest offset': await measure(() => engine().read('history', 0, 0, { maxRecords: 100 })),
    'group poll': await measure(() => groups.poll('g', member.memberId, { maxRecords: 100 })),
    'offset for a timestamp in S3': await offsetFor(inS3, firstAtOrAfter(inS3)),
    'offset for a timestamp in the hot tier': await offsetFor(inHotTier, firstAtOrAfter(inHotTier)),
    'offset for a timestamp after every record': await measure(() =>
      engine().offsetFor('history', 0, { timestamp: stamp(batches) + 10_000 }),
    ),
    // The opt-in scan of the hot tier: it exists to scan, so it may grow (and shows the meter can see growth).
    'describe with sizes': await measure(() => engine().describeTopic('history', { sizes: true })),
  };
}

describe('cost at any history size', () => {
  it(`each request costs the same at ${SMALL} and ${LARGE} batches of history`, { timeout: 180_000 }, async () => {
    const [small, large] = [await costsAt(SMALL), await costsAt(LARGE)];
    const { 'describe with sizes': scanSmall, ...fixedSmall } = small;
    expect(large['describe with sizes'].requests, 'the meter sees a scan grow').toBeGreaterThan(scanSmall.requests * 5);
    for (const op of Object.keys(fixedSmall) as Operation[]) {
      const [a, b] = [small[op], large[op]];
      expect(Math.abs(b.requests - a.requests), `${op}: ${a.requests} requests vs ${b.requests}`).toBeLessThanOrEqual(
        1,
      );
      expect(
        Math.abs(b.objectRequests - a.objectRequests),
        `${op}: ${a.objectRequests} object store requests vs ${b.objectRequests}`,
      ).toBeLessThanOrEqual(1);
      expect(b.units / a.units, `${op}: ${a.units} capacity units vs ${b.units}`).toBeLessThanOrEqual(1.1);
    }
  });
});
