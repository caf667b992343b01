import { writeSafetyContract } from '../contract/writeSafetyContract.ts';
import { memoryTieredKind } from '../support/stores.ts';

writeSafetyContract(memoryTieredKind);
