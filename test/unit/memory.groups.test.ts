import { groupContract } from '../contract/groupContract.ts';
import { memoryGroupKind } from '../support/stores.ts';

groupContract(memoryGroupKind);
