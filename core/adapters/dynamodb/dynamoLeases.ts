import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  PutItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { Leases } from '../../leases.ts';
import { metadataKeys } from '../../schema.ts';

/** Leases in the metadata table (`pk = lease`, `sk = <name>`), taken and released with conditional writes. */
export class DynamoLeases implements Leases {
  private readonly client: DynamoDBClient;
  private readonly table: string;

  constructor(options: { client: DynamoDBClient; table: string }) {
    this.client = options.client;
    this.table = options.table;
  }

  async acquire(name: string, holder: string, now: number, ttlMs: number): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: marshall({ ...metadataKeys.lease(name), holder, until: now + ttlMs }),
          ConditionExpression: 'attribute_not_exists(pk) OR #until < :now',
          ExpressionAttributeNames: { '#until': 'until' },
          ExpressionAttributeValues: marshall({ ':now': now }),
        }),
      );
      return true;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return false;
      throw e;
    }
  }

  async release(name: string, holder: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.table,
          Key: marshall(metadataKeys.lease(name)),
          ConditionExpression: 'holder = :h',
          ExpressionAttributeValues: marshall({ ':h': holder }),
        }),
      );
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e; // expired and taken by another: theirs now
    }
  }
}
