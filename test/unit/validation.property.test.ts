import { fc, test } from '@fast-check/vitest';
import { assert, beforeAll, expect } from 'vitest';
import { MemoryStore } from '../../core/adapters/memory/memoryStore.ts';
import { isSluiceError } from '../../core/errors.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { DEFAULT_TOPIC_CONFIG, resolveTopicConfig } from '../../core/log/topicConfig.ts';

/** The only errors bad input may produce: typed, client-side ones. */
const INPUT_ERRORS = new Set([
  'InvalidArgument',
  'InvalidRecord',
  'InvalidTimestamp',
  'RecordTooLarge',
  'TooManyRecords',
  'InvalidTopicName',
  'InvalidTopicConfig',
  'PartitionNotFound',
]);

/** Arbitrary JSON-ish junk, with the odd value JSON cannot carry. */
const junk = fc.oneof(
  fc.anything({
    withBigInt: true,
    withTypedArray: true,
    withNullPrototype: true,
    withDate: true,
    withMap: true,
    maxDepth: 3,
  }),
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

const store = new MemoryStore();
const sluice = new Sluice({ log: store, metadata: store });
beforeAll(async () => {
  await sluice.createTopic('fuzz', { partitions: 3, config: { maxRecordBytes: 2048 } });
});

test.prop([fc.oneof(fc.array(recordish, { maxLength: 6 }), junk)], { numRuns: 400 })(
  'any append either succeeds whole or fails with a typed input error and writes nothing',
  async (records) => {
    const before = await Promise.all([0, 1, 2].map((p) => sluice.offsetFor('fuzz', p, 'latest')));
    let metas;
    try {
      metas = await sluice.append('fuzz', records as unknown[]);
    } catch (e) {
      expect(isSluiceError(e) && INPUT_ERRORS.has(e.code), `unexpected error: ${String(e)}`).toBeTruthy();
      const after = await Promise.all([0, 1, 2].map((p) => sluice.offsetFor('fuzz', p, 'latest')));
      expect(after, 'a rejected append wrote nothing').toStrictEqual(before);
      return;
    }
    expect(metas.length).toBe((records as unknown[]).length);
    for (const m of metas) {
      const { records: read } = await sluice.read('fuzz', m.partition, m.offset, { maxRecords: 1 });
      expect(read[0]!.offset).toBe(m.offset);
    }
  },
);

const configKey = fc.constantFrom(
  'partitions',
  'retentionMs',
  'retentionBytes',
  'maxRecordBytes',
  'compression',
  'cleanupPolicy',
  'color',
  '__proto__',
  'constructor',
);

test.prop(
  [
    fc.dictionary(
      configKey,
      fc.oneof(junk, fc.integer(), fc.constantFrom('none', 'gzip', 'zstd', 'delete', 'compact')),
    ),
  ],
  { numRuns: 2000 },
)(
  'topic config: unknown keys and out-of-range values get InvalidTopicConfig naming the key; valid ones round-trip',
  (config) => {
    let resolved;
    try {
      resolved = resolveTopicConfig(config);
    } catch (e) {
      assert(isSluiceError(e, 'InvalidTopicConfig'), `unexpected error: ${String(e)}`);
      expect(Object.keys(config).includes(e.key as string) || e.key === 'config').toBeTruthy();
      expect(e.message).toMatch(new RegExp(String(e.key).replace(/[_]/g, '.')));
      return;
    }
    for (const [k, v] of Object.entries(config))
      expect((resolved as unknown as Record<string, unknown>)[k]).toStrictEqual(v);
    expect(Object.keys(resolved).sort()).toStrictEqual(Object.keys(DEFAULT_TOPIC_CONFIG).sort());
  },
);

const namesStore = new MemoryStore();
const names = new Sluice({ log: namesStore, metadata: namesStore });
const legal = /^[A-Za-z0-9._-]{1,249}$/;

test.prop(
  [
    fc.oneof(
      fc.string({ maxLength: 260 }),
      fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/),
      fc.constantFrom('.', '..', 'a'.repeat(249), 'a'.repeat(250)),
      junk,
    ),
  ],
  { numRuns: 500 },
)('topic names: only Kafka-legal names are created; bad ones get InvalidTopicName and create nothing', async (name) => {
  const before = (await names.listTopics()).length;
  try {
    await names.createTopic(name as string);
  } catch (e) {
    if (isSluiceError(e, 'TopicAlreadyExists')) return;
    expect(isSluiceError(e, 'InvalidTopicName'), `unexpected error: ${String(e)}`).toBeTruthy();
    expect(typeof name !== 'string' || !legal.test(name) || name === '.' || name === '..').toBeTruthy();
    expect((await names.listTopics()).length).toBe(before);
    return;
  }
  expect(typeof name === 'string' && legal.test(name) && name !== '.' && name !== '..').toBeTruthy();
  expect((await names.listTopics()).length).toBe(before + 1);
});
