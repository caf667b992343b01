import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type GetRecordsCommandOutput,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import { DescribeTableCommand, UpdateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';

export interface StreamPollerOptions {
  readonly dynamo: DynamoDBClient;
  /** @default a client from the environment (AWS_ENDPOINT_URL_DYNAMODB_STREAMS, else the DynamoDB endpoint) */
  readonly streams?: DynamoDBStreamsClient;
  readonly table: string;
  /** What the stack's event source does with a batch: invoke the function (errors are logged, not retried). */
  readonly onBatch: (event: DynamoDBStreamEvent) => Promise<unknown>;
  /** Pause between rounds of GetRecords. @default 150 */
  readonly intervalMs?: number;
  /** How often the shard list is read again (new shards). @default 2000 */
  readonly describeEveryMs?: number;
  /** Only these event names reach `onBatch`, as the stack's filter (INSERT) does. @default ['INSERT'] */
  readonly eventNames?: readonly string[];
}

/**
 * The log table's stream as Lambda's DynamoDB event source reads it, for the local stack: turns the
 * stream on (keys only, as the CDK table has it) if the table lacks one, starts each open shard
 * at its end (LATEST), reads every shard every `intervalMs`, follows new shards (from their start, since all
 * of their records are new) and hands INSERT records to `onBatch` as one DynamoDBStreamEvent per
 * round (at most 100 records, the stack's batch size). So the local doorbell is the same mechanism
 * as the deployed one, on DynamoDB Local's Streams API.
 */
export async function startStreamPoller(options: StreamPollerOptions): Promise<{ stop(): Promise<void> }> {
  // DynamoDB Local serves the Streams API on its own endpoint; the SDK would look for
  // AWS_ENDPOINT_URL_DYNAMODB_STREAMS, so fall back to the DynamoDB endpoint the stack uses.
  const endpoint =
    process.env.AWS_ENDPOINT_URL_DYNAMODB_STREAMS ??
    process.env.AWS_ENDPOINT_URL_DYNAMODB ??
    process.env.AWS_ENDPOINT_URL;
  const streams =
    options.streams ?? new DynamoDBStreamsClient({ maxAttempts: 3, ...(endpoint === undefined ? {} : { endpoint }) });
  const intervalMs = options.intervalMs ?? 150;
  const describeEveryMs = options.describeEveryMs ?? 2000;
  const names = new Set(options.eventNames ?? ['INSERT']);
  const streamArn = await ensureStream(options.dynamo, options.table);
  // Shard id → next iterator and the last sequence number read (to start again after it).
  const shards = new Map<string, { iterator: string; lastSequence?: string }>();
  const seen = new Set<string>();

  const iteratorFor = async (shardId: string, after?: string): Promise<string | undefined> =>
    (
      await streams.send(
        new GetShardIteratorCommand({
          StreamArn: streamArn,
          ShardId: shardId,
          ...(after === undefined
            ? { ShardIteratorType: 'TRIM_HORIZON' }
            : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: after }),
        }),
      )
    ).ShardIterator;

  // DynamoDB Local answers GetRecords on a LATEST iterator with TrimmedDataAccessException, so
  // "from now on" is a TRIM_HORIZON iterator read to its end, with what it held left out.
  const drain = async (iterator: string): Promise<{ iterator?: string; lastSequence?: string }> => {
    let next: string | undefined = iterator;
    let lastSequence: string | undefined;
    for (;;) {
      const page: GetRecordsCommandOutput = await streams.send(
        new GetRecordsCommand({ ShardIterator: next, Limit: 1000 }),
      );
      for (const r of page.Records ?? []) lastSequence = r.dynamodb?.SequenceNumber ?? lastSequence;
      if ((page.Records ?? []).length === 0 || page.NextShardIterator == null)
        return { ...(page.NextShardIterator == null ? {} : { iterator: page.NextShardIterator }), lastSequence };
      next = page.NextShardIterator;
    }
  };

  const discover = async (initial: boolean): Promise<void> => {
    let start: string | undefined;
    do {
      const { StreamDescription } = await streams.send(
        new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: start }),
      );
      for (const shard of StreamDescription?.Shards ?? []) {
        const id = shard.ShardId!;
        if (seen.has(id)) continue;
        seen.add(id);
        const open = shard.SequenceNumberRange?.EndingSequenceNumber === undefined;
        if (initial && !open) continue; // closed before we started: nothing new in it
        const iterator = await iteratorFor(id);
        if (iterator === undefined) continue;
        if (!initial) {
          shards.set(id, { iterator }); // a new shard: everything in it is new
          continue;
        }
        const drained = await drain(iterator);
        if (drained.iterator !== undefined)
          shards.set(id, {
            iterator: drained.iterator,
            ...(drained.lastSequence === undefined ? {} : { lastSequence: drained.lastSequence }),
          });
      }
      start = StreamDescription?.LastEvaluatedShardId;
    } while (start !== undefined);
  };
  await discover(true);

  let stopped = false;
  let lastDescribe = Date.now();
  const loop = (async () => {
    while (!stopped) {
      await new Promise((r) => setTimeout(r, intervalMs));
      if (stopped) break;
      try {
        if (Date.now() - lastDescribe >= describeEveryMs) {
          lastDescribe = Date.now();
          await discover(false);
        }
        const batch: DynamoDBRecord[] = [];
        for (const [shardId, shard] of [...shards]) {
          let page;
          try {
            page = await streams.send(new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: 100 }));
          } catch (e) {
            const name = (e as Error).name;
            if (name !== 'ExpiredIteratorException' && name !== 'TrimmedDataAccessException') throw e;
            // Start again after the last record read (or, having read none, from the shard's start).
            const iterator = await iteratorFor(shardId, shard.lastSequence);
            if (iterator === undefined) shards.delete(shardId);
            else shards.set(shardId, { ...shard, iterator });
            continue;
          }
          for (const r of page.Records ?? []) {
            shard.lastSequence = r.dynamodb?.SequenceNumber ?? shard.lastSequence;
            if (names.has(r.eventName ?? '')) batch.push(toLambdaRecord(r, streamArn));
          }
          if (page.NextShardIterator == null) shards.delete(shardId);
          else shard.iterator = page.NextShardIterator;
        }
        for (let i = 0; i < batch.length; i += 100)
          await options.onBatch({ Records: batch.slice(i, i + 100) }).catch((e: unknown) => {
            console.error('local stream: the handler failed on a batch:', e);
          });
      } catch (e) {
        if (!stopped) console.error('local stream: reading the stream failed, retrying:', (e as Error).name);
      }
    }
  })();

  return {
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** The table's stream ARN, turning a keys-only stream on first if the table has none. */
async function ensureStream(dynamo: DynamoDBClient, table: string): Promise<string> {
  const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: table }));
  if (Table?.StreamSpecification?.StreamEnabled === true && Table.LatestStreamArn !== undefined)
    return Table.LatestStreamArn;
  const { TableDescription } = await dynamo.send(
    new UpdateTableCommand({
      TableName: table,
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'KEYS_ONLY' },
    }),
  );
  if (TableDescription?.LatestStreamArn === undefined) throw new Error(`No stream on ${table}`);
  return TableDescription.LatestStreamArn;
}

/** A stream record as Lambda's event source passes it (the same key shape; times in epoch seconds). */
function toLambdaRecord(r: StreamRecord, streamArn: string): DynamoDBRecord {
  const d = r.dynamodb ?? {};
  return {
    eventID: r.eventID,
    eventName: r.eventName,
    eventVersion: r.eventVersion,
    eventSource: 'aws:dynamodb',
    awsRegion: r.awsRegion,
    eventSourceARN: streamArn,
    dynamodb: {
      Keys: d.Keys as NonNullable<DynamoDBRecord['dynamodb']>['Keys'],
      SequenceNumber: d.SequenceNumber,
      SizeBytes: d.SizeBytes,
      StreamViewType: d.StreamViewType,
      ...(d.ApproximateCreationDateTime === undefined
        ? {}
        : { ApproximateCreationDateTime: Math.floor(d.ApproximateCreationDateTime.getTime() / 1000) }),
    },
  };
}
