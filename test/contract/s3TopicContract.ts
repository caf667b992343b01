import { describe, expect, it } from 'vitest';
import { isSluiceError } from '../../core/errors.ts';
import {
  BATCH_OBJECT_ROOTS,
  batchObjectPrefix,
  objectKeyFor,
  objectWrittenAt,
  withExpressBatches,
} from '../../core/log/objectBatches.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { logKey, type TieringStore } from '../../core/ports.ts';
import { Tiering } from '../../core/tiering/tiering.ts';
import { parseWorkUnit } from '../../core/tiering/workUnits.ts';
import { clock } from '../support/clock.ts';
import type { ObjectStore } from '../../core/tiering/objectStore.ts';
import {
  expressObjectsOf,
  objectsOf,
  s3TopicsEngine,
  type ObjectStorage,
  type Store,
  type StoreKind,
} from '../support/stores.ts';

/** Counts an object store's PUTs and GETs, as S3 bills them. */
function counted(objects: ObjectStore) {
  const counts = { puts: 0, gets: 0 };
  const store: ObjectStore = {
    put: async (key, bytes) => {
      counts.puts++;
      await objects.put(key, bytes);
    },
    getRange: async (key, start, end) => {
      counts.gets++;
      return objects.getRange(key, start, end);
    },
    delete: (keys) => objects.delete(keys),
    list: (prefix) => objects.list(prefix),
  };
  return { store, counts };
}

/**
 * What is particular to topics whose record bytes are in object storage (issue 17), for each store
 * and `storage` (`s3`, or `s3-express`: a directory bucket beside the segment bucket, which lists
 * keys in no order): where the bytes go (one object per request, in that storage's bucket,
 * pointers in the items), what reads cost, and that a damaged object is reported, never returned.
 * The engine, concurrency, group and tiering contracts run on such topics too (the `… s3 topics`
 * kinds).
 */
export function s3TopicContract(kind: StoreKind, storage: ObjectStorage = 's3'): void {
  describe(`${storage} topics: ${kind.name}`, () => {
    /** The engine's object stores, with the bucket of `storage` counted (PUTs and GETs as S3 bills them). */
    const stores = (store: Store) => {
      const { store: counted_, counts } = counted(storage === 's3' ? objectsOf(store) : expressObjectsOf(store));
      const tiering =
        storage === 's3' ? { objects: counted_ } : { objects: objectsOf(store), expressObjects: counted_ };
      return { tiering, counts, objects: withExpressBatches(tiering.objects, tiering.expressObjects) };
    };
    const setup = async () => {
      const store = await kind.make();
      const { tiering, counts, objects } = stores(store);
      const engine = () =>
        new Sluice({
          log: store,
          metadata: store,
          retry: { maxJitterMs: 2 },
          ...s3TopicsEngine(store, storage),
          tiering: { store: store as Store & TieringStore, ...tiering },
        });
      return { store, objects, counts, sluice: engine(), engine };
    };

    it('an append request writes one object for all its partitions, and each batch item holds only a pointer', async () => {
      const { store, counts, sluice } = await setup();
      const topic = await sluice.createTopic('orders', { partitions: 4, config: { compression: 'zstd' } });
      expect(topic.config.storage).toBe(storage);
      const records = Array.from({ length: 100 }, (_, i) => ({
        key: `user-${i % 17}`,
        value: { order: i, items: ['a', 'b'], note: 'x'.repeat(900) },
      }));
      const meta = await sluice.append('orders', records);
      expect(counts.puts).toBe(1);
      const partitions = new Set(meta.map((m) => m.partition));
      expect(partitions.size).toBeGreaterThan(1);
      const keys = new Set<string>();
      for (const p of partitions) {
        const [batch] = (await store.readBatches(logKey(topic.topicId, p), 0, 10)).batches;
        expect(batch?.payload.length).toBe(0);
        expect(batch?.pointer).toBeDefined();
        keys.add(batch!.pointer!.key);
      }
      expect(keys.size).toBe(1);
      expect([...keys][0]!.startsWith(BATCH_OBJECT_ROOTS[storage]), 'the object is in the bucket of its storage').toBe(
        true,
      );
      expect(objectWrittenAt([...keys][0]!)).toBeGreaterThan(0);
      // Read back through a new engine (cold cache): every record, in order, with one GET per read.
      const reader = new Sluice({ log: store, metadata: store, ...s3TopicsEngine(store, storage) });
      for (const p of partitions) {
        const got = await reader.read('orders', p, 0, { maxRecords: 100 });
        const expected = meta.flatMap((m, i) => (m.partition === p ? [records[i]!.value] : []));
        expect(got.records.map((r) => r.value)).toStrictEqual(expected);
      }
    });

    it('a read resolves many batches of one object with one ranged GET, and a second read hits the cache', async () => {
      const { counts, sluice } = await setup();
      await sluice.createTopic('many', { config: { maxRecordBytes: 200_000 } });
      // Four 150 KB records: two to a batch (the batch size limit), so two batches in one object.
      await sluice.append(
        'many',
        Array.from({ length: 4 }, (_, i) => ({ value: `${i}`.padEnd(150_000, 'y'), partition: 0 })),
      );
      expect(counts.puts).toBe(1);
      const gets = counts.gets;
      const first = await sluice.read('many', 0, 0, { maxRecords: 10 });
      expect(first.records).toHaveLength(4);
      // The writer cached its own object: no GET at all in the same container.
      expect(counts.gets).toBe(gets);
    });

    it('a cold reader fetches one ranged GET per object per read', async () => {
      const { counts, sluice, engine } = await setup();
      await sluice.createTopic('cold', { config: { maxRecordBytes: 200_000 } });
      for (let i = 0; i < 3; i++)
        await sluice.append('cold', [
          { value: `${i}a`.padEnd(150_000, 'z'), partition: 0 },
          { value: `${i}b`.padEnd(150_000, 'z'), partition: 0 },
          { value: `${i}c`.padEnd(150_000, 'z'), partition: 0 },
        ]);
      expect(counts.puts).toBe(3);
      const cold = engine(); // a new container: an empty cache
      const before = counts.gets;
      const got = await cold.read('cold', 0, 0, { maxRecords: 100, maxBytes: 4 * 1024 * 1024 });
      expect(got.records).toHaveLength(9);
      expect(counts.gets - before).toBe(3);
    });

    it('a damaged object is reported as CorruptData, never returned', async () => {
      const { store, objects, sluice, engine } = await setup();
      const topic = await sluice.createTopic('rot');
      await sluice.append('rot', [{ value: 'precious', partition: 0 }]);
      const [batch] = (await store.readBatches(logKey(topic.topicId, 0), 0, 1)).batches;
      const { key, length } = batch!.pointer!;
      const bytes = await objects.getRange(key, 0, length - 1);
      bytes[bytes.length - 1] = bytes.at(-1)! ^ 0xff;
      await objects.put(key, bytes);
      await expect(engine().read('rot', 0, 0)).rejects.toSatisfy((e) => isSluiceError(e, 'CorruptData'));
    });

    it('the roller copies s3 batches into segments, and the sweep deletes batch objects only once nothing hot can point at them', async () => {
      const c = clock();
      const store = await kind.make();
      const { tiering: buckets, objects } = stores(store);
      const tiered = store as Store & TieringStore;
      const sluice = new Sluice({ log: store, metadata: store, now: c.now, ...s3TopicsEngine(store, storage) });
      const tiering = new Tiering({ log: store, metadata: store, store: tiered, ...buckets, now: c.now });
      const topic = await sluice.createTopic('swept', { partitions: 2, config: { hotRetentionMs: 60_000 } });
      const listed = async () => {
        const keys: string[] = [];
        for await (const o of objects.list(batchObjectPrefix(topic, storage))) keys.push(o.key);
        return keys.sort(); // a directory bucket lists in no order
      };
      await sluice.append('swept', [
        { value: 'old-0', partition: 0 },
        { value: 'old-1', partition: 1 },
      ]);
      // A claim that never landed: an object nothing points at.
      await objects.put(objectKeyFor(topic, c.now(), storage), new Uint8Array([1, 2, 3]));
      c.advance(2 * 60 * 60_000);
      await sluice.append('swept', [
        { value: 'new-0', partition: 0 },
        { value: 'new-1', partition: 1 },
      ]);
      const [before, , recent] = await listed();
      expect(await listed()).toHaveLength(3);
      // Not rolled yet: both partitions still point at the old object, so nothing goes.
      expect(await tiering.sweepBatchObjects(topic)).toBe(0);
      await tiering.runOnce();
      for (const p of [0, 1]) expect((await tiered.listSegments(logKey(topic.topicId, p))).length).toBe(1);
      // Each hot tier starts at a batch appended 2 h later (a log's last batch stays hot): the old
      // objects go, swept by the hourly work unit the roller plans for the topic's partition 0 only
      // (and for no topic that writes to DynamoDB).
      await sluice.createTopic('plain', { config: { storage: 'dynamodb' } });
      const units = await tiering.plan({ sweepBatches: true });
      const sweeping = units.filter((u) => u.kind === 'partition' && u.sweepBatches === true);
      expect(sweeping.map((u) => u.kind === 'partition' && [u.topic, u.partition])).toStrictEqual([['swept', 0]]);
      expect(parseWorkUnit(JSON.stringify(sweeping[0])), 'the unit survives the roll queue').toStrictEqual(sweeping[0]);
      expect(() => parseWorkUnit(JSON.stringify({ ...sweeping[0], sweepBatches: 'yes' }))).toThrow(/sweepBatches/);
      const [report] = await tiering.runUnit(sweeping[0]!);
      expect(report!.swept).toBe(2);
      expect(await listed()).toStrictEqual([recent]);
      expect(before).not.toBe(recent);
      const cold = new Sluice({ log: store, metadata: store, now: c.now, ...s3TopicsEngine(store, storage) });
      const all = async (partition: number) => {
        const values: unknown[] = [];
        for (let offset = 0; ;) {
          const page = await cold.read('swept', partition, offset);
          values.push(...page.records.map((r) => r.value));
          if (page.nextOffset >= page.highWatermark) return values;
          offset = page.nextOffset;
        }
      };
      expect(await all(0)).toStrictEqual(['old-0', 'new-0']);
      expect(await all(1)).toStrictEqual(['old-1', 'new-1']);
    });

    it('storage can change at any time: each batch keeps its bytes where they were written', async () => {
      const { store, sluice } = await setup();
      const topic = await sluice.createTopic('switch', { config: { storage: 'dynamodb' } });
      await sluice.append('switch', [{ value: 'in the item', partition: 0 }]);
      // Both object storages when this engine has a directory bucket: every batch in its own place.
      const kinds: ObjectStorage[] = storage === 's3' ? ['s3'] : ['s3-express', 's3'];
      const writer = new Sluice({ log: store, metadata: store, ...s3TopicsEngine(store, storage), topicCacheMs: 0 });
      for (const k of kinds) {
        await sluice.updateTopic('switch', { config: { storage: k } });
        await writer.append('switch', [{ value: `in ${k}`, partition: 0 }]);
      }
      const batches = (await store.readBatches(logKey(topic.topicId, 0), 0, 10)).batches;
      expect(batches.map((b) => b.pointer?.key.slice(0, b.pointer.key.indexOf('/') + 1))).toStrictEqual([
        undefined,
        ...kinds.map((k) => BATCH_OBJECT_ROOTS[k]),
      ]);
      const cold = new Sluice({ log: store, metadata: store, ...s3TopicsEngine(store, storage) });
      expect((await cold.read('switch', 0, 0)).records.map((r) => r.value)).toStrictEqual([
        'in the item',
        ...kinds.map((k) => `in ${k}`),
      ]);
      await expect(sluice.updateTopic('switch', { config: { storage: 'glacier' as 's3' } })).rejects.toSatisfy((e) =>
        isSluiceError(e, 'InvalidTopicConfig'),
      );
    });

    if (storage === 's3') {
      it('s3-express is refused, and nothing changes, where the engine has no directory bucket', async () => {
        const store = await kind.make();
        const sluice = new Sluice({ log: store, metadata: store, ...s3TopicsEngine(store, 's3') });
        const refused = (e: unknown) => isSluiceError(e, 'InvalidTopicConfig') && /expressZone/.test(String(e));
        await expect(sluice.createTopic('fast', { config: { storage: 's3-express' } })).rejects.toSatisfy(refused);
        expect(await sluice.listTopics()).toStrictEqual([]);
        await sluice.createTopic('fast');
        await expect(sluice.updateTopic('fast', { config: { storage: 's3-express' } })).rejects.toSatisfy(refused);
        expect((await sluice.describeTopic('fast')).config.storage).toBe('s3');
      });
    }
  });
}
