import type { components, paths } from './schema.d.ts';

/**
 * A thin typed fetch over the HTTP API: paths, parameters, bodies and answers are those of
 * docs/openapi.json (schema.d.ts is generated from it, and a unit test keeps it from drifting).
 *
 * @example
 * const { topics } = await api.get('/v1/topics', {});
 * await api.post('/v1/topics', { body: { name: 'orders', partitions: 3 } });
 */
type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Op<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;
type Json<R> = R extends { content: { 'application/json': infer J } } ? J : undefined;
type Ok<O> = O extends { responses: infer R }
  ? { [K in keyof R]: K extends 200 | 201 | 202 | 204 ? Json<R[K]> : never }[keyof R]
  : never;
type PathParams<O> = O extends { parameters: { path: infer P } } ? ([P] extends [undefined] ? never : P) : never;
type QueryParams<O> = O extends { parameters: { query?: infer Q } } ? Q : never;
type Body<O> = O extends { requestBody: { content: { 'application/json': infer B } } }
  ? B
  : O extends { requestBody?: { content: { 'application/json': infer B } } }
    ? B
    : never;
type PathsWith<M extends Method> = { [P in keyof paths]: paths[P][M] extends undefined ? never : P }[keyof paths];

export interface CallOptions<O> {
  readonly path?: PathParams<O>;
  readonly query?: QueryParams<O>;
  readonly body?: Body<O>;
  readonly signal?: AbortSignal;
}

export type Schemas = components['schemas'];
export type ApiErrorBody = Schemas['Error'];

/** An answer other than 2xx: the API's typed `{error:{code,message}}` body when there is one. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  readonly code: string;
  readonly details: Record<string, unknown>;
  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /**
   * The route does not exist in this API (an older deployment, a feature not there yet): the
   * local gateway answers 404 RouteNotFound, API Gateway a 404 without a typed body.
   */
  get notAvailable(): boolean {
    return this.status === 404 && (this.code === 'RouteNotFound' || this.code === 'HttpNotFound');
  }
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof Error && e.name === 'ApiError';
}

/** Substitutes `{name}` segments, each encoded. */
export function fillPath(template: string, params: Record<string, string | number> = {}): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`Missing path parameter ${name} for ${template}`);
    return encodeURIComponent(String(value));
  });
}

/** `?a=1&b=x` from the defined entries, or '' when there are none. */
export function queryString(query: Record<string, unknown> = {}): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined) continue;
    const plain = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
    search.set(name, plain ? String(value) : JSON.stringify(value));
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

export interface ApiClientOptions {
  /** '' for the console's own origin (the local stack, CloudFront routing /v1/*), else the API's base URL. */
  readonly baseUrl: string;
  /** The bearer token to send, when signed in. */
  readonly token?: () => string | undefined;
  /** Called on a 401 (the token expired or was revoked): sign in again. */
  readonly onUnauthorized?: () => void;
  readonly fetch?: typeof fetch;
}

export class ApiClient {
  private readonly options: ApiClientOptions;
  constructor(options: ApiClientOptions) {
    this.options = options;
  }

  get<P extends PathsWith<'get'>>(path: P, options: CallOptions<Op<P, 'get'>>): Promise<Ok<Op<P, 'get'>>> {
    return this.call('GET', path, options);
  }
  post<P extends PathsWith<'post'>>(path: P, options: CallOptions<Op<P, 'post'>>): Promise<Ok<Op<P, 'post'>>> {
    return this.call('POST', path, options);
  }
  put<P extends PathsWith<'put'>>(path: P, options: CallOptions<Op<P, 'put'>>): Promise<Ok<Op<P, 'put'>>> {
    return this.call('PUT', path, options);
  }
  patch<P extends PathsWith<'patch'>>(path: P, options: CallOptions<Op<P, 'patch'>>): Promise<Ok<Op<P, 'patch'>>> {
    return this.call('PATCH', path, options);
  }
  delete<P extends PathsWith<'delete'>>(path: P, options: CallOptions<Op<P, 'delete'>>): Promise<Ok<Op<P, 'delete'>>> {
    return this.call('DELETE', path, options);
  }

  private async call<T>(
    method: string,
    template: string,
    options: {
      path?: Record<string, string | number>;
      query?: Record<string, unknown>;
      body?: unknown;
      signal?: AbortSignal;
    },
  ): Promise<T> {
    const url = `${this.options.baseUrl.replace(/\/$/, '')}${fillPath(template, options.path)}${queryString(options.query)}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const token = this.options.token?.();
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    const response = await (this.options.fetch ?? fetch)(url, {
      method,
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (response.status === 401) this.options.onUnauthorized?.();
    if (!response.ok) throw errorFrom(response.status, json, text);
    return json as T;
  }
}

/** The API's error body, or a readable stand-in for an answer without one (API Gateway's own 4xx/5xx). */
export function errorFrom(status: number, json: unknown, text: string): ApiError {
  const error = (json as Partial<ApiErrorBody> | undefined)?.error;
  if (typeof error === 'object' && error !== null && typeof error.code === 'string') {
    const { code, message, ...details } = error;
    return new ApiError(status, code, typeof message === 'string' ? message : code, details);
  }
  const message = (json as { message?: unknown } | undefined)?.message;
  return new ApiError(
    status,
    status === 404 ? 'HttpNotFound' : `Http${status}`,
    typeof message === 'string' ? message : text.slice(0, 200) || `HTTP ${status}`,
  );
}
