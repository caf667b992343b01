import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoStore } from '../../core/adapters/dynamodb/dynamoStore.ts';
import { logKey } from '../../core/ports.ts';
import type { WorkUnit } from '../../core/tiering/workUnits.ts';
import { lambdaContext } from '../support/apiEvents.ts';
import { handlerEnvironment } from '../support/handlerEnv.ts';

type Worker = (
  event: SQSEvent,
  context: typeof lambdaContext,
) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;
let worker: Worker;
let runtime: typeof import('../../functions/runtime.ts');

beforeAll(async () => {
  await handlerEnvironment('rollworker', { SLUICE_MIN_ROLL_AGE_MS: '0' });
  worker = (await import('../../functions/tiering/rollWorker.ts')).handler;
  runtime = await import('../../functions/runtime.ts');
});

function message(id: string, body: string): SQSRecord {
  return { messageId: id, body } as SQSRecord;
}

describe('the roll worker (SQS, through its middy chain)', () => {
  it('runs each work unit alone: a failing partition is reported for redelivery, the others are done, a malformed body is dropped', async () => {
    const { sluice } = runtime;
    // hotRetentionBytes 1: everything but the tail batch is due at once (no waiting for the hot retention).
    for (const name of ['roll-fine', 'roll-broken'])
      await sluice.createTopic(name, { partitions: 1, config: { hotRetentionBytes: 1 } });
    for (let i = 0; i < 3; i++)
      for (const name of ['roll-fine', 'roll-broken']) await sluice.append(name, [{ value: i, partition: 0 }]);
    const units = new Map((await runtime.tiering.plan()).map((u) => [u.kind === 'partition' ? u.topic : u.kind, u]));
    // A roll left half done whose hot batches are missing: this partition's roll step fails.
    const broken = units.get('roll-broken') as Extract<WorkUnit, { kind: 'partition' }>;
    const store = new DynamoStore({ client: runtime.client, tables: runtime.tables });
    const log = logKey(broken.topicId, 0);
    const state = await store.getPartitionState(log);
    await store.setPartitionState(log, {
      ...state,
      version: state.version + 1,
      roll: { phase: 'uploading', base: 100, end: 105, key: 'segments/roll-broken/0/x.seg', startedAt: 1 },
    });

    const result = await worker(
      {
        Records: [
          message('fine', JSON.stringify(units.get('roll-fine'))),
          message('broken', JSON.stringify(broken)),
          message('garbage', '{"kind":"partition","topic":"../etc"}'),
          message('purge', JSON.stringify({ kind: 'purge' })),
        ],
      },
      lambdaContext,
    );
    expect(result.batchItemFailures, 'only the failing unit goes back to the queue').toStrictEqual([
      { itemIdentifier: 'broken' },
    ]);
    const fine = (await sluice.describeTopic('roll-fine')).partitions[0]!;
    expect(fine.tieredThrough, 'the fine partition rolled all but its tail batch').toBe(2);
  });
});
