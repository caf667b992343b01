import { aclStoreContract } from '../contract/aclStoreContract.ts';
import { DynamoAclStore } from '../../core/security/dynamoAclStore.ts';
import { dynamoClientFromEnv } from '../../local/awsEnv.ts';
import { freshDynamoStore } from '../support/stores.ts';

aclStoreContract({
  name: 'dynamodb',
  make: async () => {
    const { tables } = await freshDynamoStore('acls');
    return new DynamoAclStore({ client: dynamoClientFromEnv(), table: tables.metadata });
  },
});
