import { randomUUID } from 'node:crypto';
import { CorruptData } from '../errors.ts';
import type { BatchPage, BatchPointer, LogStore, StoredBatch, TopicRecord } from '../ports.ts';
import { crc32c } from '../tiering/crc32c.ts';
import type { ObjectStore } from '../tiering/objectStore.ts';
import type { PreparedBatch } from './batching.ts';
import type { Storage } from './topicConfig.ts';

/**
 * Record bytes of `storage: "s3"` topics (issue 17), the way the object-storage logs (WarpStream,
 * AutoMQ, S2) keep theirs: an append request’s batches — every partition’s — are written as ONE
 * immutable S3 object, and each batch item in DynamoDB holds only a pointer to its byte range
 * (with a CRC32C), so the item costs one write unit however large the batch.
 *
 * - **Order.** The object is written before any offset is claimed, and the claim is the same
 *   conditional put at reserved offsets as for any batch (core/log/append.ts): a claim that has to
 *   move re-claims with the same pointer, a retry of the put writes the same pointer, and a claim
 *   that never lands leaves an object nothing points at (the roller sweeps those).
 * - **Reads.** A store wrapped by `objectBackedLog` resolves pointers on every read that returns
 *   payloads: one ranged GET per object per read (the batches’ ranges merged), checked against
 *   the CRC, from a small per-container cache of recently read ranges. Everything above the
 *   store — readers, groups, compaction, the roller that copies batches into segments — sees
 *   ordinary batches.
 * - **Keys.** `batches/<topic>/<topicId>/<15-digit epoch ms>-<uuid>`: the time in the key lets the
 *   sweep find old objects without reading them. `storage: "s3-express"` topics’ objects are
 *   under `express-batches/` instead: the object store routes that prefix to the S3 Express One
 *   Zone directory bucket (`withExpressBatches`), so a pointer says which bucket holds its bytes
 *   and a topic may change its storage at any time.
 */
export class ObjectBatches {
  private readonly objects: ObjectStore;
  private readonly now: () => number;
  private readonly cache: RangeCache;

  constructor(options: { objects: ObjectStore; now: () => number; cacheBytes?: number }) {
    this.objects = options.objects;
    this.now = options.now;
    this.cache = new RangeCache(options.cacheBytes ?? DEFAULT_CACHE_BYTES);
  }

  /**
   * Writes the payloads of one request’s batches as one object, and returns the batches with
   * pointers instead (empty payloads), in the same order.
   */
  async offload(topic: TopicRecord, batches: readonly PreparedBatch[]): Promise<PreparedBatch[]> {
    if (batches.length === 0) return [];
    const key = objectKeyFor(topic, this.now(), topic.config.storage === 's3-express' ? 's3-express' : 's3');
    const total = batches.reduce((n, b) => n + b.payload.length, 0);
    const bytes = new Uint8Array(total);
    let position = 0;
    const out = batches.map((b) => {
      bytes.set(b.payload, position);
      const pointer: BatchPointer = { key, position, length: b.payload.length, crc: crc32c(b.payload) };
      position += b.payload.length;
      return { ...b, payload: new Uint8Array(0), pointer };
    });
    await this.objects.put(key, bytes);
    this.cache.add(key, 0, bytes);
    return out;
  }

  /** The batches with every pointer’s payload read (one ranged GET per object), each checked. */
  async resolve(batches: readonly StoredBatch[]): Promise<StoredBatch[]> {
    const byKey = new Map<string, StoredBatch[]>();
    for (const b of batches) {
      if (b.pointer === undefined) continue;
      const list = byKey.get(b.pointer.key) ?? [];
      list.push(b);
      byKey.set(b.pointer.key, list);
    }
    if (byKey.size === 0) return [...batches];
    const payloads = new Map<StoredBatch, Uint8Array>();
    await Promise.all(
      [...byKey].map(async ([key, list]) => {
        const start = Math.min(...list.map((b) => b.pointer!.position));
        const end = Math.max(...list.map((b) => b.pointer!.position + b.pointer!.length));
        const bytes = this.cache.get(key, start, end) ?? (await this.fetch(key, start, end));
        for (const b of list) {
          const p = b.pointer!;
          const payload = bytes.subarray(p.position - start, p.position - start + p.length);
          if (crc32c(payload) !== p.crc)
            throw new CorruptData(key, `the batch at ${b.log}@${b.baseOffset} fails its CRC`);
          payloads.set(b, payload);
        }
      }),
    );
    return batches.map((b) => (b.pointer === undefined ? b : { ...b, payload: payloads.get(b)! }));
  }

  private async fetch(key: string, start: number, end: number): Promise<Uint8Array> {
    const bytes = end === start ? new Uint8Array(0) : await this.objects.getRange(key, start, end - 1);
    this.cache.add(key, start, bytes);
    return bytes;
  }
}

/** Where the batch objects of each object storage kind are (the first path segment of their keys). */
export const BATCH_OBJECT_ROOTS = { s3: 'batches/', 's3-express': 'express-batches/' } as const satisfies Record<
  Exclude<Storage, 'dynamodb'>,
  string
>;

/** Prefix of a topic incarnation’s batch objects of one storage kind (`s3` by default). */
export function batchObjectPrefix(
  topic: Pick<TopicRecord, 'name' | 'topicId'>,
  storage: keyof typeof BATCH_OBJECT_ROOTS = 's3',
): string {
  return `${BATCH_OBJECT_ROOTS[storage]}${topic.name}/${topic.topicId}/`;
}

/** A new batch object’s key: its topic, its time (what the sweep ages it by) and a random id. */
export function objectKeyFor(
  topic: Pick<TopicRecord, 'name' | 'topicId'>,
  now: number,
  storage: keyof typeof BATCH_OBJECT_ROOTS = 's3',
): string {
  return `${batchObjectPrefix(topic, storage)}${String(now).padStart(15, '0')}-${randomUUID()}`;
}

/** When a batch object was written, from its key (undefined for a key of another shape). */
export function objectWrittenAt(key: string): number | undefined {
  const match = /\/(\d{15})-[0-9a-f-]{36}$/.exec(key);
  return match === null ? undefined : Number(match[1]);
}

/**
 * One object store of two buckets: keys under `express-batches/` (the batch objects of
 * `storage: "s3-express"` topics) go to `express`, an S3 Express One Zone directory bucket, and
 * everything else to `standard`. A directory bucket lists keys in no particular order: nothing
 * that lists batch objects may rely on the order.
 */
export function withExpressBatches(standard: ObjectStore, express: ObjectStore | undefined): ObjectStore {
  if (express === undefined) return standard;
  const root = BATCH_OBJECT_ROOTS['s3-express'];
  const storeOf = (key: string) => (key.startsWith(root) ? express : standard);
  return {
    put: (key, bytes) => storeOf(key).put(key, bytes),
    getRange: (key, start, end) => storeOf(key).getRange(key, start, end),
    async delete(keys) {
      await Promise.all([
        standard.delete(keys.filter((k) => storeOf(k) === standard)),
        express.delete(keys.filter((k) => storeOf(k) === express)),
      ]);
    },
    list: (prefix) => (prefix.startsWith(root) ? express.list(prefix) : standard.list(prefix)),
  };
}

/**
 * A `LogStore` whose reads resolve pointers to payloads, delegating everything else (the store’s
 * other interfaces included) to `store` itself.
 */
export function objectBackedLog<T extends LogStore>(store: T, batches: ObjectBatches): T {
  const resolvePage = async (page: Promise<BatchPage>): Promise<BatchPage> => {
    const p = await page;
    return { ...p, batches: await batches.resolve(p.batches) };
  };
  const resolveOne = async (batch: Promise<StoredBatch | undefined>) => {
    const b = await batch;
    return b === undefined ? undefined : (await batches.resolve([b]))[0];
  };
  const overrides: Partial<LogStore> = {
    readBatches: (log, from, max) => resolvePage(store.readBatches(log, from, max)),
    getBatch: (log, base) => resolveOne(store.getBatch(log, base)),
    lastBatch: (log) => resolveOne(store.lastBatch(log)),
  };
  return new Proxy(store, {
    get(target, prop) {
      if (Object.hasOwn(overrides, prop)) return overrides[prop as keyof LogStore];
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

const DEFAULT_CACHE_BYTES = 32 * 1024 * 1024;

/** Recently read byte ranges of objects, least recently used out first. */
class RangeCache {
  private readonly entries = new Map<string, { start: number; bytes: Uint8Array }[]>();
  private readonly order: { key: string; start: number; size: number }[] = [];
  private bytes = 0;
  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  get(key: string, start: number, end: number): Uint8Array | undefined {
    for (const e of this.entries.get(key) ?? []) {
      if (e.start <= start && end <= e.start + e.bytes.length) return e.bytes.subarray(start - e.start, end - e.start);
    }
    return undefined;
  }

  add(key: string, start: number, bytes: Uint8Array): void {
    if (bytes.length > this.max / 4) return; // one huge range would empty the cache for one read
    const list = this.entries.get(key) ?? [];
    list.push({ start, bytes });
    this.entries.set(key, list);
    this.order.push({ key, start, size: bytes.length });
    this.bytes += bytes.length;
    while (this.bytes > this.max) {
      const old = this.order.shift()!;
      const rest = (this.entries.get(old.key) ?? []).filter(
        (e) => e.start !== old.start || e.bytes.length !== old.size,
      );
      if (rest.length === 0) this.entries.delete(old.key);
      else this.entries.set(old.key, rest);
      this.bytes -= old.size;
    }
  }
}
