import { createTables } from '../../core/adapters/dynamodb/createTables.ts';
import { DynamoStore } from '../../core/adapters/dynamodb/dynamoStore.ts';
import { MemoryStore } from '../../core/adapters/memory/memoryStore.ts';
import type { LogStore, MetadataStore } from '../../core/ports.ts';
import type { TableNames } from '../../core/schema.ts';
import { dynamoClientFromEnv } from '../../local/awsEnv.ts';
import { uniqueName } from './names.ts';

export type Store = LogStore & MetadataStore;

export interface StoreKind {
  readonly name: string;
  /** A fresh, empty store (its own tables for DynamoDB). */
  make(): Promise<Store>;
}

export const memoryKind: StoreKind = { name: 'memory', make: async () => new MemoryStore() };

export const dynamoKind: StoreKind = {
  name: 'dynamodb',
  async make() {
    const { store } = await freshDynamoStore();
    return store;
  },
};

/** A DynamoStore over new tables with unique names (DynamoDB Local from the test harness, or AWS_ENDPOINT_URL). */
export async function freshDynamoStore(prefix = 'test'): Promise<{ store: DynamoStore; tables: TableNames }> {
  const client = dynamoClientFromEnv();
  const base = uniqueName(prefix);
  const tables = { log: `${base}-log`, metadata: `${base}-meta` };
  await createTables(client, tables);
  return { store: new DynamoStore({ client, tables }), tables };
}
