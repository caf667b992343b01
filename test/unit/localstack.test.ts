import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LOCALSTACK_ENDPOINT,
  DEFAULT_TEST_BUCKET,
  LocalstackSetupError,
  describeRequestFailure,
  describeRun,
  interpretHealth,
  missingServicesMessage,
  resolveLocalstackConfig,
  unreachableMessage,
} from '../../local/localstack.ts';

const SCRIPT = 'scripts/testLocalstack.ts';

describe('resolveLocalstackConfig', () => {
  it('defaults to localhost:4566, us-east-1, dummy credentials, a test bucket and the local gateway', () => {
    const config = resolveLocalstackConfig({ PATH: '/usr/bin' });
    expect(config.endpoint).toBe('http://localhost:4566');
    expect(config.endpoint).toBe(DEFAULT_LOCALSTACK_ENDPOINT);
    expect(config.endpointSource).toBe('default');
    expect(config.region).toBe('us-east-1');
    expect(config.api).toStrictEqual({ mode: 'local-gateway' });
    expect(config.bucket).toStrictEqual({ name: DEFAULT_TEST_BUCKET, create: true });
    expect(config.env).toStrictEqual({
      PATH: '/usr/bin',
      AWS_ENDPOINT_URL: 'http://localhost:4566',
      AWS_ENDPOINT_URL_DYNAMODB: 'http://localhost:4566',
      AWS_ENDPOINT_URL_S3: 'http://localhost:4566',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_EC2_METADATA_DISABLED: 'true',
      SLUICE_S3_FORCE_PATH_STYLE: 'true',
      SLUICE_SEGMENT_BUCKET: 'sluice-test-segments',
    });
  });

  it('takes the endpoint from LOCALSTACK_ENDPOINT, else AWS_ENDPOINT_URL, and points every service at it', () => {
    const both = resolveLocalstackConfig({
      LOCALSTACK_ENDPOINT: 'http://localhost.localstack.cloud:4566/',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:4510',
      AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:8000',
    });
    expect([both.endpoint, both.endpointSource]).toStrictEqual([
      'http://localhost.localstack.cloud:4566',
      'LOCALSTACK_ENDPOINT',
    ]);
    expect(both.env.AWS_ENDPOINT_URL_DYNAMODB, 'a stale DynamoDB endpoint is overridden').toBe(both.endpoint);
    expect(both.env.AWS_ENDPOINT_URL).toBe(both.endpoint);

    const aws = resolveLocalstackConfig({ LOCALSTACK_ENDPOINT: ' ', AWS_ENDPOINT_URL: 'http://127.0.0.1:4510' });
    expect([aws.endpoint, aws.endpointSource]).toStrictEqual(['http://127.0.0.1:4510', 'AWS_ENDPOINT_URL']);
    expect(aws.env.AWS_ENDPOINT_URL_S3).toBe('http://127.0.0.1:4510');
  });

  it("keeps the caller's region, credentials and bucket", () => {
    const config = resolveLocalstackConfig({
      AWS_DEFAULT_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: '000000000001',
      AWS_SECRET_ACCESS_KEY: 'not-a-real-secret',
      SLUICE_SEGMENT_BUCKET: 'sluice-segments-deployed',
    });
    expect(config.region).toBe('eu-west-1');
    expect(resolveLocalstackConfig({ AWS_REGION: 'ap-south-1', AWS_DEFAULT_REGION: 'eu-west-1' }).region).toBe(
      'ap-south-1',
    );
    expect([config.env.AWS_ACCESS_KEY_ID, config.env.AWS_SECRET_ACCESS_KEY]).toStrictEqual([
      '000000000001',
      'not-a-real-secret',
    ]);
    expect(config.bucket).toStrictEqual({ name: 'sluice-segments-deployed', create: false });
    expect(config.env.SLUICE_SEGMENT_BUCKET).toBe('sluice-segments-deployed');
  });

  it('tests a deployed API when SLUICE_API_URL is set, and the local gateway when it is unset or empty', () => {
    const url = 'http://abc123.execute-api.localhost.localstack.cloud:4566';
    const deployed = resolveLocalstackConfig({ SLUICE_API_URL: `${url}/` });
    expect(deployed.api).toStrictEqual({ mode: 'deployed', url });
    expect(deployed.env.SLUICE_API_URL).toBe(url);

    const empty = resolveLocalstackConfig({ SLUICE_API_URL: '' });
    expect(empty.api).toStrictEqual({ mode: 'local-gateway' });
    expect('SLUICE_API_URL' in empty.env, 'an empty URL would reach useApi() as the API').toBe(false);
  });

  it('rejects endpoints that are not http(s) URLs, saying which variable and what it should look like', () => {
    expect(() => resolveLocalstackConfig({ LOCALSTACK_ENDPOINT: 'localhost:4566' })).toThrow(LocalstackSetupError);
    expect(() => resolveLocalstackConfig({ AWS_ENDPOINT_URL: 'nonsense' })).toThrow(
      /^AWS_ENDPOINT_URL must be an http\(s\) URL such as http:\/\/localhost:4566/,
    );
    expect(() => resolveLocalstackConfig({ SLUICE_API_URL: 'ftp://x' })).toThrow(
      /^SLUICE_API_URL must be an http\(s\) URL/,
    );
  });
});

describe('interpretHealth', () => {
  const healthy = {
    services: { dynamodb: 'running', s3: 'available', lambda: 'available', apigateway: 'available' },
    edition: 'community',
    version: '4.14.0',
  };

  it('accepts dynamodb and s3 when available or running', () => {
    const health = interpretHealth(healthy);
    expect(health).toStrictEqual({
      missing: [],
      services: { dynamodb: 'running', s3: 'available' },
      edition: 'community',
      version: '4.14.0',
      httpApis: false,
    });
  });

  it('names each missing service with its status', () => {
    expect(interpretHealth({ services: { s3: 'running' } })?.missing).toStrictEqual([
      { service: 'dynamodb', status: 'not listed' },
    ]);
    expect(interpretHealth({ services: { dynamodb: 'disabled', s3: 'error' } })?.missing).toStrictEqual([
      { service: 'dynamodb', status: 'disabled' },
      { service: 's3', status: 'error' },
    ]);
    expect(
      interpretHealth({ services: { dynamodb: 'starting', s3: 'running' } })?.missing.map((m) => m.service),
    ).toStrictEqual(['dynamodb']);
  });

  it('notices HTTP APIs (apigatewayv2) when LocalStack offers them', () => {
    expect(interpretHealth({ services: { ...healthy.services, apigatewayv2: 'available' } })?.httpApis).toBe(true);
  });

  it('returns undefined for answers that are not LocalStack health answers', () => {
    for (const body of [undefined, null, 'OK', [], {}, { services: 'all' }, { services: ['dynamodb'] }]) {
      expect(interpretHealth(body), JSON.stringify(body)).toBeUndefined();
    }
  });
});

describe('messages', () => {
  const config = resolveLocalstackConfig({ AWS_SECRET_ACCESS_KEY: 'do-not-print-me' });

  it('says how to get LocalStack running when it does not answer', () => {
    const message = unreachableMessage(config, 'connection refused: nothing listens there');
    expect(message).toMatch(
      /^LocalStack is not reachable at http:\/\/localhost:4566 \(the default; set LOCALSTACK_ENDPOINT/,
    );
    for (const hint of ['Docker', 'LOCALSTACK_AUTH_TOKEN', 'npm run deploy:local', 'LOCALSTACK_ENDPOINT'])
      expect(message).toContain(hint);
  });

  it('names the services LocalStack lacks', () => {
    const message = missingServicesMessage(config, { missing: [{ service: 'dynamodb', status: 'disabled' }] });
    expect(message).toMatch(/but dynamodb is not usable: dynamodb \(disabled\)/);
    expect(message).toContain('SERVICES');
  });

  it('describes fetch failures in a few words', () => {
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    });
    expect(describeRequestFailure(refused)).toBe('connection refused: nothing listens there');
    expect(describeRequestFailure(new DOMException('The operation timed out.', 'TimeoutError'), 3000)).toBe(
      'no answer within 3 s',
    );
    expect(describeRequestFailure(new Error('socket hang up'))).toBe('socket hang up');
  });

  it('describes the run, with the API mode, and never prints secrets', () => {
    const health = interpretHealth({ services: { dynamodb: 'running', s3: 'running' }, edition: 'community' })!;
    const local = describeRun(config, health).join('\n');
    expect(local).toContain('the local gateway, in-process (SLUICE_API_URL unset)');
    expect(local).toContain('bucket sluice-test-segments');
    expect(local).not.toContain('do-not-print-me');
    const url = 'http://abc.execute-api.localhost.localstack.cloud:4566';
    const deployed = describeRun(resolveLocalstackConfig({ SLUICE_API_URL: url }), health).join('\n');
    expect(deployed).toContain(`${url} (SLUICE_API_URL): the end-to-end tests call the deployed API`);
  });
});

/** Runs the script to completion (killed after `timeoutMs`), with the given environment added. */
function runScript(
  env: Record<string, string>,
  timeoutMs = 20_000,
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SCRIPT], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** A loopback HTTP server for the duration of `body`. */
async function withServer<T>(
  handler: Parameters<typeof createServer>[1],
  body: (url: string) => Promise<T>,
): Promise<T> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await body(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

async function closedPort(): Promise<number> {
  return withServer(
    () => {},
    async (url) => Number(new URL(url).port),
  );
}

const STACK_TRACE = /^\s+at .+[(:]\d+/m;

describe('npm run test:localstack', () => {
  it('exits non-zero quickly with plain guidance when LocalStack is not reachable', async () => {
    const port = await closedPort();
    const run = await runScript({ LOCALSTACK_ENDPOINT: `http://127.0.0.1:${port}` });
    expect(run.code, run.stderr).toBe(1);
    expect(run.ms < 10_000, `took ${run.ms} ms`).toBeTruthy();
    expect(run.stderr).toContain(
      `LocalStack is not reachable at http://127.0.0.1:${port} (from LOCALSTACK_ENDPOINT): connection refused`,
    );
    expect(run.stderr).toContain('npm run deploy:local');
    expect(run.stderr).toContain('LOCALSTACK_AUTH_TOKEN');
    expect(run.stderr).not.toMatch(STACK_TRACE);
    expect(run.stdout).not.toContain('vitest');
  });

  it('names a missing service and does not run vitest', async () => {
    const requests: string[] = [];
    const run = await withServer(
      (req, res) => {
        requests.push(`${req.method} ${req.url}`);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ services: { s3: 'running', sqs: 'available' }, edition: 'community', version: '4.14.0' }),
        );
      },
      (url) => runScript({ LOCALSTACK_ENDPOINT: url }),
    );
    expect(requests).toStrictEqual(['GET /_localstack/health']);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/but dynamodb is not usable: dynamodb \(not listed\)/);
    expect(run.stderr).not.toMatch(STACK_TRACE);
    expect(run.stdout).not.toContain('vitest');
  });

  it('says which bucket it cannot use, and does not run vitest', async () => {
    const requests: string[] = [];
    const run = await withServer(
      (req, res) => {
        requests.push(`${req.method} ${req.url}`);
        if (req.url === '/_localstack/health') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ services: { dynamodb: 'running', s3: 'running' } }));
        } else {
          res.writeHead(403).end();
        }
      },
      (url) =>
        runScript({
          LOCALSTACK_ENDPOINT: url,
          SLUICE_SEGMENT_BUCKET: 'someone-elses-bucket',
          AWS_SECRET_ACCESS_KEY: 'do-not-print-me',
        }),
    );
    expect(requests[0]).toBe('GET /_localstack/health');
    expect(
      requests.slice(1).every((r) => r.startsWith('HEAD /someone-elses-bucket')),
      requests.join(', '),
    ).toBeTruthy();
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/did not let the run use the bucket someone-elses-bucket: .*\(HTTP 403\)/);
    expect(run.stderr + run.stdout).not.toContain('do-not-print-me');
    expect(run.stderr).not.toMatch(STACK_TRACE);
    expect(run.stdout).not.toContain('vitest');
  });
});
