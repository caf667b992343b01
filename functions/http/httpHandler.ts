import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { isSluiceError } from '../../core/errors.ts';
import { SLUICE_CHAIN, errorSummary, logger, metrics, tracer } from '../powertools.ts';
import type { Caller } from '../../core/security/authorizer.ts';
import { callerOf, DEFAULT_PRINCIPAL_CLAIMS } from './caller.ts';
import { InvalidRequest, RequestTooLarge, RouteNotFound, statusForCode } from './httpErrors.ts';

/** An API Gateway v2 event whose JSON body has been parsed, and who sent it. */
export interface HttpEvent extends APIGatewayProxyEventV2 {
  readonly json: unknown;
  readonly caller: Caller;
}

/** JWT claims that name the caller besides its subject: `SLUICE_JWT_PRINCIPAL_CLAIMS`, comma-separated. */
const principalClaims =
  process.env.SLUICE_JWT_PRINCIPAL_CLAIMS === undefined
    ? DEFAULT_PRINCIPAL_CLAIMS
    : process.env.SLUICE_JWT_PRINCIPAL_CLAIMS.split(',')
        .map((c) => c.trim())
        .filter((c) => c !== '');

export interface HttpResult {
  readonly status: number;
  readonly body?: unknown;
}

/** A route: the event, and the Lambda context for its remaining time (long work stops before the end). */
export type RouteHandler = (event: HttpEvent, context: Context) => Promise<HttpResult>;

/** Time a route keeps for answering after its work stops: the response, logs and metrics. */
export const ANSWER_MARGIN_MS = 3_000;

/** The epoch-ms time by which a route's work must stop, so it still answers in time. */
export function deadlineOf(context: Context): number {
  return Date.now() + context.getRemainingTimeInMillis() - ANSWER_MARGIN_MS;
}

/** Largest request body accepted: Lambda's 6 MB synchronous payload limit, less some headroom. */
export const MAX_BODY_BYTES = 6_000_000;

function response(status: number, body?: unknown): APIGatewayProxyStructuredResultV2 {
  return body === undefined
    ? { statusCode: status }
    : { statusCode: status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function parseBody(event: APIGatewayProxyEventV2): unknown {
  if (event.body === undefined || event.body === '') return undefined;
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) throw new RequestTooLarge(MAX_BODY_BYTES);
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidRequest('body', 'The request body is not valid JSON');
  }
}

/**
 * Builds one Lambda handler serving several routes: Powertools logging, metrics and tracing, a
 * JSON body parser, and one error mapper. Domain errors become their 4xx with
 * `{"error": {code, message, ...context}}`; anything else is a 500 that names only the request id.
 */
export function httpHandler(routes: Record<string, RouteHandler>) {
  const dispatch = async (
    event: APIGatewayProxyEventV2,
    context: Context,
  ): Promise<APIGatewayProxyStructuredResultV2> => {
    metrics.addMetric('Requests', 'Count', 1);
    try {
      const route = Object.hasOwn(routes, event.routeKey) ? routes[event.routeKey] : undefined;
      if (route === undefined) throw new RouteNotFound(event.routeKey);
      const result = await route(
        { ...event, json: parseBody(event), caller: callerOf(event, principalClaims) },
        context,
      );
      return response(result.status, result.body);
    } catch (e) {
      if (isSluiceError(e)) {
        const status = statusForCode(e.code);
        if (status !== undefined) {
          metrics.addMetric(`ClientError.${e.code}`, 'Count', 1);
          return response(status, { error: e.toJSON() });
        }
      }
      logger.error('Unhandled error', { error: errorSummary(e) }); // no message or stack: they may carry data
      metrics.addMetric('ServerError', 'Count', 1);
      // Stored bytes failing a checksum is a server fault, but a typed one: say so, without details.
      const code = isSluiceError(e, 'CorruptData') ? 'CorruptData' : 'InternalError';
      const message =
        code === 'CorruptData'
          ? 'Stored data failed an integrity check; nothing was returned'
          : 'Internal server error';
      return response(500, { error: { code, message, requestId: context.awsRequestId } });
    }
  };
  // The last resort, a second before Lambda's own timeout (routes stop their work earlier, see
  // deadlineOf): a typed, retriable 503 instead of a bare timeout.
  const chain = middy(dispatch, {
    timeoutEarlyInMillis: 1_000,
    timeoutEarlyResponse: () =>
      response(503, {
        error: {
          code: 'Timeout',
          message:
            'The request ran out of time and may be partly done; retry it (with an idempotent producer for appends)',
        },
      }),
  })
    .use(captureLambdaHandler(tracer, { captureResponse: false })) // responses carry record data
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics));
  return Object.assign(chain, { [SLUICE_CHAIN]: 'http' as const });
}
