import { expect, it } from 'vitest';
import { MemoryStore } from '../../core/adapters/memory/memoryStore.ts';
import { ConsumerGroups } from '../../core/groups/consumerGroups.ts';
import { MemoryGroupStore } from '../../core/groups/memoryGroupStore.ts';
import { MemoryObjectStore } from '../../core/tiering/objectStore.ts';
import { tieredEngine } from '../support/stores.ts';

it('a group whose committed offset fell below the log start follows its autoOffsetReset', async () => {
  let t = 1_800_000_000_000;
  const now = () => t;
  const store = new MemoryStore();
  const { sluice, tiering } = tieredEngine(store, new MemoryObjectStore(), now);
  const groups = new ConsumerGroups({ store: new MemoryGroupStore(), sluice, now });
  await sluice.createTopic('expiring', { config: { hotRetentionMs: 60_000, retentionMs: 600_000 } });
  for (let b = 0; b < 4; b++) {
    await sluice.append(
      'expiring',
      Array.from({ length: 5 }, (_, i) => ({ value: b * 5 + i, partition: 0, timestamp: t })),
    );
    t += 60_000;
  }
  const first = await groups.join('slow', { topics: ['expiring'], autoOffsetReset: 'earliest' });
  const { records } = await groups.poll('slow', first.memberId, { maxRecords: 3 });
  await groups.commit('slow', {
    memberId: first.memberId,
    generation: first.generation,
    offsets: [{ topic: 'expiring', partition: 0, offset: records.length }],
  });
  await groups.leave('slow', first.memberId);
  await tiering.runOnce(); // segment [0, 15); batch 15..19 stays hot as the tail
  t += 20 * 60_000;
  await tiering.runOnce(); // retention drops the segment: the log starts at 15
  expect(await sluice.offsetFor('expiring', 0, 'earliest')).toBe(15);

  const earliest = await groups.join('slow', { topics: ['expiring'], autoOffsetReset: 'earliest' });
  expect(
    (await groups.poll('slow', earliest.memberId)).records.map((r) => r.offset),
    'the committed offset 3 is gone: reset to the log start',
  ).toStrictEqual([15, 16, 17, 18, 19]);
  await groups.leave('slow', earliest.memberId);

  const latest = await groups.join('slow-latest', { topics: ['expiring'], autoOffsetReset: 'latest' });
  await groups.poll('slow-latest', latest.memberId);
  await sluice.append('expiring', [{ value: 'new', partition: 0 }]);
  expect((await groups.poll('slow-latest', latest.memberId)).records.map((r) => r.value)).toStrictEqual(['new']);
});
