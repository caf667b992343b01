import { engineContract } from '../contract/engineContract.ts';
import { storeContract } from '../contract/storeContract.ts';
import { memoryKind } from '../support/stores.ts';

storeContract(memoryKind);
engineContract(memoryKind);
