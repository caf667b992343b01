import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ROUTES, routeKey } from '../../functions/http/routes.ts';
import type { AclRule } from '../../core/security/acl.ts';
import { apiEvent, lambdaContext, type EventSpec, type Handler } from '../support/apiEvents.ts';
import { handlerEnvironment } from '../support/handlerEnv.ts';
import { loadHttpHandlers } from '../../local/stack.ts';
import { runJobStep } from '../support/jobs.ts';

/**
 * The authorization matrix: for every route, a principal granted exactly the ACL rules the route
 * needs succeeds, and one lacking any one of them (or all) gets 403 NotAuthorized and changes
 * nothing. Handlers run in-process on real API Gateway v2 events with a JWT authorizer context,
 * in `acl` mode, against DynamoDB Local; saga launches go to a stand-in Step Functions endpoint.
 */
const ROOT = 'root'; // jwt:root is the stack's admin principal (a super user)

let handlers: Record<string, Handler>;
let tables: { log: string; metadata: string };
let sfn: Server;
const launched: string[] = [];

beforeAll(async () => {
  // Step Functions' StartExecution over its JSON protocol: accept, and remember the name.
  sfn = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      launched.push((JSON.parse(body) as { name: string }).name);
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify({ executionArn: 'arn:aws:states:us-east-1:000000000000:execution:m:x', startDate: 1 }));
    });
  });
  await new Promise<void>((r) => sfn.listen(0, '127.0.0.1', r));
  tables = await handlerEnvironment('authz', {
    SLUICE_AUTHORIZATION: 'acl',
    SLUICE_ADMIN_PRINCIPALS: `jwt:${ROOT}`,
    SLUICE_SAGAS: JSON.stringify([
      {
        name: 'orders',
        steps: ['A'],
        auditTopic: 'sagas.orders',
        type: 'STANDARD',
        stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:orders',
      },
    ]),
    AWS_ENDPOINT_URL_SFN: `http://127.0.0.1:${(sfn.address() as AddressInfo).port}`,
  });
  handlers = await loadHttpHandlers();
});

afterAll(() => new Promise<void>((r) => sfn.close(() => r())));

/** Calls the route's handler as `jwt:<subject>`, as API Gateway's JWT authorizer would present it. */
async function call(subject: string, spec: EventSpec): Promise<{ status: number; body: any }> {
  const route = ROUTES.find((r) => r.method === spec.method && r.path === spec.route)!;
  const event = apiEvent(spec);
  const authorized = {
    ...event,
    requestContext: { ...event.requestContext, authorizer: { jwt: { claims: { sub: subject }, scopes: null } } },
  };
  const result = await handlers[route.handler]!(authorized, lambdaContext);
  return {
    status: result.statusCode ?? 200,
    body: result.body === undefined ? undefined : JSON.parse(result.body),
  };
}

async function root(spec: EventSpec): Promise<any> {
  const res = await call(ROOT, spec);
  expect(res.status, `${spec.method} ${spec.route} as root: ${JSON.stringify(res.body)}`).toBeLessThan(300);
  return res.body;
}

const grant = (rule: AclRule) => root({ method: 'POST', route: '/v1/acls', body: rule });

let principals = 0;
/** A new principal, granted exactly these rules. */
async function principalWith(rules: readonly Omit<AclRule, 'principal'>[]): Promise<string> {
  const subject = `user-${++principals}`;
  for (const r of rules) await grant({ ...r, principal: `jwt:${subject}` });
  return subject;
}

const rule = (
  operation: AclRule['operation'],
  resourceType: AclRule['resourceType'],
  resourceName: string,
): Omit<AclRule, 'principal'> => ({
  operation,
  resourceType,
  resourceName,
  patternType: 'literal',
  permission: 'allow',
});

const J = '/v1/groups/{group}/members';
const X = '/v1/exchanges/{exchange}';
const member = async (group: string, topics = ['orders']) =>
  (await root({ method: 'POST', route: J, pathParameters: { group }, body: { topics, sessionTimeoutMs: 300_000 } }))
    .memberId as string;
/** A group with committed offsets and no members (resets and deletes need one). */
async function emptyGroup(group: string): Promise<void> {
  const joined = await root({
    method: 'POST',
    route: J,
    pathParameters: { group },
    body: { topics: ['orders'], sessionTimeoutMs: 300_000 },
  });
  await root({
    method: 'POST',
    route: '/v1/groups/{group}/offsets',
    pathParameters: { group },
    body: {
      memberId: joined.memberId,
      generation: joined.generation,
      offsets: [{ topic: 'orders', partition: 0, offset: 1 }],
    },
  });
  await root({ method: 'DELETE', route: `${J}/{memberId}`, pathParameters: { group, memberId: joined.memberId } });
}

/** What a refused request must not change: topics, offsets, groups and offsets, rules, executions. */
const SG = '/v1/share-groups';
const shareMember = async (group: string) =>
  (
    await root({
      method: 'POST',
      route: `${SG}/{group}/members`,
      pathParameters: { group },
      body: { topics: ['orders'], sessionTimeoutMs: 3_600_000 },
    })
  ).memberId as string;
const shareGroup = (operation: AclRule['operation'], name: string) => rule(operation, 'shareGroup', name);

async function snapshot(): Promise<unknown> {
  const topics = (await root({ method: 'GET', route: '/v1/topics' })).topics
    .map((t: { name: string }) => t.name)
    .sort();
  const described = [];
  for (const name of topics)
    described.push(await root({ method: 'GET', route: '/v1/topics/{topic}', pathParameters: { topic: name } }));
  const groups = [];
  for (const g of (await root({ method: 'GET', route: '/v1/groups' })).groups) {
    const d = await root({ method: 'GET', route: '/v1/groups/{group}', pathParameters: { group: g.group } });
    groups.push({ ...d, members: d.members.map(({ sessionExpiresAt: _, ...m }: { sessionExpiresAt: number }) => m) });
  }
  const acls = (await root({ method: 'GET', route: '/v1/acls' })).acls;
  const executions = await root({
    method: 'GET',
    route: '/v1/sagas/{saga}/executions',
    pathParameters: { saga: 'orders' },
  });
  const exchanges = [];
  for (const x of (await root({ method: 'GET', route: '/v1/exchanges' })).exchanges)
    exchanges.push(await root({ method: 'GET', route: X, pathParameters: { exchange: x.name } }));
  const shareGroups = [];
  for (const g of (await root({ method: 'GET', route: SG })).groups) {
    const d = await root({ method: 'GET', route: `${SG}/{group}`, pathParameters: { group: g } });
    // Whether an in-flight record counts as acquired or available depends on the clock (its lock
    // runs out); what a request could change is the rest.
    shareGroups.push({
      ...d,
      partitions: d.partitions.map(
        ({ acquired: _a, available: _v, ...p }: { acquired: number; available: number }) => p,
      ),
    });
  }
  const subscriptions = (await root({ method: 'GET', route: '/v1/subscriptions' })).subscriptions;
  const producers = [];
  for (const id of txnIds)
    producers.push(await root({ method: 'GET', route: TX, pathParameters: { transactionalId: id } }));
  return {
    producers,
    topics,
    described,
    groups,
    acls,
    executions,
    exchanges,
    shareGroups,
    subscriptions,
    launched: [...launched],
  };
}

/** Transactional ids made by the cases: a refused request must leave their states as they were. */
const txnIds: string[] = [];
const TX = '/v1/transactions/{transactionalId}';
const txn = (operation: AclRule['operation'], id: string) => rule(operation, 'transactionalId', id);
/** A transactional id initialised as root; with `open`, a transaction begun (and appended to). */
async function aProducer(open = false): Promise<{ id: string; epoch: number; sequence: number }> {
  const id = fresh('txn');
  const { epoch } = await root({ method: 'POST', route: `${TX}/init`, pathParameters: { transactionalId: id } });
  txnIds.push(id);
  if (!open) return { id, epoch, sequence: 0 };
  const { sequence } = await root({
    method: 'POST',
    route: `${TX}/begin`,
    pathParameters: { transactionalId: id },
    body: { epoch },
  });
  await root({
    method: 'POST',
    route: `${TX}/records`,
    pathParameters: { transactionalId: id },
    body: { epoch, sequence, append: 0, records: [{ topic: 'orders', value: 'in a transaction' }] },
  });
  return { id, epoch, sequence };
}

interface Case {
  /** The rules the route needs for its request (every one of them). */
  readonly needs: readonly Omit<AclRule, 'principal'>[];
  /** A fresh request (setting up what it needs as root). */
  readonly request: () => Promise<EventSpec>;
}

let n = 0;
const fresh = (prefix: string) => `${prefix}-${++n}`;
const topic = (operation: AclRule['operation'], name = 'orders') => rule(operation, 'topic', name);
const group = (operation: AclRule['operation'], name: string) => rule(operation, 'group', name);
const cluster = (operation: AclRule['operation']) => rule(operation, 'cluster', 'sluice');
const saga = (operation: AclRule['operation']) => rule(operation, 'saga', 'orders');
const exchange = (operation: AclRule['operation'], name = 'routes') => rule(operation, 'exchange', name);

/** A stream with one event, appended as root. */
async function aStream(): Promise<string> {
  const streamId = fresh('stream');
  await root({
    method: 'POST',
    route: '/v1/streams/{streamId}/events',
    pathParameters: { streamId },
    body: { events: [{ type: 'Opened', data: {} }], expectedVersion: 'noStream' },
  });
  return streamId;
}

const subscription = (operation: AclRule['operation'], name: string) => rule(operation, 'subscription', name);
const SUB = '/v1/subscriptions/{subscription}';
const HOOK = { type: 'https', url: 'http://127.0.0.1:9/hook' } as const;
/** A subscription made as root (its target is never called here: nothing runs the dispatcher). */
async function aSubscription(): Promise<string> {
  const name = fresh('sub');
  await root({ method: 'POST', route: '/v1/subscriptions', body: { name, topic: 'orders', target: HOOK } });
  return name;
}

const job = (operation: AclRule['operation'], name: string) => rule(operation, 'job', name);

const CASES: Record<string, (() => Promise<Case>) | 'listing'> = {
  'GET /v1/jobs': 'listing',
  'GET /v1/jobs/{job}': async () => ({
    needs: [job('describe', 'orders-enricher')],
    request: async () => ({ method: 'GET', route: '/v1/jobs/{job}', pathParameters: { job: 'orders-enricher' } }),
  }),
  'POST /v1/topics': async () => {
    const name = fresh('created');
    return {
      needs: [topic('create', name)],
      request: async () => ({ method: 'POST', route: '/v1/topics', body: { name } }),
    };
  },
  'GET /v1/topics': 'listing',
  'GET /v1/topics/{topic}': async () => ({
    needs: [topic('describe')],
    request: async () => ({ method: 'GET', route: '/v1/topics/{topic}', pathParameters: { topic: 'orders' } }),
  }),
  'PATCH /v1/topics/{topic}': async () => ({
    needs: [topic('alter', 'alterable')],
    request: async () => ({
      method: 'PATCH',
      route: '/v1/topics/{topic}',
      pathParameters: { topic: 'alterable' },
      body: { config: { retentionMs: 86_400_000 + ++n } },
    }),
  }),
  'DELETE /v1/topics/{topic}': async () => {
    const name = fresh('doomed');
    await root({ method: 'POST', route: '/v1/topics', body: { name } });
    return {
      needs: [topic('delete', name)],
      request: async () => ({ method: 'DELETE', route: '/v1/topics/{topic}', pathParameters: { topic: name } }),
    };
  },
  'POST /v1/topics/{topic}/partitions/{partition}/delete-records': async () => ({
    needs: [topic('delete', 'trimmed')],
    request: async () => ({
      method: 'POST',
      route: '/v1/topics/{topic}/partitions/{partition}/delete-records',
      pathParameters: { topic: 'trimmed', partition: '0' },
      body: { beforeOffset: ++n % 5 },
    }),
  }),
  'POST /v1/admin/tiering/run': async () => ({
    needs: [cluster('alter')],
    request: async () => ({ method: 'POST', route: '/v1/admin/tiering/run' }),
  }),
  'POST /v1/topics/{topic}/records': async () => ({
    needs: [topic('write')],
    request: async () => ({
      method: 'POST',
      route: '/v1/topics/{topic}/records',
      pathParameters: { topic: 'orders' },
      body: { records: [{ value: { n: ++n } }] },
    }),
  }),
  'GET /v1/topics/{topic}/partitions/{partition}/records': async () => ({
    needs: [topic('read')],
    request: async () => ({
      method: 'GET',
      route: '/v1/topics/{topic}/partitions/{partition}/records',
      pathParameters: { topic: 'orders', partition: '0' },
      query: { offset: '0' },
    }),
  }),
  'GET /v1/topics/{topic}/partitions/{partition}/offsets': async () => ({
    needs: [topic('read')],
    request: async () => ({
      method: 'GET',
      route: '/v1/topics/{topic}/partitions/{partition}/offsets',
      pathParameters: { topic: 'orders', partition: '0' },
      query: { at: 'earliest' },
    }),
  }),
  'GET /v1/groups': 'listing',
  'GET /v1/groups/{group}': async () => ({
    needs: [group('describe', 'billing')],
    request: async () => ({ method: 'GET', route: '/v1/groups/{group}', pathParameters: { group: 'billing' } }),
  }),
  'DELETE /v1/groups/{group}': async () => {
    const name = fresh('gone');
    await emptyGroup(name);
    return {
      needs: [group('delete', name)],
      request: async () => ({ method: 'DELETE', route: '/v1/groups/{group}', pathParameters: { group: name } }),
    };
  },
  'POST /v1/groups/{group}/members': async () => {
    const name = fresh('joined');
    return {
      needs: [group('read', name), topic('read')],
      request: async () => ({
        method: 'POST',
        route: J,
        pathParameters: { group: name },
        body: { topics: ['orders'], sessionTimeoutMs: 300_000 },
      }),
    };
  },
  'DELETE /v1/groups/{group}/members/{memberId}': async () => {
    const name = fresh('leaving');
    const memberId = await member(name);
    return {
      needs: [group('read', name)],
      request: async () => ({ method: 'DELETE', route: `${J}/{memberId}`, pathParameters: { group: name, memberId } }),
    };
  },
  'POST /v1/groups/{group}/members/{memberId}/heartbeat': async () => {
    const memberId = await member('beating');
    return {
      needs: [group('read', 'beating')],
      request: async () => ({
        method: 'POST',
        route: `${J}/{memberId}/heartbeat`,
        pathParameters: { group: 'beating', memberId },
      }),
    };
  },
  'POST /v1/groups/{group}/members/{memberId}/poll': async () => {
    const memberId = await member('polling');
    return {
      // The topic is not in the request: the poll checks the member's subscription.
      needs: [group('read', 'polling'), topic('read')],
      request: async () => ({
        method: 'POST',
        route: `${J}/{memberId}/poll`,
        pathParameters: { group: 'polling', memberId },
        body: { maxRecords: 1 },
      }),
    };
  },
  'POST /v1/groups/{group}/offsets': async () => {
    const joined = await root({
      method: 'POST',
      route: J,
      pathParameters: { group: 'committing' },
      body: { topics: ['orders'], sessionTimeoutMs: 300_000 },
    });
    return {
      needs: [group('read', 'committing'), topic('read')],
      request: async () => ({
        method: 'POST',
        route: '/v1/groups/{group}/offsets',
        pathParameters: { group: 'committing' },
        body: {
          memberId: joined.memberId,
          generation: joined.generation,
          offsets: [{ topic: 'orders', partition: 1, offset: ++n % 3 }],
        },
      }),
    };
  },
  'POST /v1/groups/{group}/offsets/reset': async () => {
    const name = fresh('reset');
    await emptyGroup(name);
    return {
      needs: [group('alter', name), topic('read')],
      request: async () => ({
        method: 'POST',
        route: '/v1/groups/{group}/offsets/reset',
        pathParameters: { group: name },
        body: { topic: 'orders', to: 'earliest' },
      }),
    };
  },
  'GET /v1/sagas': 'listing',
  'POST /v1/sagas/{saga}/executions': async () => ({
    needs: [saga('write')],
    request: async () => ({
      method: 'POST',
      route: '/v1/sagas/{saga}/executions',
      pathParameters: { saga: 'orders' },
      body: { input: { order: ++n } },
    }),
  }),
  'GET /v1/sagas/{saga}/executions': async () => ({
    needs: [saga('describe')],
    request: async () => ({ method: 'GET', route: '/v1/sagas/{saga}/executions', pathParameters: { saga: 'orders' } }),
  }),
  'GET /v1/sagas/{saga}/executions/{executionId}': async () => {
    const started = await root({
      method: 'POST',
      route: '/v1/sagas/{saga}/executions',
      pathParameters: { saga: 'orders' },
      body: { input: {} },
    });
    return {
      needs: [saga('describe')],
      request: async () => ({
        method: 'GET',
        route: '/v1/sagas/{saga}/executions/{executionId}',
        pathParameters: { saga: 'orders', executionId: started.executionId },
      }),
    };
  },
  'GET /v1/share-groups': 'listing',
  'GET /v1/queues': 'listing',
  'GET /v1/subscriptions': 'listing',
  'POST /v1/subscriptions': async () => {
    const name = fresh('sub-created');
    return {
      needs: [subscription('create', name), topic('read'), topic('write', 'trimmed')],
      request: async () => ({
        method: 'POST',
        route: '/v1/subscriptions',
        body: { name, topic: 'orders', target: HOOK, onFailure: { topic: 'trimmed' } },
      }),
    };
  },
  'GET /v1/subscriptions/{subscription}': async () => {
    const name = await aSubscription();
    return {
      needs: [subscription('describe', name)],
      request: async () => ({ method: 'GET', route: SUB, pathParameters: { subscription: name } }),
    };
  },
  'PATCH /v1/subscriptions/{subscription}': async () => {
    const name = await aSubscription();
    return {
      needs: [subscription('alter', name), topic('write', 'trimmed')],
      request: async () => ({
        method: 'PATCH',
        route: SUB,
        pathParameters: { subscription: name },
        body: { batchSize: 10 + ++n, onFailure: { topic: 'trimmed' } },
      }),
    };
  },
  'DELETE /v1/subscriptions/{subscription}': async () => {
    const name = await aSubscription();
    return {
      needs: [subscription('delete', name)],
      request: async () => ({ method: 'DELETE', route: SUB, pathParameters: { subscription: name } }),
    };
  },
  'POST /v1/subscriptions/{subscription}/quarantine/{key}/release': async () => {
    const name = await aSubscription();
    return {
      // Nothing is quarantined: authorized, the answer is 404 KeyNotQuarantined (checked below).
      needs: [subscription('alter', name)],
      request: async () => ({
        method: 'POST',
        route: `${SUB}/quarantine/{key}/release`,
        pathParameters: { subscription: name, key: 'k' },
      }),
    };
  },
  'POST /v1/subscriptions/{subscription}/quarantine/{key}/skip': async () => {
    const name = await aSubscription();
    return {
      needs: [subscription('alter', name)],
      request: async () => ({
        method: 'POST',
        route: `${SUB}/quarantine/{key}/skip`,
        pathParameters: { subscription: name, key: 'k' },
      }),
    };
  },
  // Streams are guarded as the event store's topic (sluice.events): write appends, read reads, describe describes.
  'POST /v1/streams/{streamId}/events': async () => {
    const streamId = fresh('account');
    return {
      needs: [topic('write', 'sluice.events')],
      request: async () => ({
        method: 'POST',
        route: '/v1/streams/{streamId}/events',
        pathParameters: { streamId },
        body: { events: [{ type: 'Opened', data: { owner: 'ada' } }], expectedVersion: 'noStream' },
      }),
    };
  },
  'GET /v1/streams/{streamId}/events': async () => ({
    needs: [topic('read', 'sluice.events')],
    request: async () => ({
      method: 'GET',
      route: '/v1/streams/{streamId}/events',
      pathParameters: { streamId: await aStream() },
      query: { fromVersion: '0' },
    }),
  }),
  'GET /v1/streams/{streamId}': async () => ({
    needs: [topic('describe', 'sluice.events')],
    request: async () => ({
      method: 'GET',
      route: '/v1/streams/{streamId}',
      pathParameters: { streamId: await aStream() },
    }),
  }),
  'POST /v1/queues': async () => {
    const name = fresh('declared');
    return {
      // A queue is a topic and a share group of one name; naming a dead-letter exchange needs write on it.
      needs: [topic('create', name), shareGroup('read', name), exchange('write')],
      request: async () => ({ method: 'POST', route: '/v1/queues', body: { name, deadLetterExchange: 'routes' } }),
    };
  },
  'GET /v1/queues/{queue}': async () => {
    const name = fresh('queue-shown');
    await root({ method: 'POST', route: '/v1/queues', body: { name } });
    return {
      needs: [topic('describe', name), shareGroup('describe', name)],
      request: async () => ({ method: 'GET', route: '/v1/queues/{queue}', pathParameters: { queue: name } }),
    };
  },
  'DELETE /v1/queues/{queue}': async () => {
    const name = fresh('queue-deleted');
    await root({ method: 'POST', route: '/v1/queues', body: { name } });
    return {
      needs: [topic('delete', name), shareGroup('delete', name)],
      request: async () => ({ method: 'DELETE', route: '/v1/queues/{queue}', pathParameters: { queue: name } }),
    };
  },
  'POST /v1/topics/{topic}/redrive': async () => {
    // A dead letter of orders in trimmed's place: read on the dead-letter topic, write on orders.
    const dlq = fresh('dead');
    await root({ method: 'POST', route: '/v1/topics', body: { name: dlq } });
    return {
      needs: [topic('read', dlq), topic('write')],
      request: async () => {
        await root({
          method: 'POST',
          route: '/v1/topics/{topic}/records',
          pathParameters: { topic: dlq },
          body: { records: [{ value: ++n, headers: { original_topic: 'orders' } }] },
        });
        return {
          method: 'POST',
          route: '/v1/topics/{topic}/redrive',
          pathParameters: { topic: dlq },
          body: { maxRecords: 1 },
        };
      },
    };
  },
  'GET /v1/share-groups/{group}': async () => {
    await shareMember('queue-described');
    return {
      needs: [shareGroup('describe', 'queue-described')],
      request: async () => ({ method: 'GET', route: `${SG}/{group}`, pathParameters: { group: 'queue-described' } }),
    };
  },
  'DELETE /v1/share-groups/{group}': async () => {
    const name = fresh('queue-gone');
    const memberId = await shareMember(name);
    await root({
      method: 'DELETE',
      route: `${SG}/{group}/members/{memberId}`,
      pathParameters: { group: name, memberId },
    });
    return {
      needs: [shareGroup('delete', name)],
      request: async () => ({ method: 'DELETE', route: `${SG}/{group}`, pathParameters: { group: name } }),
    };
  },
  'POST /v1/share-groups/{group}/members': async () => {
    const name = fresh('queue-joined');
    return {
      needs: [shareGroup('read', name), topic('read')],
      request: async () => ({
        method: 'POST',
        route: `${SG}/{group}/members`,
        pathParameters: { group: name },
        body: { topics: ['orders'], sessionTimeoutMs: 3_600_000 },
      }),
    };
  },
  'DELETE /v1/share-groups/{group}/members/{memberId}': async () => {
    const name = fresh('queue-leaving');
    const memberId = await shareMember(name);
    return {
      needs: [shareGroup('read', name)],
      request: async () => ({
        method: 'DELETE',
        route: `${SG}/{group}/members/{memberId}`,
        pathParameters: { group: name, memberId },
      }),
    };
  },
  'POST /v1/share-groups/{group}/members/{memberId}/poll': async () => {
    const name = fresh('queue-polled');
    const memberId = await shareMember(name);
    return {
      // The topics are not in the request: the poll checks the member's.
      needs: [shareGroup('read', name), topic('read')],
      request: async () => ({
        method: 'POST',
        route: `${SG}/{group}/members/{memberId}/poll`,
        pathParameters: { group: name, memberId },
        body: { maxRecords: 1 },
      }),
    };
  },
  'POST /v1/share-groups/{group}/acks': async () => {
    const name = fresh('queue-acked');
    const memberId = await shareMember(name);
    return {
      needs: [shareGroup('read', name)],
      request: async () => ({
        method: 'POST',
        route: `${SG}/{group}/acks`,
        pathParameters: { group: name },
        body: { memberId, acks: [{ topic: 'orders', partition: 0, offset: 0, type: 'accept' }] },
      }),
    };
  },
  'GET /v1/acls': async () => ({
    needs: [cluster('describe')],
    request: async () => ({ method: 'GET', route: '/v1/acls' }),
  }),
  'POST /v1/acls': async () => ({
    needs: [cluster('alter')],
    request: async () => ({
      method: 'POST',
      route: '/v1/acls',
      body: { principal: `jwt:${fresh('someone')}`, resourceType: 'topic', resourceName: 'orders', operation: 'read' },
    }),
  }),
  'GET /v1/exchanges': 'listing',
  'PUT /v1/exchanges/{exchange}': async () => {
    const name = fresh('declared');
    return {
      needs: [exchange('create', name)],
      request: async () => ({ method: 'PUT', route: X, pathParameters: { exchange: name }, body: { type: 'direct' } }),
    };
  },
  'GET /v1/exchanges/{exchange}': async () => ({
    needs: [exchange('describe')],
    request: async () => ({ method: 'GET', route: X, pathParameters: { exchange: 'routes' } }),
  }),
  'DELETE /v1/exchanges/{exchange}': async () => {
    const name = fresh('dropped');
    await root({ method: 'PUT', route: X, pathParameters: { exchange: name }, body: { type: 'fanout' } });
    return {
      needs: [exchange('delete', name)],
      request: async () => ({ method: 'DELETE', route: X, pathParameters: { exchange: name } }),
    };
  },
  // The binder needs write on the destination, since publishers are checked on the exchange only.
  'POST /v1/exchanges/{exchange}/bindings': async () => ({
    needs: [exchange('alter'), topic('write')],
    request: async () => ({
      method: 'POST',
      route: `${X}/bindings`,
      pathParameters: { exchange: 'routes' },
      body: { destination: { topic: 'orders' }, bindingKey: fresh('key') },
    }),
  }),
  'DELETE /v1/exchanges/{exchange}/bindings': async () => ({
    needs: [exchange('alter')],
    request: async () => {
      const binding = { destination: { topic: 'orders' }, bindingKey: fresh('unbound') };
      await root({ method: 'POST', route: `${X}/bindings`, pathParameters: { exchange: 'routes' }, body: binding });
      return { method: 'DELETE', route: `${X}/bindings`, pathParameters: { exchange: 'routes' }, body: binding };
    },
  }),
  // The destinations are not checked again: the binder's right was checked at bind time.
  'POST /v1/exchanges/{exchange}/messages': async () => ({
    needs: [exchange('write')],
    request: async () => ({
      method: 'POST',
      route: `${X}/messages`,
      pathParameters: { exchange: 'routes' },
      body: { routingKey: 'order', value: { n: ++n } },
    }),
  }),
  // A transaction writes to every topic its records name, and commits as the group it names.
  'POST /v1/transactions': async () => {
    const groupId = fresh('txn-group');
    const joined = await root({
      method: 'POST',
      route: J,
      pathParameters: { group: groupId },
      body: { topics: ['orders'], sessionTimeoutMs: 300_000, autoOffsetReset: 'earliest' },
    });
    const { id, epoch } = await aProducer();
    return {
      needs: [txn('write', id), topic('write'), topic('write', 'trimmed'), group('read', groupId)],
      request: async () => ({
        method: 'POST',
        route: '/v1/transactions',
        body: {
          transactionalId: id,
          epoch,
          sequence: 0,
          records: [
            { topic: 'orders', value: 'out' },
            { topic: 'trimmed', value: 'audit' },
          ],
          offsets: {
            groupId,
            memberId: joined.memberId,
            generation: joined.generation,
            offsets: [{ topic: 'orders', partition: 0, offset: 1 }],
          },
        },
      }),
    };
  },
  'POST /v1/transactions/{transactionalId}/init': async () => {
    const { id } = await aProducer();
    return {
      needs: [txn('write', id)],
      request: async () => ({ method: 'POST', route: `${TX}/init`, pathParameters: { transactionalId: id } }),
    };
  },
  'GET /v1/transactions/{transactionalId}': async () => {
    const { id } = await aProducer();
    return {
      needs: [txn('describe', id)],
      request: async () => ({ method: 'GET', route: TX, pathParameters: { transactionalId: id } }),
    };
  },
  'POST /v1/transactions/{transactionalId}/begin': async () => {
    const { id, epoch } = await aProducer();
    return {
      needs: [txn('write', id)],
      request: async () => ({
        method: 'POST',
        route: `${TX}/begin`,
        pathParameters: { transactionalId: id },
        body: { epoch },
      }),
    };
  },
  'POST /v1/transactions/{transactionalId}/records': async () => {
    const { id, epoch, sequence } = await aProducer(true);
    return {
      needs: [txn('write', id), topic('write')],
      request: async () => ({
        method: 'POST',
        route: `${TX}/records`,
        pathParameters: { transactionalId: id },
        body: { epoch, sequence, append: 1, records: [{ topic: 'orders', value: 'more' }] },
      }),
    };
  },
  'POST /v1/transactions/{transactionalId}/commit': async () => {
    const { id, epoch, sequence } = await aProducer(true);
    return {
      needs: [txn('write', id)],
      request: async () => ({
        method: 'POST',
        route: `${TX}/commit`,
        pathParameters: { transactionalId: id },
        body: { epoch, sequence },
      }),
    };
  },
  'POST /v1/transactions/{transactionalId}/abort': async () => {
    const { id, epoch, sequence } = await aProducer(true);
    return {
      needs: [txn('write', id)],
      request: async () => ({
        method: 'POST',
        route: `${TX}/abort`,
        pathParameters: { transactionalId: id },
        body: { epoch, sequence },
      }),
    };
  },
  'DELETE /v1/acls': async () => {
    const victim = {
      principal: 'jwt:victim',
      resourceType: 'topic',
      resourceName: 'orders',
      operation: 'read',
    } as const;
    return {
      needs: [cluster('alter')],
      request: async () => {
        await grant({ ...victim, patternType: 'literal', permission: 'allow' });
        return { method: 'DELETE', route: '/v1/acls', body: victim };
      },
    };
  },
};

describe('authorization matrix (acl mode)', () => {
  beforeAll(async () => {
    for (const name of ['orders', 'alterable', 'trimmed'])
      await root({ method: 'POST', route: '/v1/topics', body: { name, partitions: 2 } });
    for (const name of ['orders', 'trimmed'])
      await root({
        method: 'POST',
        route: '/v1/topics/{topic}/records',
        pathParameters: { topic: name },
        body: { records: Array.from({ length: 6 }, (_, i) => ({ value: i, partition: i % 2 })) },
      });
    await member('billing');
    // Stream jobs over orders, as their runners would leave them.
    for (const name of ['orders-enricher', 'orders-totals', 'payments-audit'])
      await runJobStep(tables, { name, source: 'orders' });
    await root({ method: 'PUT', route: X, pathParameters: { exchange: 'routes' }, body: { type: 'direct' } });
    await root({
      method: 'POST',
      route: `${X}/bindings`,
      pathParameters: { exchange: 'routes' },
      body: { destination: { topic: 'orders' }, bindingKey: 'order' },
    });
  });

  it('has an entry for every route (a new route needs one)', () => {
    expect(Object.keys(CASES).sort()).toStrictEqual(ROUTES.map(routeKey).sort());
  });

  for (const key of ROUTES.map(routeKey)) {
    const entry = CASES[key];
    if (entry === undefined || entry === 'listing') continue;
    it(`${key}: exactly the needed rules succeed; lacking any one, or all, is 403 and changes nothing`, async () => {
      const { needs, request } = await entry();
      const lacking = [[], ...needs.map((_, i) => needs.filter((__, j) => j !== i))];
      for (const rules of needs.length > 0 ? lacking : []) {
        const subject = await principalWith(rules);
        const spec = await request();
        const before = await snapshot();
        const res = await call(subject, spec);
        expect(res.status, `with ${JSON.stringify(rules)}: ${JSON.stringify(res.body)}`).toBe(403);
        expect(res.body.error.code).toBe('NotAuthorized');
        expect(await snapshot(), `with ${JSON.stringify(rules)}: nothing changed`).toStrictEqual(before);
      }
      const subject = await principalWith(needs);
      const res = await call(subject, await request());
      if (key.includes('/quarantine/'))
        expect(res.body.error?.code, 'authorized: nothing is quarantined').toBe('KeyNotQuarantined');
      else expect(res.status, `with exactly the needed rules: ${JSON.stringify(res.body)}`).toBeLessThan(300);
    });
  }

  it('listings show only what the caller may describe (topics, groups, sagas)', async () => {
    const subject = await principalWith([topic('describe'), group('read', 'billing')]);
    const topics = (await call(subject, { method: 'GET', route: '/v1/topics' })).body.topics;
    expect(topics.map((t: { name: string }) => t.name)).toStrictEqual(['orders']);
    const groups = (await call(subject, { method: 'GET', route: '/v1/groups' })).body.groups;
    expect(
      groups.map((g: { group: string }) => g.group),
      'read implies describe',
    ).toStrictEqual(['billing']);
    expect((await call(subject, { method: 'GET', route: '/v1/sagas' })).body.sagas).toStrictEqual([]);
    const sagaReader = await principalWith([saga('describe')]);
    const sagas = (await call(sagaReader, { method: 'GET', route: '/v1/sagas' })).body.sagas;
    expect(sagas.map((s: { name: string }) => s.name)).toStrictEqual(['orders']);
  });

  it('lists only the jobs the caller may describe; read on a job prefix allows describing them', async () => {
    const subject = await principalWith([{ ...job('read', 'orders-'), patternType: 'prefixed' }]);
    const listed = await call(subject, { method: 'GET', route: '/v1/jobs' });
    expect(listed.body.jobs).toStrictEqual(['orders-enricher', 'orders-totals']);
    const describe = (name: string) =>
      call(subject, { method: 'GET', route: '/v1/jobs/{job}', pathParameters: { job: name } });
    expect((await describe('orders-totals')).status).toBe(200);
    const refused = await describe('payments-audit');
    expect([refused.status, refused.body.error]).toMatchObject([
      403,
      { code: 'NotAuthorized', operation: 'describe', resourceType: 'job', resourceName: 'payments-audit' },
    ]);
    const nobody = await principalWith([]);
    expect((await call(nobody, { method: 'GET', route: '/v1/jobs' })).body.jobs).toStrictEqual([]);
  });

  it('lists only the subscriptions the caller may describe', async () => {
    const shown = await aSubscription();
    await aSubscription();
    const subject = await principalWith([subscription('describe', shown)]);
    const listed = (await call(subject, { method: 'GET', route: '/v1/subscriptions' })).body.subscriptions;
    expect(listed.map((x: { name: string }) => x.name)).toStrictEqual([shown]);
  });

  it('lists only the queues whose topic the caller may describe', async () => {
    for (const name of ['listed-q', 'hidden-q']) await root({ method: 'POST', route: '/v1/queues', body: { name } });
    const subject = await principalWith([topic('describe', 'listed-q')]);
    expect((await call(subject, { method: 'GET', route: '/v1/queues' })).body.queues).toStrictEqual(['listed-q']);
  });

  it('lists only the exchanges the caller may describe, and binding to an exchange needs write on it', async () => {
    await root({ method: 'PUT', route: X, pathParameters: { exchange: 'hidden' }, body: { type: 'fanout' } });
    const subject = await principalWith([exchange('alter'), exchange('describe', 'hidden')]);
    const listed = (await call(subject, { method: 'GET', route: '/v1/exchanges' })).body.exchanges;
    expect(listed.map((x: { name: string }) => x.name).sort()).toStrictEqual(['hidden', 'routes']);
    const bind = { method: 'POST', route: `${X}/bindings`, pathParameters: { exchange: 'routes' } } as const;
    const refused = await call(subject, { ...bind, body: { destination: { exchange: 'hidden' } } });
    expect([refused.status, refused.body.error.resourceName]).toStrictEqual([403, 'hidden']);
    const writer = await principalWith([exchange('alter'), exchange('write', 'hidden')]);
    expect((await call(writer, { ...bind, body: { destination: { exchange: 'hidden' } } })).status).toBe(201);
    expect((await call(writer, { method: 'GET', route: '/v1/exchanges' })).body.exchanges.length).toBe(2);
  });

  it('prefixed rules cover every name with the prefix, deny wins, and a rule removed takes effect', async () => {
    const fetchOrders = {
      method: 'GET',
      route: '/v1/topics/{topic}/partitions/{partition}/records',
      pathParameters: { topic: 'orders', partition: '0' },
    } as const;
    const subject = await principalWith([{ ...topic('read', 'ord'), patternType: 'prefixed' }]);
    expect((await call(subject, fetchOrders)).status).toBe(200);
    await grant({ ...topic('read'), principal: `jwt:${subject}`, permission: 'deny' });
    expect((await call(subject, fetchOrders)).status, 'deny wins').toBe(403);
    await root({
      method: 'DELETE',
      route: '/v1/acls',
      body: { ...topic('read'), principal: `jwt:${subject}`, permission: 'deny' },
    });
    expect((await call(subject, fetchOrders)).status).toBe(200);
  });

  it('a member whose topic read is taken away after it joined can no longer poll', async () => {
    const subject = await principalWith([group('read', 'revoked'), topic('read')]);
    const joined = await call(subject, {
      method: 'POST',
      route: J,
      pathParameters: { group: 'revoked' },
      body: { topics: ['orders'], sessionTimeoutMs: 300_000 },
    });
    expect(joined.status).toBe(200);
    const poll = () =>
      call(subject, {
        method: 'POST',
        route: `${J}/{memberId}/poll`,
        pathParameters: { group: 'revoked', memberId: joined.body.memberId },
        body: {},
      });
    expect((await poll()).status).toBe(200);
    await root({ method: 'DELETE', route: '/v1/acls', body: { ...topic('read'), principal: `jwt:${subject}` } });
    const refused = await poll();
    expect([refused.status, refused.body.error.code]).toStrictEqual([403, 'NotAuthorized']);
    expect(refused.body.error).toMatchObject({ operation: 'read', resourceType: 'topic', resourceName: 'orders' });
  });

  it('writes an audit line for every admin action, allowed or not, and every refusal, naming the principal', async () => {
    const { logger } = await import('../../functions/powertools.ts');
    const info = vi.spyOn(logger, 'info');
    const warn = vi.spyOn(logger, 'warn');
    try {
      const subject = await principalWith([topic('create', 'audited')]);
      info.mockClear();
      expect((await call(subject, { method: 'POST', route: '/v1/topics', body: { name: 'audited' } })).status).toBe(
        201,
      );
      expect(
        (await call(subject, { method: 'DELETE', route: '/v1/topics/{topic}', pathParameters: { topic: 'audited' } }))
          .status,
      ).toBe(403);
      const read = await call(subject, {
        method: 'GET',
        route: '/v1/topics/{topic}/partitions/{partition}/records',
        pathParameters: { topic: 'orders', partition: '0' },
      });
      expect(read.status).toBe(403);
      const lines = [...info.mock.calls, ...warn.mock.calls].map(([, fields]) => fields as Record<string, unknown>);
      const mine = lines.filter((l) => l?.audit === true && l.principal === `jwt:${subject}`);
      expect(mine.map((l) => [l.operation, l.resourceType, l.resourceName, l.allowed, l.reason])).toStrictEqual([
        ['create', 'topic', 'audited', true, 'allowed'],
        ['delete', 'topic', 'audited', false, 'noRule'],
        ['read', 'topic', 'orders', false, 'noRule'],
      ]);
    } finally {
      info.mockRestore();
      warn.mockRestore();
    }
  });
});
