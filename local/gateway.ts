import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { ROUTES, routeKey, type HandlerName } from '../functions/http/routes.ts';
import { refuseForeignRequest } from './admission.ts';

export type LambdaHttpHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

/** API Gateway HTTP APIs accept request payloads up to 10 MB. */
const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024; // API Gateway HTTP APIs' request payload limit
const MAX_LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024; // Lambda's synchronous invocation limit, each way
const INTEGRATION_TIMEOUT_MS = 29_000; // API Gateway gives up on an integration after this

interface CompiledRoute {
  readonly key: string;
  readonly method: string;
  readonly pattern: RegExp;
  readonly params: string[];
  readonly handler: HandlerName;
}

const compiled: CompiledRoute[] = ROUTES.map((route) => {
  const params: string[] = [];
  const source = route.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    params.push(name);
    return '([^/]+)';
  });
  return {
    key: routeKey(route),
    method: route.method,
    pattern: new RegExp(`^${source}$`),
    params,
    handler: route.handler,
  };
});

/**
 * The local stand-in for API Gateway: turns each HTTP request into an HTTP API payload v2.0 event,
 * calls the same handler the stack deploys for that route, and writes its result back.
 */
export function startLocalGateway(options: {
  readonly port: number;
  readonly host?: string;
  readonly handlers: Record<HandlerName, LambdaHttpHandler>;
  /** API Gateway's integration timeout (tests shorten it). @default 29000 */
  readonly integrationTimeoutMs?: number;
  /** Put the `x-sluice-principal` header's identity where API Gateway's authorizer puts one (tests only). */
  readonly trustPrincipalHeader?: boolean;
  /** Serves a request before the routes (the WebSocket API's management endpoint): true when it did. */
  readonly intercept?: (req: IncomingMessage, res: ServerResponse) => boolean;
}): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    const refused = refuseForeignRequest(req.headers, listeningPort(server, options.port));
    if (refused !== undefined) return send(res, refused); // before the body is read or a handler runs
    if (options.intercept?.(req, res) === true) return;
    handle(
      req,
      res,
      options.handlers,
      host,
      options.integrationTimeoutMs ?? INTEGRATION_TIMEOUT_MS,
      options.trustPrincipalHeader === true,
    ).catch((e: unknown) => {
      console.error(`${req.method} ${req.url}: 500, the handler threw:`, e); // a local user sees why
      send(res, { statusCode: 500, body: JSON.stringify({ message: 'Internal Server Error' }) });
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : options.port;
      resolve({
        server,
        url: `http://${host}:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  handlers: Record<HandlerName, LambdaHttpHandler>,
  host: string,
  timeoutMs: number,
  trustPrincipalHeader: boolean,
): Promise<void> {
  const url = new URL(req.url ?? '/', `http://${host}`);
  const method = (req.method ?? 'GET').toUpperCase();
  const route = compiled.find((r) => r.method === method && r.pattern.test(url.pathname));
  if (route === undefined) {
    return send(res, {
      statusCode: 404,
      body: JSON.stringify({ error: { code: 'RouteNotFound', message: `No route ${method} ${url.pathname}` } }),
    });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= MAX_PAYLOAD_BYTES) chunks.push(chunk as Buffer); // past the limit: read on, keep nothing
  }
  if (size > MAX_PAYLOAD_BYTES) {
    return send(res, {
      statusCode: 413,
      body: JSON.stringify({
        error: {
          code: 'RequestTooLarge',
          message: 'Request payloads are limited to 10 MB',
          limitBytes: MAX_PAYLOAD_BYTES,
        },
      }),
    });
  }
  const raw = Buffer.concat(chunks);
  const match = route.pattern.exec(url.pathname)!;
  const pathParameters = Object.fromEntries(route.params.map((name, i) => [name, safeDecode(match[i + 1]!)]));
  const event = toEvent(req, url, route, pathParameters, raw, host, trustPrincipalHeader);
  const where = `${method} ${url.pathname}`;
  // Lambda's own limits, as the deployed stack meets them: a 6 MB event and response, and API
  // Gateway's 29 s integration timeout, with the answers API Gateway gives.
  if (Buffer.byteLength(JSON.stringify(event)) > MAX_LAMBDA_PAYLOAD_BYTES) {
    return send(res, { statusCode: 413, body: JSON.stringify({ message: 'Request Entity Too Large' }) });
  }
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  const result = await Promise.race([
    handlers[route.handler](event, lambdaContext(route.handler, event.requestContext.requestId)),
    timedOut,
  ]).finally(() => clearTimeout(timer));
  if (result === 'timeout') {
    console.error(`${where}: 503, the handler did not answer within ${timeoutMs} ms`);
    return send(res, { statusCode: 503, body: JSON.stringify({ message: 'Service Unavailable' }) });
  }
  if (Buffer.byteLength(JSON.stringify(result)) > MAX_LAMBDA_PAYLOAD_BYTES) {
    console.error(`${where}: 500, the handler's response is over Lambda's 6 MB`);
    return send(res, { statusCode: 500, body: JSON.stringify({ message: 'Internal Server Error' }) });
  }
  if ((result.statusCode ?? 200) >= 500) console.error(`${where}: ${result.statusCode} ${result.body ?? ''}`);
  send(res, result);
}

function toEvent(
  req: IncomingMessage,
  url: URL,
  route: CompiledRoute,
  pathParameters: Record<string, string>,
  raw: Buffer,
  host: string,
  trustPrincipalHeader: boolean,
): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = name in query ? `${query[name]},${value}` : value;
  const contentType = headers['content-type'] ?? '';
  const textual = raw.length === 0 || /json|text|xml|x-www-form-urlencoded/.test(contentType) || contentType === '';
  const now = Date.now();
  return {
    version: '2.0',
    routeKey: route.key,
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    ...(route.params.length > 0 ? { pathParameters } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: `${host}`,
      domainPrefix: 'local',
      http: {
        method: route.method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: route.key,
      stage: '$default',
      time: new Date(now).toISOString(),
      timeEpoch: now,
      ...(trustPrincipalHeader ? authorizerFrom(headers['x-sluice-principal']) : {}),
    },
    ...(raw.length > 0 ? { body: textual ? raw.toString('utf8') : raw.toString('base64') } : {}),
    isBase64Encoded: raw.length > 0 && !textual,
  };
}

/** The authorizer context API Gateway would give a caller authenticated as `principal`. */
function authorizerFrom(principal: string | undefined): { authorizer?: object } {
  if (principal?.startsWith('iam:') === true)
    return { authorizer: { iam: { userArn: principal.slice(4), accountId: '000000000000' } } };
  if (principal?.startsWith('jwt:') === true)
    return { authorizer: { jwt: { claims: { sub: principal.slice(4) }, scopes: null } } };
  return {};
}

function lambdaContext(functionName: string, requestId: string): Context {
  const deadline = Date.now() + 30_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: `sluice-${functionName}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:sluice-${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/sluice-${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function send(res: ServerResponse, result: APIGatewayProxyStructuredResultV2): void {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  const body =
    result.body === undefined ? undefined : result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body;
  res.writeHead(result.statusCode ?? 200, headers);
  res.end(body);
}

function listeningPort(server: Server, fallback: number): number {
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : fallback;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
