import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import { createTables } from '../core/adapters/dynamodb/createTables.ts';
import { TABLE_NAME_ENV, type TableNames } from '../core/schema.ts';
import type { HandlerName } from '../functions/http/routes.ts';
import { dynamoClientFromEnv, localAwsEnv } from './awsEnv.ts';
import { startDynamoDbLocal } from './dynamoDbLocal.ts';
import { startLocalGateway, type LambdaHttpHandler } from './gateway.ts';

export interface LocalStackOptions {
  /** Gateway port (default 7070; 0 picks a free one). */
  readonly port?: number;
  /** Keep data under this folder; omit for in-memory, throwaway storage. */
  readonly dataDir?: string;
  /** Use this DynamoDB endpoint instead of starting DynamoDB Local. */
  readonly dynamoEndpoint?: string;
  /** DynamoDB Local port (default: a free one). */
  readonly dynamoPort?: number;
  readonly tables?: TableNames;
  readonly bucket?: string;
}

export interface LocalStack {
  readonly url: string;
  readonly dynamoEndpoint: string;
  readonly s3Endpoint: string;
  readonly tables: TableNames;
  readonly bucket: string;
  readonly dynamoLoopbackOnly: boolean;
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
          ...(options.dataDir === undefined ? {} : { dbPath: join(options.dataDir, 'dynamodb') }),
        })
      : undefined;
  const dynamoEndpoint = options.dynamoEndpoint ?? dynamo!.endpoint;

  const s3Dir = options.dataDir === undefined ? mkdtempSync(join(tmpdir(), 'sluice-s3-')) : join(options.dataDir, 's3');
  mkdirSync(s3Dir, { recursive: true });
  const bucket = options.bucket ?? 'sluice-segments';
  const s3 = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: s3Dir, configureBuckets: [{ name: bucket, configs: [] }] });
  const s3Address = await s3.run();
  const s3Endpoint = `http://127.0.0.1:${s3Address.port}`;

  const tables = options.tables ?? { log: 'sluice-log', metadata: 'sluice-metadata' };
  Object.assign(process.env, localAwsEnv(dynamoEndpoint), {
    AWS_ENDPOINT_URL_S3: s3Endpoint,
    // s3rver stores aws-chunked framing as content unless checksums are only sent when required.
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
    [TABLE_NAME_ENV.log]: tables.log,
    [TABLE_NAME_ENV.metadata]: tables.metadata,
    SLUICE_SEGMENT_BUCKET: bucket,
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
  });
  await createTables(dynamoClientFromEnv(), tables);

  const handlers: Record<HandlerName, LambdaHttpHandler> = {
    topics: (await import('../functions/http/topics.ts')).handler as unknown as LambdaHttpHandler,
    produce: (await import('../functions/http/produce.ts')).handler as unknown as LambdaHttpHandler,
    fetch: (await import('../functions/http/fetch.ts')).handler as unknown as LambdaHttpHandler,
    groups: (await import('../functions/http/groups.ts')).handler as unknown as LambdaHttpHandler,
  };
  const gateway = await startLocalGateway({ port: options.port ?? 7070, handlers });

  return {
    url: gateway.url,
    dynamoEndpoint,
    s3Endpoint,
    tables,
    bucket,
    dynamoLoopbackOnly: dynamo?.loopbackOnly ?? true,
    async stop() {
      await gateway.close();
      await s3.close();
      await dynamo?.stop();
      if (options.dataDir === undefined) rmSync(s3Dir, { recursive: true, force: true });
    },
  };
}
