import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../infra/sluiceFunction.ts';

/**
 * Lambda's Invoke and Secrets Manager's GetSecretValue on one machine, served over their own wire
 * protocols so that the subscription dispatcher's AWS SDK clients work unchanged (pointed here by
 * `AWS_ENDPOINT_URL_LAMBDA` and `AWS_ENDPOINT_URL_SECRETS_MANAGER`). A function is a handler
 * module (`path/to/module.ts#export`, relative to the project); a secret is a name and its value.
 */
export interface LocalAwsServicesOptions {
  /** Function name → `module.ts#export` (the export defaults to `handler`). */
  readonly functions?: Readonly<Record<string, string>>;
  /** Secret name → value (local only: never put a real secret here). */
  readonly secrets?: Readonly<Record<string, string>>;
}

export interface LocalAwsServices {
  readonly endpoint: string;
  /** Adds or replaces a function (tests register handlers as they go). */
  defineFunction(name: string, handler: (event: unknown) => Promise<unknown>): void;
  defineSecret(name: string, value: string): void;
  stop(): Promise<void>;
}

const INVOKE = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;
const MAX_BODY = 6 * 1024 * 1024; // Lambda's synchronous payload limit

export async function startLocalAwsServices(options: LocalAwsServicesOptions = {}): Promise<LocalAwsServices> {
  const functions = new Map<string, (event: unknown) => Promise<unknown>>();
  for (const [name, spec] of Object.entries(options.functions ?? {})) {
    const [path, exported = 'handler'] = spec.split('#') as [string, string?];
    functions.set(name, async (event) => {
      const module = (await import(join(PROJECT_ROOT, path))) as Record<string, unknown>;
      const handler = module[exported] as (event: unknown, context: unknown) => Promise<unknown>;
      return handler(event, {
        functionName: name,
        awsRequestId: crypto.randomUUID(),
        getRemainingTimeInMillis: () => 30_000,
      });
    });
  }
  const secrets = new Map(Object.entries(options.secrets ?? {}));

  const server = createServer((req, res) => {
    void serve(req, res).catch(() => send(res, 500, { message: 'internal error' }));
  });
  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await read(req);
    if (body === undefined) return send(res, 413, { message: 'request too large' });
    const invoke = req.method === 'POST' ? INVOKE.exec(req.url?.split('?')[0] ?? '') : null;
    if (invoke !== null) {
      // A name, or the last part of an ARN (arn:aws:lambda:region:account:function:name[:qualifier]).
      const ref = decodeURIComponent(invoke[1]!);
      const name = ref.startsWith('arn:') ? ref.split(':')[6]! : ref.split(':')[0]!;
      const fn = functions.get(name);
      if (fn === undefined)
        return send(
          res,
          404,
          { Type: 'User', message: `Function not found: ${name}` },
          {
            'x-amzn-errortype': 'ResourceNotFoundException',
          },
        );
      try {
        const out = await fn(body.length === 0 ? {} : JSON.parse(body.toString('utf8')));
        return send(res, 200, out ?? null);
      } catch (e) {
        // As Lambda reports a function's error: 200, the error in the payload, X-Amz-Function-Error.
        const error = {
          errorType: e instanceof Error ? e.name : 'Error',
          errorMessage: e instanceof Error ? e.message : String(e),
        };
        return send(res, 200, error, { 'x-amz-function-error': 'Unhandled' });
      }
    }
    if (req.method === 'POST' && req.headers['x-amz-target'] === 'secretsmanager.GetSecretValue') {
      const { SecretId } = JSON.parse(body.toString('utf8')) as { SecretId?: string };
      const name = SecretId?.startsWith('arn:') ? SecretId.split(':')[6]! : (SecretId ?? '');
      const value = secrets.get(name);
      if (value === undefined)
        return send(
          res,
          400,
          { __type: 'ResourceNotFoundException', message: 'Secrets Manager can’t find the specified secret.' },
          {},
          'application/x-amz-json-1.1',
        );
      return send(
        res,
        200,
        {
          ARN: `arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}`,
          Name: name,
          SecretString: value,
          VersionId: 'local',
        },
        {},
        'application/x-amz-json-1.1',
      );
    }
    return send(res, 404, { message: 'not a local AWS operation' });
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    defineFunction: (name, handler) => void functions.set(name, handler),
    defineSecret: (name, value) => void secrets.set(name, value),
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function read(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  type = 'application/json',
): void {
  res.writeHead(status, { 'content-type': type, ...headers });
  res.end(JSON.stringify(body));
}
