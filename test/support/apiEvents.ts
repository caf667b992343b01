import { readFileSync } from 'node:fs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';

/** A real-shaped API Gateway HTTP API (payload 2.0) event, recorded from an IAM-authorized call. */
const recorded = JSON.parse(
  readFileSync(new URL('../fixtures/apigw/produce-request.json', import.meta.url), 'utf8'),
) as APIGatewayProxyEventV2;

export interface EventSpec {
  readonly method: string;
  /** Route path with `{param}`s, as in functions/http/routes.ts. */
  readonly route: string;
  readonly pathParameters?: Record<string, string>;
  readonly query?: Record<string, string>;
  /** A raw string body, or anything else to JSON-encode. */
  readonly body?: unknown;
  readonly base64?: boolean;
}

/** The recorded event, re-aimed at another route with other parameters and body. */
export function apiEvent(spec: EventSpec): APIGatewayProxyEventV2 {
  const path = spec.route.replace(/\{(\w+)\}/g, (_, name: string) =>
    encodeURIComponent(spec.pathParameters?.[name] ?? ''),
  );
  const text =
    spec.body === undefined ? undefined : typeof spec.body === 'string' ? spec.body : JSON.stringify(spec.body);
  const routeKey = `${spec.method} ${spec.route}`;
  const event: APIGatewayProxyEventV2 = {
    ...structuredClone(recorded),
    routeKey,
    rawPath: path,
    rawQueryString: new URLSearchParams(spec.query ?? {}).toString(),
    requestContext: {
      ...structuredClone(recorded.requestContext),
      routeKey,
      http: { ...recorded.requestContext.http, method: spec.method, path },
    },
    isBase64Encoded: spec.base64 === true,
  };
  delete event.pathParameters;
  delete event.queryStringParameters;
  delete event.body;
  if (spec.pathParameters !== undefined) event.pathParameters = spec.pathParameters;
  if (spec.query !== undefined) event.queryStringParameters = spec.query;
  if (text !== undefined) event.body = spec.base64 === true ? Buffer.from(text).toString('base64') : text;
  return event;
}

export const lambdaContext = {
  awsRequestId: 'test-request',
  functionName: 'sluice-test',
  getRemainingTimeInMillis: () => 30_000,
} as unknown as Context;

export type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

export async function invoke(handler: Handler, spec: EventSpec): Promise<{ status: number; body: any }> {
  const result = await handler(apiEvent(spec), lambdaContext);
  return { status: result.statusCode ?? 200, body: result.body === undefined ? undefined : JSON.parse(result.body) };
}
