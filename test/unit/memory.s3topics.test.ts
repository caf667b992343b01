import { concurrencyContract } from '../contract/concurrencyContract.ts';
import { engineContract } from '../contract/engineContract.ts';
import { groupContract } from '../contract/groupContract.ts';
import { s3TopicContract } from '../contract/s3TopicContract.ts';
import { tieringContract } from '../contract/tieringContract.ts';
import { groupKindWithS3Topics, memoryKind, memoryTieredKind, withS3Topics } from '../support/stores.ts';

// Every engine contract again on topics with `storage: "s3"` (record bytes in S3, pointers in the log).
engineContract(withS3Topics(memoryKind));
concurrencyContract(withS3Topics(memoryKind), { producers: 16, recordsPerProducer: 200, faultRate: 0.05 });
groupContract(groupKindWithS3Topics('memory'));
tieringContract({ ...memoryTieredKind, name: 'memory, s3 topics', topicDefaults: { storage: 's3' } });
s3TopicContract(memoryKind);
