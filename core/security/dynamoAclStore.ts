import {
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { metadataKeys } from '../schema.ts';
import { aclId, type AclRule, type StoredAclRule } from './acl.ts';
import { MAX_ACL_RULES, TooManyAclRules, type AclStore } from './aclStore.ts';

/** The item counting the rules, beside them (rule ids are hex, so no rule has this key). */
const COUNTER = 'count';

/**
 * ACL rules in the metadata table: one item per rule under `pk = "acl"`, keyed by rule id, and a
 * counter item that each add and remove changes in the same transaction, so the cap costs one
 * small write instead of a count of every rule.
 */
export class DynamoAclStore implements AclStore {
  private readonly client: DynamoDBClient;
  private readonly table: string;

  constructor(options: { readonly client: DynamoDBClient; readonly table: string }) {
    this.client = options.client;
    this.table = options.table;
  }

  async listAcls(): Promise<StoredAclRule[]> {
    const rules: StoredAclRule[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: metadataKeys.aclPartition } },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        const { sk, principal, resourceType, resourceName, patternType, operation, permission } = unmarshall(item);
        if (sk !== COUNTER)
          rules.push({ id: sk, principal, resourceType, resourceName, patternType, operation, permission });
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return rules;
  }

  async putAcl(rule: AclRule): Promise<{ rule: StoredAclRule; created: boolean }> {
    const stored = { id: aclId(rule), ...rule };
    const { id, ...fields } = stored;
    try {
      await this.transact(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: marshall({ ...metadataKeys.acl(id), ...fields }),
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Update: {
                TableName: this.table,
                Key: marshall(metadataKeys.acl(COUNTER)),
                UpdateExpression: 'SET n = if_not_exists(n, :zero) + :one',
                ConditionExpression: 'attribute_not_exists(n) OR n < :max',
                ExpressionAttributeValues: marshall({ ':zero': 0, ':one': 1, ':max': MAX_ACL_RULES }),
              },
            },
          ],
        }),
      );
      return { rule: stored, created: true };
    } catch (e) {
      const [put, counter] = cancellation(e);
      if (put === 'ConditionalCheckFailed') return { rule: stored, created: false };
      if (counter === 'ConditionalCheckFailed') throw new TooManyAclRules();
      throw e;
    }
  }

  /** Sends a transaction, again after a conflict with another on the counter (after a short pause). */
  private async transact(command: TransactWriteItemsCommand): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.send(command);
        return;
      } catch (e) {
        const conflicted = e instanceof TransactionCanceledException && cancellation(e).includes('TransactionConflict');
        if (!conflicted || attempt >= CONFLICT_RETRIES) throw e;
        await new Promise((r) => setTimeout(r, Math.random() * 20 * 2 ** attempt));
      }
    }
  }

  async deleteAcl(rule: AclRule): Promise<boolean> {
    try {
      await this.transact(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              Delete: {
                TableName: this.table,
                Key: marshall(metadataKeys.acl(aclId(rule))),
                ConditionExpression: 'attribute_exists(pk)',
              },
            },
            {
              Update: {
                TableName: this.table,
                Key: marshall(metadataKeys.acl(COUNTER)),
                UpdateExpression: 'SET n = n - :one',
                ConditionExpression: 'n > :zero',
                ExpressionAttributeValues: marshall({ ':zero': 0, ':one': 1 }),
              },
            },
          ],
        }),
      );
      return true;
    } catch (e) {
      if (cancellation(e)[0] === 'ConditionalCheckFailed') return false;
      throw e;
    }
  }
}

/** How often a change that conflicted with another on the counter is tried again. */
const CONFLICT_RETRIES = 8;

/** Each item's reason a transaction was cancelled (`None` for those that were fine). */
function cancellation(e: unknown): (string | undefined)[] {
  if (!(e instanceof TransactionCanceledException)) throw e;
  return (e.CancellationReasons ?? []).map((r) => r.Code);
}
