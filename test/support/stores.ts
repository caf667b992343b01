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
import { Sluice } from '../../core/log/sluice.ts';

export interface GroupKind {
  readonly name: string;
  make(now?: () => number): Promise<{ sluice: Sluice; groups: ConsumerGroups; groupStore: GroupStore }>;
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

export function tieredEngine(store: Store & TieringStore, objects: ObjectStore, now: () => number) {
  return {
    sluice: new Sluice({ log: store, metadata: store, tiering: { store, objects }, now, retry: { maxJitterMs: 2 } }),
    tiering: new Tiering({ log: store, metadata: store, store, objects, now }),
  };
}
