import { GetItemCommand, QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoPart } from '../adapters/dynamodb/dynamoAtomic.ts';
import { metadataKeys } from '../schema.ts';
import type { JobState } from './job.ts';
import {
  DEFAULT_JOB_PAGE,
  encodeJobState,
  type JobPage,
  type JobStateStore,
  type ListJobsOptions,
  type StoredJobState,
} from './stateStore.ts';

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
    return {
      state: JSON.parse(out.Item.s!.S!) as JobState,
      version: Number(out.Item.v!.N),
      source: out.Item.src?.S ?? '',
    };
  }

  savePart(job: string, state: JobState, expectedVersion: number | undefined, source: string): DynamoPart {
    const { json } = encodeJobState(job, state);
    const { pk, sk } = metadataKeys.jobState(job);
    return new DynamoPart([
      {
        Put: {
          TableName: this.table,
          Item: {
            pk: { S: pk },
            sk: { S: sk },
            s: { S: json },
            v: { N: String((expectedVersion ?? 0) + 1) },
            src: { S: source },
          },
          ...(expectedVersion === undefined
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : { ConditionExpression: 'v = :v', ExpressionAttributeValues: { ':v': { N: String(expectedVersion) } } }),
        },
      },
      // The first commit registers the job (the state's condition guards it: no second first commit).
      ...(expectedVersion === undefined
        ? [{ Put: { TableName: this.table, Item: keyOf(metadataKeys.jobRegistry(job)) } }]
        : []),
    ]);
  }

  async list(options: ListJobsOptions = {}): Promise<JobPage> {
    const limit = options.limit ?? DEFAULT_JOB_PAGE;
    const jobs: string[] = [];
    let start: Record<string, AttributeValue> | undefined =
      options.after === undefined ? undefined : keyOf(metadataKeys.jobRegistry(options.after));
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: metadataKeys.jobRegistryPartition } },
          ProjectionExpression: 'sk',
          Limit: limit - jobs.length,
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
      for (const item of out.Items ?? []) jobs.push(item.sk!.S!);
      start = out.LastEvaluatedKey;
    } while (start !== undefined && jobs.length < limit);
    return start === undefined ? { jobs } : { jobs, next: jobs.at(-1)! };
  }
}

function keyOf(key: { pk: string; sk: string }) {
  return { pk: { S: key.pk }, sk: { S: key.sk } };
}
