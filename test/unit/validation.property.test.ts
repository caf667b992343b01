import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MemoryStore } from '../../core/adapters/memory/memoryStore.ts';
import { isSluiceError } from '../../core/errors.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { DEFAULT_TOPIC_CONFIG, resolveTopicConfig } from '../../core/log/topicConfig.ts';

/** The only errors bad input may produce: typed, client-side ones. */
const INPUT_ERRORS = new Set([
  'InvalidArgument',
  'InvalidRecord',
  'RecordTooLarge',
  'TooManyRecords',
  'InvalidTopicName',
  'InvalidTopicConfig',
  'PartitionNotFound',
]);

/** Arbitrary JSON-ish junk, with the odd value JSON cannot carry. */
const junk = fc.oneof(
  fc.anything({ withBigInt: true, withTypedArray: true, withNullPrototype: true, withDate: true, withMap: true, maxDepth: 3 }),
  fc.constantFrom(undefined, Number.NaN, Infinity, -1, 2 ** 60, '', 'x'.repeat(300), Symbol('s'), () => 1),
);

const recordish = fc.record(
  {
    key: fc.oneof(fc.string(), fc.uint8Array(), fc.constant(null), junk),
    value: fc.oneof(fc.jsonValue(), fc.string(), fc.uint8Array(), junk, fc.constant('y'.repeat(3000))),
    headers: fc.oneof(fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.uint8Array())), junk),
    partition: fc.oneof(fc.integer({ min: -2, max: 4 }), junk),
    timestamp: fc.oneof(fc.integer({ min: -5, max: 2 ** 53 }), junk),
    extra: junk,
  },
  { requiredKeys: [] },
);

test('any append either succeeds whole or fails with a typed input error and writes nothing', async () => {
  const store = new MemoryStore();
  const sluice = new Sluice({ log: store, metadata: store });
  await sluice.createTopic('fuzz', { partitions: 3, config: { maxRecordBytes: 2048 } });
  await fc.assert(
    fc.asyncProperty(fc.oneof(fc.array(recordish, { maxLength: 6 }), junk), async (records) => {
      const before = await Promise.all([0, 1, 2].map((p) => sluice.offsetFor('fuzz', p, 'latest')));
      let metas;
      try {
        metas = await sluice.append('fuzz', records as unknown[]);
      } catch (e) {
        assert.ok(isSluiceError(e) && INPUT_ERRORS.has(e.code), `unexpected error: ${String(e)}`);
        const after = await Promise.all([0, 1, 2].map((p) => sluice.offsetFor('fuzz', p, 'latest')));
        assert.deepEqual(after, before, 'a rejected append wrote nothing');
        return;
      }
      assert.equal(metas.length, (records as unknown[]).length);
      for (const m of metas) {
        const { records: read } = await sluice.read('fuzz', m.partition, m.offset, { maxRecords: 1 });
        assert.equal(read[0]!.offset, m.offset);
      }
    }),
    { numRuns: 400 },
  );
});

test('topic config: unknown keys and out-of-range values get InvalidTopicConfig naming the key; valid ones round-trip', () => {
  const key = fc.constantFrom('partitions', 'retentionMs', 'retentionBytes', 'maxRecordBytes', 'compression', 'cleanupPolicy', 'color', '__proto__', 'constructor');
  fc.assert(
    fc.property(fc.dictionary(key, fc.oneof(junk, fc.integer(), fc.constantFrom('none', 'gzip', 'zstd', 'delete', 'compact'))), (config) => {
      let resolved;
      try {
        resolved = resolveTopicConfig(config);
      } catch (e) {
        assert.ok(isSluiceError(e, 'InvalidTopicConfig'), `unexpected error: ${String(e)}`);
        assert.ok(Object.keys(config).includes(e.key as string) || e.key === 'config');
        assert.match(e.message, new RegExp(String(e.key).replace(/[_]/g, '.')));
        return;
      }
      for (const [k, v] of Object.entries(config)) assert.deepEqual((resolved as unknown as Record<string, unknown>)[k], v);
      assert.deepEqual(Object.keys(resolved).sort(), Object.keys(DEFAULT_TOPIC_CONFIG).sort());
    }),
    { numRuns: 2000 },
  );
});

test('topic names: only Kafka-legal names are created; bad ones get InvalidTopicName and create nothing', async () => {
  const store = new MemoryStore();
  const sluice = new Sluice({ log: store, metadata: store });
  const legal = /^[A-Za-z0-9._-]{1,249}$/;
  await fc.assert(
    fc.asyncProperty(fc.oneof(fc.string({ maxLength: 260 }), fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/), fc.constantFrom('.', '..', 'a'.repeat(249), 'a'.repeat(250)), junk), async (name) => {
      const before = (await sluice.listTopics()).length;
      try {
        await sluice.createTopic(name as string);
      } catch (e) {
        if (isSluiceError(e, 'TopicAlreadyExists')) return;
        assert.ok(isSluiceError(e, 'InvalidTopicName'), `unexpected error: ${String(e)}`);
        assert.ok(typeof name !== 'string' || !legal.test(name) || name === '.' || name === '..');
        assert.equal((await sluice.listTopics()).length, before);
        return;
      }
      assert.ok(typeof name === 'string' && legal.test(name) && name !== '.' && name !== '..');
      assert.equal((await sluice.listTopics()).length, before + 1);
    }),
    { numRuns: 500 },
  );
});
