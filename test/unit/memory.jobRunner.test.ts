import { describe, expect, test } from 'vitest';
import { MemoryAtomicWriter } from '../../core/adapters/memory/memoryAtomic.ts';
import { MemoryStore } from '../../core/adapters/memory/memoryStore.ts';
import { ConsumerGroups } from '../../core/groups/consumerGroups.ts';
import { MemoryGroupStore } from '../../core/groups/memoryGroupStore.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { MemoryTransactionStore } from '../../core/transactions/transactionStore.ts';
import { Transactions } from '../../core/transactions/transactions.ts';
import { count } from '../../core/streams/aggregators.ts';
import { JobRunner } from '../../core/streams/runner.ts';
import { MemoryJobStateStore } from '../../core/streams/stateStore.ts';
import { stream } from '../../core/streams/stream.ts';
import { MemoryTableSink } from '../../core/streams/tableSink.ts';
import { boundedOutOfOrderness } from '../../core/streams/watermarks.ts';
import { tumbling } from '../../core/streams/windows.ts';
import { CrashingWriter, jobRunnerContract } from '../contract/jobRunnerContract.ts';
import { clock } from '../support/clock.ts';
import { thrownBy } from '../support/thrownBy.ts';

jobRunnerContract({
  name: 'memory',
  async make() {
    const store = new MemoryStore();
    const writer = new CrashingWriter(new MemoryAtomicWriter());
    const time = clock();
    const sluice = new Sluice({
      log: store,
      metadata: store,
      now: time.now,
      atomic: writer,
      retry: { maxJitterMs: 1 },
    });
    const tables = new MemoryTableSink();
    return {
      sluice,
      store: new MemoryJobStateStore(),
      writer,
      clock: time,
      tables,
      readSink: async () => tables.items('sink'),
    };
  },
});

describe('JobRunner options', () => {
  const make = () => {
    const store = new MemoryStore();
    const sluice = new Sluice({ log: store, metadata: store, atomic: new MemoryAtomicWriter() });
    const job = stream<{ t: number }>('in', { timestamp: (e) => e.t, watermark: boundedOutOfOrderness(5) })
      .keyBy(() => 'k')
      .window(tumbling({ size: 10 }))
      .aggregate(count())
      .to('out');
    return { sluice, store: new MemoryJobStateStore(), job, name: 'job' };
  };

  test('are checked at construction, with unknown keys refused', () => {
    expect(thrownBy(() => new JobRunner({ ...make(), name: '' }))).toMatchObject({
      code: 'InvalidArgument',
      field: 'name',
    });
    expect(thrownBy(() => new JobRunner({ ...make(), job: {} as never }))).toMatchObject({ field: 'job' });
    expect(thrownBy(() => new JobRunner({ ...make(), maxConflicts: 0 }))).toMatchObject({ field: 'maxConflicts' });
    expect(thrownBy(() => new JobRunner({ ...make(), maxConflict: 3 } as never))).toMatchObject({
      field: 'options.maxConflict',
    });
  });

  test('runOnce refuses a bad maxRecords or clock before reading anything', async () => {
    const runner = new JobRunner(make());
    await expect(runner.runOnce({ maxRecords: 0 })).rejects.toMatchObject({ field: 'maxRecords' });
    await expect(runner.runOnce({ now: Number.NaN })).rejects.toMatchObject({ field: 'now' });
    await expect(runner.runOnce({ max: 3 } as never)).rejects.toMatchObject({ field: 'options.max' });
  });
});

describe('JobRunner isolation', () => {
  test('read_committed (the default) stops at an open upstream transaction; read_uncommitted reads past it', async () => {
    const store = new MemoryStore();
    const txnStore = new MemoryTransactionStore();
    const sluice = new Sluice({
      log: store,
      metadata: store,
      atomic: new MemoryAtomicWriter(),
      transactions: txnStore,
    });
    const transactions = new Transactions({
      sluice,
      store: txnStore,
      groups: new ConsumerGroups({ store: new MemoryGroupStore(), sluice }),
    });
    await sluice.createTopic('in');
    await sluice.createTopic('out');
    await sluice.append('in', [{ partition: 0, value: { t: 1 } }]);
    const { epoch } = await transactions.init('upstream');
    const { sequence } = await transactions.begin({ transactionalId: 'upstream', epoch });
    await transactions.append({
      transactionalId: 'upstream',
      epoch,
      sequence,
      append: 0,
      records: [{ topic: 'in', partition: 0, value: { t: 2 } }],
    });
    await sluice.append('in', [{ partition: 0, value: { t: 3 } }]);
    const job = stream<{ t: number }>('in', { timestamp: (e) => e.t, watermark: boundedOutOfOrderness(5) })
      .keyBy(() => 'k')
      .window(tumbling({ size: 10 }))
      .aggregate(count())
      .to('out');
    const committed = new JobRunner({ sluice, store: new MemoryJobStateStore(), job, name: 'committed' });
    expect((await committed.runOnce()).records).toBe(1);
    const uncommitted = new JobRunner({
      sluice,
      store: new MemoryJobStateStore(),
      job,
      name: 'uncommitted',
      isolation: 'read_uncommitted',
    });
    expect((await uncommitted.runOnce()).records).toBe(3);
    expect(
      thrownBy(
        () => new JobRunner({ sluice, store: new MemoryJobStateStore(), job, name: 'x', isolation: 'dirty' as never }),
      ),
    ).toMatchObject({ code: 'InvalidArgument' });
  });
});
