import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { WebSocketEvent, WebSocketResult } from '../functions/subscriptions/websocket.ts';
import { refuseForeignRequest } from './admission.ts';

export type LambdaWebSocketHandler = (event: WebSocketEvent, context: never) => Promise<WebSocketResult>;

/** The path the local gateway serves the WebSocket API on (API Gateway serves it on its own host). */
export const WATCH_PATH = '/v1/watch';
/** The routes the stack deploys; other actions go to `$default` (route selection `$request.body.action`). */
const ROUTES = new Set(['watch', 'unwatch']);
/** API Gateway's limits: connections last 2 hours at most and close after 10 idle minutes. */
const CONNECTION_LIFETIME_MS = 2 * 60 * 60 * 1000;
const IDLE_TIMEOUT_MS = 10 * 60 * 1000;
/** API Gateway's message payload limit. */
const MAX_MESSAGE_BYTES = 128 * 1024;

/**
 * The local stand-in for the API Gateway WebSocket API, on the gateway's own port: upgrades
 * `GET /v1/watch` (after the same admission checks as HTTP requests), calls the handler the stack
 * deploys with API Gateway's WebSocket events (`$connect`, the `watch`/`unwatch` routes or
 * `$default`, `$disconnect`) and sends route responses back; and serves the management API
 * (`POST`/`DELETE /@connections/{id}`, 410 GoneException for an unknown connection) that the
 * notifier posts doorbells to, as it does on AWS. The `ws` package does the RFC 6455 framing
 * (masking, fragmentation, ping/pong, close): a hand-written server would have to get all of
 * that right for a local tool, and `ws` is small, dependency-free and the reference
 * implementation Node's ecosystem tests against.
 */
export function attachWebSocketApi(options: {
  readonly server: Server;
  readonly handler: LambdaWebSocketHandler;
  readonly trustPrincipalHeader: boolean;
}): { handleManagement(req: IncomingMessage, res: ServerResponse): boolean; close(): void } {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  const connections = new Map<string, WebSocket>();
  const port = (): number => {
    const a = options.server.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  };
  const context = (requestId: string) =>
    ({ awsRequestId: requestId, functionName: 'sluice-websocket', getRemainingTimeInMillis: () => 29_000 }) as never;
  const event = (
    connectionId: string,
    routeKey: string,
    eventType: 'CONNECT' | 'MESSAGE' | 'DISCONNECT',
    connectedAt: number,
    extra: Partial<WebSocketEvent> & { identity?: { userArn?: string } } = {},
  ): WebSocketEvent => {
    const now = Date.now();
    const { identity, ...rest } = extra;
    return {
      requestContext: {
        routeKey,
        eventType,
        connectionId,
        connectedAt,
        messageId: randomUUID(),
        extendedRequestId: randomUUID(),
        requestId: randomUUID(),
        requestTime: new Date(now).toISOString(),
        requestTimeEpoch: now,
        messageDirection: 'IN',
        stage: 'local',
        domainName: `127.0.0.1:${port()}`,
        apiId: 'local',
        ...(identity === undefined ? {} : { identity }),
      },
      ...rest,
    };
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const refuse = (status: number, reason: string): void => {
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (new URL(req.url ?? '/', 'http://local').pathname !== WATCH_PATH) return refuse(404, 'Not Found');
    if (refuseForeignRequest(req.headers, port()) !== undefined) return refuse(403, 'Forbidden');
    const connectionId = randomBytes(12).toString('base64'); // API Gateway's ids look like this
    const connectedAt = Date.now();
    const principal = options.trustPrincipalHeader ? req.headers['x-sluice-principal'] : undefined;
    const identity =
      typeof principal === 'string' && principal.startsWith('iam:') ? { userArn: principal.slice(4) } : undefined;
    const connect = event(connectionId, '$connect', 'CONNECT', connectedAt, identity === undefined ? {} : { identity });
    options
      .handler(connect, context(connect.requestContext.requestId))
      .then((result) => {
        if (result.statusCode < 200 || result.statusCode > 299) return refuse(result.statusCode, 'Refused');
        wss.handleUpgrade(req, socket, head, (ws) => serve(ws, connectionId, connectedAt));
      })
      .catch(() => refuse(500, 'Internal Server Error'));
  };

  const serve = (ws: WebSocket, connectionId: string, connectedAt: number): void => {
    connections.set(connectionId, ws);
    const lifetime = setTimeout(() => ws.close(1001, 'Going away'), CONNECTION_LIFETIME_MS).unref();
    let idle = setTimeout(() => ws.close(1001, 'Going away'), IDLE_TIMEOUT_MS).unref();
    ws.on('message', (data, isBinary) => {
      clearTimeout(idle);
      idle = setTimeout(() => ws.close(1001, 'Going away'), IDLE_TIMEOUT_MS).unref();
      const body = Buffer.isBuffer(data) ? data : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]);
      const action = routeOf(isBinary ? undefined : body.toString('utf8'));
      const message = event(connectionId, action, 'MESSAGE', connectedAt, {
        body: isBinary ? body.toString('base64') : body.toString('utf8'),
        isBase64Encoded: isBinary,
      });
      options
        .handler(message, context(message.requestContext.requestId))
        .then((result) => {
          if (result.body !== undefined && ws.readyState === ws.OPEN) ws.send(result.body);
        })
        .catch((e: unknown) => console.error(`WebSocket ${action}: the handler threw:`, e));
    });
    ws.on('close', () => {
      clearTimeout(lifetime);
      clearTimeout(idle);
      connections.delete(connectionId);
      const gone = event(connectionId, '$disconnect', 'DISCONNECT', connectedAt);
      options
        .handler(gone, context(gone.requestContext.requestId))
        .catch((e: unknown) => console.error('WebSocket $disconnect: the handler threw:', e));
    });
  };

  options.server.on('upgrade', onUpgrade);

  return {
    /** `POST /@connections/{id}` sends the body as a text frame; `DELETE` closes. False for other paths. */
    handleManagement(req, res) {
      const match = /^\/@connections\/([^/?]+)$/.exec(new URL(req.url ?? '/', 'http://local').pathname);
      if (match === null) return false;
      const ws = connections.get(decodeURIComponent(match[1]!));
      const reply = (status: number, body?: object, error?: string): void => {
        res.writeHead(status, {
          'content-type': 'application/json',
          ...(error === undefined ? {} : { 'x-amzn-errortype': error }),
        });
        res.end(body === undefined ? undefined : JSON.stringify(body));
      };
      if (ws === undefined || ws.readyState !== ws.OPEN) {
        req.resume();
        reply(410, { message: 'Gone' }, 'GoneException');
        return true;
      }
      if (req.method === 'DELETE') {
        req.resume();
        ws.close(1000);
        reply(204);
        return true;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        ws.send(Buffer.concat(chunks).toString('utf8'));
        reply(200);
      });
      return true;
    },
    close() {
      options.server.off('upgrade', onUpgrade);
      for (const ws of connections.values()) {
        ws.removeAllListeners('close'); // the stack is stopping: no $disconnect into stopped storage
        ws.terminate();
      }
      wss.close();
    },
  };
}

/** API Gateway's route selection on `$request.body.action`: a deployed route, else `$default`. */
function routeOf(text: string | undefined): string {
  if (text === undefined) return '$default';
  try {
    const action = (JSON.parse(text) as { action?: unknown }).action;
    return typeof action === 'string' && ROUTES.has(action) ? action : '$default';
  } catch {
    return '$default';
  }
}
