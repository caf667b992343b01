/**
 * Choreography around the order saga: services that react to one event and emit the next.
 *
 *   carts: CartCheckedOut ──checkout──▶ orders: OrderCreated ──(saga trigger)──▶ order saga
 *   sagas.order: completed | aborted ──notifier──▶ notifications: OrderConfirmed | OrderCancelled
 *
 * The saga's own audit topic is an ordinary topic, so the notifier consumes it like any other.
 *
 *   npm start                                    # in one terminal
 *   npx sluice example order-saga/choreography     # in another; Ctrl-C stops it
 */
import { pathToFileURL } from 'node:url';
import { Admin, Choreography, Connection, Producer, publishEvent } from '../../client/index.ts';
import type { Order } from './saga.ts';

export interface Cart {
  readonly cartId: string;
  readonly customerId: string;
  readonly sku: string;
  readonly quantity: number;
  readonly unitPrice: number;
  readonly address: string;
}

/** Turns a checked-out cart into an order; the order id keys everything after. */
export function checkoutService(url: string): Choreography {
  return new Choreography({ url, groupId: 'checkout', topics: ['carts'] }).on(
    'CartCheckedOut',
    async (event, { emit }) => {
      const cart = event.data as unknown as Cart;
      const order: Order = {
        orderId: `order-${cart.cartId}`,
        customerId: cart.customerId,
        sku: cart.sku,
        quantity: cart.quantity,
        amount: cart.quantity * cart.unitPrice,
        address: cart.address,
      };
      await emit('orders', 'OrderCreated', { ...order }, { key: order.orderId });
    },
  );
}

/** Tells the customer how their order ended, from the saga's lifecycle events. */
export function notifierService(url: string): Choreography {
  return new Choreography({ url, groupId: 'notifier', topics: ['sagas.order'] })
    .on('completed', async (event, { emit }) => {
      await emit('notifications', 'OrderConfirmed', { orderId: event.key });
    })
    .on('aborted', async (event, { emit }) => {
      const { failedStep, error } = event.data as { failedStep?: string; error?: { message?: string } };
      await emit('notifications', 'OrderCancelled', {
        orderId: event.key,
        failedStep: failedStep ?? null,
        reason: error?.message ?? null,
      });
    });
}

/** The topics the flow uses. */
export async function createTopics(url: string): Promise<void> {
  const admin = new Admin(new Connection({ url }));
  for (const topic of ['carts', 'orders', 'notifications', 'sagas.order']) {
    await admin.createTopic(topic, { partitions: 3 }).catch((e: { code?: string }) => {
      if (e.code !== 'TopicAlreadyExists') throw e;
    });
  }
}

/** Starts a flow: one checked-out cart. */
export async function checkOut(url: string, cart: Cart): Promise<void> {
  const producer = new Producer({ url });
  await publishEvent(producer, 'carts', 'CartCheckedOut', { ...cart }, { key: cart.cartId });
  await producer.close();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const url = process.env.SLUICE_URL ?? 'http://127.0.0.1:7070';
  await createTopics(url);
  const services = [checkoutService(url), notifierService(url)];
  process.on('SIGINT', () => void Promise.all(services.map((s) => s.close())).then(() => process.exit(0)));
  console.log(
    `checkout and notifier are running against ${url}; publish a CartCheckedOut event to carts to start an order`,
  );
  await Promise.all(services.map((s) => s.run()));
}
