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
    typeof o === 'object' &&
    o !== null &&
    typeof o.orderId === 'string' &&
    typeof o.customerId === 'string' &&
    typeof o.sku === 'string' &&
    typeof o.address === 'string' &&
    Number.isInteger(o.quantity) &&
    o.quantity! > 0 &&
    Number.isInteger(o.amount) &&
    o.amount! >= 0;
  if (!ok)
    throw new PermanentStepError(
      'An order needs orderId, customerId, sku, address, a positive integer quantity and an integer amount in cents',
    );
  return o as Order;
}

/**
 * Takes `amount` from a counter and records why, once: the record (keyed by the step's
 * idempotency key) is put only if absent, in the same transaction as the debit, which needs the
 * counter to cover it. `short` when it does not; `taken` now or by an earlier attempt.
 */
async function takeOnce(
  tableName: string,
  record: Record<string, unknown>,
  counter: { pk: string; attribute: string },
  amount: number,
): Promise<'taken' | 'short'> {
  const failed = await transact([
    { Put: { TableName: tableName, Item: marshall(record), ConditionExpression: 'attribute_not_exists(pk)' } },
    {
      Update: {
        TableName: tableName,
        Key: marshall({ pk: counter.pk }),
        UpdateExpression: 'SET #c = #c - :n',
        ConditionExpression: '#c >= :n',
        ExpressionAttributeNames: { '#c': counter.attribute },
        ExpressionAttributeValues: marshall({ ':n': amount }),
      },
    },
  ]);
  return failed === 1 ? 'short' : 'taken'; // failed === 0: the record exists, an earlier attempt took it
}

/** Gives back what `takeOnce` took, once: the record's status flips from `from` to `to` in the same transaction as the credit (nothing happens if it already flipped). */
async function giveBackOnce(
  tableName: string,
  recordPk: string,
  flip: { from: string; to: string },
  counter: { pk: string; attribute: string },
  amount: number,
): Promise<void> {
  await transact([
    {
      Update: {
        TableName: tableName,
        Key: marshall({ pk: recordPk }),
        UpdateExpression: 'SET #s = :to',
        ConditionExpression: '#s = :from',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: marshall({ ':to': flip.to, ':from': flip.from }),
      },
    },
    {
      Update: {
        TableName: tableName,
        Key: marshall({ pk: counter.pk }),
        UpdateExpression: 'SET #c = #c + :n',
        ExpressionAttributeNames: { '#c': counter.attribute },
        ExpressionAttributeValues: marshall({ ':n': amount }),
      },
    },
  ]);
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
        const reservation = {
          pk: `reservation#${idempotencyKey}`,
          sku: order.sku,
          quantity: order.quantity,
          status: 'reserved',
        };
        if (
          (await takeOnce(
            table('inventory'),
            reservation,
            { pk: `sku#${order.sku}`, attribute: 'stock' },
            order.quantity,
          )) === 'short'
        ) {
          throw new PermanentStepError(`Not enough stock of ${order.sku} for ${order.quantity}`);
        }
        return { reservation: idempotencyKey };
      },
      compensation: async ({ input, idempotencyKey }) => {
        const order = input as unknown as Order;
        await giveBackOnce(
          table('inventory'),
          `reservation#${idempotencyKey}`,
          { from: 'reserved', to: 'released' },
          { pk: `sku#${order.sku}`, attribute: 'stock' },
          order.quantity,
        );
      },
      retry: { maxAttempts: 3, intervalSeconds: 1, backoffRate: 2 },
      timeoutSeconds: 10,
    },
    {
      name: 'ChargePayment',
      action: async ({ input, idempotencyKey }) => {
        const order = input as unknown as Order;
        // A retry after a lost reply finds its own charge record and charges nothing more.
        const charge = {
          pk: `charge#${idempotencyKey}`,
          customerId: order.customerId,
          amount: order.amount,
          status: 'charged',
        };
        if (
          (await takeOnce(
            table('payments'),
            charge,
            { pk: `account#${order.customerId}`, attribute: 'balance' },
            order.amount,
          )) === 'short'
        ) {
          throw new PermanentStepError(`Payment declined: account ${order.customerId} cannot cover ${order.amount}`);
        }
        return { charge: idempotencyKey, amount: order.amount };
      },
      compensation: async ({ input, idempotencyKey }) => {
        const order = input as unknown as Order;
        await giveBackOnce(
          table('payments'),
          `charge#${idempotencyKey}`,
          { from: 'charged', to: 'refunded' },
          { pk: `account#${order.customerId}`, attribute: 'balance' },
          order.amount,
        );
      },
      retry: { maxAttempts: 4, intervalSeconds: 1, backoffRate: 2 },
      timeoutSeconds: 10,
    },
    {
      name: 'ShipOrder',
      action: async ({ input, idempotencyKey }) => {
        const order = input as unknown as Order;
        if (order.address.trim() === '') throw new PermanentStepError(`Order ${order.orderId} has no shipping address`);
        await transact([
          {
            Put: {
              TableName: table('inventory'),
              Item: marshall({
                pk: `shipment#${order.orderId}`,
                sku: order.sku,
                quantity: order.quantity,
                address: order.address,
                by: idempotencyKey,
              }),
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
        ]);
        const shipment = await dynamo.send(
          new GetItemCommand({
            TableName: table('inventory'),
            Key: marshall({ pk: `shipment#${order.orderId}` }),
            ConsistentRead: true,
          }),
        );
        return { shipment: String(unmarshall(shipment.Item!).pk) };
      },
      timeoutSeconds: 10,
    },
  ],
});

/** The Lambda handler of every step's function; the state machine says which step and phase. */
export const handler = sagaStepHandler(orderSaga);
