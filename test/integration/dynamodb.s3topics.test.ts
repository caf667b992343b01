import { concurrencyContract } from '../contract/concurrencyContract.ts';
import { engineContract } from '../contract/engineContract.ts';
import { groupContract } from '../contract/groupContract.ts';
import { s3TopicContract } from '../contract/s3TopicContract.ts';
import { tieringContract } from '../contract/tieringContract.ts';
import { uniqueName } from '../support/names.ts';
import {
  dynamoKind,
  dynamoTieredKind,
  groupKindWithS3Topics,
  prefixedObjects,
  withS3Topics,
} from '../support/stores.ts';

// Every engine contract again on topics with `storage: "s3"`: DynamoDB Local for the pointers, the
// S3 emulator for the record bytes (issue 17).
s3TopicContract(dynamoKind);
// `storage: "s3-express"`: the record bytes in the emulator's second bucket, standing in for the
// directory bucket (the memory suite runs every contract on such topics, with unordered listings).
s3TopicContract(dynamoKind, 's3-express');
engineContract(withS3Topics(dynamoKind));
// The bar: 8+ writers on one partition.
concurrencyContract(withS3Topics(dynamoKind), { producers: 8, recordsPerProducer: 260, faultRate: 0.05 });
groupContract(groupKindWithS3Topics('dynamodb'));
tieringContract({
  name: 'dynamodb, s3 topics',
  topicDefaults: { storage: 's3' },
  // Its own corner of the emulator's bucket: dynamodb.tiering.test.ts uses the same topic names at once.
  async make(now, options) {
    const { store, objects } = await dynamoTieredKind.make(now, options);
    return { store, objects: prefixedObjects(objects, `s3-topics-${uniqueName('t')}/`) };
  },
});
