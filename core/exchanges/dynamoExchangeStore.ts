import { randomUUID } from 'node:crypto';
import {
  BatchWriteItemCommand,
  GetItemCommand,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  type AttributeValue,
  type DynamoDBClient,
  type TransactWriteItem,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { ExchangeNotFound, TooManyBindings } from '../errors.ts';
import { metadataKeys } from '../schema.ts';
import { bindingId, type Binding, type Exchange, type StoredBinding } from './exchange.ts';
import { MAX_BINDINGS, type ExchangeStore, type LoadedExchange } from './exchangeStore.ts';

type Item = Record<string, AttributeValue>;

interface Meta extends Exchange {
  /** This incarnation of the name: bindings carry it, so leftovers of a deleted namesake never count. */
  readonly inc: string;
  /** How many bindings it has (the cap costs one small update, not a count). */
  readonly n: number;
}

const exchangeOf = (m: Record<string, unknown>): Exchange => ({
  name: m.name as string,
  type: m.type as Exchange['type'],
  alternateExchange: (m.alternateExchange as string | undefined) ?? null,
  createdAt: m.createdAt as number,
});

const bindingOf = (m: Record<string, unknown>): StoredBinding => ({
  id: m.id as string,
  destination: m.destination as StoredBinding['destination'],
  bindingKey: m.bindingKey as string,
  arguments: (m.arguments as StoredBinding['arguments'] | undefined) ?? {},
});

/**
 * Exchanges in the metadata table: a registry item per exchange under `pk = "exchange"` (one Query
 * lists them), and under `pk = exchange#<name>` the declaration (`meta`, with the binding count),
 * one item per binding (`binding#<id>`) and a reference per binding of another exchange to this one
 * (`inbound#<source>#<id>`), so deleting an exchange removes the bindings to it, as RabbitMQ does.
 * Loading an exchange for routing is one Query (a few pages for thousands of bindings).
 */
export class DynamoExchangeStore implements ExchangeStore {
  private readonly client: DynamoDBClient;
  private readonly table: string;

  constructor(options: { readonly client: DynamoDBClient; readonly table: string }) {
    this.client = options.client;
    this.table = options.table;
  }

  async createExchange(exchange: Exchange): Promise<{ exchange: Exchange; created: boolean }> {
    const declaration = {
      name: exchange.name,
      type: exchange.type,
      createdAt: exchange.createdAt,
      ...(exchange.alternateExchange === null ? {} : { alternateExchange: exchange.alternateExchange }),
    };
    try {
      await this.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: marshall({
                  ...metadataKeys.exchangeMeta(exchange.name),
                  ...declaration,
                  inc: randomUUID(),
                  n: 0,
                }),
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Put: {
                TableName: this.table,
                Item: marshall({ ...metadataKeys.exchangeRegistry(exchange.name), ...declaration }),
              },
            },
          ],
        }),
      );
      return { exchange, created: true };
    } catch (e) {
      if (reasons(e)[0] !== 'ConditionalCheckFailed') throw e;
      const existing = await this.meta(exchange.name);
      if (existing === undefined) throw e; // deleted meanwhile: a rare race, worth a retry by the caller
      return { exchange: exchangeOf(existing as unknown as Record<string, unknown>), created: false };
    }
  }

  async loadExchange(name: string): Promise<LoadedExchange | undefined> {
    let meta: Meta | undefined;
    const bindings: (StoredBinding & { inc: string })[] = [];
    for await (const item of this.query(metadataKeys.exchangePartition(name))) {
      if (item.sk === 'meta') meta = item as unknown as Meta;
      else if ((item.sk as string).startsWith('binding#'))
        bindings.push({ ...bindingOf(item), inc: item.inc as string });
    }
    if (meta === undefined) return undefined;
    return {
      exchange: exchangeOf(meta as unknown as Record<string, unknown>),
      bindings: bindings.filter((b) => b.inc === meta.inc).map(({ inc: _inc, ...b }) => b),
    };
  }

  async listExchanges(): Promise<Exchange[]> {
    const out: Exchange[] = [];
    for await (const item of this.query(metadataKeys.exchangesPartition)) out.push(exchangeOf(item));
    return out;
  }

  async deleteExchange(name: string): Promise<boolean> {
    const own: Record<string, unknown>[] = [];
    let found = false;
    for await (const item of this.query(metadataKeys.exchangePartition(name))) {
      if (item.sk === 'meta') found = true;
      else own.push(item);
    }
    if (!found) return false;
    const deletes: Item[] = [];
    for (const item of own) {
      const sk = item.sk as string;
      if (sk.startsWith('inbound#')) {
        // Another exchange's binding to this one: remove it there, with its count.
        await this.deleteBinding(item.source as string, bindingOf(item.binding as Record<string, unknown>));
      } else if (sk.startsWith('binding#')) {
        const b = bindingOf(item);
        if ('exchange' in b.destination)
          deletes.push(marshall(metadataKeys.exchangeInbound(b.destination.exchange, name, b.id)));
      }
      deletes.push(marshall({ pk: item.pk, sk }));
    }
    await this.batchDelete(deletes);
    // The declaration goes last, so a delete that stopped half-way is finished by running it again.
    await this.client.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Delete: { TableName: this.table, Key: marshall(metadataKeys.exchangeMeta(name)) } },
          { Delete: { TableName: this.table, Key: marshall(metadataKeys.exchangeRegistry(name)) } },
        ],
      }),
    );
    return true;
  }

  async putBinding(source: string, binding: Binding): Promise<{ binding: StoredBinding; created: boolean }> {
    const meta = await this.meta(source);
    if (meta === undefined) throw new ExchangeNotFound(source);
    const stored: StoredBinding = { id: bindingId(binding), ...binding };
    const items: TransactWriteItem[] = [
      {
        Put: {
          TableName: this.table,
          Item: marshall({ ...metadataKeys.exchangeBinding(source, stored.id), ...stored, inc: meta.inc }),
          // A leftover of a deleted namesake (another incarnation) may be overwritten.
          ConditionExpression: 'attribute_not_exists(pk) OR inc <> :inc',
          ExpressionAttributeValues: marshall({ ':inc': meta.inc }),
        },
      },
      {
        Update: {
          TableName: this.table,
          Key: marshall(metadataKeys.exchangeMeta(source)),
          UpdateExpression: 'SET n = n + :one',
          ConditionExpression: 'inc = :inc AND n < :max',
          ExpressionAttributeValues: marshall({ ':inc': meta.inc, ':one': 1, ':max': MAX_BINDINGS }),
        },
      },
    ];
    const destination = 'exchange' in binding.destination ? binding.destination.exchange : undefined;
    if (destination !== undefined) {
      items.push(
        {
          ConditionCheck: {
            TableName: this.table,
            Key: marshall(metadataKeys.exchangeMeta(destination)),
            ConditionExpression: 'attribute_exists(pk)',
          },
        },
        {
          Put: {
            TableName: this.table,
            Item: marshall({ ...metadataKeys.exchangeInbound(destination, source, stored.id), source, binding }),
          },
        },
      );
    }
    try {
      await this.client.send(new TransactWriteItemsCommand({ TransactItems: items }));
      return { binding: stored, created: true };
    } catch (e) {
      const [put, count, check] = reasons(e);
      if (put === 'ConditionalCheckFailed') return { binding: stored, created: false };
      if (check === 'ConditionalCheckFailed') throw new ExchangeNotFound(destination!);
      if (count === 'ConditionalCheckFailed') {
        const now = await this.meta(source);
        if (now === undefined || now.inc !== meta.inc) throw new ExchangeNotFound(source);
        throw new TooManyBindings(source, MAX_BINDINGS);
      }
      throw e;
    }
  }

  async deleteBinding(source: string, binding: Binding): Promise<boolean> {
    const meta = await this.meta(source);
    if (meta === undefined) return false;
    const id = bindingId(binding);
    const items: TransactWriteItem[] = [
      {
        Delete: {
          TableName: this.table,
          Key: marshall(metadataKeys.exchangeBinding(source, id)),
          ConditionExpression: 'inc = :inc',
          ExpressionAttributeValues: marshall({ ':inc': meta.inc }),
        },
      },
      {
        Update: {
          TableName: this.table,
          Key: marshall(metadataKeys.exchangeMeta(source)),
          UpdateExpression: 'SET n = n - :one',
          ConditionExpression: 'inc = :inc',
          ExpressionAttributeValues: marshall({ ':inc': meta.inc, ':one': 1 }),
        },
      },
    ];
    if ('exchange' in binding.destination)
      items.push({
        Delete: {
          TableName: this.table,
          Key: marshall(metadataKeys.exchangeInbound(binding.destination.exchange, source, id)),
        },
      });
    try {
      await this.client.send(new TransactWriteItemsCommand({ TransactItems: items }));
      return true;
    } catch (e) {
      if (reasons(e).includes('ConditionalCheckFailed')) return false;
      throw e;
    }
  }

  private async meta(name: string): Promise<Meta | undefined> {
    const got = await this.client.send(
      new GetItemCommand({
        TableName: this.table,
        Key: marshall(metadataKeys.exchangeMeta(name)),
        ConsistentRead: true,
      }),
    );
    return got.Item === undefined ? undefined : (unmarshall(got.Item) as Meta);
  }

  private async *query(pk: string): AsyncGenerator<Record<string, unknown>> {
    let startKey: Item | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: pk } },
          ExclusiveStartKey: startKey,
          ConsistentRead: true,
        }),
      );
      for (const item of page.Items ?? []) yield unmarshall(item);
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
  }

  private async batchDelete(keys: readonly Item[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 25) {
      let pending: WriteRequest[] = keys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 10 * 2 ** attempt)));
        const res = await this.client.send(new BatchWriteItemCommand({ RequestItems: { [this.table]: pending } }));
        pending = res.UnprocessedItems?.[this.table] ?? [];
      }
    }
  }
}

/** Each item's reason a transaction was cancelled (`None` for those that were fine). */
function reasons(e: unknown): (string | undefined)[] {
  if (!(e instanceof TransactionCanceledException)) throw e;
  return (e.CancellationReasons ?? []).map((r) => r.Code);
}
