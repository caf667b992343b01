import { exchangeStoreContract } from '../contract/exchangeStoreContract.ts';
import { MemoryExchangeStore } from '../../core/exchanges/exchangeStore.ts';
import { MemoryStore } from '../../core/adapters/memory/memoryStore.ts';
import { Sluice } from '../../core/log/sluice.ts';

exchangeStoreContract({
  name: 'memory',
  make: async () => {
    const store = new MemoryStore();
    return { store: new MemoryExchangeStore(), sluice: new Sluice({ log: store, metadata: store }) };
  },
});
