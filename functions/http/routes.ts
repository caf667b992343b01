/**
 * Every HTTP route, once. The CDK stack creates API Gateway routes from this table, the local
 * gateway dispatches with it, and a test checks it against docs/openapi.json.
 */
export type HandlerName = 'topics' | 'produce' | 'fetch' | 'groups' | 'tiering' | 'sagas';

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
};

export interface Route {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** API Gateway path syntax: `{name}` for a path parameter. */
  readonly path: string;
  /** Which Lambda function serves it (one function per concern). */
  readonly handler: HandlerName;
}

export const ROUTES: readonly Route[] = [
  { method: 'POST', path: '/v1/topics', handler: 'topics' },
  { method: 'GET', path: '/v1/topics', handler: 'topics' },
  { method: 'GET', path: '/v1/topics/{topic}', handler: 'topics' },
  { method: 'PATCH', path: '/v1/topics/{topic}', handler: 'topics' },
  { method: 'DELETE', path: '/v1/topics/{topic}', handler: 'topics' },
  { method: 'POST', path: '/v1/topics/{topic}/partitions/{partition}/delete-records', handler: 'topics' },
  { method: 'POST', path: '/v1/admin/tiering/run', handler: 'tiering' },
  { method: 'POST', path: '/v1/topics/{topic}/records', handler: 'produce' },
  { method: 'GET', path: '/v1/topics/{topic}/partitions/{partition}/records', handler: 'fetch' },
  { method: 'GET', path: '/v1/topics/{topic}/partitions/{partition}/offsets', handler: 'fetch' },
  { method: 'GET', path: '/v1/groups', handler: 'groups' },
  { method: 'GET', path: '/v1/groups/{group}', handler: 'groups' },
  { method: 'DELETE', path: '/v1/groups/{group}', handler: 'groups' },
  { method: 'POST', path: '/v1/groups/{group}/members', handler: 'groups' },
  { method: 'DELETE', path: '/v1/groups/{group}/members/{memberId}', handler: 'groups' },
  { method: 'POST', path: '/v1/groups/{group}/members/{memberId}/heartbeat', handler: 'groups' },
  { method: 'POST', path: '/v1/groups/{group}/members/{memberId}/poll', handler: 'groups' },
  { method: 'POST', path: '/v1/groups/{group}/offsets', handler: 'groups' },
  { method: 'POST', path: '/v1/groups/{group}/offsets/reset', handler: 'groups' },
  { method: 'GET', path: '/v1/sagas', handler: 'sagas' },
  { method: 'POST', path: '/v1/sagas/{saga}/executions', handler: 'sagas' },
  { method: 'GET', path: '/v1/sagas/{saga}/executions', handler: 'sagas' },
  { method: 'GET', path: '/v1/sagas/{saga}/executions/{executionId}', handler: 'sagas' },
];

/** `"POST /v1/topics"`, as API Gateway puts it in `event.routeKey`. */
export function routeKey(route: Pick<Route, 'method' | 'path'>): string {
  return `${route.method} ${route.path}`;
}
