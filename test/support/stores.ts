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

const objectsByStore = new WeakMap<object, ObjectStore>();

/** The object store of a store: the S3 emulator's bucket when the harness started one, else in memory. */
export function objectsOf(store: object): ObjectStore {
  let objects = objectsByStore.get(store);
  if (objects === undefined) {
    const bucket = process.env.SLUICE_SEGMENT_BUCKET;
    objects =
      store instanceof MemoryStore || bucket === undefined || process.env.AWS_ENDPOINT_URL_S3 === undefined
        ? new MemoryObjectStore()
        : new S3ObjectStore({ client: s3ClientFromEnv(), bucket });
    objectsByStore.set(store, objects);
  }
  return objects;
}

/** Engine options for S3-backed topics over `store` (see `StoreKind.engine`). */
export function s3TopicsEngine(store: Store): EngineExtras {
  return {
    tiering: { store: store as Store & TieringStore, objects: objectsOf(store) },
    topicDefaults: { storage: 's3' },
  };
}

/** A kind whose engines make S3-backed topics by default. */
export function withS3Topics(kind: StoreKind): StoreKind {
  return { name: `${kind.name}, s3 topics`, make: (options) => kind.make(options), engine: s3TopicsEngine };
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

/** A group kind whose engine makes S3-backed topics by default. */
export function groupKindWithS3Topics(kind: 'memory' | 'dynamodb'): GroupKind {
  return {
    name: `${kind}, s3 topics`,
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
      const sluice = new Sluice({ log: store, metadata: store, now, ...s3TopicsEngine(store) });
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

export function tieredEngine(
  store: Store & TieringStore,
  objects: ObjectStore,
  now: () => number,
  topicDefaults?: SluiceOptions['topicDefaults'],
) {
  return {
    sluice: new Sluice({
      log: store,
      metadata: store,
      tiering: { store, objects },
      now,
      retry: { maxJitterMs: 2 },
      ...(topicDefaults === undefined ? {} : { topicDefaults }),
    }),
    tiering: new Tiering({ log: store, metadata: store, store, objects, now }),
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
