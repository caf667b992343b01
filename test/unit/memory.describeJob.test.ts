import { expect, test } from 'vitest';
import { MemoryAtomicWriter } from '../../core/adapters/memory/memoryAtomic.ts';
import { MemoryStore } from '../../core/adapters/memory/memoryStore.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { count } from '../../core/streams/aggregators.ts';
import { describeJob } from '../../core/streams/describe.ts';
import { JobRunner } from '../../core/streams/runner.ts';
import { MemoryJobStateStore } from '../../core/streams/stateStore.ts';
import { stream } from '../../core/streams/stream.ts';
import { boundedOutOfOrderness } from '../../core/streams/watermarks.ts';
import { tumbling } from '../../core/streams/windows.ts';
import { describeJobContract } from '../contract/describeJobContract.ts';

describeJobContract({
  name: 'memory',
  async make() {
    const store = new MemoryStore();
    return {
      sluice: new Sluice({ log: store, metadata: store, atomic: new MemoryAtomicWriter() }),
      store: new MemoryJobStateStore(),
    };
  },
});

test('describing a job costs the same requests after 5 records as after 2,000 (nothing is scanned)', async () => {
  let requests = 0;
  const store = new MemoryStore({ onConsumedCapacity: () => requests++ });
  const sluice = new Sluice({ log: store, metadata: store, atomic: new MemoryAtomicWriter() });
  const jobs = new MemoryJobStateStore();
  await sluice.createTopic('in', { partitions: 2 });
  const job = stream<{ t: number }>('in', { timestamp: (e) => e.t, watermark: boundedOutOfOrderness(5) })
    .keyBy(() => 'k')
    .window(tumbling({ size: 10 }))
    .aggregate(count())
    .to('out');
  await sluice.createTopic('out');
  const runner = new JobRunner({ sluice, store: jobs, job, name: 'costly' });
  const appendAndRun = async (n: number) => {
    for (let i = 0; i < n; i += 100)
      await sluice.append(
        'in',
        Array.from({ length: Math.min(100, n - i) }, (_, j) => ({ value: { t: i + j }, partition: (i + j) % 2 })),
      );
    while ((await runner.runOnce({ maxRecords: 200, now: 1 })).records > 0);
  };
  const cost = async () => {
    requests = 0;
    await describeJob(sluice, jobs, 'costly');
    return requests;
  };
  await appendAndRun(5);
  const early = await cost();
  await appendAndRun(2000);
  expect(await cost()).toBe(early);
  expect(early).toBeGreaterThan(0);
});
