import { beforeAll, describe, expect, it } from 'vitest';
import { ConsumerGroups } from '../../core/groups/consumerGroups.ts';
import { DynamoGroupStore } from '../../core/groups/dynamoGroupStore.ts';
import { SagaAudit, type AuditTaskEvent } from '../../core/sagas/audit.ts';
import { DynamoLeases, DynamoSagaExecutionStore } from '../../core/sagas/dynamoExecutionStore.ts';
import { Sagas, type SagaInfo, type SagaLauncher } from '../../core/sagas/sagas.ts';
import type { SagaExecutionInput } from '../../core/sagas/stateMachine.ts';
import { SagaTriggers } from '../../core/sagas/triggers.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { isSluiceError } from '../../core/errors.ts';
import { dynamoClientFromEnv } from '../../local/awsEnv.ts';
import { freshDynamoStore } from '../support/stores.ts';

/** The saga machinery on DynamoDB Local, with a launcher that records (and can fail) starts. */
describe('saga starts, audit and triggers on DynamoDB Local', () => {
  let sluice: Sluice;
  let executions: DynamoSagaExecutionStore;
  let groups: ConsumerGroups;
  let leases: DynamoLeases;
  const launches: { executionId: string; input: SagaExecutionInput }[] = [];
  let failNext: ((executionId: string) => boolean) | undefined;
  const launcher: SagaLauncher = {
    start: async (_saga: SagaInfo, executionId: string, input: SagaExecutionInput) => {
      if (failNext?.(executionId)) {
        failNext = undefined;
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
      }
      launches.push({ executionId, input });
    },
  };
  const info = (name: string, trigger?: SagaInfo['trigger']): SagaInfo => ({
    name,
    steps: ['A', 'B'],
    auditTopic: `sagas.${name}`,
    type: 'EXPRESS',
    stateMachineArn: `arn:${name}`,
    ...(trigger === undefined ? {} : { trigger }),
  });

  beforeAll(async () => {
    const { store, tables } = await freshDynamoStore('sagas');
    sluice = new Sluice({ log: store, metadata: store });
    const client = dynamoClientFromEnv();
    executions = new DynamoSagaExecutionStore({ client, table: tables.metadata });
    groups = new ConsumerGroups({ store: new DynamoGroupStore({ client, table: tables.metadata }), sluice });
    leases = new DynamoLeases({ client, table: tables.metadata });
  });

  it('a trigger whose start fails leaves the record uncommitted and starts it on the next run, skipping nothing', async () => {
    await sluice.createTopic('orders-a', { partitions: 1 });
    const sagas = new Sagas({ catalog: [info('alpha', { topic: 'orders-a' })], executions, launcher });
    const triggers = new SagaTriggers({ sagas, groups, leases });
    await sluice.append(
      'orders-a',
      [0, 1, 2, 3, 4].map((i) => ({ key: `k${i}`, value: { n: i } })),
    );
    failNext = (id) => id === 'orders-a.0.2';
    await expect(triggers.runOnce()).rejects.toThrow(/Rate exceeded/);
    await sluice.append('orders-a', [{ key: 'k5', value: { n: 5 } }]);
    const runs = await triggers.runOnce(); // the same warm instance, as in a reused Lambda container
    expect(runs[0]!.started, 'from the committed offset: 0 and 1 again (found started), then 2 to 5').toBe(6);
    const started = launches.map((l) => l.executionId).filter((id) => id.startsWith('orders-a.'));
    expect([...new Set(started)].sort()).toStrictEqual([
      'orders-a.0.0',
      'orders-a.0.1',
      'orders-a.0.2',
      'orders-a.0.3',
      'orders-a.0.4',
      'orders-a.0.5',
    ]);
    expect(started.length, 'each record launched once (a re-read record is recognised by its name)').toBe(6);
    expect((await groups.describe('sagas.alpha.trigger')).totalLag).toBe(0);
  });

  it('lets one trigger drain at a time, and names executions of long topic names by hash', async () => {
    const topic = `t-${'x'.repeat(100)}`;
    await sluice.createTopic(topic, { partitions: 2 });
    const sagas = new Sagas({ catalog: [info('beta', { topic })], executions, launcher });
    await sluice.append(
      topic,
      Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: { n: i } })),
    );
    const runs = await Promise.all([1, 2, 3].map(() => new SagaTriggers({ sagas, groups, leases }).runOnce()));
    expect(
      runs.reduce((n, r) => n + r[0]!.started, 0),
      'every record started once, by whichever held the lease',
    ).toBe(20);
    expect(runs.filter((r) => r[0]!.started > 0).length, 'one drainer').toBe(1);
    const names = launches
      .filter((l) => (l.input.input as { n?: number }).n !== undefined && l.executionId.startsWith('h-'))
      .map((l) => l.executionId);
    expect(new Set(names).size).toBe(20);
    for (const n of names) expect(n.length <= 80).toBeTruthy();
  });

  it('launches once for concurrent starts of one name, and refuses a second run at its first event', async () => {
    const sagas = new Sagas({ catalog: [info('gamma')], executions, launcher });
    const before = launches.length;
    const results = await Promise.all(
      Array.from({ length: 5 }, () => sagas.start('gamma', { input: { n: 1 }, executionName: 'same' })),
    );
    expect(results.filter((r) => r.created).length).toBe(1);
    expect(launches.length - before, 'one launch (the others found it leased or launched)').toBe(1);
    const run = launches.at(-1)!.input.runId;
    const audit = new SagaAudit({ sluice, executions });
    const event = (
      seq: number,
      type: AuditTaskEvent['type'],
      runId: string,
      extra: Partial<AuditTaskEvent> = {},
    ): AuditTaskEvent => ({
      kind: 'audit',
      saga: 'gamma',
      topic: 'sagas.gamma',
      type,
      executionId: 'same',
      runId,
      seq,
      partition: null,
      ...extra,
    });
    const started = await audit.record(event(0, 'started', run, { input: { n: 1 } }));
    const partition = started.result.partition;
    // An Express state machine started twice: the second run's first audit call is refused.
    await expect(audit.record(event(0, 'started', 'another-run', { input: { n: 1 } }))).rejects.toSatisfy((e) =>
      isSluiceError(e, 'DuplicateRun'),
    );
    await audit.record(event(1, 'step-succeeded', run, { step: 'A', partition }));
    await audit.record(event(1, 'step-succeeded', run, { step: 'A', partition })); // a retry: applied once
    await expect(
      audit.record(event(1, 'step-failed', run, { step: 'B', partition })),
      'another event at a taken number',
    ).rejects.toSatisfy((e) => isSluiceError(e, 'SagaEventConflict'));
    const record = await executions.get('gamma', 'same');
    expect(record!.events.map((e) => [e.seq, e.type, e.step ?? null])).toStrictEqual([
      [0, 'started', null],
      [1, 'step-succeeded', 'A'],
    ]);
    const trail = (await sluice.read('sagas.gamma', partition, 0)).records.filter((r) => r.key === 'same');
    expect(trail.map((r) => (r.value as { type: string }).type)).toStrictEqual(['started', 'step-succeeded']);
  });

  it('refuses audit events for a saga or topic the deployment does not have', async () => {
    const audit = new SagaAudit({ sluice, executions, topics: { gamma: 'sagas.gamma' } });
    const event = {
      kind: 'audit',
      saga: 'gamma',
      topic: 'elsewhere',
      type: 'started',
      executionId: 'x',
      runId: 'r',
      seq: 0,
      partition: null,
      input: {},
    } as const;
    await expect(audit.record(event)).rejects.toSatisfy((e) => isSluiceError(e, 'InvalidArgument'));
    await expect(audit.record({ ...event, saga: 'nope', topic: 'sagas.nope' })).rejects.toSatisfy((e) =>
      isSluiceError(e, 'InvalidArgument'),
    );
    expect(await executions.get('gamma', 'x'), 'nothing recorded').toBe(undefined);
  });

  it('answers LaunchInProgress (retriable) while another start holds the launch, and one trigger failing does not stop another', async () => {
    let release: () => void = () => {};
    const slow: SagaLauncher = { start: () => new Promise<void>((resolve) => (release = resolve)) };
    const sagas = new Sagas({ catalog: [info('eps')], executions, launcher: slow, launchWaitMs: 300 });
    const first = sagas.start('eps', { input: {}, executionName: 'slow' });
    await new Promise((r) => setTimeout(r, 100));
    await expect(sagas.start('eps', { input: {}, executionName: 'slow' })).rejects.toSatisfy(
      (e) => isSluiceError(e, 'LaunchInProgress') && e.retriable === true,
    );
    release();
    expect((await first).created).toBe(true);
    expect((await sagas.start('eps', { input: {}, executionName: 'slow' })).created).toBe(false);

    await sluice.createTopic('orders-z1', { partitions: 1 });
    await sluice.createTopic('orders-z2', { partitions: 1 });
    await sluice.append('orders-z1', [{ key: 'a', value: { n: 1 } }]);
    await sluice.append('orders-z2', [{ key: 'b', value: { n: 2 } }]);
    const failing: SagaLauncher = {
      start: async (saga, executionId, input) =>
        saga.name === 'zeta1'
          ? Promise.reject(new Error('state machine deleted'))
          : launcher.start(saga, executionId, input),
    };
    const both = new Sagas({
      catalog: [info('zeta1', { topic: 'orders-z1' }), info('zeta2', { topic: 'orders-z2' })],
      executions,
      launcher: failing,
    });
    await expect(new SagaTriggers({ sagas: both, groups, leases }).runOnce()).rejects.toThrow(/state machine deleted/);
    expect(
      launches.some((l) => l.executionId === 'orders-z2.0.0'),
      'the second saga was still triggered',
    ).toBeTruthy();
  });

  it('keeps an execution on its audit partition when the topic grows', async () => {
    const sagas = new Sagas({ catalog: [info('delta')], executions, launcher });
    const audit = new SagaAudit({ sluice, executions });
    const ids = Array.from({ length: 12 }, (_, i) => `grow-${i}`);
    const partitions = new Map<string, number>();
    for (const id of ids) {
      await sagas.start('delta', { input: {}, executionName: id });
      const run = launches.find((l) => l.executionId === id)!.input.runId;
      const r = await audit.record({
        kind: 'audit',
        saga: 'delta',
        topic: 'sagas.delta',
        type: 'started',
        executionId: id,
        runId: run,
        seq: 0,
        partition: null,
        input: {},
      });
      partitions.set(id, r.result.partition);
    }
    await sluice.updateTopic('sagas.delta', { partitions: 8 });
    for (const id of ids) {
      const run = launches.find((l) => l.executionId === id)!.input.runId;
      const r = await audit.record({
        kind: 'audit',
        saga: 'delta',
        topic: 'sagas.delta',
        type: 'step-succeeded',
        step: 'A',
        executionId: id,
        runId: run,
        seq: 1,
        partition: partitions.get(id)!,
      });
      expect(r.result.partition).toBe(partitions.get(id));
    }
    for (const id of ids) expect((await executions.get('delta', id))!.events.length).toBe(2);
  });
});
