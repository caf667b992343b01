import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoPart } from '../adapters/dynamodb/dynamoAtomic.ts';
import { InvalidArgument } from '../errors.ts';
import { encodeTableItem, type TableSinkWriter, type TableWrite } from './tableSink.ts';

export interface DynamoTableSinkOptions {
  /**
   * The physical table for each logical sink name (`toTable(name)`), e.g.
   * `{ 'fraud-alerts-table': 'prod-fraud-alerts' }`. @default {} — a name not listed is the table’s own name
   */
  readonly tables?: Readonly<Record<string, string>>;
}

const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/; // DynamoDB’s table-name rule

/**
 * `TableSinkWriter` on the user’s DynamoDB tables (same account and region as Sluice’s): each
 * write is a `Put` of the whole item, joined to the runner’s `TransactWriteItems` with the step’s
 * batches and state (a `DynamoPart`, as `DynamoAtomicWriter.userPart` makes for the outbox). The
 * tables need a string partition key `pk` and, for window results or keys with `sk`, a string sort
 * key `sk` (`createSinkTable`); the runner’s role needs `dynamodb:PutItem` on them.
 *
 * @example
 * const runner = new JobRunner({ sluice, store, job: fraudJob, name: 'fraud',
 *   tables: new DynamoTableSink({ tables: { 'fraud-alerts-table': 'prod-fraud-alerts' } }) });
 */
export class DynamoTableSink implements TableSinkWriter {
  private readonly tables: ReadonlyMap<string, string>;

  constructor(options: DynamoTableSinkOptions = {}) {
    if (typeof options !== 'object' || options === null)
      throw new InvalidArgument('options', 'options must be an object');
    const unknown = Object.keys(options).find((k) => k !== 'tables');
    if (unknown !== undefined)
      throw new InvalidArgument(`options.${unknown}`, `${unknown} is not an option; the only one is tables`);
    const tables = options.tables ?? {};
    if (typeof tables !== 'object' || tables === null || Array.isArray(tables))
      throw new InvalidArgument('tables', 'tables maps sink names to table names, e.g. { alerts: "prod-alerts" }');
    for (const [name, physical] of Object.entries(tables)) {
      if (typeof physical !== 'string' || !TABLE_NAME.test(physical))
        throw new InvalidArgument(`tables.${name}`, 'a table name is 3 to 255 characters from A-Z, a-z, 0-9, _ . -');
    }
    this.tables = new Map(Object.entries(tables));
  }

  part(writes: readonly TableWrite[]): DynamoPart {
    return new DynamoPart(
      writes.map((w) => ({ Put: { TableName: this.tables.get(w.table) ?? w.table, Item: encodeTableItem(w).item } })),
    );
  }
}

/**
 * Creates a sink table (on demand; string `pk`, and string `sk` unless `sortKey: false`): for
 * tests, examples and the local stack. Deployed tables come from your own infrastructure.
 */
export async function createSinkTable(
  client: DynamoDBClient,
  table: string,
  options: { readonly sortKey?: boolean } = {},
): Promise<void> {
  const sortKey = options.sortKey ?? true;
  await client.send(
    new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        ...(sortKey ? [{ AttributeName: 'sk', AttributeType: 'S' as const }] : []),
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        ...(sortKey ? [{ AttributeName: 'sk', KeyType: 'RANGE' as const }] : []),
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
}
