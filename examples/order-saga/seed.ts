import { GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';

/** Stock for a SKU and a customer's balance (cents), as the order saga's tables hold them. */
export async function seedOrderTables(
  client: DynamoDBClient,
  tables: { inventory: string; payments: string },
  seed: { sku: string; stock: number; customerId: string; balance: number },
): Promise<void> {
  await client.send(
    new PutItemCommand({ TableName: tables.inventory, Item: marshall({ pk: `sku#${seed.sku}`, stock: seed.stock }) }),
  );
  await client.send(
    new PutItemCommand({
      TableName: tables.payments,
      Item: marshall({ pk: `account#${seed.customerId}`, balance: seed.balance }),
    }),
  );
}

export async function stockOf(client: DynamoDBClient, table: string, sku: string): Promise<number> {
  const out = await client.send(
    new GetItemCommand({ TableName: table, Key: marshall({ pk: `sku#${sku}` }), ConsistentRead: true }),
  );
  return Number(unmarshall(out.Item!).stock);
}

export async function balanceOf(client: DynamoDBClient, table: string, customerId: string): Promise<number> {
  const out = await client.send(
    new GetItemCommand({ TableName: table, Key: marshall({ pk: `account#${customerId}` }), ConsistentRead: true }),
  );
  return Number(unmarshall(out.Item!).balance);
}

/**
 * `npx sluice example order-saga/seed --endpoint http://127.0.0.1:<DynamoDB Local port> [--sku sku-1 --stock 100 --customer c-1 --balance 100000]`
 * seeds the order saga's tables of the local stack (found by name: they end in the template's
 * logical ids, OrderSagaInventory… and OrderSagaPayments…).
 */
if (import.meta.url === (await import('node:url')).pathToFileURL(process.argv[1] ?? '').href) {
  const { parseArgs } = await import('node:util');
  const { DynamoDBClient, ListTablesCommand } = await import('@aws-sdk/client-dynamodb');
  const { values } = parseArgs({
    options: {
      endpoint: { type: 'string' },
      sku: { type: 'string', default: 'sku-1' },
      stock: { type: 'string', default: '100' },
      customer: { type: 'string', default: 'c-1' },
      balance: { type: 'string', default: '100000' },
    },
  });
  if (values.endpoint === undefined)
    throw new Error('--endpoint (the DynamoDB Local URL npm start prints) is required');
  const client = new DynamoDBClient({
    endpoint: values.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  const names = (await client.send(new ListTablesCommand({}))).TableNames ?? [];
  const inventory = names.find((n) => n.includes('OrderSagaInventory'));
  const payments = names.find((n) => n.includes('OrderSagaPayments'));
  if (inventory === undefined || payments === undefined)
    throw new Error(`No order saga tables at ${values.endpoint} (found ${names.join(', ') || 'none'})`);
  await seedOrderTables(
    client,
    { inventory, payments },
    { sku: values.sku, stock: Number(values.stock), customerId: values.customer, balance: Number(values.balance) },
  );
  console.log(
    `${inventory}: ${values.sku} stock ${values.stock}; ${payments}: ${values.customer} balance ${values.balance}`,
  );
}
