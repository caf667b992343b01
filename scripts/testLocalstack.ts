/**
 * `npm run test:localstack`: the integration and end-to-end suites against a LocalStack you already
 * run (after `npm run deploy:local`). Arguments go to vitest: `npm run test:localstack -- -t tiering`.
 *
 *   LOCALSTACK_ENDPOINT    LocalStack's endpoint (else AWS_ENDPOINT_URL, else http://localhost:4566)
 *   SLUICE_API_URL         the deployed API to test end to end (HTTP APIs are a paid LocalStack
 *                          feature); unset, the end-to-end tests serve the handlers' routes from the
 *                          in-process local gateway on LocalStack's DynamoDB
 *   SLUICE_SEGMENT_BUCKET  the segment bucket (else sluice-test-segments, created here)
 *   AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY  default us-east-1, test, test
 *
 * It checks LocalStack's health first and says plainly what is missing, without running vitest.
 * The decisions live in local/localstack.ts; this file does the I/O.
 */
import type { BucketLocationConstraint } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  HEALTH_TIMEOUT_MS,
  LocalstackSetupError,
  describeRequestFailure,
  describeRun,
  interpretHealth,
  missingServicesMessage,
  resolveLocalstackConfig,
  unreachableMessage,
  type LocalstackConfig,
  type LocalstackHealth,
} from '../local/localstack.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Ends the run with a message for the user (never a stack trace). */
function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

async function checkHealth(config: LocalstackConfig): Promise<LocalstackHealth> {
  const url = `${config.endpoint}/_localstack/health`;
  let status: number;
  let body: unknown;
  try {
    // One deadline for the answer and its body.
    const response = await fetch(url, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
    status = response.status;
    body = await response.json().catch((e: unknown) => {
      if ((e as Error)?.name === 'TimeoutError') throw e;
      return undefined;
    });
  } catch (e) {
    fail(unreachableMessage(config, describeRequestFailure(e, HEALTH_TIMEOUT_MS)));
  }
  const health = status >= 200 && status < 300 ? interpretHealth(body) : undefined;
  if (health === undefined) {
    fail(unreachableMessage(config, `something answers there, but not like LocalStack (HTTP ${status} from ${url})`));
  }
  if (health.missing.length > 0) fail(missingServicesMessage(config, health));
  return health;
}

/** The segment bucket exists: created when it is the script's test bucket, else checked. */
async function ensureBucket(config: LocalstackConfig): Promise<void> {
  // Loaded here so that a missing LocalStack is reported without loading the SDK.
  const { S3Client, HeadBucketCommand, CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const { env } = config;
  const client = new S3Client({
    endpoint: config.endpoint,
    region: config.region,
    forcePathStyle: true,
    credentials: {
      accessKeyId: env.AWS_ACCESS_KEY_ID!,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY!,
      ...(env.AWS_SESSION_TOKEN === undefined ? {} : { sessionToken: env.AWS_SESSION_TOKEN }),
    },
    maxAttempts: 2,
    requestHandler: { connectionTimeout: HEALTH_TIMEOUT_MS, requestTimeout: 10_000 },
  });
  const Bucket = config.bucket.name;
  try {
    try {
      await client.send(new HeadBucketCommand({ Bucket }));
      return;
    } catch (e) {
      if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 404) throw e;
    }
    if (!config.bucket.create) {
      fail(
        `The bucket ${Bucket} (SLUICE_SEGMENT_BUCKET) does not exist at ${config.endpoint}.\n` +
          'Set SLUICE_SEGMENT_BUCKET to the SegmentBucketName output of npm run deploy:local, or unset it to let ' +
          'npm run test:localstack create a test bucket.',
      );
    }
    // us-east-1 takes no location constraint; every other region requires one.
    const location = config.region === 'us-east-1' ? undefined : (config.region as BucketLocationConstraint);
    try {
      const constraint = location === undefined ? {} : { CreateBucketConfiguration: { LocationConstraint: location } };
      await client.send(new CreateBucketCommand({ Bucket, ...constraint }));
    } catch (e) {
      // Created by a run in parallel: fine.
      if ((e as Error).name !== 'BucketAlreadyOwnedByYou') throw e;
    }
  } catch (e) {
    const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const name = (e as Error).name;
    const http = status === undefined ? '' : ` (HTTP ${status})`;
    const what = `${name === 'Error' ? '' : `${name}: `}${describeRequestFailure(e)}${http}`;
    fail(`S3 at ${config.endpoint} did not let the run use the bucket ${Bucket}: ${what}.`);
  } finally {
    client.destroy();
  }
}

function runVitest(config: LocalstackConfig, args: string[]): Promise<number> {
  const vitestArgs = ['run', '--project', 'integration', '--project', 'e2e', ...args];
  console.log(`# vitest ${vitestArgs.join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), ...vitestArgs], {
      cwd: root,
      env: config.env,
      stdio: 'inherit',
    });
    // Ctrl-C reaches vitest through the terminal; wait for it to clean up rather than dying first.
    const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
    process.on('SIGINT', () => {});
    process.on('SIGTERM', forward('SIGTERM'));
    child.on('error', (e) => fail(`Could not start vitest: ${e.message}. Run npm ci, then try again.`));
    child.on('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  });
}

let config: LocalstackConfig;
try {
  config = resolveLocalstackConfig(process.env);
} catch (e) {
  fail(e instanceof LocalstackSetupError ? e.message : `test:localstack could not start: ${String(e)}`);
}
const health = await checkHealth(config);
await ensureBucket(config);
for (const line of describeRun(config, health)) console.log(`# ${line}`);
process.exit(await runVitest(config, process.argv.slice(2)));
