import { MemoryStore } from '../../core/adapters/memory/memoryStore.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { MemoryShareStore } from '../../core/queues/memoryShareStore.ts';
import { ShareGroups } from '../../core/queues/shareGroups.ts';
import { Redrive } from '../../core/queues/redrive.ts';
import { shareGroupContract } from '../contract/shareGroupContract.ts';

shareGroupContract(
  {
    name: 'memory',
    async make(now) {
      const store = new MemoryStore();
      const sluice = new Sluice({ log: store, metadata: store, now });
      const shareStore = new MemoryShareStore();
      return {
        sluice,
        shares: new ShareGroups({ store: shareStore, sluice, now }),
        redrive: new Redrive({ sluice, positions: shareStore }),
      };
    },
  },
  { members: 10, records: 2_000, seeds: [1, 2, 3] },
);
