import type { APIGatewayEventWebsocketRequestContextV2 } from 'aws-lambda';
import { isSluiceError } from '../../core/errors.ts';
import type { Caller } from '../../core/security/authorizer.ts';
import { eventHandler } from '../eventHandler.ts';
import { callerOf } from '../http/caller.ts';
import { InvalidRequest, statusForCode } from '../http/httpErrors.ts';
import { errorSummary, logger, metrics } from '../powertools.ts';
import { watchers } from './watchers.ts';

/** An API Gateway WebSocket event (payload as the Lambda proxy integration sends it). */
export interface WebSocketEvent {
  readonly requestContext: APIGatewayEventWebsocketRequestContextV2 & {
    /** On `$connect` with IAM authorization: who signed the request. */
    readonly identity?: { readonly userArn?: string | null };
  };
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
}

/** What the route answers: on message routes API Gateway sends `body` back to the client (a route response). */
export interface WebSocketResult {
  readonly statusCode: number;
  readonly body?: string;
}

/** Largest message a client sends (a watch of 100 long names fits easily). */
const MAX_MESSAGE_BYTES = 32 * 1024;
/** Codes of this capability, beside the HTTP API's. */
const STATUS: Record<string, number> = { UnknownConnection: 410 };

/**
 * The WebSocket API's routes (see the README's "Waiting for free"): `$connect` records the
 * caller, `watch` and `unwatch` change what the connection is rung for, `$disconnect` forgets it,
 * and `$default` answers anything else with an error frame. Frames back are
 * `{"type":"watching"|"unwatched","topics":[…]}` or `{"type":"error","action","error":{code,message,status}}`;
 * never a stack trace or an AWS message.
 */
export const handler = eventHandler(async (event: WebSocketEvent): Promise<WebSocketResult> => {
  const { routeKey, connectionId } = event.requestContext;
  metrics.addMetric('WebSocketRequests', 'Count', 1);
  let action = routeKey;
  try {
    if (routeKey === '$connect') {
      await watchers.connect(connectionId, callerOfConnect(event));
      return { statusCode: 200 };
    }
    if (routeKey === '$disconnect') {
      await watchers.disconnect(connectionId);
      return { statusCode: 200 };
    }
    const message = parseMessage(event);
    action = typeof message.action === 'string' ? message.action.slice(0, 50) : routeKey;
    if (routeKey === 'watch' && message.action === 'watch')
      return frame({ type: 'watching', ...(await watchers.watch(connectionId, message.topics)) });
    if (routeKey === 'unwatch' && message.action === 'unwatch')
      return frame({ type: 'unwatched', ...(await watchers.unwatch(connectionId, message.topics)) });
    return errorFrame(action, 'UnknownAction', 'Send {"action":"watch"|"unwatch","topics":[…]}');
  } catch (e) {
    if (isSluiceError(e)) {
      const status = STATUS[e.code] ?? statusForCode(e.code);
      if (status !== undefined && status < 500) {
        if (routeKey === '$connect') return { statusCode: status };
        return { statusCode: 200, body: JSON.stringify({ type: 'error', action, error: { ...e.toJSON(), status } }) };
      }
    }
    logger.error('WebSocket route failed', { routeKey, error: errorSummary(e) });
    if (routeKey === '$connect' || routeKey === '$disconnect') return { statusCode: 500 };
    return errorFrame(action, 'InternalError', 'Internal error', 500);
  }
});

function callerOfConnect(event: WebSocketEvent): Caller {
  const arn = event.requestContext.identity?.userArn;
  // The HTTP API's principal rules, for the identity IAM authorization put on the $connect request.
  return callerOf(
    {
      requestContext: { authorizer: typeof arn === 'string' ? { iam: { userArn: arn } } : undefined },
    } as never,
    [],
  );
}

function parseMessage(event: WebSocketEvent): { action?: unknown; topics?: unknown } {
  const text =
    event.isBase64Encoded === true ? Buffer.from(event.body ?? '', 'base64').toString('utf8') : (event.body ?? '');
  if (Buffer.byteLength(text) > MAX_MESSAGE_BYTES)
    throw new InvalidRequest('body', `Messages are limited to ${MAX_MESSAGE_BYTES} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new InvalidRequest('body', 'A message is a JSON object: {"action":"watch","topics":["orders"]}');
  return parsed;
}

function frame(body: object): WebSocketResult {
  return { statusCode: 200, body: JSON.stringify(body) };
}

function errorFrame(action: string, code: string, message: string, status = 400): WebSocketResult {
  return frame({ type: 'error', action, error: { code, message, status } });
}
