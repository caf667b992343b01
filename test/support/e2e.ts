import { spawn } from 'node:child_process';
import { afterAll, beforeAll } from 'vitest';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../local/stack.ts';
import { uniqueName } from './names.ts';

/**
 * The API under test for an end-to-end file: a deployed stack when SLUICE_API_URL is set
 * (LocalStack or AWS), otherwise the local stack on the harness's DynamoDB, started once for the
 * file with its own tables. Call at the top level of a test file; read `api.url` inside tests.
 */
export function useApi(prefix: string): { readonly url: string; readonly tables?: { log: string; metadata: string } } {
  let stack: LocalStack | undefined;
  const api: { url: string; tables?: { log: string; metadata: string } } = { url: '' };
  beforeAll(async () => {
    if (process.env.SLUICE_API_URL !== undefined) {
      api.url = process.env.SLUICE_API_URL;
      return;
    }
    stack = await startTestStack(prefix);
    api.url = stack.url;
    api.tables = stack.tables; // local only: a test may reach behind the API
  });
  afterAll(async () => {
    await stack?.stop();
  });
  return api;
}

/**
 * The local stack on the harness's DynamoDB and S3, with its own tables, no sagas and no roller
 * timer (the test runs the roller when it wants to); `options` add to or change that.
 */
export function startTestStack(prefix: string, options: LocalStackOptions = {}): Promise<LocalStack> {
  const base = uniqueName(prefix);
  return startLocalStack({
    port: 0,
    tieringIntervalMs: 0,
    sagas: false,
    dynamoEndpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB ?? process.env.AWS_ENDPOINT_URL,
    s3Endpoint: process.env.AWS_ENDPOINT_URL_S3,
    bucket: process.env.SLUICE_SEGMENT_BUCKET,
    tables: { log: `${base}-log`, metadata: `${base}-meta` },
    ...options,
  });
}

/** Runs a Node script (a TypeScript example or the CLI) to completion, with optional stdin. */
export function runNode(
  script: string,
  args: string[],
  stdin?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}
