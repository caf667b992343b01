import './powertoolsEnv.ts'; // first: before any handler module builds its Powertools
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { createTables } from '../core/adapters/dynamodb/createTables.ts';
import { TABLE_NAME_ENV, type TableNames } from '../core/schema.ts';
import { WEBSOCKET_CALLBACK_ENV } from '../core/subscriptions/watchers.ts';
import type { HandlerName } from '../functions/http/routes.ts';
import { dynamoClientFromEnv, localAwsEnv } from './awsEnv.ts';
import { startDynamoDbLocal } from './dynamoDbLocal.ts';
import { startLocalAwsServices, type LocalAwsServices } from './awsServices.ts';
import { consoleAssets } from './consoleAssets.ts';
import { startLocalGateway, type LambdaHttpHandler } from './gateway.ts';
import { startLocalJobs, type LocalJobs, type LocalJobsOptions } from './jobs.ts';
import { startLocalSagas, type LocalSagas, type LocalSagasOptions } from './sagas.ts';
import { startS3Emulator } from './s3Emulator.ts';
import { startStreamPoller } from './streams.ts';
import { attachWebSocketApi, WATCH_PATH } from './webSocket.ts';

export interface LocalStackOptions {
  /** Gateway port (default 7070; 0 picks a free one). */
  readonly port?: number;
  /** Keep data under this folder; omit for in-memory, throwaway storage. */
  readonly dataDir?: string;
  /** Use this DynamoDB endpoint instead of starting DynamoDB Local. */
  readonly dynamoEndpoint?: string;
  /** DynamoDB Local port (default: a free one). */
  readonly dynamoPort?: number;
  /**
   * Start DynamoDB Local even where it cannot be bound to 127.0.0.1 (no `javac`), on every interface.
   * @default false: refuse to start, saying why
   */
  readonly dynamoAllInterfaces?: boolean;
  readonly tables?: TableNames;
  readonly bucket?: string;
  /** Use this S3 endpoint (LocalStack, AWS) and its existing `bucket` instead of starting the S3 emulator. */
  readonly s3Endpoint?: string;
  /** How often the segment roller runs, in ms (0: only through POST /v1/admin/tiering/run). @default 60000 */
  readonly tieringIntervalMs?: number;
  /**
   * Serve sagas: synthesize the CDK app (with the examples), create the tables it declares and run
   * its state machines locally. Off, the saga routes list no sagas (and start-up is ~4 s faster).
   * @default true
   */
  readonly sagas?: boolean | Omit<LocalSagasOptions, 'dynamo' | 'sluice' | 'tablePrefix'>;
  /**
   * Run the stream jobs the CDK app declares (`StreamProcessor`s, e.g. the fraud-detection
   * example) on a timer, from their handler modules. They come from the app `sagas` synthesizes,
   * so `sagas: false` leaves them out too.
   * @default true
   */
  readonly jobs?: boolean | Omit<LocalJobsOptions, 'functions'>;
  /** `acl`: only what ACL rules allow (see the README's Authorization). @default 'open' */
  readonly authorization?: 'acl' | 'open';
  /** Principals allowed everything (the stack's `adminPrincipals`). */
  readonly adminPrincipals?: readonly string[];
  /**
   * Take the caller's identity from the `x-sluice-principal` header (`iam:<ARN>` or
   * `jwt:<subject>`), as the deployed API takes it from its authorizer: for tests only, since
   * anyone who can reach the gateway may then claim to be anyone. Without it, callers are `anonymous`.
   */
  readonly trustPrincipalHeader?: boolean;
  /**
   * Functions subscriptions may deliver to, by name: `module.ts#export` (relative to the project),
   * served over Lambda's Invoke API as the dispatcher calls it in AWS.
   */
  readonly functions?: Readonly<Record<string, string>>;
  /** Webhook signing secrets by name, served over Secrets Manager's API (local values only). */
  readonly secrets?: Readonly<Record<string, string>>;
  /**
   * How often the subscription dispatcher runs every subscription (in AWS the log table's stream
   * rings it on appends, and a schedule every minute); 0 runs it only through `runSubscriptions()`.
   * @default 250
   */
  readonly subscriptionIntervalMs?: number;
  /**
   * Serve the WebSocket API (`ws://…/v1/watch`) and ring its watchers from the log table's stream,
   * read from DynamoDB Local as Lambda's event source reads it (local/streams.ts). `npm start` does.
   * @default false
   */
  readonly watchers?: boolean;
  /**
   * Serve the web console's build under /console/ (same origin as the API), from `dir` or
   * console/dist; `npm start` builds it first when stale (local/consoleBuild.ts).
   * @default true
   */
  readonly console?: boolean | { readonly dir: string };
}

export interface LocalStack {
  readonly url: string;
  /** The WebSocket API (`ws://127.0.0.1:<port>/v1/watch`), unless `watchers` is off. */
  readonly watchUrl: string | undefined;
  readonly dynamoEndpoint: string;
  readonly s3Endpoint: string;
  readonly tables: TableNames;
  readonly bucket: string;
  readonly dynamoLoopbackOnly: boolean;
  /** The local sagas, unless turned off. */
  readonly sagas: LocalSagas | undefined;
  /** The CDK app's stream jobs, run locally, unless turned off (or sagas are). */
  readonly jobs: LocalJobs | undefined;
  /** Lambda's Invoke and Secrets Manager's GetSecretValue, for subscription targets. */
  readonly aws: LocalAwsServices;
  /** Runs the subscription dispatcher once now, over every subscription (what the schedule does in AWS). */
  runSubscriptions(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The hermetic local stack: DynamoDB Local, the S3 emulator (s3rver, in-process) and the local
 * gateway serving the deployed handlers. The handlers read their configuration from the
 * environment exactly as in Lambda, so this sets it before loading them.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const dynamo =
    options.dynamoEndpoint === undefined
      ? await startDynamoDbLocal({
          ...(options.dynamoPort === undefined ? {} : { port: options.dynamoPort }),
          allowAllInterfaces: options.dynamoAllInterfaces ?? false,
          ...(options.dataDir === undefined ? {} : { dbPath: join(options.dataDir, 'dynamodb') }),
        })
      : undefined;
  const dynamoEndpoint = options.dynamoEndpoint ?? dynamo!.endpoint;

  const bucket = options.bucket ?? 'sluice-segments';
  const s3 =
    options.s3Endpoint === undefined
      ? await startS3Emulator({
          bucket,
          ...(options.dataDir === undefined ? {} : { directory: join(options.dataDir, 's3') }),
        })
      : undefined;
  const s3Env = s3?.env ?? {
    AWS_ENDPOINT_URL_S3: options.s3Endpoint!,
    SLUICE_S3_FORCE_PATH_STYLE: 'true',
    SLUICE_SEGMENT_BUCKET: bucket,
  };
  const s3Endpoint = s3Env.AWS_ENDPOINT_URL_S3;

  const tables = options.tables ?? { log: 'sluice-log', metadata: 'sluice-metadata' };
  const aws = await startLocalAwsServices({
    ...(options.functions === undefined ? {} : { functions: options.functions }),
    ...(options.secrets === undefined ? {} : { secrets: options.secrets }),
  });
  Object.assign(process.env, localAwsEnv(dynamoEndpoint), s3Env, {
    AWS_ENDPOINT_URL_LAMBDA: aws.endpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.endpoint,
    [TABLE_NAME_ENV.log]: tables.log,
    [TABLE_NAME_ENV.metadata]: tables.metadata,
    SLUICE_AUTHORIZATION: options.authorization ?? 'open',
    SLUICE_ADMIN_PRINCIPALS: (options.adminPrincipals ?? []).join(','),
  });
  await createTables(dynamoClientFromEnv(), tables);
  const sagas =
    options.sagas === false
      ? undefined
      : await startLocalSagas({
          ...(typeof options.sagas === 'object' ? options.sagas : {}),
          dynamo: dynamoClientFromEnv(),
          sluice: { ...tables, bucket },
          tablePrefix: `${tables.metadata}-`,
        });
  // After the sagas: they synthesized the app and set its functions' environment.
  const jobs =
    sagas === undefined || options.jobs === false
      ? undefined
      : startLocalJobs({
          ...(typeof options.jobs === 'object' ? options.jobs : {}),
          functions: sagas.resources.functions.values(),
        });

  let webSocketApi: ReturnType<typeof attachWebSocketApi> | undefined;
  const serveConsole =
    options.console === false ? undefined : consoleAssets(typeof options.console === 'object' ? options.console : {});
  const gateway = await startLocalGateway({
    port: options.port ?? 7070,
    handlers: await loadHttpHandlers(),
    trustPrincipalHeader: options.trustPrincipalHeader === true,
    intercept: (req, res) => webSocketApi?.handleManagement(req, res) === true || serveConsole?.(req, res) === true,
  });
  // The WebSocket API on the gateway's port, its management endpoint (where the notifier posts
  // doorbells, as to API Gateway's) on the same server, and the stream that rings it.
  let streamPoller: { stop(): Promise<void> } | undefined;
  if (options.watchers === true) {
    process.env[WEBSOCKET_CALLBACK_ENV] = gateway.url; // read when the notifier loads, as in Lambda
    const { handler: webSocketHandler } = await import('../functions/subscriptions/websocket.ts');
    webSocketApi = attachWebSocketApi({
      server: gateway.server,
      handler: webSocketHandler,
      trustPrincipalHeader: options.trustPrincipalHeader === true,
    });
    const { handler: dispatcher } = await import('../functions/subscriptions/dispatcher.ts');
    streamPoller = await startStreamPoller({
      dynamo: dynamoClientFromEnv(),
      table: tables.log,
      onBatch: (event) => dispatcher(event, streamContext()),
    });
  }
  // The roller on a timer, as the stack's schedule runs it in AWS.
  const { tiering } = await import('../functions/runtime.ts');
  const interval = options.tieringIntervalMs ?? 60_000;
  let rolling = false;
  const timer =
    interval > 0
      ? setInterval(() => {
          if (rolling) return;
          rolling = true;
          tiering
            .runOnce()
            .catch((e) => console.error('tiering run failed:', e))
            .finally(() => (rolling = false));
        }, interval)
      : undefined;
  timer?.unref();
  // The subscription dispatcher on a timer (one run at a time), as its schedule runs it in AWS.
  const dispatcher = (await import('../functions/subscriptions/dispatcher.ts')).handler as unknown as (
    event: unknown,
    context: unknown,
  ) => Promise<unknown>;
  let dispatching: Promise<void> | undefined;
  const runSubscriptions = (): Promise<void> =>
    (dispatching ??= dispatcher(
      {},
      { functionName: 'subscriptionDispatcher', awsRequestId: 'local', getRemainingTimeInMillis: () => 60_000 },
    )
      .then(() => undefined)
      .finally(() => (dispatching = undefined)));
  const subscriptionInterval = options.subscriptionIntervalMs ?? 250;
  const subscriptionTimer =
    subscriptionInterval > 0
      ? setInterval(() => {
          if (dispatching === undefined)
            void runSubscriptions().catch((e) => console.error('subscription run failed:', e));
        }, subscriptionInterval)
      : undefined;
  subscriptionTimer?.unref();

  return {
    url: gateway.url,
    watchUrl: webSocketApi === undefined ? undefined : `${gateway.url.replace(/^http/, 'ws')}${WATCH_PATH}`,
    dynamoEndpoint,
    s3Endpoint,
    tables,
    bucket,
    dynamoLoopbackOnly: dynamo?.loopbackOnly ?? true,
    sagas,
    jobs,
    aws,
    runSubscriptions,
    async stop() {
      clearInterval(timer);
      clearInterval(subscriptionTimer);
      await dispatching?.catch(() => undefined);
      await jobs?.stop();
      await aws.stop();
      await streamPoller?.stop();
      webSocketApi?.close();
      await gateway.close();
      await sagas?.stop();
      await s3?.stop();
      await dynamo?.stop();
    },
  };
}

/**
 * The deployed HTTP handlers (the modules of HANDLER_ENTRY, routes.ts), loaded after the
 * environment is set: they read it at load, as in Lambda.
 */
export async function loadHttpHandlers(): Promise<Record<HandlerName, LambdaHttpHandler>> {
  return {
    topics: (await import('../functions/log/topics.ts')).handler,
    produce: (await import('../functions/log/produce.ts')).handler,
    fetch: (await import('../functions/log/fetch.ts')).handler,
    groups: (await import('../functions/groups/api.ts')).handler,
    tiering: (await import('../functions/tiering/api.ts')).handler,
    sagas: (await import('../functions/sagas/api.ts')).handler,
    acls: (await import('../functions/security/acls.ts')).handler,
    transactions: (await import('../functions/transactions/api.ts')).handler,
    queues: (await import('../functions/queues/api.ts')).handler,
    exchanges: (await import('../functions/exchanges/api.ts')).handler,
    subscriptions: (await import('../functions/subscriptions/api.ts')).handler,
    eventStore: (await import('../functions/eventStore/api.ts')).handler,
    jobs: (await import('../functions/streams/api.ts')).handler,
  };
}

/** A Lambda context for the stream's invocations of the dispatcher (a one-minute timeout, as deployed). */
function streamContext(): Context {
  const deadline = Date.now() + 60_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'sluice-dispatcher',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:sluice-dispatcher',
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/sluice-dispatcher',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
