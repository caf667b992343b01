import { tieringContract } from '../contract/tieringContract.ts';
import { dynamoTieredKind } from '../support/stores.ts';

// DynamoDB Local for the tables and the S3 emulator (s3rver) for segments.
tieringContract(dynamoTieredKind);
