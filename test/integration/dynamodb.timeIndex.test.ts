import { timeIndexContract } from '../contract/timeIndexContract.ts';
import { dynamoTieredKind } from '../support/stores.ts';

// DynamoDB Local (the time indexes are global secondary indexes) and the S3 emulator for segments;
// fewer random histories than in memory, as each takes seconds here.
timeIndexContract(dynamoTieredKind, [
  [12, 'delete'],
  [13, 'compact'],
]);
