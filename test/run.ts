/**
 * `npm test`: type-check, check the dependency rules, start the hermetic stack (DynamoDB Local on
 * 127.0.0.1, in memory) unless AWS_ENDPOINT_URL(_DYNAMODB) points elsewhere, then run every test
 * file with Node's test runner. Pass file paths or globs to run a subset.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { localAwsEnv } from '../local/awsEnv.ts';
import { startDynamoDbLocal } from '../local/dynamoDbLocal.ts';
import { startS3Emulator } from '../local/s3Emulator.ts';

const args = process.argv.slice(2);
const files = args.length > 0 ? args : ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/infra/**/*.test.ts', 'test/e2e/**/*.test.ts'];

function run(command: string, commandArgs: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, commandArgs, { stdio: 'inherit', env });
    child.on('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  });
}

if (args.length === 0) {
  console.log('# type-check');
  if ((await run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.'])) !== 0) process.exit(1);
  console.log('# dependency rules');
  const layers = ['core', 'functions', 'infra', 'local', 'client'].filter((dir) => existsSync(dir));
  const depcruise = ['node_modules/dependency-cruiser/bin/dependency-cruiser.mjs', '--config', '.dependency-cruiser.cjs', ...layers];
  if ((await run(process.execPath, depcruise)) !== 0) process.exit(1);
}

const external = process.env.AWS_ENDPOINT_URL_DYNAMODB ?? process.env.AWS_ENDPOINT_URL;
const dynamo = external === undefined ? await startDynamoDbLocal() : undefined;
if (dynamo !== undefined && !dynamo.loopbackOnly) {
  console.warn('# warning: javac not found, so DynamoDB Local listens on every interface during the tests');
}
const s3 = external === undefined ? await startS3Emulator() : undefined;
const env = { ...process.env, ...(dynamo === undefined ? {} : localAwsEnv(dynamo.endpoint)), ...(s3?.env ?? {}) };
console.log(`# DynamoDB at ${dynamo?.endpoint ?? external}${s3 === undefined ? '' : `, S3 at ${s3.env.AWS_ENDPOINT_URL_S3}`}`);

let code = 1;
try {
  code = await run(process.execPath, ['--test', '--test-concurrency=4', '--test-timeout=240000', ...files], env);
} finally {
  await s3?.stop();
  await dynamo?.stop();
}
process.exit(code);
