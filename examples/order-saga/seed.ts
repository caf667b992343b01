import { GetItemCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';

/** Stock for a SKU and a customer's balance (cents), as the order saga's tables hold them. */
export async function seedOrderTables(client: DynamoDBClient, tables: { inventory: string; payments: string }, seed: { sku: string; stock: number; customerId: string; balance: number }): Promise<void> {
  await client.send(new PutItemCommand({ TableName: tables.inventory, Item: marshall({ pk: `sku#${seed.sku}`, stock: seed.stock }) }));
  await client.send(new PutItemCommand({ TableName: tables.payments, Item: marshall({ pk: `account#${seed.customerId}`, balance: seed.balance }) }));
}

export async function stockOf(client: DynamoDBClient, table: string, sku: string): Promise<number> {
  const out = await client.send(new GetItemCommand({ TableName: table, Key: marshall({ pk: `sku#${sku}` }), ConsistentRead: true }));
  return Number(unmarshall(out.Item!).stock);
}

export async function balanceOf(client: DynamoDBClient, table: string, customerId: string): Promise<number> {
  const out = await client.send(new GetItemCommand({ TableName: table, Key: marshall({ pk: `account#${customerId}` }), ConsistentRead: true }));
  return Number(unmarshall(out.Item!).balance);
}
