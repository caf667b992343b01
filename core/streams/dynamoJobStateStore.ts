import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoPart } from '../adapters/dynamodb/dynamoAtomic.ts';
import { metadataKeys } from '../schema.ts';
import type { JobState } from './job.ts';
import { encodeJobState, type JobStateStore, type StoredJobState } from './stateStore.ts';

export interface DynamoJobStateStoreOptions {
  readonly client: DynamoDBClient;
  /** The metadata table. */
  readonly table: string;
}

/**
 * `JobStateStore` in the metadata table: one item per job (`metadataKeys.jobState`) holding the
 * state as a JSON string `s` and its version `v`, put under a condition on the version. An item
 * passes DynamoDB’s 400 KB limit never: `encodeJobState` refuses states over `MAX_JOB_STATE_BYTES`.
 */
export class DynamoJobStateStore implements JobStateStore {
  private readonly client: DynamoDBClient;
  private readonly table: string;

  constructor(options: DynamoJobStateStoreOptions) {
    this.client = options.client;
    this.table = options.table;
  }

  async load(job: string): Promise<StoredJobState | undefined> {
    const { pk, sk } = metadataKeys.jobState(job);
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.table, Key: { pk: { S: pk }, sk: { S: sk } }, ConsistentRead: true }),
    );
    if (out.Item === undefined) return undefined;
    return { state: JSON.parse(out.Item.s!.S!) as JobState, version: Number(out.Item.v!.N) };
  }

  savePart(job: string, state: JobState, expectedVersion: number | undefined): DynamoPart {
    const { json } = encodeJobState(job, state);
    const { pk, sk } = metadataKeys.jobState(job);
    return new DynamoPart([
      {
        Put: {
          TableName: this.table,
          Item: { pk: { S: pk }, sk: { S: sk }, s: { S: json }, v: { N: String((expectedVersion ?? 0) + 1) } },
          ...(expectedVersion === undefined
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : { ConditionExpression: 'v = :v', ExpressionAttributeValues: { ':v': { N: String(expectedVersion) } } }),
        },
      },
    ]);
  }
}
