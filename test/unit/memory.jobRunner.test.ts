import { MemoryAtomicWriter } from '../../core/adapters/memory/memoryAtomic.ts';
import { MemoryStore } from '../../core/adapters/memory/memoryStore.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { MemoryJobStateStore } from '../../core/streams/stateStore.ts';
import { CrashingWriter, jobRunnerContract } from '../contract/jobRunnerContract.ts';
import { clock } from '../support/clock.ts';

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
    return { sluice, store: new MemoryJobStateStore(), writer, clock: time };
  },
});
