import { DynamoAtomicWriter } from '../../core/adapters/dynamodb/dynamoAtomic.ts';
import { DynamoStore } from '../../core/adapters/dynamodb/dynamoStore.ts';
import { Sluice } from '../../core/log/sluice.ts';
import type { TableNames } from '../../core/schema.ts';
import { count } from '../../core/streams/aggregators.ts';
import { DynamoJobStateStore } from '../../core/streams/dynamoJobStateStore.ts';
import { JobRunner, type RunOnceResult } from '../../core/streams/runner.ts';
import { stream } from '../../core/streams/stream.ts';
import { boundedOutOfOrderness } from '../../core/streams/watermarks.ts';
import { tumbling } from '../../core/streams/windows.ts';
import { dynamoClientFromEnv } from '../../local/awsEnv.ts';

/**
 * Runs one step of a small stream job on a stack's tables, as a deployed runner would: tumbling
 * windows of 10 ms (bound 0) counting the source's records by key, with the record's value (a
 * number) or its `t` field as event time. Creates the output topic `<source>.job-out` if missing.
 * For tests of what reads job state (the jobs routes, the CLI).
 */
export async function runJobStep(
  tables: TableNames,
  options: { readonly name: string; readonly source: string; readonly maxRecords?: number; readonly now?: number },
): Promise<RunOnceResult> {
  const client = dynamoClientFromEnv();
  const store = new DynamoStore({ client, tables });
  const sluice = new Sluice({ log: store, metadata: store, atomic: new DynamoAtomicWriter({ client }) });
  const out = `${options.source}.job-out`;
  await sluice.createTopic(out).catch((e: unknown) => {
    if ((e as { code?: string }).code !== 'TopicAlreadyExists') throw e;
  });
  const job = stream<unknown>(options.source, {
    timestamp: (v) => (typeof v === 'number' ? v : ((v as { t?: number } | null)?.t ?? 0)),
    watermark: boundedOutOfOrderness(0),
  })
    .keyBy((v) => JSON.stringify(v).slice(0, 1))
    .window(tumbling({ size: 10 }), { lateTopic: out })
    .aggregate(count())
    .to(out);
  const runner = new JobRunner({
    sluice,
    store: new DynamoJobStateStore({ client, table: tables.metadata }),
    job,
    name: options.name,
  });
  return runner.runOnce({
    ...(options.maxRecords === undefined ? {} : { maxRecords: options.maxRecords }),
    now: options.now ?? Date.now(),
  });
}
