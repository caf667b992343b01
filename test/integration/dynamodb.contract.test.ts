import { engineContract } from '../contract/engineContract.ts';
import { storeContract } from '../contract/storeContract.ts';
import { dynamoKind } from '../support/stores.ts';

storeContract(dynamoKind);
engineContract(dynamoKind);
