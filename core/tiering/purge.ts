import type { LogStore, MetadataStore, TieringStore } from '../ports.ts';
import type { ObjectStore } from '../tiering/objectStore.ts';
import { claimKeys } from '../log/batching.ts';
import { segmentClaimObjects } from './segmentClaims.ts';

export interface DeletionStores {
  readonly log: LogStore;
  readonly metadata: MetadataStore;
  readonly tiering: { readonly store: TieringStore; readonly objects: ObjectStore } | undefined;
}

/**
 * Hot batches that DynamoDB's TTL removes within this long are left to it (a TTL deletion is free;
 * a purge's costs a write unit per KB), so a deleted topic's hot tier costs little to purge.
 */
export const PURGE_LEAVES_TO_TTL_MS = 2 * 24 * 60 * 60 * 1000;

/**
 * Removes a deleted topic's partition: its claim objects, hot batches (but those TTL removes within
 * `PURGE_LEAVES_TO_TTL_MS`) and sequencer, segments, and partition state (its producers' states
 * expire by TTL). Every step is idempotent, so a purge that dies is finished by the next; the log
 * key carries the topic id, so nothing left meanwhile is ever read.
 */
export async function deletePartitionData(stores: DeletionStores, log: string, now: number): Promise<void> {
  if (stores.tiering !== undefined) {
    const { tieredThrough } = await stores.metadata.getPartitionState(log);
    await stores.tiering.objects.delete(await hotClaims(stores.log, log, tieredThrough));
  }
  await stores.log.deleteLog(log, Math.floor((now + PURGE_LEAVES_TO_TTL_MS) / 1000));
  if (stores.tiering === undefined) return;
  await dropAllSegments(stores.metadata, stores.tiering, log);
  await stores.tiering.store.forgetPartitionState(log); // last: the steps above read it
}

/**
 * Claim-check keys referenced from a partition's hot batches from `from` (its `tieredThrough`: the
 * claims of rolled batches are in their segments' claim lists, and an S3-backed topic's rolled
 * batches may point at objects already swept).
 */
async function hotClaims(store: LogStore, log: string, from: number): Promise<string[]> {
  const keys: string[] = [];
  for (let offset = from; ;) {
    const page = await store.readBatches(log, offset, 100);
    keys.push(...page.batches.flatMap(claimKeys));
    const last = page.batches.at(-1);
    if (page.reachedEnd || last === undefined) return keys;
    offset = last.baseOffset + last.recordCount;
  }
}

/** Removes a deleted partition's segments: objects first, then their records. */
async function dropAllSegments(
  metadata: MetadataStore,
  tiering: { readonly store: TieringStore; readonly objects: ObjectStore },
  log: string,
): Promise<void> {
  for (;;) {
    const segments = (await tiering.store.listSegments(log)).slice(0, 90);
    if (segments.length === 0) return;
    for (const s of segments) await tiering.objects.delete([s.key, ...(await segmentClaimObjects(tiering.objects, s))]);
    const state = await metadata.getPartitionState(log);
    await tiering.store.dropSegments(
      log,
      segments.map((s) => s.base),
      { ...state, version: state.version + 1 },
    );
  }
}
