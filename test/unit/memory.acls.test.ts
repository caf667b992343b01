import { aclStoreContract } from '../contract/aclStoreContract.ts';
import { MemoryAclStore } from '../../core/security/aclStore.ts';

aclStoreContract({ name: 'memory', make: async () => new MemoryAclStore() });
