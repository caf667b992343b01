import { groupContract } from '../contract/groupContract.ts';
import { groupScaleContract } from '../contract/groupScaleContract.ts';
import { memoryGroupKind } from '../support/stores.ts';

groupContract(memoryGroupKind);
groupScaleContract(memoryGroupKind);
