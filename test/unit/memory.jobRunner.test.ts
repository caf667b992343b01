import { describe, expect, test } from 'vitest';
import { MemoryAtomicWriter } from '../../core/adapters/memory/memoryAtomic.ts';
import { MemoryStore } from '../../core/adapters/memory/memoryStore.ts';
import { Sluice } from '../../core/log/sluice.ts';
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
