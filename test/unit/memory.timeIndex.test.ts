import { timeIndexContract } from '../contract/timeIndexContract.ts';
import { memoryTieredKind } from '../support/stores.ts';

timeIndexContract(memoryTieredKind, [
  [11, 'delete'],
  [12, 'delete'],
  [13, 'compact'],
  [14, 'compact'],
]);
