import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { metadataKeys } from '../schema.ts';
import type { Subscription } from './subscription.ts';
import type { PartitionState, QuarantinedKey, SubscriptionState, SubscriptionStore } from './subscriptionStore.ts';

/**
 * Subscriptions in the metadata table: each definition one item under `pk = subscription` (so a
 * listing is one Query), and its delivery state under `pk = sub#<name>`: `p#<partition>` per
 * partition and `q#<partition>#<keyId>` per quarantined key, so a dispatcher reads it all in one
 * Query. Every write is conditional on the version read.
 */
export class DynamoSubscriptionStore implements SubscriptionStore {
  private readonly client: DynamoDBClient;
  private readonly table: string;

  constructor(options: { readonly client: DynamoDBClient; readonly table: string }) {
    this.client = options.client;
    this.table = options.table;
  }

  async create(sub: Subscription): Promise<boolean> {
    return this.conditional(
      new PutItemCommand({
        TableName: this.table,
        Item: this.definitionItem(sub),
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  /** A definition's item: the whole subscription as JSON, its version beside it for conditions. */
  private definitionItem(sub: Subscription) {
    return marshall({ ...metadataKeys.subscription(sub.name), version: sub.version, definition: JSON.stringify(sub) });
  }

  async get(name: string): Promise<Subscription | undefined> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.table,
        Key: marshall(metadataKeys.subscription(name)),
        ConsistentRead: true,
      }),
    );
    return out.Item === undefined ? undefined : (JSON.parse(out.Item.definition!.S!) as Subscription);
  }

  async list(): Promise<Subscription[]> {
    return (await this.queryAll(metadataKeys.subscriptionsPartition)).map(
      (i) => JSON.parse(i.definition as string) as Subscription,
    );
  }

  async update(sub: Subscription): Promise<boolean> {
    return this.conditional(
      new PutItemCommand({
        TableName: this.table,
        Item: this.definitionItem(sub),
        ConditionExpression: 'version = :v',
        ExpressionAttributeValues: marshall({ ':v': sub.version - 1 }),
      }),
    );
  }

  async delete(name: string): Promise<boolean> {
    const existed = await this.conditional(
      new DeleteItemCommand({
        TableName: this.table,
        Key: marshall(metadataKeys.subscription(name)),
        ConditionExpression: 'attribute_exists(pk)',
      }),
    );
    const pk = metadataKeys.subscriptionStatePartition(name);
    for (const item of await this.queryAll(pk))
      await this.client.send(new DeleteItemCommand({ TableName: this.table, Key: marshall({ pk, sk: item.sk }) }));
    return existed;
  }

  async readState(name: string): Promise<SubscriptionState> {
    const partitions: PartitionState[] = [];
    const quarantined: QuarantinedKey[] = [];
    for (const item of await this.queryAll(metadataKeys.subscriptionStatePartition(name))) {
      const value = JSON.parse(item.state as string) as PartitionState | QuarantinedKey;
      if ((item.sk as string).startsWith('p#'))
        partitions.push({ ...(value as PartitionState), version: item.version as number });
      else quarantined.push({ ...(value as QuarantinedKey), version: item.version as number });
    }
    return {
      partitions: partitions.sort((a, b) => a.partition - b.partition),
      quarantined: quarantined.sort((a, b) => a.partition - b.partition || a.since - b.since),
    };
  }

  putPartition(name: string, state: PartitionState, expectedVersion: number | undefined): Promise<boolean> {
    return this.put(name, `p#${state.partition}`, state, expectedVersion);
  }

  putQuarantine(name: string, q: QuarantinedKey, expectedVersion: number | undefined): Promise<boolean> {
    return this.put(name, `q#${q.partition}#${q.keyId}`, q, expectedVersion);
  }

  deleteQuarantine(name: string, partition: number, keyId: string, expectedVersion: number): Promise<boolean> {
    return this.conditional(
      new DeleteItemCommand({
        TableName: this.table,
        Key: marshall({ pk: metadataKeys.subscriptionStatePartition(name), sk: `q#${partition}#${keyId}` }),
        ConditionExpression: 'version = :v',
        ExpressionAttributeValues: marshall({ ':v': expectedVersion }),
      }),
    );
  }

  /** A state item (its fields as JSON, the version beside them for the condition). */
  private put(name: string, sk: string, value: { version: number }, expectedVersion: number | undefined) {
    return this.conditional(
      new PutItemCommand({
        TableName: this.table,
        Item: marshall({
          pk: metadataKeys.subscriptionStatePartition(name),
          sk,
          version: value.version,
          state: JSON.stringify(value),
        }),
        ...(expectedVersion === undefined
          ? { ConditionExpression: 'attribute_not_exists(pk)' }
          : { ConditionExpression: 'version = :v', ExpressionAttributeValues: marshall({ ':v': expectedVersion }) }),
      }),
    );
  }

  private async conditional(command: PutItemCommand | DeleteItemCommand): Promise<boolean> {
    try {
      await this.client.send(command as PutItemCommand);
      return true;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return false;
      throw e;
    }
  }

  private async queryAll(pk: string): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: marshall({ ':pk': pk }),
          ConsistentRead: true,
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
      out.push(...(page.Items ?? []).map((i) => unmarshall(i)));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return out;
  }
}
