import { MemoryStore } from '../../core/adapters/memory/memoryStore.ts';
import { MemoryExchangeStore } from '../../core/exchanges/exchangeStore.ts';
import { Exchanges } from '../../core/exchanges/exchanges.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { MemoryShareStore } from '../../core/queues/memoryShareStore.ts';
import { Queues } from '../../core/queues/queues.ts';
import { ShareGroups } from '../../core/queues/shareGroups.ts';
import { queueContract } from '../contract/queueContract.ts';

queueContract({
  name: 'memory',
  async make(now) {
    const store = new MemoryStore();
    const sluice = new Sluice({ log: store, metadata: store, now });
    const shareStore = new MemoryShareStore();
    const exchanges: Exchanges = new Exchanges({
      store: new MemoryExchangeStore(),
      sluice,
      now,
      admission: { admit: (topic, count) => queues.admit(topic, count) },
    });
    const shares = new ShareGroups({ store: shareStore, sluice, exchanges, now });
    const queues: Queues = new Queues({ sluice, store: shareStore, shareGroups: shares, now, cacheMs: 0 });
    return { sluice, shares, exchanges, queues };
  },
});
