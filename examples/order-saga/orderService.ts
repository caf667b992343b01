import { CreateTableCommand, ResourceInUseException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { isSluiceError } from '../../core/errors.ts';
import { EVENT_TYPE_HEADER } from '../../core/sagas/triggers.ts';
import { connect, type Outbox } from '../../core/transactions/outbox.ts';
import type { Order } from './saga.ts';

/**
 * The order service with a relay-free outbox: placing an order writes its row to the service's
 * own `orders` table and appends `OrderCreated` to the `orders` topic in ONE DynamoDB
 * transaction (`sluice.transact`). There is no outbox table and no relay polling one: the
 * record is the outbox, and the order saga's trigger starts one execution per order from it.
 *
 * The row is put only if absent, so placing the same order again (a client retry, a duplicate
 * request) fails that condition and appends nothing: each order is created, and its saga
 * triggered, exactly once. In Lambda, `SluiceStack.grantTransact(fn)` gives the function the
 * rights on Sluice's tables and their names; rights on the orders table are the service's own.
 */
export async function placeOrder(
  sluice: Outbox,
  ordersTable: string,
  order: Order,
): Promise<{ placed: boolean; offset?: number }> {
  try {
    const { records } = await sluice.transact({
      append: [
        {
          topic: 'orders',
          key: order.orderId,
          value: { type: 'OrderCreated', ...order },
          headers: { [EVENT_TYPE_HEADER]: 'OrderCreated' },
        },
      ],
      writes: [
        {
          Put: {
            TableName: ordersTable,
            Item: marshall({ pk: `order#${order.orderId}`, ...order, status: 'PLACED' }),
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
      ],
    });
    return { placed: true, offset: records[0]!.offset };
  } catch (e) {
    if (isSluiceError(e, 'TransactionConditionFailed')) return { placed: false }; // placed before
    throw e;
  }
}

/** Creates the service's orders table (locally; in AWS it is a CDK `Table`). */
export async function createOrdersTable(client: DynamoDBClient, table: string): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  } catch (e) {
    if (!(e instanceof ResourceInUseException)) throw e;
  }
}

/** A Lambda handler placing the order in its event: `{ order }`. */
export const handler = async (event: { order: Order }): Promise<{ placed: boolean }> => {
  service ??= connect();
  return placeOrder(service, process.env.ORDERS_TABLE!, event.order);
};
let service: Outbox | undefined;
