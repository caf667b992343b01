/**
 * The order saga: OrderCreated → ReserveInventory → ChargePayment → ShipOrder, undone by
 * ReleaseInventory and RefundPayment, over two small DynamoDB tables (inventory and payments).
 *
 * Every action and compensation is one DynamoDB transaction keyed by the step's idempotency key,
 * so a retry after an ambiguous failure (the write landed, the reply was lost) finds its own
 * earlier write instead of acting twice.
 *
 * Deployed by `OrderSagaExample` (./stack.ts); `npm start` runs the same module locally.
 */
import {
  DynamoDBClient,
  GetItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  type TransactWriteItem,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { defineSaga, PermanentStepError } from '../../core/sagas/definition.ts';
import { sagaStepHandler } from '../../functions/sagas/stepHandler.ts';

export interface Order {
  readonly orderId: string;
  readonly customerId: string;
  readonly sku: string;
  readonly quantity: number;
  /** Cents. */
  readonly amount: number;
  readonly address: string;
}

/** Table names come from the environment, as the stack sets them on each step's function. */
export const ORDER_TABLES_ENV = { inventory: 'ORDER_INVENTORY_TABLE', payments: 'ORDER_PAYMENTS_TABLE' } as const;

const dynamo = new DynamoDBClient({});
const table = (which: keyof typeof ORDER_TABLES_ENV): string => {
  const name = process.env[ORDER_TABLES_ENV[which]];
  if (name === undefined || name === '') throw new Error(`${ORDER_TABLES_ENV[which]} is not set`);
  return name;
};

/** Runs a transaction; returns the index of the item whose condition failed, if one did. */
async function transact(items: TransactWriteItem[]): Promise<number | undefined> {
  try {
    await dynamo.send(new TransactWriteItemsCommand({ TransactItems: items }));
    return undefined;
  } catch (e) {
    if (!(e instanceof TransactionCanceledException)) throw e;
    const failed = (e.CancellationReasons ?? []).findIndex((r) => r.Code === 'ConditionalCheckFailed');
    if (failed < 0) throw e; // a conflict or throttle: the step handler reports it as transient
    return failed;
  }
}

function checkOrder(input: unknown): Order {
  const o = input as Partial<Order> | null;
  const ok =
    typeof o === 'object' && o !== null &&
    typeof o.orderId === 'string' && typeof o.customerId === 'string' && typeof o.sku === 'string' && typeof o.address === 'string' &&
    Number.isInteger(o.quantity) && o.quantity! > 0 && Number.isInteger(o.amount) && o.amount! >= 0;
  if (!ok) throw new PermanentStepError('An order needs orderId, customerId, sku, address, a positive integer quantity and an integer amount in cents');
  return o as Order;
}

export const orderSaga = defineSaga({
  name: 'order',
  // OrderCreated events on the orders topic start the saga, one execution per order id (the key).
  trigger: { topic: 'orders', eventType: 'OrderCreated', executionName: 'key' },
  steps: [
    {
      name: 'ReserveInventory',
      action: async ({ input, idempotencyKey }) => {
        const order = checkOrder(input);
        const failed = await transact([
          { Put: { TableName: table('inventory'), Item: marshall({ pk: `reservation#${idempotencyKey}`, sku: order.sku, quantity: order.quantity, status: 'reserved' }), ConditionExpression: 'attribute_not_exists(pk)' } },
          {
            Update: {
              TableName: table('inventory'),
              Key: marshall({ pk: `sku#${order.sku}` }),
              UpdateExpression: 'SET stock = stock - :q',
              ConditionExpression: 'stock >= :q',
              ExpressionAttributeValues: marshall({ ':q': order.quantity }),
            },
          },
        ]);
        if (failed === 0) return { reservation: idempotencyKey }; // reserved by an earlier attempt
        if (failed === 1) throw new PermanentStepError(`Not enough stock of ${order.sku} for ${order.quantity}`);
        return { reservation: idempotencyKey };
      },
      compensation: async ({ input, idempotencyKey }) => {
        const order = input as unknown as Order;
        // Released once: the reservation flips from reserved to released in the same transaction.
        await transact([
          {
            Update: {
              TableName: table('inventory'),
              Key: marshall({ pk: `reservation#${idempotencyKey}` }),
              UpdateExpression: 'SET #s = :released',
              ConditionExpression: '#s = :reserved',
              ExpressionAttributeNames: { '#s': 'status' },
              ExpressionAttributeValues: marshall({ ':released': 'released', ':reserved': 'reserved' }),
            },
          },
          { Update: { TableName: table('inventory'), Key: marshall({ pk: `sku#${order.sku}` }), UpdateExpression: 'SET stock = stock + :q', ExpressionAttributeValues: marshall({ ':q': order.quantity }) } },
        ]);
      },
      retry: { maxAttempts: 3, intervalSeconds: 1, backoffRate: 2 },
      timeoutSeconds: 10,
    },
    {
      name: 'ChargePayment',
      action: async ({ input, idempotencyKey }) => {
        const order = input as unknown as Order;
        const failed = await transact([
          { Put: { TableName: table('payments'), Item: marshall({ pk: `charge#${idempotencyKey}`, customerId: order.customerId, amount: order.amount, status: 'charged' }), ConditionExpression: 'attribute_not_exists(pk)' } },
          {
            Update: {
              TableName: table('payments'),
              Key: marshall({ pk: `account#${order.customerId}` }),
              UpdateExpression: 'SET balance = balance - :a',
              ConditionExpression: 'balance >= :a',
              ExpressionAttributeValues: marshall({ ':a': order.amount }),
            },
          },
        ]);
        if (failed === 1) throw new PermanentStepError(`Payment declined: account ${order.customerId} cannot cover ${order.amount}`);
        // failed === 0: charged by an earlier attempt whose reply was lost; the same charge stands.
        return { charge: idempotencyKey, amount: order.amount };
      },
      compensation: async ({ input, idempotencyKey }) => {
        const order = input as unknown as Order;
        await transact([
          {
            Update: {
              TableName: table('payments'),
              Key: marshall({ pk: `charge#${idempotencyKey}` }),
              UpdateExpression: 'SET #s = :refunded',
              ConditionExpression: '#s = :charged',
              ExpressionAttributeNames: { '#s': 'status' },
              ExpressionAttributeValues: marshall({ ':refunded': 'refunded', ':charged': 'charged' }),
            },
          },
          { Update: { TableName: table('payments'), Key: marshall({ pk: `account#${order.customerId}` }), UpdateExpression: 'SET balance = balance + :a', ExpressionAttributeValues: marshall({ ':a': order.amount }) } },
        ]);
      },
      retry: { maxAttempts: 4, intervalSeconds: 1, backoffRate: 2 },
      timeoutSeconds: 10,
    },
    {
      name: 'ShipOrder',
      action: async ({ input, idempotencyKey }) => {
        const order = input as unknown as Order;
        if (order.address.trim() === '') throw new PermanentStepError(`Order ${order.orderId} has no shipping address`);
        await transact([{ Put: { TableName: table('inventory'), Item: marshall({ pk: `shipment#${order.orderId}`, sku: order.sku, quantity: order.quantity, address: order.address, by: idempotencyKey }), ConditionExpression: 'attribute_not_exists(pk)' } }]);
        const shipment = await dynamo.send(new GetItemCommand({ TableName: table('inventory'), Key: marshall({ pk: `shipment#${order.orderId}` }), ConsistentRead: true }));
        return { shipment: String(unmarshall(shipment.Item!).pk) };
      },
      timeoutSeconds: 10,
    },
  ],
});

/** The Lambda handler of every step's function; the state machine says which step and phase. */
export const handler = sagaStepHandler(orderSaga);
