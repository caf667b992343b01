import { DynamoLeases } from '../../core/adapters/dynamodb/dynamoLeases.ts';
import { Dispatcher } from '../../core/subscriptions/delivery.ts';
import { DynamoSubscriptionStore } from '../../core/subscriptions/dynamoSubscriptionStore.ts';
import { Subscriptions } from '../../core/subscriptions/subscriptions.ts';
import { client, groups, sluice, tables } from '../runtime.ts';
import { Targets } from './targets.ts';

/** Subscriptions' store and administration, for the subscription functions only (the others never load them). */
export const subscriptionStore = new DynamoSubscriptionStore({ client, table: tables.metadata });
export const subscriptions = new Subscriptions({ store: subscriptionStore, sluice, groups });

/** The dispatcher's parts: targets are Lambda functions and HTTPS endpoints (`targets.ts`). */
export function dispatcher(): Dispatcher {
  return new Dispatcher({
    sluice,
    groups,
    store: subscriptionStore,
    leases: new DynamoLeases({ client, table: tables.metadata }),
    target: new Targets({}),
  });
}
