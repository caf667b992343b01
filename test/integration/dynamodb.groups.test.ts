import { groupContract } from '../contract/groupContract.ts';
import { groupScaleContract } from '../contract/groupScaleContract.ts';
import { dynamoGroupKind } from '../support/stores.ts';

groupContract(dynamoGroupKind);
// A smaller group than the memory store's (see WIDE_GROUP): the full size takes a minute of both cores.
groupScaleContract(dynamoGroupKind, { members: 20, topics: 10 });
