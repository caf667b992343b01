import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import { createTables } from '../../core/adapters/dynamodb/createTables.ts';
import { DynamoStore } from '../../core/adapters/dynamodb/dynamoStore.ts';
import { MemoryStore } from '../../core/adapters/memory/memoryStore.ts';
import type { LogStore, MetadataStore } from '../../core/ports.ts';
import type { TableNames } from '../../core/schema.ts';
import { dynamoClientFromEnv } from '../../local/awsEnv.ts';
import { uniqueName } from './names.ts';

export type Store = LogStore & MetadataStore;

export interface StoreOptions {
  /** Called with the capacity each request consumed (DynamoDB's ReturnConsumedCapacity, or the memory model's). */
  readonly onConsumedCapacity?: (capacity: ConsumedCapacity[]) => void;
}

export interface StoreKind {
  readonly name: string;
  /** A fresh, empty store (its own tables for DynamoDB). */
  make(options?: StoreOptions): Promise<Store>;
  /**
   * What an engine over `store` adds to its options: for the `s3` kinds, an object store (one per
   * store, shared by every engine over it) and `storage: "s3"` as the topic default, so that
   * every contract runs on S3-backed topics too.
   */
  engine?(store: Store): EngineExtras;
}

export type EngineExtras = Pick<SluiceOptions, 'tiering' | 'topicDefaults'>;

/** One object store per store and bucket, shared by every engine over that store. */
const bucketsByStore = new WeakMap<object, Map<string, ObjectStore>>();

/**
 * The bucket named by the environment variable `bucketEnv` when the harness started the S3
 * emulator (and `store` is not in memory), else an in-memory object store made by `inMemory`.
 */
function bucketOf(store: object, bucketEnv: string, inMemory: () => ObjectStore): ObjectStore {
  const buckets = bucketsByStore.get(store) ?? new Map<string, ObjectStore>();
  bucketsByStore.set(store, buckets);
  let objects = buckets.get(bucketEnv);
  if (objects === undefined) {
    const bucket = process.env[bucketEnv];
    objects =
      store instanceof MemoryStore || bucket === undefined || process.env.AWS_ENDPOINT_URL_S3 === undefined
        ? inMemory()
        : new S3ObjectStore({ client: s3ClientFromEnv(), bucket });
    buckets.set(bucketEnv, objects);
  }
  return objects;
}

/** The object store of a store: the S3 emulator's bucket when the harness started one, else in memory. */
export function objectsOf(store: object): ObjectStore {
  return bucketOf(store, 'SLUICE_SEGMENT_BUCKET', () => new MemoryObjectStore());
}

/**
 * The S3 Express One Zone stand-in of a store: the emulator's second bucket (SLUICE_EXPRESS_BUCKET)
 * when the harness started one, else in memory with unordered listings, as a directory bucket lists.
 */
export function expressObjectsOf(store: object): ObjectStore {
  return bucketOf(store, 'SLUICE_EXPRESS_BUCKET', () => new MemoryObjectStore(Date.now, { unorderedListing: true }));
}

/** The object storage kinds a topic can have. */
export type ObjectStorage = 's3' | 's3-express';

/** Engine options for topics of `storage` (S3 or S3 Express) over `store` (see `StoreKind.engine`). */
export function s3TopicsEngine(store: Store, storage: ObjectStorage = 's3'): EngineExtras {
  const tieringStore = store as Store & TieringStore;
  return {
    tiering:
      storage === 's3'
        ? { store: tieringStore, objects: objectsOf(store) }
        : { store: tieringStore, objects: objectsOf(store), expressObjects: expressObjectsOf(store) },
    topicDefaults: { storage },
  };
}

/** A kind whose engines make topics of `storage` (S3-backed by default). */
export function withS3Topics(kind: StoreKind, storage: ObjectStorage = 's3'): StoreKind {
  return {
    name: `${kind.name}, ${storage} topics`,
    make: (options) => kind.make(options),
    engine: (store) => s3TopicsEngine(store, storage),
  };
}

export const memoryKind: StoreKind = { name: 'memory', make: async (options = {}) => new MemoryStore(options) };

export const dynamoKind: StoreKind = {
  name: 'dynamodb',
  async make(options = {}) {
    const { store } = await freshDynamoStore('test', options);
    return store;
  },
};

/** A DynamoStore over new tables with unique names (DynamoDB Local from the test harness, or AWS_ENDPOINT_URL). */
export async function freshDynamoStore(
  prefix = 'test',
  options: StoreOptions = {},
): Promise<{ store: DynamoStore; tables: TableNames }> {
  const client = dynamoClientFromEnv();
  const base = uniqueName(prefix);
  const tables = { log: `${base}-log`, metadata: `${base}-meta` };
  await createTables(client, tables);
  return { store: new DynamoStore({ client, tables, ...options }), tables };
}

import { ConsumerGroups } from '../../core/groups/consumerGroups.ts';
import { DynamoGroupStore } from '../../core/groups/dynamoGroupStore.ts';
import { MemoryGroupStore } from '../../core/groups/memoryGroupStore.ts';
import type { GroupStore } from '../../core/groups/groupStore.ts';
import { Sluice, type SluiceOptions } from '../../core/log/sluice.ts';

export interface GroupKind {
  readonly name: string;
  make(now?: () => number): Promise<{ sluice: Sluice; groups: ConsumerGroups; groupStore: GroupStore }>;
}

/** A group kind whose engine makes topics of `storage` (S3-backed) by default. */
export function groupKindWithS3Topics(kind: 'memory' | 'dynamodb', storage: ObjectStorage = 's3'): GroupKind {
  return {
    name: `${kind}, ${storage} topics`,
    async make(now = Date.now) {
      const { store, groupStore } =
        kind === 'memory'
          ? { store: new MemoryStore(), groupStore: new MemoryGroupStore() as GroupStore }
          : await (async () => {
              const { store, tables } = await freshDynamoStore('groups');
              return {
                store,
                groupStore: new DynamoGroupStore({ client: dynamoClientFromEnv(), table: tables.metadata }),
              };
            })();
      const sluice = new Sluice({ log: store, metadata: store, now, ...s3TopicsEngine(store, storage) });
      return { sluice, groups: new ConsumerGroups({ store: groupStore, sluice, now }), groupStore };
    },
  };
}

export const memoryGroupKind: GroupKind = {
  name: 'memory',
  async make(now = Date.now) {
    const store = new MemoryStore();
    const groupStore = new MemoryGroupStore();
    const sluice = new Sluice({ log: store, metadata: store, now });
    return { sluice, groups: new ConsumerGroups({ store: groupStore, sluice, now }), groupStore };
  },
};

export const dynamoGroupKind: GroupKind = {
  name: 'dynamodb',
  async make(now = Date.now) {
    const { store, tables } = await freshDynamoStore('groups');
    const groupStore = new DynamoGroupStore({ client: dynamoClientFromEnv(), table: tables.metadata });
    const sluice = new Sluice({ log: store, metadata: store, now });
    return { sluice, groups: new ConsumerGroups({ store: groupStore, sluice, now }), groupStore };
  },
};

import { MemoryObjectStore, S3ObjectStore, s3ClientFromEnv, type ObjectStore } from '../../core/tiering/objectStore.ts';
import { Tiering } from '../../core/tiering/tiering.ts';
import type { TieringStore } from '../../core/ports.ts';

export interface TieredKind {
  readonly name: string;
  /** Defaults for the topics the contract creates (`{ storage: 's3' }` for the S3-backed kinds). */
  readonly topicDefaults?: SluiceOptions['topicDefaults'];
  /** A fresh store with tiering; `objects` is the object store to wrap for fault injection. */
  make(now: () => number, options?: StoreOptions): Promise<{ store: Store & TieringStore; objects: ObjectStore }>;
}

export const memoryTieredKind: TieredKind = {
  name: 'memory',
  async make(_now, options = {}) {
    return { store: new MemoryStore(options), objects: new MemoryObjectStore() };
  },
};

/** DynamoDB Local and, when the harness started one, the S3 emulator (else in-memory objects). */
export const dynamoTieredKind: TieredKind = {
  name: 'dynamodb',
  async make(_now, options = {}) {
    const { store } = await freshDynamoStore('tiered', options);
    const bucket = process.env.SLUICE_SEGMENT_BUCKET;
    const objects =
      bucket === undefined || process.env.AWS_ENDPOINT_URL_S3 === undefined
        ? new MemoryObjectStore()
        : new S3ObjectStore({ client: s3ClientFromEnv(), bucket });
    return { store, objects };
  },
};

/**
 * An engine and a roller over `store` and `objects`. With `s3-express` topic defaults, `objects`
 * is the directory bucket as well (one store for both: every key lands where the test can wrap it).
 */
export function tieredEngine(
  store: Store & TieringStore,
  objects: ObjectStore,
  now: () => number,
  topicDefaults?: SluiceOptions['topicDefaults'],
) {
  const express = topicDefaults?.storage === 's3-express' ? { expressObjects: objects } : {};
  return {
    sluice: new Sluice({
      log: store,
      metadata: store,
      tiering: { store, objects, ...express },
      now,
      retry: { maxJitterMs: 2 },
      ...(topicDefaults === undefined ? {} : { topicDefaults }),
    }),
    tiering: new Tiering({ log: store, metadata: store, store, objects, now, ...express }),
  };
}

/**
 * An object store that keeps its keys under `prefix` of `inner`: two suites that share the S3
 * emulator's bucket and name their topics alike (the tiering contract runs for both storage
 * kinds at once) then never list each other's claim checks or segments.
 */
export function prefixedObjects(inner: ObjectStore, prefix: string): ObjectStore {
  return {
    put: (key, bytes) => inner.put(prefix + key, bytes),
    getRange: (key, start, end) => inner.getRange(prefix + key, start, end),
    delete: (keys) => inner.delete(keys.map((k) => prefix + k)),
    async *list(under) {
      for await (const o of inner.list(prefix + under)) yield { ...o, key: o.key.slice(prefix.length) };
    },
  };
}
