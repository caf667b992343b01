import { expect } from 'vitest';

/**
 * Byte arrays compare with one memcmp instead of element by element: the tiering tests compare
 * multi-megabyte claim-checked values, which vitest's generic deep equality takes a minute over.
 * Buffers and plain Uint8Arrays stay different types, as in `toStrictEqual`.
 */
function bytesEqual(a: unknown, b: unknown): boolean | undefined {
  if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array)) return undefined;
  return Object.getPrototypeOf(a) === Object.getPrototypeOf(b) && Buffer.compare(a, b) === 0;
}

expect.addEqualityTesters([bytesEqual]);
