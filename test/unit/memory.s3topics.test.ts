import { concurrencyContract } from '../contract/concurrencyContract.ts';
import { engineContract } from '../contract/engineContract.ts';
import { groupContract } from '../contract/groupContract.ts';
import { s3TopicContract } from '../contract/s3TopicContract.ts';
import { tieringContract } from '../contract/tieringContract.ts';
import { MemoryStore } from '../../core/adapters/memory/memoryStore.ts';
import { MemoryObjectStore } from '../../core/tiering/objectStore.ts';
import { groupKindWithS3Topics, memoryKind, memoryTieredKind, withS3Topics } from '../support/stores.ts';

// Every engine contract again on topics with `storage: "s3"` (record bytes in S3, pointers in the log).
engineContract(withS3Topics(memoryKind));
concurrencyContract(withS3Topics(memoryKind), { producers: 16, recordsPerProducer: 200, faultRate: 0.05 });
groupContract(groupKindWithS3Topics('memory'));
tieringContract({ ...memoryTieredKind, name: 'memory, s3 topics', topicDefaults: { storage: 's3' } });
s3TopicContract(memoryKind);

// And on `storage: "s3-express"`: a second object store standing in for the directory bucket,
// listing its keys in no order as a directory bucket does.
engineContract(withS3Topics(memoryKind, 's3-express'));
concurrencyContract(withS3Topics(memoryKind, 's3-express'), { producers: 8, recordsPerProducer: 100, faultRate: 0.05 });
groupContract(groupKindWithS3Topics('memory', 's3-express'));
tieringContract({
  name: 'memory, s3-express topics',
  topicDefaults: { storage: 's3-express' },
  async make(_now, options = {}) {
    return { store: new MemoryStore(options), objects: new MemoryObjectStore(Date.now, { unorderedListing: true }) };
  },
});
s3TopicContract(memoryKind, 's3-express');
