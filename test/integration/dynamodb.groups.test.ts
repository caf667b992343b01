import { groupContract } from '../contract/groupContract.ts';
import { groupScaleContract } from '../contract/groupScaleContract.ts';
import { dynamoGroupKind } from '../support/stores.ts';

groupContract(dynamoGroupKind);
groupScaleContract(dynamoGroupKind);
