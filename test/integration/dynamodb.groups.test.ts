import { groupContract } from '../contract/groupContract.ts';
import { dynamoGroupKind } from '../support/stores.ts';

groupContract(dynamoGroupKind);
