import { MemoryAtomicWriter, MemoryPart } from '../../core/adapters/memory/memoryAtomic.ts';
import { MemoryStore } from '../../core/adapters/memory/memoryStore.ts';
import { ConsumerGroups } from '../../core/groups/consumerGroups.ts';
import { MemoryGroupStore } from '../../core/groups/memoryGroupStore.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { MemoryObjectStore } from '../../core/tiering/objectStore.ts';
import { Tiering } from '../../core/tiering/tiering.ts';
import { MemoryTransactionStore } from '../../core/transactions/transactionStore.ts';
import { Transactions } from '../../core/transactions/transactions.ts';
import { FaultyWriter, transactionContract } from '../contract/transactionContract.ts';

transactionContract({
  name: 'memory',
  async make(now) {
    const store = new MemoryStore();
    const txnStore = new MemoryTransactionStore();
    const faults = new FaultyWriter(new MemoryAtomicWriter());
    const objects = new MemoryObjectStore();
    const sluice = new Sluice({
      log: store,
      metadata: store,
      now,
      atomic: faults,
      transactions: txnStore,
      tiering: { store, objects },
    });
    const tiering = new Tiering({ log: store, metadata: store, store, objects, now, txns: sluice.txnOutcomes! });
    const groups = new ConsumerGroups({ store: new MemoryGroupStore(), sluice, now });
    const rows = new Set<string>();
    return {
      sluice,
      groups,
      transactions: new Transactions({ sluice, store: txnStore, groups, now }),
      faults,
      tiering,
      row: (id) =>
        new MemoryPart(
          1,
          id.length,
          () => (rows.has(id) ? { item: 0 } : undefined),
          () => rows.add(id),
        ),
      hasRow: async (id) => rows.has(id),
    };
  },
});
