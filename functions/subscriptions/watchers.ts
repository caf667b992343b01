import { DynamoWatchStore } from '../../core/subscriptions/dynamoWatchStore.ts';
import { Watchers } from '../../core/subscriptions/watchers.ts';
import { authorizer } from '../security/authorization.ts';
import { client, sluice, tables } from '../runtime.ts';

/**
 * The container's watchers: connections and their watches in the metadata table, topic names
 * resolved by the engine (its topic cache), ACLs checked by the container's authorizer.
 */
export const watchers = new Watchers({
  store: new DynamoWatchStore({ client, table: tables.metadata }),
  topicIds: (names) => sluice.topicIds(names),
  authorize: (caller, accesses) => authorizer.authorize(caller, accesses),
});
