import { httpHandler, type HttpEvent } from '../http/httpHandler.ts';
import { objectBody } from '../http/wire.ts';
import { access, authorize, visible } from '../security/authorization.ts';
import { subscriptions } from './service.ts';

const name = (event: HttpEvent): string => event.pathParameters!.subscription!;
const key = (event: HttpEvent): string => event.pathParameters!.key!;
const onSubscription = (operation: 'create' | 'alter' | 'describe' | 'delete', event: HttpEvent, n = name(event)) =>
  access(operation, 'subscription', n);
/** Naming a dead-letter topic needs the right to write there (as a share group's does). */
const onFailureTarget = (body: Record<string, unknown>) => {
  const f = body.onFailure;
  return typeof f === 'object' && f !== null && typeof (f as { topic?: unknown }).topic === 'string'
    ? [access('write', 'topic', (f as { topic: string }).topic)]
    : [];
};

/** Subscriptions: push delivery of a topic to a Lambda function or an HTTPS endpoint. */
export const handler = httpHandler({
  'POST /v1/subscriptions': async (event) => {
    const body = objectBody(event.json);
    // Names that are not strings are refused by validation, before anything is written.
    if (typeof body.name === 'string' && typeof body.topic === 'string')
      await authorize(
        event,
        onSubscription('create', event, body.name),
        access('read', 'topic', body.topic),
        ...onFailureTarget(body),
      );
    return { status: 201, body: await subscriptions.create(body) };
  },
  'GET /v1/subscriptions': async (event) => {
    const all = await visible(event, await subscriptions.list(), (s) => access('describe', 'subscription', s.name));
    return { status: 200, body: { subscriptions: all } };
  },
  'GET /v1/subscriptions/{subscription}': async (event) => {
    await authorize(event, onSubscription('describe', event));
    return { status: 200, body: await subscriptions.describe(name(event)) };
  },
  'PATCH /v1/subscriptions/{subscription}': async (event) => {
    const body = objectBody(event.json);
    await authorize(event, onSubscription('alter', event), ...onFailureTarget(body));
    return { status: 200, body: await subscriptions.update(name(event), body) };
  },
  'DELETE /v1/subscriptions/{subscription}': async (event) => {
    await authorize(event, onSubscription('delete', event));
    await subscriptions.delete(name(event));
    return { status: 204 };
  },
  'POST /v1/subscriptions/{subscription}/quarantine/{key}/release': async (event) => {
    await authorize(event, onSubscription('alter', event));
    return { status: 200, body: await subscriptions.release(name(event), key(event)) };
  },
  'POST /v1/subscriptions/{subscription}/quarantine/{key}/skip': async (event) => {
    await authorize(event, onSubscription('alter', event));
    return { status: 200, body: await subscriptions.skip(name(event), key(event)) };
  },
});
