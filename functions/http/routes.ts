/**
 * Every HTTP route, once. The CDK stack creates API Gateway routes from this table, the local
 * gateway dispatches with it, and a test checks it against docs/openapi.json.
 */
export type HandlerName =
  | 'topics'
  | 'produce'
  | 'fetch'
  | 'groups'
  | 'tiering'
  | 'sagas'
  | 'acls'
  | 'queues'
  | 'exchanges'
  | 'subscriptions'
  | 'transactions'
  | 'eventStore'
  | 'jobs';

/**
 * The module serving each handler, relative to the project root: one folder per capability
 * (`functions/log/`, `functions/groups/`, …), the shared HTTP machinery in `functions/http/`.
 */
export const HANDLER_ENTRY: Readonly<Record<HandlerName, string>> = {
  topics: 'functions/log/topics.ts',
  produce: 'functions/log/produce.ts',
  fetch: 'functions/log/fetch.ts',
  groups: 'functions/groups/api.ts',
  tiering: 'functions/tiering/api.ts',
  sagas: 'functions/sagas/api.ts',
  acls: 'functions/security/acls.ts',
  queues: 'functions/queues/api.ts',
  exchanges: 'functions/exchanges/api.ts',
  subscriptions: 'functions/subscriptions/api.ts',
  transactions: 'functions/transactions/api.ts',
  eventStore: 'functions/eventStore/api.ts',
  jobs: 'functions/streams/api.ts',
};

/**
 * The coarse first gate for JWT callers: the OAuth scope (`sluice/<scope>`) a route requires when
 * the stack's JWT authorizer checks scopes. ACLs (per resource and operation) come after it.
 */
export type Scope = 'produce' | 'consume' | 'admin';

export interface Route {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** API Gateway path syntax: `{name}` for a path parameter. */
  readonly path: string;
  /** Which Lambda function serves it (one function per concern). */
  readonly handler: HandlerName;
  readonly scope: Scope;
}

export const ROUTES: readonly Route[] = [
  { method: 'POST', path: '/v1/topics', handler: 'topics', scope: 'admin' },
  { method: 'GET', path: '/v1/topics', handler: 'topics', scope: 'consume' },
  { method: 'GET', path: '/v1/topics/{topic}', handler: 'topics', scope: 'consume' },
  { method: 'PATCH', path: '/v1/topics/{topic}', handler: 'topics', scope: 'admin' },
  { method: 'DELETE', path: '/v1/topics/{topic}', handler: 'topics', scope: 'admin' },
  {
    method: 'POST',
    path: '/v1/topics/{topic}/partitions/{partition}/delete-records',
    handler: 'topics',
    scope: 'admin',
  },
  { method: 'POST', path: '/v1/admin/tiering/run', handler: 'tiering', scope: 'admin' },
  { method: 'POST', path: '/v1/topics/{topic}/records', handler: 'produce', scope: 'produce' },
  { method: 'GET', path: '/v1/topics/{topic}/partitions/{partition}/records', handler: 'fetch', scope: 'consume' },
  { method: 'GET', path: '/v1/topics/{topic}/partitions/{partition}/offsets', handler: 'fetch', scope: 'consume' },
  { method: 'GET', path: '/v1/groups', handler: 'groups', scope: 'consume' },
  { method: 'GET', path: '/v1/groups/{group}', handler: 'groups', scope: 'consume' },
  { method: 'DELETE', path: '/v1/groups/{group}', handler: 'groups', scope: 'admin' },
  { method: 'POST', path: '/v1/groups/{group}/members', handler: 'groups', scope: 'consume' },
  { method: 'DELETE', path: '/v1/groups/{group}/members/{memberId}', handler: 'groups', scope: 'consume' },
  { method: 'POST', path: '/v1/groups/{group}/members/{memberId}/heartbeat', handler: 'groups', scope: 'consume' },
  { method: 'POST', path: '/v1/groups/{group}/members/{memberId}/poll', handler: 'groups', scope: 'consume' },
  { method: 'POST', path: '/v1/groups/{group}/offsets', handler: 'groups', scope: 'consume' },
  { method: 'POST', path: '/v1/groups/{group}/offsets/reset', handler: 'groups', scope: 'admin' },
  { method: 'GET', path: '/v1/sagas', handler: 'sagas', scope: 'consume' },
  { method: 'POST', path: '/v1/sagas/{saga}/executions', handler: 'sagas', scope: 'produce' },
  { method: 'GET', path: '/v1/sagas/{saga}/executions', handler: 'sagas', scope: 'consume' },
  { method: 'GET', path: '/v1/sagas/{saga}/executions/{executionId}', handler: 'sagas', scope: 'consume' },
  { method: 'GET', path: '/v1/acls', handler: 'acls', scope: 'admin' },
  { method: 'POST', path: '/v1/acls', handler: 'acls', scope: 'admin' },
  { method: 'DELETE', path: '/v1/acls', handler: 'acls', scope: 'admin' },
  { method: 'GET', path: '/v1/share-groups', handler: 'queues', scope: 'consume' },
  { method: 'GET', path: '/v1/share-groups/{group}', handler: 'queues', scope: 'consume' },
  { method: 'DELETE', path: '/v1/share-groups/{group}', handler: 'queues', scope: 'admin' },
  { method: 'POST', path: '/v1/share-groups/{group}/members', handler: 'queues', scope: 'consume' },
  { method: 'DELETE', path: '/v1/share-groups/{group}/members/{memberId}', handler: 'queues', scope: 'consume' },
  { method: 'POST', path: '/v1/share-groups/{group}/members/{memberId}/poll', handler: 'queues', scope: 'consume' },
  { method: 'POST', path: '/v1/share-groups/{group}/acks', handler: 'queues', scope: 'consume' },
  { method: 'POST', path: '/v1/topics/{topic}/redrive', handler: 'queues', scope: 'admin' },
  { method: 'GET', path: '/v1/queues', handler: 'queues', scope: 'consume' },
  { method: 'POST', path: '/v1/queues', handler: 'queues', scope: 'admin' },
  { method: 'GET', path: '/v1/queues/{queue}', handler: 'queues', scope: 'consume' },
  { method: 'DELETE', path: '/v1/queues/{queue}', handler: 'queues', scope: 'admin' },
  { method: 'GET', path: '/v1/exchanges', handler: 'exchanges', scope: 'consume' },
  { method: 'PUT', path: '/v1/exchanges/{exchange}', handler: 'exchanges', scope: 'admin' },
  { method: 'GET', path: '/v1/exchanges/{exchange}', handler: 'exchanges', scope: 'consume' },
  { method: 'DELETE', path: '/v1/exchanges/{exchange}', handler: 'exchanges', scope: 'admin' },
  { method: 'POST', path: '/v1/exchanges/{exchange}/bindings', handler: 'exchanges', scope: 'admin' },
  { method: 'DELETE', path: '/v1/exchanges/{exchange}/bindings', handler: 'exchanges', scope: 'admin' },
  { method: 'POST', path: '/v1/exchanges/{exchange}/messages', handler: 'exchanges', scope: 'produce' },
  { method: 'GET', path: '/v1/subscriptions', handler: 'subscriptions', scope: 'consume' },
  { method: 'POST', path: '/v1/subscriptions', handler: 'subscriptions', scope: 'admin' },
  { method: 'GET', path: '/v1/subscriptions/{subscription}', handler: 'subscriptions', scope: 'consume' },
  { method: 'PATCH', path: '/v1/subscriptions/{subscription}', handler: 'subscriptions', scope: 'admin' },
  { method: 'DELETE', path: '/v1/subscriptions/{subscription}', handler: 'subscriptions', scope: 'admin' },
  {
    method: 'POST',
    path: '/v1/subscriptions/{subscription}/quarantine/{key}/release',
    handler: 'subscriptions',
    scope: 'admin',
  },
  {
    method: 'POST',
    path: '/v1/subscriptions/{subscription}/quarantine/{key}/skip',
    handler: 'subscriptions',
    scope: 'admin',
  },
  { method: 'POST', path: '/v1/transactions', handler: 'transactions', scope: 'produce' },
  { method: 'POST', path: '/v1/transactions/{transactionalId}/init', handler: 'transactions', scope: 'produce' },
  { method: 'GET', path: '/v1/transactions/{transactionalId}', handler: 'transactions', scope: 'consume' },
  { method: 'POST', path: '/v1/transactions/{transactionalId}/begin', handler: 'transactions', scope: 'produce' },
  { method: 'POST', path: '/v1/transactions/{transactionalId}/records', handler: 'transactions', scope: 'produce' },
  { method: 'POST', path: '/v1/transactions/{transactionalId}/commit', handler: 'transactions', scope: 'produce' },
  { method: 'POST', path: '/v1/transactions/{transactionalId}/abort', handler: 'transactions', scope: 'produce' },
  { method: 'POST', path: '/v1/streams/{streamId}/events', handler: 'eventStore', scope: 'produce' },
  { method: 'GET', path: '/v1/streams/{streamId}/events', handler: 'eventStore', scope: 'consume' },
  { method: 'GET', path: '/v1/streams/{streamId}', handler: 'eventStore', scope: 'consume' },
  { method: 'GET', path: '/v1/jobs', handler: 'jobs', scope: 'consume' },
  { method: 'GET', path: '/v1/jobs/{job}', handler: 'jobs', scope: 'consume' },
];

/** `"POST /v1/topics"`, as API Gateway puts it in `event.routeKey`. */
export function routeKey(route: Pick<Route, 'method' | 'path'>): string {
  return `${route.method} ${route.path}`;
}
