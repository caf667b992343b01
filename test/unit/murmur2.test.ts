import { expect, test } from 'vitest';
import { murmur2, partitionForKey } from '../../core/log/murmur2.ts';

const utf8 = (s: string) => new TextEncoder().encode(s);

test('murmur2 matches Kafka’s Java client (UtilsTest.testMurmur2 vectors)', () => {
  const vectors: [Uint8Array, number][] = [
    [utf8('21'), -973932308],
    [utf8('foobar'), -790332482],
    [utf8('a-little-bit-long-string'), -985981536],
    [utf8('a-little-bit-longer-string'), -1486304829],
    [utf8('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'), -58897971],
    [Uint8Array.from([0x61, 0x62, 0x63]), 479470107],
    [new Uint8Array(0), 275646681],
  ];
  for (const [input, expected] of vectors) expect(murmur2(input), new TextDecoder().decode(input)).toBe(expected);
});

test('partitionForKey is toPositive(murmur2(key)) % partitions, as Kafka’s BuiltInPartitioner', () => {
  // toPositive(-790332482) = 1357151166; 1357151166 % 50 = 16.
  expect(partitionForKey(utf8('foobar'), 50)).toBe(16);
  expect(partitionForKey(utf8('foobar'), 1)).toBe(0);
  for (let n = 1; n <= 64; n++) {
    const p = partitionForKey(utf8(`key-${n}`), n);
    expect(p >= 0 && p < n).toBeTruthy();
  }
});
