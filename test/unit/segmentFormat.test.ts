import { fc, test } from '@fast-check/vitest';
import { expect } from 'vitest';
import { isSluiceError } from '../../core/errors.ts';
import type { StoredBatch } from '../../core/ports.ts';
import { batchFromSegment, decodeSegmentIndex, encodeSegment, segmentKey } from '../../core/tiering/segmentFormat.ts';
import { thrownBy } from '../support/thrownBy.ts';

const batchArb = fc.record({
  recordCount: fc.integer({ min: 1, max: 5000 }),
  firstTimestamp: fc.integer({ min: 0, max: 2 ** 45 }),
  sizeBytes: fc.integer({ min: 0, max: 400_000 }),
  codec: fc.constantFrom('none', 'gzip', 'zstd') as fc.Arbitrary<'none'>,
  payload: fc.uint8Array({ maxLength: 300 }),
});

type BatchSpec = {
  recordCount: number;
  firstTimestamp: number;
  sizeBytes: number;
  codec: 'none' | 'gzip' | 'zstd';
  payload: Uint8Array;
};

function batches(specs: BatchSpec[], base: number): StoredBatch[] {
  let offset = base;
  return specs.map((s) => {
    const b = {
      log: 'L',
      baseOffset: offset,
      recordCount: s.recordCount,
      firstTimestamp: s.firstTimestamp,
      maxTimestamp: s.firstTimestamp + 5,
      sizeBytes: s.sizeBytes,
      codec: s.codec,
      payload: s.payload,
      writerId: 'segment',
    };
    offset += s.recordCount;
    return b;
  });
}

test.prop([fc.array(batchArb, { minLength: 1, maxLength: 20 }), fc.integer({ min: 0, max: 2 ** 50 })])(
  'segments round-trip every batch through the index and byte ranges',
  (specs, base) => {
    const input = batches(specs, base);
    const seg = encodeSegment(input);
    const index = decodeSegmentIndex(seg.bytes.subarray(seg.indexPosition, seg.indexPosition + seg.indexLength), 'x');
    expect(index.length).toBe(input.length);
    index.forEach((e, i) => {
      const back = batchFromSegment(e, seg.bytes.slice(e.position, e.position + e.length), 'L', 'x');
      expect(back).toStrictEqual(input[i]);
    });
  },
);

test('a flipped byte in a batch or in the index is reported as CorruptData, never returned', () => {
  const input = batches(
    [
      { recordCount: 3, firstTimestamp: 1, sizeBytes: 10, codec: 'none', payload: Uint8Array.from([1, 2, 3, 4]) },
      { recordCount: 2, firstTimestamp: 2, sizeBytes: 10, codec: 'none', payload: Uint8Array.from([5, 6, 7]) },
    ],
    100,
  );
  const seg = encodeSegment(input);
  const index = decodeSegmentIndex(seg.bytes.subarray(seg.indexPosition), 'seg');
  const e = index[1]!;
  const bad = seg.bytes.slice(e.position, e.position + e.length);
  bad[1]! ^= 0x40;
  expect(thrownBy(() => batchFromSegment(e, bad, 'L', 'segments/t/0/x.seg'))).toSatisfy(
    (err) => isSluiceError(err, 'CorruptData') && /CRC32C/.test(err.message) && err.location === 'segments/t/0/x.seg',
  );
  const badIndex = seg.bytes.slice(seg.indexPosition);
  badIndex[10]! ^= 0x01;
  expect(thrownBy(() => decodeSegmentIndex(badIndex, 'seg'))).toSatisfy((err) => isSluiceError(err, 'CorruptData'));
  expect(thrownBy(() => decodeSegmentIndex(badIndex.subarray(0, badIndex.length - 1), 'seg'))).toSatisfy((err) =>
    isSluiceError(err, 'CorruptData'),
  );
});

test('segment keys are deterministic with 20-digit offsets that sort in offset order', () => {
  expect(segmentKey('orders', 'abc123', 3, 42)).toBe('segments/orders/3/00000000000000000042.abc123.seg');
  expect(segmentKey('orders', 'abc123', 3, 42, 'c1-xyz')).toBe(
    'segments/orders/3/00000000000000000042.abc123.c1-xyz.seg',
  );
  const keys = [9, 10, 100, 2].map((o) => segmentKey('t', 'id', 0, o));
  expect([...keys].sort()).toStrictEqual([2, 9, 10, 100].map((o) => segmentKey('t', 'id', 0, o)));
});
