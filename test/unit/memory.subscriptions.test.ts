import { MemoryStore } from '../../core/adapters/memory/memoryStore.ts';
import { ConsumerGroups } from '../../core/groups/consumerGroups.ts';
import { MemoryGroupStore } from '../../core/groups/memoryGroupStore.ts';
import { MemoryLeases } from '../../core/leases.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { MemorySubscriptionStore } from '../../core/subscriptions/subscriptionStore.ts';
import { subscriptionContract } from '../contract/subscriptionContract.ts';

subscriptionContract(
  {
    name: 'memory',
    async make(now) {
      const store = new MemoryStore();
      const sluice = new Sluice({ log: store, metadata: store, now });
      return {
        sluice,
        groups: new ConsumerGroups({ store: new MemoryGroupStore(), sluice, now }),
        store: new MemorySubscriptionStore(),
        leases: new MemoryLeases(),
      };
    },
  },
  { records: 600, seeds: [1, 2] },
);
