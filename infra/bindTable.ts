import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';

/** The DynamoDB actions Sluice functions use; anything else is a type error. */
export type TableAction =
  | 'dynamodb:GetItem'
  | 'dynamodb:PutItem'
  | 'dynamodb:UpdateItem'
  | 'dynamodb:DeleteItem'
  | 'dynamodb:Query'
  | 'dynamodb:BatchWriteItem'
  | 'dynamodb:BatchGetItem'
  | 'dynamodb:ConditionCheckItem';

export type TableAccess = readonly TableAction[];

/**
 * Grants exactly `actions` on exactly this table: no `*`, and none of its indexes (CDK's
 * `table.grant` adds `index/*` once a table has one; see `bindIndex`).
 * `TransactWriteItems` needs no action of its own: IAM checks each item's action (e.g. PutItem).
 */
export function bindTable(options: {
  readonly table: Table;
  readonly grantee: IGrantable;
  readonly actions: TableAccess;
}): void {
  if (options.actions.length === 0) return;
  Grant.addToPrincipal({
    grantee: options.grantee,
    actions: [...options.actions],
    resourceArns: [options.table.tableArn],
  });
}

/** Grants reading (Query) one global secondary index of a table, and nothing else. */
export function bindIndex(options: {
  readonly table: Table;
  readonly indexName: string;
  readonly grantee: IGrantable;
}): void {
  Grant.addToPrincipal({
    grantee: options.grantee,
    actions: ['dynamodb:Query'],
    resourceArns: [`${options.table.tableArn}/index/${options.indexName}`],
  });
}
