import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';

/** The DynamoDB actions Sluice functions use; anything else is a type error. */
export type TableAction =
  | 'dynamodb:GetItem'
  | 'dynamodb:PutItem'
  | 'dynamodb:UpdateItem'
  | 'dynamodb:DeleteItem'
  | 'dynamodb:Query'
  | 'dynamodb:BatchWriteItem'
  | 'dynamodb:ConditionCheckItem';

export type TableAccess = readonly TableAction[];

/**
 * Grants exactly `actions` on exactly this table (no `*`, no index wildcard unless it has indexes).
 * `TransactWriteItems` needs no action of its own: IAM checks each item's action (e.g. PutItem).
 */
export function bindTable(options: {
  readonly table: Table;
  readonly grantee: IGrantable;
  readonly actions: TableAccess;
}): void {
  if (options.actions.length === 0) return;
  options.table.grant(options.grantee, ...options.actions);
}
