import { Sha256 } from '@aws-crypto/sha256-js';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider } from '@smithy/types';

/**
 * How the client authenticates: `iam` signs requests with SigV4 (service `execute-api`) using the
 * default AWS credential chain, as the stack's default IAM authorizer requires; `{ token }` sends
 * a JWT bearer token; `none` sends nothing (the local stack); `{ principal }` names the caller in
 * the `x-sluice-principal` header, which only a local stack started with
 * `--trust-principal-header` believes (for trying ACLs out locally).
 */
export type Auth = 'none' | 'iam' | { readonly token: string } | { readonly principal: string };

export interface ConnectionOptions {
  /** Base URL: the stack's `ApiUrl` output, or http://127.0.0.1:7070 for `npm start`. */
  readonly url: string;
  /** @default 'iam' for https URLs, 'none' for http (local) ones */
  readonly auth?: Auth;
  /** Region for SigV4; @default AWS_REGION, or the region in an execute-api host name */
  readonly region?: string;
  /** @default the AWS SDK's default credential provider chain */
  readonly credentials?: AwsCredentialIdentityProvider;
  /** Per-request timeout in ms. @default 35000 (long-polls last up to 20 s) */
  readonly timeoutMs?: number;
}

/** An error the API answered with: `code` and the context fields of `{"error": {...}}`. */
export class SluiceApiError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: Record<string, unknown>;
  readonly retriable: boolean;
  constructor(status: number, body: { code?: string; message?: string } & Record<string, unknown>) {
    super(body.message ?? `HTTP ${status}`);
    this.name = 'SluiceApiError';
    this.code = body.code ?? `Http${status}`;
    this.status = status;
    this.details = body;
    this.retriable = status >= 500 || status === 429;
  }
}

export function isSluiceApiError(e: unknown, code?: string): e is SluiceApiError {
  return (
    e instanceof Error && e.name === 'SluiceApiError' && (code === undefined || (e as SluiceApiError).code === code)
  );
}

/** A small HTTP connection to a Sluice API: JSON in and out, signed when asked. */
export class Connection {
  readonly url: URL;
  private readonly auth: Auth;
  private readonly signer: SignatureV4 | undefined;
  private readonly timeoutMs: number;

  constructor(options: ConnectionOptions) {
    this.url = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
    this.auth = options.auth ?? (this.url.protocol === 'https:' ? 'iam' : 'none');
    this.timeoutMs = options.timeoutMs ?? 35_000;
    if (this.auth === 'iam') {
      const region = options.region ?? process.env.AWS_REGION ?? /execute-api\.([a-z0-9-]+)\./.exec(this.url.host)?.[1];
      if (region === undefined) throw new Error('IAM auth needs a region: pass { region } or set AWS_REGION');
      this.signer = new SignatureV4({
        service: 'execute-api',
        region,
        credentials: options.credentials ?? fromNodeProviderChain(),
        sha256: Sha256,
      });
    }
  }

  async request<T>(
    method: string,
    path: string,
    options: { query?: Record<string, string | number | undefined>; body?: unknown } = {},
  ): Promise<T> {
    return (await this.requestWithStatus<T>(method, path, options)).body;
  }

  /** As `request`, with the response's status too (for routes whose 200 and 201 mean different things). */
  async requestWithStatus<T>(
    method: string,
    path: string,
    options: { query?: Record<string, string | number | undefined>; body?: unknown } = {},
  ): Promise<{ status: number; body: T }> {
    const url = new URL(path.replace(/^\//, ''), this.url);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    let headers: Record<string, string> = {
      accept: 'application/json',
      host: url.host,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    };
    if (this.signer !== undefined) {
      const signed = await this.signer.sign(
        new HttpRequest({
          method,
          protocol: url.protocol,
          hostname: url.hostname,
          port: url.port === '' ? undefined : Number(url.port),
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          headers,
          body,
        }),
      );
      headers = signed.headers;
    } else if (typeof this.auth === 'object' && 'token' in this.auth) {
      headers.authorization = `Bearer ${this.auth.token}`;
    } else if (typeof this.auth === 'object') {
      headers['x-sluice-principal'] = this.auth.principal;
    }
    delete headers.host; // fetch sets it
    const response = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
    const text = await response.text();
    const parsed = text === '' ? undefined : safeJson(text);
    if (!response.ok) {
      const error = (parsed as { error?: Record<string, unknown>; message?: string } | undefined)?.error ?? {
        message: (parsed as { message?: string })?.message ?? text.slice(0, 200),
      };
      throw new SluiceApiError(response.status, error);
    }
    return { status: response.status, body: parsed as T };
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text.slice(0, 200) };
  }
}
