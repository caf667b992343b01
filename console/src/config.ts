/**
 * `/console/config.json`, written beside the app: by the local stack (`auth: null`) or by the CDK
 * deployment (the Cognito hosted UI). Nothing secret: a public client with PKCE has no secret.
 */
export interface ConsoleConfig {
  /** '' when the API is on the console's own origin (the local stack; CloudFront routing /v1/*). */
  readonly apiUrl: string;
  readonly auth: AuthConfig | null;
}

export interface AuthConfig {
  /** The Cognito hosted UI's base URL, e.g. https://sluice.auth.eu-west-1.amazoncognito.com */
  readonly authority: string;
  readonly clientId: string;
  readonly scopes: readonly string[];
  /** Where the hosted UI sends the browser back, on the console's origin: /console/ */
  readonly redirectPath: string;
}

/** Checks the shape, so that a broken deployment says what is wrong instead of failing later. */
export function parseConfig(json: unknown): ConsoleConfig {
  const fail = (why: string): never => {
    throw new Error(`config.json: ${why}`);
  };
  if (typeof json !== 'object' || json === null) return fail('not an object');
  const { apiUrl, auth } = json as Record<string, unknown>;
  if (typeof apiUrl !== 'string') return fail('apiUrl must be a string ("" for the same origin)');
  if (auth === null || auth === undefined) return { apiUrl, auth: null };
  if (typeof auth !== 'object') return fail('auth must be null or an object');
  const { authority, clientId, scopes, redirectPath } = auth as Record<string, unknown>;
  if (typeof authority !== 'string' || !/^https?:\/\//.test(authority)) return fail('auth.authority must be a URL');
  if (typeof clientId !== 'string' || clientId === '') return fail('auth.clientId must be a string');
  if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string'))
    return fail('auth.scopes must be a list of strings');
  return {
    apiUrl,
    auth: {
      authority: authority.replace(/\/$/, ''),
      clientId,
      scopes,
      redirectPath: typeof redirectPath === 'string' ? redirectPath : '/console/',
    },
  };
}

export async function loadConfig(base: string): Promise<ConsoleConfig> {
  const response = await fetch(`${base}config.json`); // served with cache-control: no-store
  if (response.status === 404) return { apiUrl: '', auth: null }; // vite dev server, a bare static host
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  return parseConfig(await response.json());
}
