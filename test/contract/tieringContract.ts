import { describe, expect, it } from 'vitest';
import { isSluiceError } from '../../core/errors.ts';
import { logKey, type SegmentRecord, type TieringStore } from '../../core/ports.ts';
import { ObjectBatches } from '../../core/log/objectBatches.ts';
import { Sluice } from '../../core/log/sluice.ts';
import type { ObjectStore } from '../../core/tiering/objectStore.ts';
import { PURGE_LEAVES_TO_TTL_MS } from '../../core/tiering/purge.ts';
import { PURGE_GRACE_MS, Tiering } from '../../core/tiering/tiering.ts';
import { tieredEngine, type Store, type TieredKind } from '../support/stores.ts';
import { clock } from '../support/clock.ts';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/** What DynamoDB's TTL does after the clock passed an item's `expiresAt`: removes it. */
async function expireHotCopies(store: Store & TieringStore, log: string, now: number): Promise<number> {
  const expired = (await store.scanBatchHeaders(log, 0, 10_000)).batches.filter(
    (b) => b.expiresAt !== undefined && b.expiresAt * 1000 <= now,
  );
  await store.deleteBatches(
    log,
    expired.map((b) => b.baseOffset),
  );
  return expired.length;
}

async function readAll(sluice: Sluice, topic: string, from = 0): Promise<{ offset: number; value: unknown }[]> {
  const out: { offset: number; value: unknown }[] = [];
  for (let offset = from; ;) {
    const page = await sluice.read(topic, 0, offset, { maxRecords: 37 });
    out.push(...page.records.map((r) => ({ offset: r.offset, value: r.value })));
    if (page.nextOffset >= page.highWatermark) return out;
    expect(page.records.length > 0, `a read from ${offset} below the high watermark returned nothing`).toBeTruthy();
    offset = page.nextOffset;
  }
}

function expectExactly(records: { offset: number; value: unknown }[], count: number, from = 0): void {
  expect(
    records.map((r) => r.offset),
    'every offset once, in order',
  ).toStrictEqual(Array.from({ length: count - from }, (_, i) => from + i));
  expect(
    records.map((r) => r.value),
    'each offset holds what was appended there',
  ).toStrictEqual(records.map((r) => `v${r.offset}`));
}

/** Appends `batches` batches of `size` records, one per minute of the clock. */
async function fill(
  sluice: Sluice,
  c: ReturnType<typeof clock>,
  topic: string,
  batches: number,
  size: number,
  start = 0,
): Promise<number> {
  let next = start;
  for (let b = 0; b < batches; b++) {
    await sluice.append(
      topic,
      Array.from({ length: size }, () => ({ value: `v${next++}`, partition: 0, timestamp: c.now() })),
    );
    c.advance(MINUTE);
  }
  return next;
}

type Step = 'after-put' | 'after-record' | 'mid-delete' | 'before-finish';

/** Wraps the stores so the chosen roll step fails once, after doing its work (or half of it). */
function failing(store: Store & TieringStore, objects: ObjectStore, step: Step) {
  let armed = true;
  const trip = (at: Step) => {
    if (armed && at === step) {
      armed = false;
      throw Object.assign(new Error(`injected failure ${step} (a message that must not reach the report)`), {
        name: 'InjectedFailure',
      });
    }
  };
  const s = Object.create(store) as Store & TieringStore;
  const o = Object.create(objects) as ObjectStore;
  o.put = async (key, bytes) => {
    await objects.put(key, bytes);
    trip('after-put');
  };
  s.recordSegment = async (segment, next) => {
    const ok = await store.recordSegment(segment, next);
    trip('after-record');
    return ok;
  };
  s.deleteBatches = async (log, bases) => {
    if (armed && step === 'mid-delete') {
      await store.deleteBatches(log, bases.slice(0, Math.ceil(bases.length / 2)));
      trip('mid-delete');
    }
    await store.deleteBatches(log, bases);
  };
  s.setPartitionState = async (log, next) => {
    if (next.roll === undefined) trip('before-finish');
    return store.setPartitionState(log, next);
  };
  return { store: s, objects: o };
}

export function tieringContract(kind: TieredKind): void {
  describe(`tiered storage: ${kind.name}`, () => {
    it('rolls old batches into one segment and reads span the tiers transparently', async () => {
      const c = clock();
      const { store, objects } = await kind.make(c.now);
      const { sluice, tiering } = tieredEngine(store, objects, c.now, kind.topicDefaults);
      await sluice.createTopic('roll', { config: { hotRetentionMs: 5 * MINUTE, compression: 'zstd' } });
      const total = await fill(sluice, c, 'roll', 10, 10);
      const reports = await tiering.runOnce();
      expect(reports.map((r) => [r.rolled, r.expired])).toStrictEqual([[1, 0]]);
      const [info] = (await sluice.describeTopic('roll', { sizes: true })).partitions;
      expect(info!.segments).toBe(1);
      expect(info!.tieredThrough, 'the six batches older than 5 minutes moved; the rest stay hot').toBe(60);
      expect(info!.tieredBytes! > 0 && info!.hotBytes! > 0).toBeTruthy();
      const topic = (await sluice.listTopics())[0]!;
      const hot = await store.scanBatchHeaders(logKey(topic.topicId, 0), 0, 100);
      expect(
        hot.batches.map((b) => [b.baseOffset, b.expiresAt]),
        'rolled batches keep their hot copies until their TTL: append time + hot retention + 24 h',
      ).toStrictEqual(hot.batches.map((b) => [b.baseOffset, Math.ceil((b.appendedAt! + 5 * MINUTE + DAY) / 1000)]));
      expect(hot.batches.length).toBe(10);
      expectExactly(await readAll(sluice, 'roll'), total);
      expectExactly(await readAll(sluice, 'roll', 33), total, 33);
      expect(
        await sluice.offsetFor('roll', 0, { timestamp: 1_800_000_000_000 + 2 * MINUTE }),
        'timestamp look-up reaches into segments',
      ).toBe(20);
      // A second pass finds nothing new until time moves on; the tail batch never leaves.
      expect((await tiering.runOnce()).map((r) => r.rolled)).toStrictEqual([0]);
      c.advance(60 * MINUTE);
      await tiering.runOnce();
      expect((await sluice.describeTopic('roll')).partitions[0]!.tieredThrough).toBe(90);
      expectExactly(await readAll(sluice, 'roll'), total);
    });

    it('a roll deletes nothing from the log table: hot copies expire by TTL, and reads go on after they have', async () => {
      const c = clock();
      const { store, objects } = await kind.make(c.now);
      const { sluice, tiering } = tieredEngine(store, objects, c.now, kind.topicDefaults);
      await sluice.createTopic('ttl', { config: { hotRetentionMs: MINUTE } });
      const total = await fill(sluice, c, 'ttl', 6, 4);
      const deleted: number[] = [];
      const counting = Object.create(store) as typeof store;
      counting.deleteBatches = async (log, bases) => {
        deleted.push(...bases);
        await store.deleteBatches(log, bases);
      };
      const reports = await new Tiering({
        log: counting,
        metadata: counting,
        store: counting,
        objects,
        now: c.now,
      }).runOnce();
      expect(reports[0]!.rolled).toBe(1);
      expect(deleted, 'no hot copy deleted: a delete costs what the write did').toStrictEqual([]);
      const topic = (await sluice.listTopics())[0]!;
      c.advance(13 * 60 * MINUTE); // idle: the tail batch, near its TTL, moves too
      expect((await tiering.runOnce())[0]!.rolled).toBe(1);
      expect(deleted).toStrictEqual([]);
      c.advance(2 * DAY);
      expect(await expireHotCopies(store, logKey(topic.topicId, 0), c.now())).toBe(6);
      expectExactly(await readAll(sluice, 'ttl'), total);
      expectExactly(await readAll(sluice, 'ttl', 9), total, 9);
      const [described] = (await sluice.describeTopic('ttl')).partitions;
      expect(described!.highWatermark, 'the high watermark is the tiered end once no hot copy is left').toBe(total);
      expect(await sluice.offsetFor('ttl', 0, 'latest')).toBe(total);
      const [meta] = await sluice.append('ttl', [{ value: `v${total}`, partition: 0 }]);
      expect(meta!.offset, 'appends go on from there').toBe(total);
    });

    it('a batch near its TTL is rolled even when the hot retention grew since it was written', async () => {
      const c = clock();
      const { store, objects } = await kind.make(c.now);
      const { sluice, tiering } = tieredEngine(store, objects, c.now, kind.topicDefaults);
      await sluice.createTopic('grown', { config: { hotRetentionMs: 60 * MINUTE } });
      const total = await fill(sluice, c, 'grown', 3, 2);
      await sluice.updateTopic('grown', { config: { hotRetentionMs: 30 * DAY } });
      c.advance(2 * 60 * MINUTE);
      expect((await tiering.runOnce())[0]!.rolled, 'young under the new hot retention: stays').toBe(0);
      c.advance(12 * 60 * MINUTE); // within half the 24 h margin of the TTL set when written
      expect((await tiering.runOnce())[0]!.rolled).toBe(1);
      const topic = (await sluice.listTopics())[0]!;
      expect((await store.getPartitionState(logKey(topic.topicId, 0))).tieredThrough, 'the tail batch too').toBe(6);
      c.advance(DAY);
      expect(await expireHotCopies(store, logKey(topic.topicId, 0), c.now())).toBe(3);
      expectExactly(await readAll(sluice, 'grown'), total);
    });

    for (const step of ['after-put', 'after-record', 'mid-delete', 'before-finish'] as const) {
      it(`a roller that dies ${step} is finished by the next run: every record exactly once, in order`, async () => {
        const c = clock();
        const { store, objects } = await kind.make(c.now);
        const { sluice } = tieredEngine(store, objects, c.now, kind.topicDefaults);
        await sluice.createTopic('faulty', { config: { hotRetentionMs: MINUTE } });
        // Deleting hot copies is only for batches written before TTLs existed: written here by an
        // engine without tiering, whose batches carry none.
        const writer = step === 'mid-delete' ? new Sluice({ log: store, metadata: store, now: c.now }) : sluice;
        const total = await fill(writer, c, 'faulty', 8, 5);
        const broken = failing(store, objects, step);
        const [report] = await tieredEngine(broken.store, broken.objects, c.now, kind.topicDefaults).tiering.runOnce();
        expect(report!.errors, 'the failure is reported by name, not thrown, and without its message').toStrictEqual([
          { step: 'roll', code: 'InjectedFailure' },
        ]);
        expectExactly(await readAll(sluice, 'faulty'), total); // readers are fine even mid-roll
        await tieredEngine(store, objects, c.now, kind.topicDefaults).tiering.runOnce();
        const topic = (await sluice.listTopics())[0]!;
        const state = await store.getPartitionState(logKey(topic.topicId, 0));
        expect(state.roll, 'the roll finished').toBe(undefined);
        expect(state.tieredThrough).toBe(35);
        const hot = (await store.scanBatchHeaders(logKey(topic.topicId, 0), 0, 100)).batches;
        expect(
          hot.map((b) => [b.baseOffset, b.expiresAt !== undefined]),
          'the hot copies stay, each to expire by TTL; those without a TTL are deleted',
        ).toStrictEqual(step === 'mid-delete' ? [[35, false]] : Array.from({ length: 8 }, (_, i) => [i * 5, true]));
        expect((await store.listSegments(logKey(topic.topicId, 0))).length, 'one segment, not two').toBe(1);
        expectExactly(await readAll(sluice, 'faulty'), total);
      });
    }

    it('readers running concurrently with writers and repeated rolls see no gap and no duplicate', async () => {
      const c = clock();
      const { store, objects } = await kind.make(c.now);
      const { sluice, tiering } = tieredEngine(store, objects, c.now, kind.topicDefaults);
      await sluice.createTopic('busy', { config: { hotRetentionMs: MINUTE } });
      let written = 0;
      let done = false;
      const writer = (async () => {
        for (let b = 0; b < 40; b++) {
          await sluice.append(
            'busy',
            Array.from({ length: 3 }, () => ({ value: `v${written++}`, partition: 0 })),
          );
          c.advance(20_000);
        }
        done = true;
      })();
      const roller = (async () => {
        while (!done) await tiering.runOnce();
      })();
      let checks = 0;
      const reader = (async () => {
        while (!done) {
          const seen = await readAll(sluice, 'busy');
          expectExactly(seen, seen.length);
          checks++;
        }
      })();
      await Promise.all([writer, roller, reader]);
      await tiering.runOnce();
      expectExactly(await readAll(sluice, 'busy'), written);
      const [info] = (await sluice.describeTopic('busy')).partitions;
      expect(info!.segments! >= 2, `several rolls happened (${info!.segments} segments)`).toBeTruthy();
      expect(checks >= 3, `the reader checked ${checks} full histories`).toBeTruthy();
    });

    it('a corrupted segment is reported as CorruptData, never as wrong bytes', async () => {
      const c = clock();
      const { store, objects } = await kind.make(c.now);
      const { sluice, tiering } = tieredEngine(store, objects, c.now, kind.topicDefaults);
      await sluice.createTopic('rot', { config: { hotRetentionMs: MINUTE } });
      await fill(sluice, c, 'rot', 4, 5);
      await tiering.runOnce();
      const topic = (await sluice.listTopics())[0]!;
      const [segment] = await store.listSegments(logKey(topic.topicId, 0));
      const bytes = await objects.getRange(segment!.key, 0, segment!.objectSize - 1);
      bytes[20]! ^= 0xff; // inside the first batch's payload
      await objects.put(segment!.key, bytes);
      // A fresh engine, so no index is cached from before.
      const { sluice: reader } = tieredEngine(store, objects, c.now, kind.topicDefaults);
      await expect(reader.read('rot', 0, 0)).rejects.toSatisfy(
        (e) => isSluiceError(e, 'CorruptData') && /CRC32C/.test(e.message),
      );
      expect((await reader.read('rot', 0, 15)).records[0]!.value, 'the hot tail is still readable').toBe('v15');
    });

    it('timestamps cannot pin retention: segments age by append time, and timestamps too far ahead are refused', async () => {
      const c = clock();
      const { store, objects } = await kind.make(c.now);
      const { sluice, tiering } = tieredEngine(store, objects, c.now, kind.topicDefaults);
      await sluice.createTopic('stamps', { config: { hotRetentionMs: MINUTE, retentionMs: 30 * MINUTE } });
      const DAY = 24 * 60 * MINUTE;
      // A producer with a clock a month slow: its records are kept for retentionMs from when they came.
      await sluice.append('stamps', [{ value: 'late', partition: 0, timestamp: c.now() - 30 * DAY }]);
      c.advance(2 * MINUTE);
      await sluice.append('stamps', [{ value: 'tail', partition: 0 }]);
      await tiering.runOnce();
      expect((await sluice.describeTopic('stamps')).partitions[0]!.segments, 'rolled').toBe(1);
      expect(
        (await readAll(sluice, 'stamps')).map((r) => r.value),
        'not expired on arrival',
      ).toStrictEqual(['late', 'tail']);
      c.advance(29 * MINUTE);
      await sluice.append('stamps', [{ value: 'newer', partition: 0 }]);
      expect((await tiering.runOnce())[0]!.expired, '31 minutes after its append, it goes').toBe(1);
      // A producer with a clock a day fast would pin a segment for a day: refused, nothing written.
      const before = await sluice.offsetFor('stamps', 0, 'latest');
      await expect(
        sluice.append('stamps', [
          { value: 'ok', partition: 0 },
          { value: 'ahead', partition: 0, timestamp: c.now() + DAY },
        ]),
      ).rejects.toSatisfy(
        (e) => isSluiceError(e, 'InvalidTimestamp') && e.index === 1 && e.latest === c.now() + 60 * MINUTE,
      );
      expect(await sluice.offsetFor('stamps', 0, 'latest')).toBe(before);
      await sluice.updateTopic('stamps', { config: { timestampAfterMaxMs: -1, timestampBeforeMaxMs: DAY } });
      await sluice.append('stamps', [{ value: 'ahead', partition: 0, timestamp: c.now() + DAY }]);
      await expect(
        sluice.append('stamps', [{ value: 'old', partition: 0, timestamp: c.now() - 2 * DAY }]),
      ).rejects.toSatisfy((e) => isSluiceError(e, 'InvalidTimestamp') && e.earliest === c.now() - DAY);
    });

    it('retention by time and size drops whole segments; delete-records moves the log start exactly', async () => {
      const c = clock();
      const { store, objects } = await kind.make(c.now);
      const { sluice, tiering } = tieredEngine(store, objects, c.now, kind.topicDefaults);
      await sluice.createTopic('aging', { config: { hotRetentionMs: MINUTE, retentionMs: 30 * MINUTE } });
      const total = await fill(sluice, c, 'aging', 6, 5);
      await tiering.runOnce(); // segment [0, 25)
      c.advance(5 * MINUTE);
      await fill(sluice, c, 'aging', 3, 5, total); // 30..44
      await tiering.runOnce(); // segment [25, 40)
      c.advance(25 * MINUTE); // the first segment's newest record is now older than 30 minutes
      const reports = await tiering.runOnce();
      expect(reports[0]!.expired).toBe(1);
      const info = (await sluice.describeTopic('aging')).partitions[0]!;
      expect([info.logStartOffset, info.segments]).toStrictEqual([25, 1]);
      expect(await sluice.offsetFor('aging', 0, 'earliest')).toBe(25);
      await expect(sluice.read('aging', 0, 3)).rejects.toSatisfy(
        (e) => isSluiceError(e, 'OffsetOutOfRange') && e.logStartOffset === 25,
      );
      expect((await readAll(sluice, 'aging', 25)).map((r) => r.offset)[0]).toStrictEqual(25);

      const deleted = await sluice.deleteRecords('aging', 0, 32);
      expect(deleted).toStrictEqual({ logStartOffset: 32 });
      await expect(sluice.read('aging', 0, 31)).rejects.toSatisfy(
        (e) => isSluiceError(e, 'OffsetOutOfRange') && e.logStartOffset === 32,
      );
      expect((await sluice.read('aging', 0, 32)).records[0]!.offset, 'exactly from 32, inside a segment').toBe(32);
      await expect(sluice.deleteRecords('aging', 0, 1000)).rejects.toSatisfy((e) =>
        isSluiceError(e, 'OffsetOutOfRange'),
      );

      await sluice.updateTopic('aging', { config: { retentionBytes: 1 } });
      c.advance(MINUTE);
      await tiering.runOnce();
      const after = (await sluice.describeTopic('aging')).partitions[0]!;
      expect(after.segments, 'retention by size dropped every segment').toBe(0);
      expect(after.logStartOffset).toBe(after.tieredThrough);
      expectExactly(await readAll(sluice, 'aging', after.logStartOffset), 45, after.logStartOffset);
    });

    it('an idempotent retry of a batch that moved to S3 still returns its original offsets', async () => {
      const c = clock();
      const { store, objects } = await kind.make(c.now);
      const { sluice, tiering } = tieredEngine(store, objects, c.now, kind.topicDefaults);
      await sluice.createTopic('idem-tier', { config: { hotRetentionMs: MINUTE } });
      const producer = { id: 'p', epoch: 0, sequence: 0 };
      const first = await sluice.append('idem-tier', [{ value: 'a', partition: 0 }], { producer });
      c.advance(MINUTE);
      await sluice.append('idem-tier', [{ value: 'b', partition: 0 }]);
      c.advance(2 * MINUTE);
      await tiering.runOnce();
      expect((await sluice.describeTopic('idem-tier')).partitions[0]!.tieredThrough).toBe(1);
      expect(await sluice.append('idem-tier', [{ value: 'a', partition: 0 }], { producer })).toStrictEqual(first);
    });

    it('claim-checked records up to maxRecordBytes round-trip byte for byte, in both tiers, and go with their segment', async () => {
      const c = clock();
      const { store, objects } = await kind.make(c.now);
      const { sluice, tiering } = tieredEngine(store, objects, c.now, kind.topicDefaults);
      await sluice.createTopic('large', {
        config: {
          maxRecordBytes: 3 * 1024 * 1024,
          hotRetentionMs: MINUTE,
          retentionMs: 10 * MINUTE,
          compression: 'gzip',
        },
      });
      const random = (n: number, seed: number) =>
        Uint8Array.from({ length: n }, (_, i) => ((i * 2654435761 + seed * 40503) >>> 13) & 0xff);
      const big = random(3 * 1024 * 1024 - 64, 1);
      const text = 'ü'.repeat(300_000); // 600,000 bytes of UTF-8
      const json = { items: Array.from({ length: 20_000 }, (_, i) => ({ sku: `SKU-${i}`, qty: i % 7 })) };
      const input = [
        { key: 'k-big', value: big, headers: { kind: 'bytes' }, partition: 0, timestamp: c.now() },
        { key: 'k-small', value: 'small', partition: 0, timestamp: c.now() },
        { key: 'k-text', value: text, partition: 0, timestamp: c.now() },
        { key: 'k-json', value: json, partition: 0, timestamp: c.now() },
      ];
      const metas = await sluice.append('large', input);
      expect(metas.map((m) => m.offset)).toStrictEqual([0, 1, 2, 3]);
      await expect(sluice.append('large', [{ value: random(3 * 1024 * 1024 + 1, 2), partition: 0 }])).rejects.toSatisfy(
        (e) => isSluiceError(e, 'RecordTooLarge') && e.limit === 'maxRecordBytes',
      );
      const check = async () => {
        const records = (await sluice.read('large', 0, 0, { maxBytes: 16 })).records;
        expect(records.length, 'a claimed value counts whole against maxBytes').toBe(1);
        expect(records[0]!.value).toStrictEqual(big);
        const all = [];
        for (let offset = 0; offset < 4;) {
          const page = await sluice.read('large', 0, offset, { maxRecords: 4, maxBytes: 4 * 1024 * 1024 });
          all.push(...page.records);
          offset = page.nextOffset;
        }
        expect(all.map((r) => r.value)).toStrictEqual(input.map((r) => r.value));
        expect(all[0]!.headers).toStrictEqual({ kind: 'bytes' });
      };
      await check();
      c.advance(2 * MINUTE);
      await sluice.append('large', [{ value: 'tail', partition: 0, timestamp: c.now() }]);
      await tiering.runOnce();
      const topic = (await sluice.listTopics())[0]!;
      const [segment] = await store.listSegments(logKey(topic.topicId, 0));
      expect(segment!.claims?.count, 'the segment knows its three claim checks').toBe(3);
      const claimObjects = await tiering.claimList(segment!);
      expect(claimObjects.length, 'three claims and the list itself').toBe(4);
      await check();
      c.advance(20 * MINUTE);
      await tiering.runOnce();
      expect((await store.listSegments(logKey(topic.topicId, 0))).length).toBe(0);
      for (const key of claimObjects)
        await expect(
          objects.getRange(key, 0, 0),
          'retention deleted the claim objects with their segment',
        ).rejects.toThrow();
    });

    it('a corrupted claim check is reported as CorruptData', async () => {
      const c = clock();
      const { store, objects } = await kind.make(c.now);
      const { sluice } = tieredEngine(store, objects, c.now, kind.topicDefaults);
      await sluice.createTopic('claim-rot', { config: { maxRecordBytes: 2 * 1024 * 1024 } });
      await sluice.append('claim-rot', [{ value: 'z'.repeat(500_000), partition: 0 }]);
      const topic = (await sluice.listTopics())[0]!;
      // (Resolved, for an S3-backed topic whose batch holds a pointer.)
      const [batch] = await new ObjectBatches({ objects, now: c.now }).resolve(
        (await store.readBatches(logKey(topic.topicId, 0), 0, 1)).batches,
      );
      const { claimKeys } = await import('../../core/log/batching.ts');
      const [key] = claimKeys(batch!);
      const bytes = await objects.getRange(key!, 0, 10);
      await objects.put(key!, bytes); // truncated
      await expect(sluice.read('claim-rot', 0, 0)).rejects.toSatisfy((e) => isSluiceError(e, 'CorruptData'));
    });

    it('compaction keeps the latest record per key with its offset, and drops tombstones after deleteRetentionMs', async () => {
      const c = clock();
      const { store, objects } = await kind.make(c.now);
      const { sluice, tiering } = tieredEngine(store, objects, c.now, kind.topicDefaults);
      await sluice.createTopic('table', {
        config: { cleanupPolicy: 'compact', hotRetentionMs: MINUTE, deleteRetentionMs: 10 * MINUTE },
      });
      const at = (records: { key: string | null; value: unknown }[]) =>
        sluice.append(
          'table',
          records.map((r) => ({ ...r, partition: 0, timestamp: c.now() })),
        );
      await at([
        { key: 'k1', value: 'a' },
        { key: 'k2', value: 'b' },
        { key: 'k1', value: 'c' },
      ]); // 0..2
      await at([
        { key: 'k3', value: 'd' },
        { key: 'k3', value: null },
      ]); // 3..4, k3 deleted
      await at([
        { key: 'k2', value: 'e' },
        { key: null, value: 'x' },
      ]); // 5..6
      c.advance(2 * MINUTE);
      await at([{ key: 'k1', value: 'f' }]); // 7, hot: supersedes k1 in the segment
      const reports = await tiering.runOnce();
      expect(reports.map((r) => [r.rolled, r.compacted])).toStrictEqual([[1, 1]]);
      const view = async (from = 0) => (await readAll(sluice, 'table', from)).map((r) => [r.offset, r.value]);
      expect(await view(), 'latest per key, original offsets, the tombstone kept for now').toStrictEqual([
        [4, null],
        [5, 'e'],
        [6, 'x'],
        [7, 'f'],
      ]);
      expect(await view(1), 'a read inside a gap starts at the next record').toStrictEqual([
        [4, null],
        [5, 'e'],
        [6, 'x'],
        [7, 'f'],
      ]);
      c.advance(11 * MINUTE);
      await tiering.runOnce();
      expect(await view(), 'the tombstone is gone after deleteRetentionMs').toStrictEqual([
        [5, 'e'],
        [6, 'x'],
        [7, 'f'],
      ]);
      const topic = (await sluice.listTopics())[0]!;
      const [segment] = await store.listSegments(logKey(topic.topicId, 0));
      expect(segment!.key, 'each rewrite is a new object').toMatch(/\.c2-[0-9a-f]{8}\.seg$/);
      expect([segment!.base, segment!.end], 'the segment still covers its range').toStrictEqual([0, 7]);
      expect(await sluice.offsetFor('table', 0, 'earliest')).toBe(0);

      // A segment whose every record is superseded stays as an empty range; reads go on in the hot tier.
      await sluice.createTopic('table2', { config: { cleanupPolicy: 'compact', hotRetentionMs: MINUTE } });
      await sluice.append('table2', [{ key: 'only', value: 1, partition: 0 }]);
      c.advance(2 * MINUTE);
      await sluice.append('table2', [{ key: 'only', value: 2, partition: 0 }]);
      await tiering.runOnce();
      expect((await readAll(sluice, 'table2')).map((r) => [r.offset, r.value])).toStrictEqual([[1, 2]]);
    });

    it('finds the segments from an offset with keyed look-ups: the containing one, then the next', async () => {
      const { store } = await kind.make(Date.now);
      const segment = (base: number, end: number): SegmentRecord => ({
        log: 'S',
        base,
        end,
        key: `segments/s/${base}.seg`,
        objectSize: 1,
        indexPosition: 0,
        indexLength: 1,
        batches: 1,
        storedBytes: 1,
        sizeBytes: 1,
        maxTimestamp: 1,
        createdAt: 1,
      });
      let version = 0;
      for (const [base, end] of [
        [0, 10],
        [10, 20],
        [30, 40],
      ] as const) {
        version++;
        expect(await store.recordSegment(segment(base, end), { logStartOffset: 0, tieredThrough: end, version })).toBe(
          true,
        );
      }
      const bases = async (offset: number, limit: number) =>
        (await store.segmentsFrom('S', offset, limit)).map((s) => s.base);
      expect(await bases(5, 2)).toStrictEqual([0, 10]);
      expect(await bases(10, 4), 'a segment starting at the offset contains it').toStrictEqual([10, 30]);
      expect(await bases(20, 4), 'in a gap: the next one').toStrictEqual([30]);
      expect(await bases(39, 1)).toStrictEqual([30]);
      expect(await bases(40, 4), 'past the last').toStrictEqual([]);
      expect(await store.segmentsFrom('other', 0, 4)).toStrictEqual([]);
    });

    it('deletes a topic of any size in one write; the roller purges its records, segments and claim checks after a grace period, resuming after a failure', async () => {
      const c = clock();
      const { store, objects } = await kind.make(c.now);
      const { sluice, tiering } = tieredEngine(store, objects, c.now, kind.topicDefaults);
      await sluice.createTopic('doomed', {
        partitions: 2,
        config: { hotRetentionMs: MINUTE, maxRecordBytes: 1024 * 1024 },
      });
      await fill(sluice, c, 'doomed', 6, 5);
      await sluice.append('doomed', [{ value: new Uint8Array(500_000).fill(7), partition: 1 }]); // a claim check
      await tiering.runOnce(); // some of partition 0 in S3
      const topic = (await sluice.listTopics()).find((t) => t.name === 'doomed')!;
      const logs = [0, 1].map((p) => logKey(topic.topicId, p));
      const segmentKeys = (await store.listSegments(logs[0]!)).map((s) => s.key);
      expect(segmentKeys.length).toBeGreaterThan(0);
      // Every object (the memory store lists them; on S3, the segments at least).
      const objectsBefore = [...((objects as { objects?: Map<string, unknown> }).objects?.keys() ?? segmentKeys)];
      expect(objectsBefore.length).toBeGreaterThan(0);

      await sluice.deleteTopic('doomed');
      // The name is free at once, and a new incarnation starts empty.
      await sluice.createTopic('doomed');
      expect(await sluice.offsetFor('doomed', 0, 'latest')).toBe(0);
      expect((await store.listDeletedTopics(10)).map((d) => d.topicId)).toStrictEqual([topic.topicId]);
      await tiering.runOnce(); // within the grace period: nothing purged yet
      expect((await store.readBatches(logs[0]!, 0, 100)).batches.length).toBeGreaterThan(0);

      c.advance(PURGE_GRACE_MS);
      // The first purge fails on the object store; the report names the step, and the next run finishes.
      const broken = {
        ...objects,
        put: objects.put.bind(objects),
        getRange: objects.getRange.bind(objects),
        delete: async () => {
          throw Object.assign(new Error('S3 is down'), { name: 'ServiceUnavailable' });
        },
      } as ObjectStore;
      const failing = await tieredEngine(store, broken, c.now, kind.topicDefaults).tiering.purgeDeletedTopics();
      expect(failing.some((r) => r.errors?.[0]?.step === 'purge' && r.errors[0].code === 'ServiceUnavailable')).toBe(
        true,
      );
      expect(await store.listDeletedTopics(10), 'kept for the next run').toHaveLength(1);
      const purged = await tiering.purgeDeletedTopics();
      expect(purged.map((r) => [r.topic, r.partition, r.purged])).toStrictEqual([
        ['doomed', 0, true],
        ['doomed', 1, true],
      ]);
      expect(await store.listDeletedTopics(10)).toStrictEqual([]);
      for (const log of logs) {
        // Hot batches TTL removes within two days are left to it (free); none outlives that.
        const left = (await store.readBatches(log, 0, 100)).batches;
        expect(left.length, 'hot batches left to TTL').toBeGreaterThan(0);
        await expireHotCopies(store, log, c.now() + PURGE_LEAVES_TO_TTL_MS);
        expect((await store.readBatches(log, 0, 100)).batches, 'hot batches gone').toStrictEqual([]);
        expect(await store.listSegments(log), 'segment records gone').toStrictEqual([]);
        expect((await store.getPartitionState(log)).version, 'partition state gone').toBe(0);
        expect(await store.reserveOffsets(log, 1, { maxTimestamp: 0, bytes: 1, raise: true }), 'sequencer gone').toBe(
          undefined,
        );
      }
      for (const key of objectsBefore) await expect(objects.getRange(key, 0, 0), `${key} gone`).rejects.toThrow();
      expect(await sluice.offsetFor('doomed', 0, 'latest'), 'the new incarnation untouched').toBe(0);
    });

    it('a run stops at its deadline between partitions and the next one finishes', async () => {
      const c = clock();
      const { store, objects } = await kind.make(c.now);
      const { sluice, tiering } = tieredEngine(store, objects, c.now, kind.topicDefaults);
      await sluice.createTopic('many', { partitions: 4, config: { hotRetentionMs: MINUTE } });
      for (let p = 0; p < 4; p++) await sluice.append('many', [{ value: `v${p}`, partition: p }]);
      c.advance(2 * MINUTE);
      for (let p = 0; p < 4; p++) await sluice.append('many', [{ value: 'tail', partition: p }]);
      // Each partition's work takes a minute of the roller's clock: the deadline allows two.
      const slow = new Tiering({ log: store, metadata: store, store, objects, now: c.now });
      const original = slow.runPartition.bind(slow);
      slow.runPartition = async (...args) => {
        const report = await original(...args);
        c.advance(MINUTE);
        return report;
      };
      const first = await slow.runUntil(c.now() + 2 * MINUTE - 1);
      expect([first.complete, first.remaining, first.reports.map((r) => r.rolled)]).toStrictEqual([false, 2, [1, 1]]);
      const done = new Set(first.reports.map((r) => r.partition));
      const second = await tiering.runUntil(c.now() + 10 * MINUTE);
      expect([second.complete, second.remaining]).toStrictEqual([true, 0]);
      expect(
        second.reports.map((r) => [r.partition, r.rolled]).sort(),
        'the rest rolled, the done ones had nothing',
      ).toStrictEqual([0, 1, 2, 3].map((p) => [p, done.has(p) ? 0 : 1]));
    });

    it('keeps segment counters in the partition state through rolls, compaction and retention, and backfills them', async () => {
      const c = clock();
      const { store, objects } = await kind.make(c.now);
      const { sluice, tiering } = tieredEngine(store, objects, c.now, kind.topicDefaults);
      await sluice.createTopic('counted', {
        config: { cleanupPolicy: 'compact', hotRetentionMs: MINUTE, deleteRetentionMs: MINUTE },
      });
      const topic = (await sluice.listTopics()).find((t) => t.name === 'counted')!;
      const log = logKey(topic.topicId, 0);
      const listed = async () => {
        const segments = await store.listSegments(log);
        return { segments: segments.length, tieredBytes: segments.reduce((n, s) => n + s.sizeBytes, 0) };
      };
      const described = async () => {
        const [p] = (await sluice.describeTopic('counted')).partitions;
        return { segments: p!.segments, tieredBytes: p!.tieredBytes };
      };
      expect(await described(), 'nothing rolled: no segments').toStrictEqual({ segments: 0, tieredBytes: 0 });
      for (let round = 0; round < 3; round++) {
        await sluice.append(
          'counted',
          Array.from({ length: 20 }, (_, i) => ({ key: `k${i % 4}`, value: `v${round}-${i}`, partition: 0 })),
        );
        c.advance(2 * MINUTE);
        await sluice.append('counted', [{ key: 'tail', value: round, partition: 0 }]);
        await tiering.runOnce(); // rolls, then compacts (records superseded by later rounds shrink)
        expect((await listed()).segments, `round ${round} rolled`).toBeGreaterThan(0);
        expect(await described(), `round ${round}: counters equal a listing`).toStrictEqual(await listed());
      }
      const before = await listed();
      await sluice.deleteRecords('counted', 0, (await store.listSegments(log))[1]!.base);
      await tiering.runOnce(); // retention drops the segments below the new log start
      expect((await listed()).segments).toBeLessThan(before.segments);
      expect(await described(), 'after retention').toStrictEqual(await listed());
      // A state written before the counters existed: describe leaves them out until the roller counts.
      const state = await store.getPartitionState(log);
      const { segments: _dropped, ...old } = state;
      expect(await store.setPartitionState(log, { ...old, version: state.version + 1 })).toBe(true);
      expect(await described()).toStrictEqual({ segments: undefined, tieredBytes: undefined });
      await tiering.runOnce();
      expect(await described(), 'backfilled from a listing').toStrictEqual(await listed());
    });

    describe('regressions from review', () => {
      it('two compactions racing on one segment leave a readable segment', async () => {
        const c = clock();
        const { store, objects } = await kind.make(c.now);
        const { sluice, tiering } = tieredEngine(store, objects, c.now, kind.topicDefaults);
        await sluice.createTopic('race', {
          config: { cleanupPolicy: 'compact', hotRetentionMs: MINUTE, deleteRetentionMs: MINUTE },
        });
        await sluice.append('race', [
          { key: 'a', value: 1, partition: 0 },
          { key: 'a', value: null, partition: 0 },
          { key: 'b', value: 2, partition: 0 },
        ]);
        c.advance(2 * MINUTE);
        await sluice.append('race', [{ key: 'b', value: 3, partition: 0 }]);
        const topic = (await sluice.listTopics())[0]!;
        await tiering.rollOnce(topic, 0);
        // Two compactors at different times (so they would write different bytes) run at once.
        const other = tieredEngine(store, objects, () => c.now() + 10 * MINUTE, kind.topicDefaults).tiering;
        await Promise.all([tiering.compact(topic, 0), other.compact(topic, 0)]);
        const { sluice: reader } = tieredEngine(store, objects, c.now, kind.topicDefaults);
        const values = (await readAll(reader, 'race')).map((r) => r.value);
        expect(
          JSON.stringify(values) === '[null,3]' || JSON.stringify(values) === '[3]',
          `read ${JSON.stringify(values)}`,
        ).toBeTruthy();
      });

      it('a compactor working from a listing another compactor has since replaced leaves it be', async () => {
        const c = clock();
        const { store, objects } = await kind.make(c.now);
        const { sluice, tiering } = tieredEngine(store, objects, c.now, kind.topicDefaults);
        await sluice.createTopic('stale', {
          config: { cleanupPolicy: 'compact', hotRetentionMs: MINUTE, deleteRetentionMs: MINUTE },
        });
        await sluice.append('stale', [
          { key: 'a', value: 1, partition: 0 },
          { key: 'a', value: 2, partition: 0 },
        ]);
        c.advance(2 * MINUTE);
        await sluice.append('stale', [{ key: 'b', value: 3, partition: 0 }]);
        const topic = (await sluice.listTopics())[0]!;
        await tiering.rollOnce(topic, 0);
        const log = logKey(topic.topicId, 0);
        const listed = await store.listSegments(log);
        // The second compactor lists the segments, then the first one compacts and deletes them.
        const late = Object.create(store) as Store & TieringStore;
        let calls = 0;
        late.listSegments = async (l) => (calls++ === 0 ? listed : store.listSegments(l));
        expect(await tiering.compact(topic, 0)).toBe(1);
        const compacted = await store.listSegments(log);
        expect(compacted.map((s) => s.key)).not.toStrictEqual(listed.map((s) => s.key));
        expect(await tieredEngine(late, objects, c.now, kind.topicDefaults).tiering.compact(topic, 0)).toBe(0);
        expect(await store.listSegments(log)).toStrictEqual(compacted);
        expect((await readAll(sluice, 'stale')).map((r) => r.value)).toStrictEqual([2, 3]);
      });

      it('a compacted topic keeps the latest value of every key beyond retentionMs', async () => {
        const c = clock();
        const { store, objects } = await kind.make(c.now);
        const { sluice, tiering } = tieredEngine(store, objects, c.now, kind.topicDefaults);
        await sluice.createTopic('forever', {
          config: { cleanupPolicy: 'compact', hotRetentionMs: MINUTE, retentionMs: 5 * MINUTE },
        });
        await sluice.append('forever', [{ key: 'user-1', value: 'kept', partition: 0, timestamp: c.now() }]);
        c.advance(2 * MINUTE);
        await sluice.append('forever', [{ key: 'user-2', value: 'tail', partition: 0, timestamp: c.now() }]);
        await tiering.runOnce();
        c.advance(60 * MINUTE);
        await tiering.runOnce();
        expect((await readAll(sluice, 'forever')).map((r) => r.value)).toStrictEqual(['kept', 'tail']);
      });

      it('a reader never sees holes while a roller deletes hot copies (written before TTLs) out of order', async () => {
        const c = clock();
        const { store, objects } = await kind.make(c.now);
        const { sluice } = tieredEngine(store, objects, c.now, kind.topicDefaults);
        await sluice.createTopic('holes', { config: { hotRetentionMs: MINUTE } });
        const total = await fill(new Sluice({ log: store, metadata: store, now: c.now }), c, 'holes', 6, 2);
        const s = Object.create(store) as Store & TieringStore;
        let checked = false;
        s.deleteBatches = async (log, bases) => {
          await store.deleteBatches(
            log,
            bases.filter((_, i) => i % 2 === 1),
          ); // an unordered, partial delete
          expectExactly(await readAll(sluice, 'holes'), total); // a reader in the middle of it
          checked = true;
          await store.deleteBatches(log, bases);
        };
        await tieredEngine(s, objects, c.now, kind.topicDefaults).tiering.runOnce();
        expect(checked).toBeTruthy();
        expectExactly(await readAll(sluice, 'holes'), total);
      });

      it('compaction deletes the claim check of a superseded record and keeps the rest listed', async () => {
        const c = clock();
        const { store, objects } = await kind.make(c.now);
        const { sluice, tiering } = tieredEngine(store, objects, c.now, kind.topicDefaults);
        await sluice.createTopic('big-table', {
          config: { cleanupPolicy: 'compact', hotRetentionMs: MINUTE, maxRecordBytes: 1024 * 1024 },
        });
        await sluice.append('big-table', [
          { key: 'k', value: 'a'.repeat(400_000), partition: 0 },
          { key: 'j', value: 'b'.repeat(400_000), partition: 0 },
          { key: 'k', value: 'c'.repeat(400_000), partition: 0 },
        ]);
        c.advance(2 * MINUTE);
        await sluice.append('big-table', [{ key: 'tail', value: 1, partition: 0 }]);
        const topic = (await sluice.listTopics())[0]!;
        await tiering.rollOnce(topic, 0);
        const [rolled] = await store.listSegments(logKey(topic.topicId, 0));
        const before = await tiering.claimList(rolled!);
        expect(rolled!.claims?.count).toBe(3);
        await tiering.compact(topic, 0);
        const [compacted] = await store.listSegments(logKey(topic.topicId, 0));
        const after = await tiering.claimList(compacted!);
        expect(compacted!.claims?.count, 'the superseded claim is no longer listed').toBe(2);
        expect(after.length, 'two claims and the new list').toBe(3);
        const gone = before.filter((k) => !after.includes(k));
        expect(gone.length, 'the superseded claim and the old list').toBe(2);
        for (const key of gone) await expect(objects.getRange(key, 0, 0)).rejects.toThrow();
        expect((await readAll(sluice, 'big-table')).map((r) => String(r.value).slice(0, 1))).toStrictEqual([
          'b',
          'c',
          '1',
        ]);
      });

      it("a roll pages through the hot tier up to the topic's segmentBytes, past one query page", async () => {
        const c = clock();
        const { store, objects } = await kind.make(c.now);
        const { sluice, tiering } = tieredEngine(store, objects, c.now, kind.topicDefaults);
        const MiB = 1024 * 1024;
        await sluice.createTopic('big-segments', { config: { hotRetentionMs: MINUTE, segmentBytes: 2 * MiB } });
        // 5 MiB of incompressible records in 100 KB batches: a DynamoDB query page holds ten.
        const random = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 2654435761) >>> 24);
        for (let i = 0; i < 50; i++) await sluice.append('big-segments', [{ value: random(100_000), partition: 0 }]);
        c.advance(2 * MINUTE);
        await sluice.append('big-segments', [{ value: 'tail', partition: 0 }]);
        await tiering.runOnce();
        const topic = (await sluice.listTopics())[0]!;
        const segments = await store.listSegments(logKey(topic.topicId, 0));
        expect(
          segments.map((x) => x.end - x.base),
          'segments of up to 2 MiB (20 batches each), not one query page (10)',
        ).toStrictEqual([20, 20, 10]);
        expect(segments.every((x) => x.storedBytes <= 2 * MiB)).toBe(true);
        const page = await sluice.read('big-segments', 0, 0, { maxRecords: 50, maxBytes: 4 * MiB });
        expect(page.records.length > 0).toBe(true);
      });

      it('compaction reads one segment at a time (an offset map of keys, not the records) over a long history', async () => {
        const c = clock();
        const { store, objects } = await kind.make(c.now);
        const { sluice } = tieredEngine(store, objects, c.now, kind.topicDefaults);
        await sluice.createTopic('long', { config: { cleanupPolicy: 'compact', hotRetentionMs: MINUTE } });
        for (let i = 0; i < 30; i++) {
          await sluice.append('long', [
            { key: `k${i % 5}`, value: `v${i}`, partition: 0 },
            { key: `unique-${i}`, value: i, partition: 0 },
          ]);
          c.advance(2 * MINUTE);
          await tieredEngine(store, objects, c.now, kind.topicDefaults).tiering.rollOnce(
            (await sluice.listTopics())[0]!,
            0,
          );
        }
        const topic = (await sluice.listTopics())[0]!;
        expect((await store.listSegments(logKey(topic.topicId, 0))).length).toBeGreaterThanOrEqual(25);
        let open = 0;
        let most = 0;
        const watched = Object.create(objects) as ObjectStore;
        watched.getRange = async (key, start, end) => {
          most = Math.max(most, ++open);
          try {
            return await objects.getRange(key, start, end);
          } finally {
            open--;
          }
        };
        const compacted = await new Tiering({
          log: store,
          metadata: store,
          store,
          objects: watched,
          now: c.now,
        }).compact(topic, 0);
        expect(compacted > 0).toBe(true);
        expect(most, 'never more than one segment read at once').toBe(1);
        const values: unknown[][] = [];
        for (let offset = 0; ;) {
          const page = await sluice.read('long', 0, offset, { maxRecords: 1000 });
          values.push(...page.records.map((r) => [r.key, r.value]));
          if (page.nextOffset >= page.highWatermark) break;
          offset = page.nextOffset;
        }
        for (let k = 0; k < 5; k++)
          expect(
            values.filter(([key]) => key === `k${k}`),
            `only the latest of k${k}`,
          ).toStrictEqual([[`k${k}`, `v${25 + k}`]]);
        expect(values.filter(([key]) => String(key).startsWith('unique-')).length).toBe(30);
      });

      it('reports the roller lag: how far the oldest hot batch is past its hot retention', async () => {
        const c = clock();
        const { store, objects } = await kind.make(c.now);
        const { sluice, tiering } = tieredEngine(store, objects, c.now, kind.topicDefaults);
        await sluice.createTopic('lagging', { config: { hotRetentionMs: 10 * MINUTE } });
        await sluice.append('lagging', [{ value: 1, partition: 0 }]);
        c.advance(30 * MINUTE);
        await sluice.append('lagging', [{ value: 2, partition: 0 }]);
        const down = Object.create(objects) as ObjectStore;
        down.put = async () => {
          throw new Error('S3 is down');
        };
        const [behind] = await tieredEngine(store, down, c.now, kind.topicDefaults).tiering.runOnce();
        expect(behind!.lagMs, '30 minutes old, 10 of hot retention: 20 minutes behind').toBe(20 * MINUTE);
        const [caughtUp] = await tiering.runOnce();
        expect([caughtUp!.rolled, caughtUp!.lagMs]).toStrictEqual([1, 0]);
      });

      it('plans one work unit per partition and the purge; a unit outlived by its topic does nothing', async () => {
        const c = clock();
        const { store, objects } = await kind.make(c.now);
        const { sluice, tiering } = tieredEngine(store, objects, c.now, kind.topicDefaults);
        await sluice.createTopic('units-a', { partitions: 3, config: { hotRetentionMs: MINUTE } });
        await sluice.createTopic('units-b', { partitions: 1, config: { hotRetentionMs: MINUTE } });
        const units = await tiering.plan();
        expect(units.map((u) => (u.kind === 'partition' ? `${u.topic}/${u.partition}` : u.kind))).toStrictEqual([
          'units-a/0',
          'units-a/1',
          'units-a/2',
          'units-b/0',
          'purge',
        ]);
        for (let i = 0; i < 3; i++) {
          await sluice.append('units-b', [{ value: i, partition: 0 }]);
          c.advance(2 * MINUTE);
        }
        const [report] = await tiering.runUnit(units[3]!);
        expect(report!.rolled).toBe(1);
        await sluice.deleteTopic('units-a');
        await sluice.createTopic('units-a', { partitions: 3 });
        expect(await tiering.runUnit(units[0]!), 'the topic was re-created: another id').toStrictEqual([]);
        expect(await tiering.runUnit({ kind: 'purge' }), 'within the grace period').toStrictEqual([]);
      });

      it('the daily sweep deletes old objects nothing refers to, and nothing else', async () => {
        const c = clock();
        const { store, objects } = await kind.make(c.now);
        const { sluice, tiering } = tieredEngine(store, objects, c.now, kind.topicDefaults);
        await sluice.createTopic('swept', { config: { hotRetentionMs: MINUTE, maxRecordBytes: 1024 * 1024 } });
        const big = (n: number) => 'x'.repeat(400_000) + n; // over an item: a claim check each
        await sluice.append('swept', [{ value: big(1), partition: 0 }]);
        c.advance(2 * MINUTE);
        await sluice.append('swept', [{ value: big(2), partition: 0 }]); // stays hot, with its claim check
        await tiering.runOnce();
        const topic = (await sluice.listTopics())[0]!;
        const keep = `segments/swept/0/00000000000000000000.${'f'.repeat(32)}.seg`; // another incarnation's
        const orphans = [
          `claims/swept/0/failed-append`,
          `segments/swept/0/00000000000000000000.${topic.topicId}.c9-dead.seg`,
        ];
        for (const key of [...orphans, keep]) await objects.put(key, new Uint8Array([1]));
        expect(await tiering.sweepOrphans(topic, 0, 1000 * 24 * 60 * MINUTE), 'none old enough').toBe(0);
        expect(await tiering.sweepOrphans(topic, 0, 0)).toBe(2);
        for (const key of orphans) await expect(objects.getRange(key, 0, 0), `${key} swept`).rejects.toThrow();
        expect(await objects.getRange(keep, 0, 0)).toStrictEqual(new Uint8Array([1]));
        const values = [];
        for (let offset = 0; ;) {
          const page = await sluice.read('swept', 0, offset);
          values.push(...page.records.map((r) => r.value));
          if (page.nextOffset >= page.highWatermark) break;
          offset = page.nextOffset;
        }
        expect(values, 'every claim check still resolves, in a segment and hot').toStrictEqual([big(1), big(2)]);
        const [unit] = await tiering.plan({ sweep: true });
        expect(unit).toMatchObject({ kind: 'partition', topic: 'swept', sweep: true });
        const [report] = await tiering.runUnit(unit!);
        expect(report!.swept).toBe(0);
      });

      it('a roller that cannot roll pushes out the TTL of batches only in DynamoDB, so TTL never takes unrolled data', async () => {
        const c = clock();
        const { store, objects } = await kind.make(c.now);
        const { sluice, tiering } = tieredEngine(store, objects, c.now, kind.topicDefaults);
        await sluice.createTopic('stuck', { config: { hotRetentionMs: 10 * MINUTE } });
        const total = await fill(sluice, c, 'stuck', 3, 2);
        const down = Object.create(objects) as ObjectStore;
        down.put = async () => {
          throw new Error('S3 is down');
        };
        const broken = tieredEngine(store, down, c.now, kind.topicDefaults).tiering;
        const topic = (await sluice.listTopics())[0]!;
        const log = logKey(topic.topicId, 0);
        const expiries = async () => (await store.scanBatchHeaders(log, 0, 100)).batches.map((b) => b.expiresAt);
        const written = await expiries();
        await broken.runOnce();
        expect(await expiries(), 'far from its TTL: left alone').toStrictEqual(written);
        c.advance(19 * 60 * MINUTE); // the first batch is 6 h from its TTL, and S3 is still down
        const [report] = await broken.runOnce();
        expect(report!.errors?.map((e) => e.step)).toStrictEqual(['roll']);
        const pushed = Math.ceil((c.now() + DAY) / 1000);
        expect(await expiries(), 'every batch near its TTL now expires a day from now').toStrictEqual([
          pushed,
          pushed,
          pushed,
        ]);
        c.advance(20 * 60 * MINUTE); // past the TTLs first written: nothing may expire yet
        expect(await expireHotCopies(store, log, c.now())).toBe(0);
        await tiering.runOnce(); // S3 is back
        expect((await store.getPartitionState(log)).tieredThrough).toBe(6);
        expectExactly(await readAll(sluice, 'stuck'), total);
      });

      it('a partition that fails does not stop the others', async () => {
        const c = clock();
        const { store, objects } = await kind.make(c.now);
        const { sluice } = tieredEngine(store, objects, c.now, kind.topicDefaults);
        await sluice.createTopic('a-broken', { config: { hotRetentionMs: MINUTE } });
        await sluice.createTopic('b-fine', { config: { hotRetentionMs: MINUTE } });
        for (const t of ['a-broken', 'b-fine']) await sluice.append(t, [{ value: 1, partition: 0 }]);
        c.advance(2 * MINUTE);
        for (const t of ['a-broken', 'b-fine']) await sluice.append(t, [{ value: 2, partition: 0 }]);
        const broken = Object.create(objects) as ObjectStore;
        broken.put = async (key, bytes) => {
          if (key.includes('a-broken')) throw new Error('S3 is down for a-broken');
          return objects.put(key, bytes);
        };
        const reports = await tieredEngine(store, broken, c.now, kind.topicDefaults).tiering.runOnce();
        expect(reports.map((r) => [r.topic, r.rolled, (r.errors ?? []).length > 0])).toStrictEqual([
          ['a-broken', 0, true],
          ['b-fine', 1, false],
        ]);
      });

      it('an idempotent retry after compaction returns the original offsets', async () => {
        const c = clock();
        const { store, objects } = await kind.make(c.now);
        const { sluice, tiering } = tieredEngine(store, objects, c.now, kind.topicDefaults);
        await sluice.createTopic('idem-compact', { config: { cleanupPolicy: 'compact', hotRetentionMs: MINUTE } });
        const producer = { id: 'pc', epoch: 0, sequence: 0 };
        const first = await sluice.append(
          'idem-compact',
          [
            { key: 'k', value: 1, partition: 0 },
            { key: 'j', value: 2, partition: 0 },
          ],
          { producer },
        );
        c.advance(2 * MINUTE);
        await sluice.append('idem-compact', [{ key: 'k', value: 3, partition: 0 }]);
        await tiering.runOnce();
        expect(
          (
            await sluice.append(
              'idem-compact',
              [
                { key: 'k', value: 1, partition: 0 },
                { key: 'j', value: 2, partition: 0 },
              ],
              { producer },
            )
          ).map((m) => m.offset),
        ).toStrictEqual(first.map((m) => m.offset));
      });
    });
  });
}
