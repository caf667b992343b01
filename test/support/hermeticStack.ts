import { localAwsEnv } from '../../local/awsEnv.ts';
import { startDynamoDbLocal } from '../../local/dynamoDbLocal.ts';
import { startS3Emulator } from '../../local/s3Emulator.ts';

/**
 * vitest globalSetup for the integration and e2e projects: starts DynamoDB Local (on 127.0.0.1,
 * in memory) and the S3 emulator once for the whole run, unless AWS_ENDPOINT_URL or
 * AWS_ENDPOINT_URL_DYNAMODB points at another endpoint (LocalStack or AWS), and puts their
 * endpoints in the environment the test workers inherit.
 */
interface Hermetic {
  readonly env: Record<string, string>;
  users: number;
  stop(): Promise<void>;
}

// One stack per vitest process, shared by every project whose globalSetup names this file.
const shared = globalThis as { sluiceHermeticStack?: Promise<Hermetic | undefined> };

async function start(): Promise<Hermetic | undefined> {
  const external = process.env.AWS_ENDPOINT_URL_DYNAMODB ?? process.env.AWS_ENDPOINT_URL;
  if (external !== undefined) {
    console.log(`# DynamoDB at ${external} (from the environment)`);
    return undefined;
  }
  // As `npm start`: where it cannot be bound to 127.0.0.1 (no javac), only with explicit consent.
  const dynamo = await startDynamoDbLocal({ allowAllInterfaces: process.env.SLUICE_DYNAMODB_ALL_INTERFACES === '1' });
  if (!dynamo.loopbackOnly)
    console.warn('# warning: javac not found, so DynamoDB Local listens on every interface during the tests');
  const s3 = await startS3Emulator().catch(async (e: unknown) => {
    await dynamo.stop(); // leave no JVM behind
    throw e;
  });
  console.log(`# DynamoDB at ${dynamo.endpoint}, S3 at ${s3.env.AWS_ENDPOINT_URL_S3}`);
  return {
    env: { ...localAwsEnv(dynamo.endpoint), ...s3.env },
    users: 0,
    async stop() {
      await s3.stop();
      await dynamo.stop();
    },
  };
}

export default async function setup(): Promise<() => Promise<void>> {
  shared.sluiceHermeticStack ??= start();
  const stack = await shared.sluiceHermeticStack;
  if (stack === undefined) return async () => {};
  stack.users++;
  Object.assign(process.env, stack.env);
  return async () => {
    if (--stack.users === 0) await stack.stop();
  };
}
