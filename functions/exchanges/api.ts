import { parseBinding } from '../../core/exchanges/exchange.ts';
import type { PublishRequest } from '../../core/exchanges/exchanges.ts';
import { exchanges, metrics } from '../runtime.ts';
import { httpHandler, type HttpEvent } from '../http/httpHandler.ts';
import { InvalidRequest } from '../http/httpErrors.ts';
import { objectBody, onlyKeys, recordFromWire } from '../http/wire.ts';
import { access, authorize, visible } from '../security/authorization.ts';

const exchangeName = (event: HttpEvent): string => event.pathParameters!.exchange!;
const onExchange = (operation: 'create' | 'delete' | 'alter' | 'write' | 'describe', event: HttpEvent) =>
  access(operation, 'exchange', exchangeName(event));

const PUBLISH_KEYS = [
  'routingKey',
  'headers',
  'value',
  'key',
  'messageId',
  'expiration',
  'mandatory',
  'keyEncoding',
  'valueEncoding',
  'headerEncodings',
];

/** Exchanges: declare, delete, bind, unbind, list, describe, publish. */
export const handler = httpHandler({
  'PUT /v1/exchanges/{exchange}': async (event) => {
    await authorize(event, onExchange('create', event));
    const { exchange, created } = await exchanges.declare(exchangeName(event), event.json);
    return { status: created ? 201 : 200, body: { ...exchange, created } };
  },
  'DELETE /v1/exchanges/{exchange}': async (event) => {
    await authorize(event, onExchange('delete', event));
    await exchanges.delete(exchangeName(event));
    return { status: 204 };
  },
  'GET /v1/exchanges': async (event) => {
    const listed = await exchanges.list();
    return {
      status: 200,
      body: { exchanges: await visible(event, listed, (x) => access('describe', 'exchange', x.name)) },
    };
  },
  'GET /v1/exchanges/{exchange}': async (event) => {
    await authorize(event, onExchange('describe', event));
    return { status: 200, body: await exchanges.describe(exchangeName(event)) };
  },
  // The binder needs write on the destination: the publisher's right is checked on the exchange only.
  'POST /v1/exchanges/{exchange}/bindings': async (event) => {
    const binding = parseBinding(event.json);
    const destination =
      'topic' in binding.destination
        ? access('write', 'topic', binding.destination.topic)
        : access('write', 'exchange', binding.destination.exchange);
    await authorize(event, onExchange('alter', event), destination);
    const { binding: stored, created } = await exchanges.bind(exchangeName(event), binding);
    return { status: created ? 201 : 200, body: { binding: stored, created } };
  },
  'DELETE /v1/exchanges/{exchange}/bindings': async (event) => {
    const binding = parseBinding(event.json);
    await authorize(event, onExchange('alter', event));
    await exchanges.unbind(exchangeName(event), binding);
    return { status: 204 };
  },
  'POST /v1/exchanges/{exchange}/messages': async (event) => {
    await authorize(event, onExchange('write', event));
    const body = objectBody(event.json);
    onlyKeys(body, PUBLISH_KEYS);
    const { routingKey, messageId, expiration, mandatory, ...wire } = body;
    if (!('value' in wire)) throw new InvalidRequest('value', 'a message needs a value (any JSON value)');
    const record = recordFromWire(wire, 0) as Pick<PublishRequest, 'key' | 'value' | 'headers'>;
    const result = await exchanges.publish(exchangeName(event), {
      ...record,
      routingKey: routingKey as string,
      ...(messageId === undefined ? {} : { messageId: messageId as string }),
      ...(expiration === undefined ? {} : { expiration: expiration as number }),
      ...(mandatory === undefined ? {} : { mandatory: mandatory as boolean }),
    });
    metrics.addMetric('MessagesRouted', 'Count', result.routed.length);
    return { status: 200, body: result };
  },
});
