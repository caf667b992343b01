/**
 * `npm run test:localstack` without the I/O: what the run is configured with (from an environment
 * object), how to read LocalStack's health answer, and what to tell a user when something is
 * missing. The script that does the I/O is scripts/testLocalstack.ts.
 */

/** An environment to read (`process.env` in the script, a literal in tests). */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * LocalStack's own default edge endpoint (`localstack start`, `docker run -p 4566:4566`). Not
 * `localhost.localstack.cloud`: that name resolves through public DNS, which offline machines lack.
 */
export const DEFAULT_LOCALSTACK_ENDPOINT = 'http://localhost:4566';
/** The bucket the script creates when SLUICE_SEGMENT_BUCKET is unset (the deployed one has a generated name). */
export const DEFAULT_TEST_BUCKET = 'sluice-test-segments';
/** LocalStack's default region, and the CDK app's when none is given. */
export const DEFAULT_REGION = 'us-east-1';
/** LocalStack accepts any credentials; these are its documented dummies. Never real ones. */
export const DUMMY_CREDENTIAL = 'test';
/** How long LocalStack gets to answer its health check before the run gives up. */
export const HEALTH_TIMEOUT_MS = 3_000;
const EXAMPLE_API_URL = 'https://<api-id>.execute-api.<region>.amazonaws.com';
/** The services the integration and end-to-end suites call. */
export const REQUIRED_SERVICES = ['dynamodb', 's3'] as const;

/** A configuration the run cannot start with; the message says how to fix it. */
export class LocalstackSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export interface LocalstackConfig {
  /** LocalStack's edge endpoint, without a trailing slash. */
  readonly endpoint: string;
  /** The variable the endpoint came from. */
  readonly endpointSource: 'LOCALSTACK_ENDPOINT' | 'AWS_ENDPOINT_URL' | 'default';
  readonly region: string;
  /**
   * `deployed`: SLUICE_API_URL is set, and the end-to-end tests call that API (LocalStack with HTTP
   * APIs, a paid feature, or any deployed stack). `local-gateway`: the end-to-end tests serve the
   * handlers' routes from the in-process local gateway, on LocalStack's DynamoDB and S3.
   */
  readonly api: { readonly mode: 'deployed'; readonly url: string } | { readonly mode: 'local-gateway' };
  /** The segment bucket; `create`: the script creates it (idempotently), else it must exist. */
  readonly bucket: { readonly name: string; readonly create: boolean };
  /** The environment vitest runs with: the caller's, plus endpoints, region, credentials and bucket. */
  readonly env: Record<string, string>;
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

function httpUrl(name: string, value: string, example: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new LocalstackSetupError(`${name} must be an http(s) URL such as ${example}; got "${value}".`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new LocalstackSetupError(`${name} must be an http(s) URL such as ${example}; got "${value}".`);
  }
  return value.replace(/\/+$/, '');
}

/**
 * The run's configuration from an environment:
 * - endpoint: LOCALSTACK_ENDPOINT, else AWS_ENDPOINT_URL, else http://localhost:4566; the
 *   DynamoDB and S3 endpoint variables are set to it too (the suites read AWS_ENDPOINT_URL_S3);
 * - region: AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1;
 * - credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, each `test` when unset;
 * - API: SLUICE_API_URL when set (mode `deployed`), else the local gateway;
 * - bucket: SLUICE_SEGMENT_BUCKET, else sluice-test-segments (created by the script), path-style.
 *
 * @example
 * resolveLocalstackConfig({}).endpoint; // 'http://localhost:4566'
 * resolveLocalstackConfig({ SLUICE_API_URL: 'https://abc.execute-api.us-east-1.amazonaws.com' }).api.mode; // deployed
 */
export function resolveLocalstackConfig(env: Env): LocalstackConfig {
  const fromLocalstack = nonEmpty(env.LOCALSTACK_ENDPOINT);
  const fromAws = nonEmpty(env.AWS_ENDPOINT_URL);
  const endpointSource =
    fromLocalstack !== undefined ? 'LOCALSTACK_ENDPOINT' : fromAws !== undefined ? 'AWS_ENDPOINT_URL' : 'default';
  const raw = fromLocalstack ?? fromAws ?? DEFAULT_LOCALSTACK_ENDPOINT;
  const endpoint = httpUrl(endpointSource, raw, DEFAULT_LOCALSTACK_ENDPOINT);
  const region = nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? DEFAULT_REGION;

  const apiUrl = nonEmpty(env.SLUICE_API_URL);
  const api =
    apiUrl === undefined
      ? ({ mode: 'local-gateway' } as const)
      : ({ mode: 'deployed', url: httpUrl('SLUICE_API_URL', apiUrl, EXAMPLE_API_URL) } as const);

  const bucketName = nonEmpty(env.SLUICE_SEGMENT_BUCKET);
  const bucket = { name: bucketName ?? DEFAULT_TEST_BUCKET, create: bucketName === undefined };

  const inherited = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
  // An empty SLUICE_API_URL would otherwise reach useApi() as the API's URL.
  delete inherited.SLUICE_API_URL;
  return {
    endpoint,
    endpointSource,
    region,
    api,
    bucket,
    env: {
      ...inherited,
      // The hermetic globalSetup starts nothing when AWS_ENDPOINT_URL is set, and every SDK client
      // (the tests', the handlers') sends DynamoDB and S3 calls to LocalStack.
      AWS_ENDPOINT_URL: endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: endpoint,
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: nonEmpty(env.AWS_ACCESS_KEY_ID) ?? DUMMY_CREDENTIAL,
      AWS_SECRET_ACCESS_KEY: nonEmpty(env.AWS_SECRET_ACCESS_KEY) ?? DUMMY_CREDENTIAL,
      AWS_EC2_METADATA_DISABLED: 'true',
      // LocalStack serves buckets by path as well as by host name; paths need no DNS.
      SLUICE_S3_FORCE_PATH_STYLE: 'true',
      SLUICE_SEGMENT_BUCKET: bucket.name,
      ...(api.mode === 'deployed' ? { SLUICE_API_URL: api.url } : {}),
    },
  };
}

export interface LocalstackHealth {
  /** Required services that are not usable, with LocalStack's status for each (`not listed` when absent). */
  readonly missing: readonly { readonly service: string; readonly status: string }[];
  /** The required services' statuses, e.g. `{ dynamodb: 'running', s3: 'available' }`. */
  readonly services: Readonly<Record<string, string>>;
  readonly edition: string | undefined;
  readonly version: string | undefined;
  /** Whether LocalStack lists API Gateway v2 (HTTP APIs, a paid feature) as usable. */
  readonly httpApis: boolean;
}

// LocalStack's service states: available (loads on first call), running, starting, stopping,
// stopped, disabled (not in SERVICES), error, unknown.
const USABLE = new Set(['available', 'running']);

/**
 * Reads the JSON body of LocalStack's `GET /_localstack/health`
 * (`{ "services": { "dynamodb": "available", "s3": "running", … }, "edition": …, "version": … }`).
 * Returns undefined when the body is not such an answer (something else listens there).
 */
export function interpretHealth(
  body: unknown,
  required: readonly string[] = REQUIRED_SERVICES,
): LocalstackHealth | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { services, edition, version } = body as Record<string, unknown>;
  if (typeof services !== 'object' || services === null || Array.isArray(services)) return undefined;
  const statusOf = (service: string): string => {
    const status = (services as Record<string, unknown>)[service];
    return typeof status === 'string' ? status : 'not listed';
  };
  return {
    missing: required.filter((s) => !USABLE.has(statusOf(s))).map((s) => ({ service: s, status: statusOf(s) })),
    services: Object.fromEntries(required.map((s) => [s, statusOf(s)])),
    edition: typeof edition === 'string' ? edition : undefined,
    version: typeof version === 'string' ? version : undefined,
    httpApis: USABLE.has(statusOf('apigatewayv2')),
  };
}

/** Why a request failed, in a few words: fetch hides the reason in `cause.code`. */
export function describeRequestFailure(error: unknown, timeoutMs = HEALTH_TIMEOUT_MS): string {
  type Failure = { name?: unknown; code?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } };
  const e = error as Failure | undefined;
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${timeoutMs / 1000} s`;
  const code = e?.cause?.code ?? e?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused: nothing listens there';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the host name does not resolve';
    case 'ECONNRESET':
      return 'the connection was reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'the host is unreachable';
  }
  if (typeof code === 'string') return code;
  const message = e?.cause?.message ?? e?.message;
  return typeof message === 'string' && message !== '' ? message : String(error);
}

function whereFrom(config: Pick<LocalstackConfig, 'endpointSource'>): string {
  return config.endpointSource === 'default'
    ? 'the default; set LOCALSTACK_ENDPOINT to change it'
    : `from ${config.endpointSource}`;
}

/** What to tell a user whose LocalStack does not answer (or answers unlike LocalStack). */
export function unreachableMessage(
  config: Pick<LocalstackConfig, 'endpoint' | 'endpointSource'>,
  reason: string,
): string {
  return [
    `LocalStack is not reachable at ${config.endpoint} (${whereFrom(config)}): ${reason}.`,
    '',
    'npm run test:localstack runs the integration and end-to-end suites against a LocalStack you already run:',
    '  1. Start LocalStack. It needs Docker and, since March 2026, an auth token (LOCALSTACK_AUTH_TOKEN):',
    '       docker run --rm -d -p 4566:4566 -e LOCALSTACK_AUTH_TOKEN localstack/localstack',
    '  2. Deploy the stack to it: npm run deploy:local',
    '  3. Run this again: npm run test:localstack',
    'If LocalStack listens elsewhere, set LOCALSTACK_ENDPOINT (e.g. http://localhost.localstack.cloud:4566).',
    'Without LocalStack, npm test runs the same suites against DynamoDB Local and an S3 emulator.',
  ].join('\n');
}

/** What to tell a user whose LocalStack runs without a service the suites need. */
export function missingServicesMessage(
  config: Pick<LocalstackConfig, 'endpoint'>,
  health: Pick<LocalstackHealth, 'missing'>,
): string {
  const list = health.missing.map((m) => `${m.service} (${m.status})`).join(', ');
  const names = health.missing.map((m) => m.service).join(' and ');
  return [
    `LocalStack answers at ${config.endpoint}, but ${names} ${health.missing.length === 1 ? 'is' : 'are'} ` +
      `not usable: ${list}.`,
    `The suites need ${REQUIRED_SERVICES.join(' and ')}. If LocalStack was started with SERVICES=…, add them to it;`,
    'a service in "error" says why in LocalStack\'s log (docker logs <container>). Restart LocalStack, then run',
    'npm run test:localstack again.',
  ].join('\n');
}

/** One line per setting, for the start of the run. No credentials. */
export function describeRun(config: LocalstackConfig, health: LocalstackHealth): string[] {
  const edition = [health.edition, health.version].filter((x) => x !== undefined).join(' ');
  const services = Object.entries(health.services)
    .map(([s, status]) => `${s} ${status}`)
    .join(', ');
  const bucketSource = config.bucket.create
    ? 'a test bucket; set SLUICE_SEGMENT_BUCKET to use another'
    : 'SLUICE_SEGMENT_BUCKET';
  const api =
    config.api.mode === 'deployed'
      ? `API        ${config.api.url} (SLUICE_API_URL): the end-to-end tests call the deployed API`
      : "API        the local gateway, in-process (SLUICE_API_URL unset): the end-to-end tests call the handlers' " +
        "routes over HTTP, on LocalStack's DynamoDB and S3 (LocalStack's free tier has no HTTP APIs)";
  return [
    `LocalStack ${config.endpoint} (${whereFrom(config)})${edition === '' ? '' : `, ${edition}`}: ${services}`,
    `Region     ${config.region}`,
    api,
    `S3         bucket ${config.bucket.name} (${bucketSource}), path-style`,
    ...(config.api.mode === 'local-gateway' && health.httpApis
      ? [
          'Note       LocalStack lists apigatewayv2 (HTTP APIs): set SLUICE_API_URL to the ApiUrl output of ' +
            'npm run deploy:local to test the deployed API',
        ]
      : []),
  ];
}
