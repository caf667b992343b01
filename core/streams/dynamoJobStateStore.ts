import { GetItemCommand, QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoPart } from '../adapters/dynamodb/dynamoAtomic.ts';
import { JobContention } from '../errors.ts';
import { metadataKeys } from '../schema.ts';
import type { JobState } from './job.ts';
import { assemble, type JobSettings, type StoredChunk } from './stateLayout.ts';
import {
  DEFAULT_JOB_PAGE,
  planJobSave,
  type JobPage,
  type JobSave,
  type JobStateStore,
  type ListJobsOptions,
  type StoredJobState,
} from './stateStore.ts';

export interface DynamoJobStateStoreOptions {
  readonly client: DynamoDBClient;
  /** The metadata table. */
  readonly table: string;
}

/** Reads of a head and its chunks that a commit may tear before the store gives up. */
const MAX_TORN_READS = 10;

/**
 * `JobStateStore` in the metadata table, laid out as stateLayout.ts describes: under the job’s
 * partition key (`metadataKeys.jobState`), the head item (`sk` `state`: JSON `s`, version `v`,
 * source topic `src`) and chunk items (`sk` `chunk#<id>`: JSON `s`, version `v` that wrote it).
 * The first commit also registers the job (`metadataKeys.jobRegistry`), for `list`.
 */
export class DynamoJobStateStore implements JobStateStore {
  private readonly client: DynamoDBClient;
  private readonly table: string;

  constructor(options: DynamoJobStateStoreOptions) {
    this.client = options.client;
    this.table = options.table;
  }

  async load(job: string, cached?: StoredJobState): Promise<StoredJobState | undefined> {
    for (let attempt = 0; attempt < MAX_TORN_READS; attempt++) {
      const { pk, sk } = metadataKeys.jobState(job);
      const out = await this.client.send(
        new GetItemCommand({ TableName: this.table, Key: keyOf({ pk, sk }), ConsistentRead: true }),
      );
      if (out.Item === undefined) return undefined;
      const version = Number(out.Item.v!.N);
      if (cached?.version === version) return cached;
      const assembled = assemble(out.Item.s!.S!, version, await this.chunks(pk));
      if (assembled !== 'torn') return { ...assembled, version, source: out.Item.src?.S ?? '' };
    }
    throw new JobContention(job, MAX_TORN_READS);
  }

  /** Every chunk item of a job, strongly consistent, page by page. */
  private async chunks(pk: string): Promise<Map<string, StoredChunk>> {
    const found = new Map<string, StoredChunk>();
    let start: Record<string, AttributeValue> | undefined;
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :chunk)',
          ExpressionAttributeValues: { ':pk': { S: pk }, ':chunk': { S: CHUNK_PREFIX } },
          ConsistentRead: true,
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
      for (const item of out.Items ?? []) {
        found.set(item.sk!.S!.slice(CHUNK_PREFIX.length), { json: item.s!.S!, version: Number(item.v!.N) });
      }
      start = out.LastEvaluatedKey;
    } while (start !== undefined);
    return found;
  }

  save(
    job: string,
    state: JobState,
    loaded: StoredJobState | undefined,
    source: string,
    settings?: JobSettings,
  ): JobSave {
    const { plan, stored } = planJobSave(job, state, loaded, source, settings);
    const { pk, sk } = metadataKeys.jobState(job);
    const version = { N: String(stored.version) };
    const part = new DynamoPart([
      {
        Put: {
          TableName: this.table,
          Item: { ...keyOf({ pk, sk }), s: { S: plan.headJson }, v: version, src: { S: source } },
          ...(loaded === undefined
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : { ConditionExpression: 'v = :v', ExpressionAttributeValues: { ':v': { N: String(loaded.version) } } }),
        },
      },
      // The head’s condition guards the rest: chunks and the registry need none of their own.
      ...plan.puts.map((p) => ({
        Put: {
          TableName: this.table,
          Item: { ...keyOf({ pk, sk: CHUNK_PREFIX + p.id }), s: { S: p.json }, v: version },
        },
      })),
      ...plan.deletes.map((id) => ({ Delete: { TableName: this.table, Key: keyOf({ pk, sk: CHUNK_PREFIX + id }) } })),
      ...(loaded === undefined ? [{ Put: { TableName: this.table, Item: keyOf(metadataKeys.jobRegistry(job)) } }] : []),
    ]);
    return { parts: [part], stored };
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

const CHUNK_PREFIX = 'chunk#';

function keyOf(key: { pk: string; sk: string }) {
  return { pk: { S: key.pk }, sk: { S: key.sk } };
}
