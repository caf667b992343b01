import { writeSafetyContract } from '../contract/writeSafetyContract.ts';
import { dynamoTieredKind } from '../support/stores.ts';

writeSafetyContract(dynamoTieredKind);
