import type { SegmentRecord } from '../ports.ts';
import type { ObjectStore } from './objectStore.ts';

/** The claim checks a segment's batches refer to. */
export async function segmentClaims(objects: ObjectStore, segment: SegmentRecord): Promise<string[]> {
  if (segment.claims === undefined) return [];
  const bytes = await objects.getRange(segment.claims.key, 0, segment.claims.size - 1);
  return JSON.parse(new TextDecoder().decode(bytes)) as string[];
}

/** The objects that go with a segment besides itself: its claim checks and their list. */
export async function segmentClaimObjects(objects: ObjectStore, segment: SegmentRecord): Promise<string[]> {
  return segment.claims === undefined ? [] : [...(await segmentClaims(objects, segment)), segment.claims.key];
}
