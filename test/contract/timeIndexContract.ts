import { describe, expect, it } from 'vitest';
import { MAX_READ_BYTES, Sluice } from '../../core/log/sluice.ts';
import {
  logKey,
  type PartitionState,
  type SegmentRecord,
  type StoredBatch,
  type TieringStore,
} from '../../core/ports.ts';
import type { ObjectStore } from '../../core/tiering/objectStore.ts';
import { Tiering } from '../../core/tiering/tiering.ts';
import { prng } from '../support/prng.ts';
import { tieredEngine, type Store, type TieredKind } from '../support/stores.ts';
import { clock } from '../support/clock.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Every record from the log start, with its offset and timestamp, and the high watermark. */
async function everyRecord(sluice: Sluice, topic: string) {
  const records: { offset: number; timestamp: number }[] = [];
  for (let offset = await sluice.offsetFor(topic, 0, 'earliest'); ;) {
    const page = await sluice.read(topic, 0, offset, { maxRecords: 1000, maxBytes: MAX_READ_BYTES });
    records.push(...page.records.map((r) => ({ offset: r.offset, timestamp: r.timestamp })));
    if (page.nextOffset >= page.highWatermark) return { records, highWatermark: page.highWatermark };
    offset = page.nextOffset;
  }
}

/**
 * Checks `offsetFor({ timestamp })` against a brute-force oracle, a scan of every record: the
 * first offset whose timestamp is at or after the target, else the high watermark. The targets
 * are every timestamp ever appended (also of records since removed) and its neighbours.
 */
async function expectOracle(sluice: Sluice, topic: string, appended: readonly number[], random: () => number) {
  const { records, highWatermark } = await everyRecord(sluice, topic);
  // Some of every kind, and the latest (only a target above the running maximum of earlier
  // batches lets the index skip them).
  const targets = new Set([0, ...appended.flatMap((t) => [t - 1, t, t + 1])]);
  const sample = [...new Set([...[...targets].filter(() => random() < 30 / targets.size), ...appended.slice(-10)])];
  for (const target of sample) {
    const expected = records.find((r) => r.timestamp >= target)?.offset ?? highWatermark;
    expect(await sluice.offsetFor(topic, 0, { timestamp: target }), `the offset for ${target}`).toBe(expected);
  }
  return sample.length;
}

/**
 * The store as code written before the time index used it: batches put at the log's end without a
 * reservation (so the sequencer falls behind, and the next reservation starts a new time chain
 * past them) and without marks, segments without running maxima, partition states without the
 * tiered maximum.
 */
function beforeTheIndex(store: Store & TieringStore): Store & TieringStore {
  const s = Object.create(store) as Store & TieringStore;
  const segment = ({ runningMaxTimestamp: _max, ...rest }: SegmentRecord): SegmentRecord => rest;
  const state = ({ tieredMaxTimestamp: _max, ...rest }: PartitionState): PartitionState => rest;
  s.reserveOffsets = async (log) => {
    const last = await store.lastBatch(log);
    const base = last === undefined ? 0 : last.baseOffset + last.recordCount;
    return { base, time: { chainStart: base, maxTimestamp: 0, bytes: 0 } };
  };
  s.putBatch = ({ timeMark: _mark, ...b }, producer) => store.putBatch(b, producer);
  s.recordSegment = (seg, next) => store.recordSegment(segment(seg), state(next));
  s.setPartitionState = (log, next) => store.setPartitionState(log, state(next));
  s.replaceSegment = (seg, previousKey, next) => store.replaceSegment(segment(seg), previousKey, state(next));
  return s;
}

/** Random histories, each a seed and a cleanup policy. */
export type Histories = readonly (readonly [number, 'delete' | 'compact'])[];

export function timeIndexContract(kind: TieredKind, histories: Histories): void {
  describe(`the time index: ${kind.name}`, () => {
    for (const [seed, cleanupPolicy] of histories) {
      it(`offset for a timestamp is what a scan of every record answers (seed ${seed}, ${cleanupPolicy}): out-of-order timestamps, concurrent writers, rolls, retention, delete-records${cleanupPolicy === 'compact' ? ', compaction' : ''}`, async () => {
        const random = prng(seed);
        const c = clock();
        const { store, objects } = await kind.make(c.now);
        const engine = () => new Sluice({ log: store, metadata: store, tiering: { store, objects }, now: c.now });
        const writers = [engine(), engine(), engine()];
        const tiering = new Tiering({ log: store, metadata: store, store, objects, now: c.now });
        await writers[0]!.createTopic('stamps', {
          config: {
            hotRetentionMs: MINUTE,
            timestampAfterMaxMs: -1,
            cleanupPolicy,
            compression: (['none', 'gzip', 'zstd'] as const)[seed % 3]!,
          },
        });
        const appended: number[] = [];
        const stamp = (): number => {
          const r = random();
          if (r < 0.6) return c.now() - Math.floor(random() * 5000); // about now, out of order
          if (r < 0.72) return c.now() - Math.floor(random() * 30 * DAY); // backfilled
          if (r < 0.8) return c.now() + Math.floor(random() * 30_000); // a clock ahead
          if (r < 0.92 && appended.length > 0) return appended[Math.floor(random() * appended.length)]!; // a repeat
          return Math.floor(random() * 1000); // about the epoch
        };
        // Large values now and then (that compression cannot shrink), so that batches add up to marks quickly.
        const noise = (length: number) =>
          Array.from({ length: length / 6 }, () => Math.floor(random() * 2 ** 31).toString(36)).join('');
        const record = () => {
          const timestamp = stamp();
          appended.push(timestamp);
          const value = random() < 0.3 ? noise(20_000 + Math.floor(random() * 40_000)) : `v${appended.length}`;
          return { key: `k${Math.floor(random() * 6)}`, value, partition: 0, timestamp };
        };
        let checked = 0;
        for (let round = 0; round < 12; round++) {
          // Each writer's appends are drawn before they race, so the history depends on the seed only.
          const plans = writers.map(() =>
            Array.from({ length: 1 + Math.floor(random() * 3) }, () =>
              Array.from({ length: 1 + Math.floor(random() * 4) }, record),
            ),
          );
          await Promise.all(
            writers.map(async (w, i) => {
              for (const records of plans[i]!) await w.append('stamps', records);
            }),
          );
          c.advance(20_000 + Math.floor(random() * 60_000));
          if (round % 3 === 2) await tiering.runOnce();
          if (round === 7 && cleanupPolicy === 'delete') {
            await writers[0]!.updateTopic('stamps', { config: { retentionBytes: 200_000 } });
            await tiering.runOnce(); // drops the oldest segments
            await writers[0]!.updateTopic('stamps', { config: { retentionBytes: -1 } });
          }
          if (round === 5 || round === 10) {
            const [start, end] = [
              await writers[0]!.offsetFor('stamps', 0, 'earliest'),
              await writers[0]!.offsetFor('stamps', 0, 'latest'),
            ];
            await writers[0]!.deleteRecords('stamps', 0, start + Math.floor(random() * (end - start)));
          }
          if (round % 4 === 3) {
            checked += await expectOracle(writers[round % 3]!, 'stamps', appended, random);
            checked += await expectOracle(engine(), 'stamps', appended, random); // cold caches
          }
        }
        expect(checked, 'targets checked').toBeGreaterThan(150);
      });
    }

    it('a look-up costs the same requests at four times the history: segments and hot batches it does not need are skipped', async () => {
      const costs: Record<string, { requests: number; objectRequests: number }>[] = [];
      for (const batches of [48, 192]) {
        const c = clock();
        let requests = 0;
        let objectRequests = 0;
        const { store, objects } = await kind.make(c.now, { onConsumedCapacity: () => requests++ });
        const counted = Object.create(objects) as ObjectStore;
        counted.getRange = (key, start, end) => {
          objectRequests++;
          return objects.getRange(key, start, end);
        };
        const { sluice, tiering } = tieredEngine(store, objects, c.now);
        await sluice.createTopic('steady', { config: { hotRetentionMs: MINUTE } });
        const random = prng(batches);
        const value = () => Array.from({ length: 5000 }, () => Math.floor(random() * 2 ** 31).toString(36)).join('');
        const stamps: number[] = [];
        // Runs of eight batches a few minutes apart: the first half rolled to S3 (a segment a run), the rest hot.
        for (let i = 0; i < batches; i++) {
          stamps.push(c.now() - (i % 3) * 1000); // a little out of order
          await sluice.append('steady', [{ value: value(), partition: 0, timestamp: stamps.at(-1)! }]);
          c.advance(1000);
          if (i % 8 === 7) c.advance(5 * MINUTE);
          if (i % 8 === 7 && i < batches / 2) await tiering.runOnce();
        }
        expect((await sluice.describeTopic('steady')).partitions[0]!.segments).toBe(batches / 16);
        const cost = async (target: number) => {
          const reader = tieredEngine(store, counted, c.now).sluice; // cold caches
          [requests, objectRequests] = [0, 0];
          const offset = await reader.offsetFor('steady', 0, { timestamp: target });
          const first = stamps.findIndex((t) => t >= target);
          expect(offset, `the offset for ${target}`).toBe(first === -1 ? batches : first);
          return { requests, objectRequests };
        };
        costs.push({
          'in S3': await cost(stamps[Math.floor(batches * 0.3)]! + 1),
          'in the hot tier': await cost(stamps[Math.floor(batches * 0.9)]! + 1),
          'after every record': await cost(Math.max(...stamps) + 1),
        });
      }
      const [small, large] = [costs[0]!, costs[1]!];
      for (const where of Object.keys(small)) {
        const [a, b] = [small[where]!, large[where]!];
        expect(
          Math.abs(b.requests - a.requests),
          `${where}: ${a.requests} requests vs ${b.requests}`,
        ).toBeLessThanOrEqual(1);
        expect(
          Math.abs(b.objectRequests - a.objectRequests),
          `${where}: ${a.objectRequests} object store requests vs ${b.objectRequests}`,
        ).toBeLessThanOrEqual(1);
      }
    });

    it('a partition written before the time index is answered exactly, and the roller indexes its segments', async () => {
      const random = prng(7);
      const c = clock();
      const { store, objects } = await kind.make(c.now);
      const before = beforeTheIndex(store);
      const old = tieredEngine(before, objects, c.now);
      const now = tieredEngine(store, objects, c.now);
      await old.sluice.createTopic('old', { config: { hotRetentionMs: MINUTE, compression: 'zstd' } });
      const appended: number[] = [];
      const append = async (sluice: Sluice, batches: number) => {
        for (let b = 0; b < batches; b++) {
          const records = Array.from({ length: 3 }, (_, i) => ({
            value: 'y'.repeat(i === 0 ? 60_000 : 10),
            partition: 0,
            timestamp: c.now() - Math.floor(random() * HOUR),
          }));
          appended.push(...records.map((r) => r.timestamp));
          await sluice.append('old', records);
          c.advance(10_000);
        }
      };
      await append(old.sluice, 12);
      c.advance(2 * MINUTE);
      await old.tiering.runOnce(); // a segment without a running maximum
      await append(old.sluice, 6);
      await append(now.sluice, 12); // a time chain starts after the old batches
      await expectOracle(now.sluice, 'old', appended, random);
      const topic = (await now.sluice.listTopics())[0]!;
      const log = logKey(topic.topicId, 0);
      expect((await store.listSegments(log)).map((s) => s.runningMaxTimestamp)).toStrictEqual([undefined]);

      c.advance(2 * MINUTE);
      await now.tiering.runOnce();
      const segments = await store.listSegments(log);
      expect(segments.length, 'rolled on').toBeGreaterThan(1);
      let running = 0;
      for (const s of segments) {
        running = Math.max(running, s.maxTimestamp);
        expect(s.runningMaxTimestamp, `segment ${s.base} indexed`).toBe(running);
      }
      expect((await store.getPartitionState(log)).tieredMaxTimestamp).toBe(running);
      await expectOracle(now.sluice, 'old', appended, random);
      await expectOracle(tieredEngine(store, objects, c.now).sluice, 'old', appended, random);
    });

    it('the sequencer moves the time chain with each reservation: its maximum rises only when raised, a wrong guess hands nothing out, and moving it up starts a new chain', async () => {
      const c = clock();
      const { store } = await kind.make(c.now);
      const time = (maxTimestamp: number, raise: boolean) => ({ maxTimestamp, bytes: 100, raise });
      expect(await store.sequencerTime('S')).toBe(undefined);
      await store.advanceSequencer('S', 5);
      expect(await store.sequencerTime('S'), 'no maximum yet').toBe(undefined);
      expect(await store.reserveOffsets('S', 2, time(1000, false)), 'nothing to keep: raise it').toBe('raise');
      expect(await store.reserveOffsets('S', 2, time(1000, true))).toStrictEqual({
        base: 5,
        time: { chainStart: 5, maxTimestamp: 1000, bytes: 100 },
      });
      expect(await store.reserveOffsets('S', 1, time(1000, true)), 'not above it: refused').toBe('kept');
      expect(await store.reserveOffsets('S', 1, time(500, false))).toStrictEqual({
        base: 7,
        previousBase: 5,
        time: { chainStart: 5, maxTimestamp: 1000, bytes: 200 },
      });
      expect(await store.reserveOffsets('S', 1, time(2000, false)), 'above it: refused').toBe('raise');
      // Writers racing with guesses: each reservation's maximum covers its own batch and every one before it.
      const own = [3000, 5000, 4000, 2500, 6000, 5500];
      const reserved = await Promise.all(
        own.map(async (m) => {
          for (let raise = true; ; raise = !raise) {
            const r = await store.reserveOffsets('S', 1, time(m, raise));
            if (r !== 'raise' && r !== 'kept') return { own: m, ...r! };
          }
        }),
      );
      reserved.sort((a, b) => a.base - b.base);
      expect(reserved.map((r) => r.base)).toStrictEqual([8, 9, 10, 11, 12, 13]);
      let running = 1000;
      for (const r of reserved) {
        running = Math.max(running, r.own);
        expect(r.time.maxTimestamp, `the maximum at ${r.base}`).toBe(running);
      }
      expect(await store.sequencerTime('S')).toStrictEqual({ chainStart: 5, maxTimestamp: 6000, bytes: 800 });
      await store.advanceSequencer('S', 100);
      expect(await store.sequencerTime('S'), 'a new chain: no maximum yet').toBe(undefined);
      expect(await store.reserveOffsets('S', 1, time(10, true))).toStrictEqual({
        base: 100,
        time: { chainStart: 100, maxTimestamp: 10, bytes: 100 },
      });
    });

    it('the indexes answer the last entry below a timestamp, per time chain and per partition, in one request each', async () => {
      const c = clock();
      const units: number[] = [];
      const { store } = await kind.make(c.now, {
        onConsumedCapacity: (cc) => units.push(cc.reduce((n, x) => n + (x.CapacityUnits ?? 0), 0)),
      });
      const batch = (log: string, base: number, chainStart: number, max: number, mark = true): StoredBatch => ({
        log,
        baseOffset: base,
        recordCount: 10,
        firstTimestamp: max,
        maxTimestamp: max,
        sizeBytes: 10,
        codec: 'none',
        payload: Uint8Array.from([1, 2, 3]),
        writerId: `w${base}`,
        ...(mark ? { timeMark: { chainStart, maxTimestamp: max } } : {}),
      });
      // Chain 0: marks ending at 10 (100), 20 (100) and 40 (250), a batch between; chain 40: a mark ending at 50 (50).
      for (const b of [
        batch('L', 0, 0, 100),
        batch('L', 10, 0, 100),
        batch('L', 20, 0, 250, false),
        batch('L', 30, 0, 250),
        batch('L', 40, 40, 50),
        batch('other', 0, 0, 10),
      ])
        expect(await store.putBatch(b)).toStrictEqual({ outcome: 'written' });
      expect((await store.batchAtOrBefore('L', 30))?.timeMark, 'a mark reads back').toStrictEqual({
        chainStart: 0,
        maxTimestamp: 250,
      });
      units.length = 0;
      expect(await store.timeMarkBefore('L', 0, 100)).toBe(undefined);
      expect(await store.timeMarkBefore('L', 0, 101), 'of equal maxima, the last').toStrictEqual({
        maxTimestamp: 100,
        end: 20,
      });
      expect(await store.timeMarkBefore('L', 0, 10_000_000)).toStrictEqual({ maxTimestamp: 250, end: 40 });
      expect(await store.timeMarkBefore('L', 40, 51), 'another chain').toStrictEqual({ maxTimestamp: 50, end: 50 });
      expect(await store.timeMarkBefore('L', 40, 50)).toBe(undefined);
      expect(await store.timeMarkBefore('L', 10, 1000), 'no chain starts there').toBe(undefined);
      expect(await store.timeMarkBefore('M', 0, 1000)).toBe(undefined);
      expect(units.length, 'one request each').toBe(7);
      for (const u of units) expect(u, 'an eventually consistent read of a small entry').toBeLessThanOrEqual(0.5);

      // Segments [0, 10) … [30, 40); the last was rolled before the index (no running maximum).
      const segment = (base: number, max: number, running?: number): SegmentRecord => ({
        log: 'L',
        base,
        end: base + 10,
        key: `segments/t/0/${base}.seg`,
        objectSize: 100,
        indexPosition: 50,
        indexLength: 50,
        batches: 1,
        storedBytes: 10,
        sizeBytes: 10,
        maxTimestamp: max,
        ...(running === undefined ? {} : { runningMaxTimestamp: running }),
        createdAt: 1,
      });
      let version = 0;
      for (const s of [segment(0, 100, 100), segment(10, 40, 100), segment(20, 300, 300), segment(30, 500)])
        expect(await store.recordSegment(s, { logStartOffset: 0, tieredThrough: s.end, version: ++version })).toBe(
          true,
        );
      units.length = 0;
      expect(await store.segmentBefore('L', 100)).toBe(undefined);
      expect(await store.segmentBefore('L', 101), 'of equal maxima, the last').toStrictEqual({
        maxTimestamp: 100,
        end: 20,
      });
      expect(
        await store.segmentBefore('L', 10_000_000),
        'segments without a running maximum are not in it',
      ).toStrictEqual({ maxTimestamp: 300, end: 30 });
      expect(await store.segmentBefore('other', 10_000_000)).toBe(undefined);
      expect(units.length, 'one request each').toBe(4);
      for (const u of units) expect(u).toBeLessThanOrEqual(0.5);

      const reaching = async (offset: number, timestamp: number) => {
        units.length = 0;
        const found = await store.firstSegmentReaching('L', offset, timestamp);
        return { base: found?.base, requests: units.length };
      };
      expect(await reaching(0, 50), 'the one starting at the offset').toStrictEqual({ base: 0, requests: 1 });
      expect(await reaching(10, 50), 'the next one').toStrictEqual({ base: 20, requests: 2 });
      expect(await reaching(5, 50), 'the one holding the offset').toStrictEqual({ base: 0, requests: 2 });
      expect(await reaching(15, 50), 'the next one, from inside').toStrictEqual({ base: 20, requests: 2 });
      expect(await reaching(5, 350), 'then a page of the rest').toStrictEqual({ base: 30, requests: 3 });
      expect(await reaching(35, 600)).toStrictEqual({ base: undefined, requests: 2 });
      expect(await reaching(40, 0), 'none ends after the offset').toStrictEqual({ base: undefined, requests: 2 });
    });
  });
}
