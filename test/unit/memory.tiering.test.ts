import { tieringContract } from '../contract/tieringContract.ts';
import { memoryTieredKind } from '../support/stores.ts';

tieringContract(memoryTieredKind);
