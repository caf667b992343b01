import { fc, test } from '@fast-check/vitest';
import { expect } from 'vitest';
import { assign, tp } from '../../core/groups/assignors.ts';

test('range assigns contiguous ranges per topic, extras to the first members (Kafka RangeAssignor)', () => {
  const out = assign('range', { members: { a: ['t'], b: ['t'], c: ['t'] }, partitions: { t: 7 }, previous: {} });
  expect(out).toStrictEqual({ a: ['t/0', 't/1', 't/2'], b: ['t/3', 't/4'], c: ['t/5', 't/6'] });
});

test('roundrobin deals all partitions in order to members in turn (Kafka RoundRobinAssignor)', () => {
  const out = assign('roundrobin', {
    members: { a: ['t', 'u'], b: ['t', 'u'] },
    partitions: { t: 3, u: 2 },
    previous: {},
  });
  expect(out).toStrictEqual({ a: ['t/0', 't/2', 'u/1'], b: ['t/1', 'u/0'] });
});

test.prop([
  fc.constantFrom('range', 'roundrobin', 'cooperative-sticky') as fc.Arbitrary<'range'>,
  fc.integer({ min: 1, max: 12 }),
  fc.integer({ min: 1, max: 40 }),
])('every assignor gives each partition to exactly one subscribed member', (assignor, n, partitions) => {
  const members = Object.fromEntries(Array.from({ length: n }, (_, i) => [`m${i}`, ['t']]));
  const out = assign(assignor, { members, partitions: { t: partitions }, previous: {} });
  const all = Object.values(out).flat().sort();
  expect(all).toStrictEqual(Array.from({ length: partitions }, (_, p) => tp('t', p)).sort());
});

test.prop([
  fc.integer({ min: 1, max: 30 }),
  fc.integer({ min: 1, max: 128 }),
  fc.integer({ min: 1, max: 5 }),
  fc.integer({ min: 0, max: 5 }),
])(
  'cooperative-sticky balances within one of the mean and moves only what balance requires',
  (n, partitions, joining, leaving) => {
    const members = Object.fromEntries(Array.from({ length: n }, (_, i) => [`m${i}`, ['t']]));
    const before = assign('cooperative-sticky', { members, partitions: { t: partitions }, previous: {} });
    const next: Record<string, string[]> = {};
    Object.keys(members)
      .slice(Math.min(leaving, n - 1))
      .forEach((m) => (next[m] = ['t']));
    for (let j = 0; j < joining; j++) next[`new${j}`] = ['t'];
    const after = assign('cooperative-sticky', { members: next, partitions: { t: partitions }, previous: before });
    const counts = Object.values(after).map((ps) => ps.length);
    expect(Math.max(...counts) - Math.min(...counts) <= 1, `balanced: ${counts.join(',')}`).toBeTruthy();
    // Stickiness: a surviving member never loses a partition unless it had more than its new quota.
    const quota = Math.ceil(partitions / Object.keys(next).length);
    for (const m of Object.keys(next)) {
      const kept = (before[m] ?? []).filter((p) => after[m]!.includes(p)).length;
      expect(
        kept >= Math.min((before[m] ?? []).length, quota - 1),
        `${m} kept ${kept} of ${(before[m] ?? []).length} (quota ${quota})`,
      ).toBeTruthy();
    }
  },
);
