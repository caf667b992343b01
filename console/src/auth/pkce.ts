/**
 * OAuth 2.0 authorization code with PKCE (RFC 7636) against Cognito's hosted UI endpoints:
 * `${authority}/oauth2/authorize`, `/oauth2/token` and `/logout`. Pure helpers (Web Crypto,
 * URLs), unit-tested in test/unit/console.pkce.test.ts.
 */

/** base64url without padding (RFC 4648 §5), as PKCE and JWTs use it. */
export function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A code verifier: 32 random bytes, 43 characters of [A-Za-z0-9-_] (RFC 7636 §4.1 allows 43–128). */
export function createVerifier(random: (bytes: Uint8Array) => Uint8Array = (b) => crypto.getRandomValues(b)): string {
  return base64url(random(new Uint8Array(32)));
}

/** S256: base64url(SHA-256(verifier)) (RFC 7636 §4.2). */
export async function challengeFor(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

export interface AuthorizeRequest {
  readonly authority: string;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly scopes: readonly string[];
  readonly state: string;
  readonly challenge: string;
}

export function authorizeUrl(r: AuthorizeRequest): string {
  const url = new URL(`${r.authority.replace(/\/$/, '')}/oauth2/authorize`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: r.clientId,
    redirect_uri: r.redirectUri,
    scope: r.scopes.join(' '),
    state: r.state,
    code_challenge: r.challenge,
    code_challenge_method: 'S256',
  }).toString();
  return url.toString();
}

/** The form body of the token request that redeems `code` (a public client: no secret). */
export function tokenRequestBody(r: {
  clientId: string;
  redirectUri: string;
  code: string;
  verifier: string;
}): URLSearchParams {
  return new URLSearchParams({
    grant_type: 'authorization_code',
    client_id: r.clientId,
    code: r.code,
    redirect_uri: r.redirectUri,
    code_verifier: r.verifier,
  });
}

export function tokenUrl(authority: string): string {
  return `${authority.replace(/\/$/, '')}/oauth2/token`;
}

/** Cognito's sign-out: it clears its session and sends the browser to `logout_uri`. */
export function logoutUrl(authority: string, clientId: string, logoutUri: string): string {
  const url = new URL(`${authority.replace(/\/$/, '')}/logout`);
  url.search = new URLSearchParams({ client_id: clientId, logout_uri: logoutUri }).toString();
  return url.toString();
}

/** `code` and `state` from a redirect back (`?code=…&state=…`), or an `error` the server sent. */
export function parseRedirect(search: string): { code?: string; state?: string; error?: string } {
  const params = new URLSearchParams(search);
  const pick = (name: string) => params.get(name) ?? undefined;
  const out: { code?: string; state?: string; error?: string } = {};
  const code = pick('code');
  const state = pick('state');
  const error = pick('error_description') ?? pick('error');
  if (code !== undefined) out.code = code;
  if (state !== undefined) out.state = state;
  if (error !== undefined) out.error = error;
  return out;
}

/** A JWT's `exp` (epoch seconds) without verifying it: the API verifies; the console only plans refreshes. */
export function jwtExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const json = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { exp?: unknown };
    return typeof json.exp === 'number' ? json.exp : undefined;
  } catch {
    return undefined;
  }
}

/** How long after going to sign in a tab may not go again on its own (a token the API keeps refusing). */
export const SIGN_IN_LOOP_GUARD_MS = 30_000;

/**
 * Whether a sign-in may go to the provider now: not while one is under way, and not within
 * `SIGN_IN_LOOP_GUARD_MS` of the last time unless the user asked (`force`).
 */
export function mayGoToSignIn(state: {
  readonly inProgress: boolean;
  readonly lastAt: number | undefined;
  readonly now: number;
  readonly force?: boolean;
}): boolean {
  if (state.inProgress) return false;
  return state.force === true || state.lastAt === undefined || state.now - state.lastAt >= SIGN_IN_LOOP_GUARD_MS;
}

/**
 * When a new access token stops being used (epoch seconds), by this browser's clock: `expires_in`
 * from its arrival. Only without one, the token's `exp` (the provider's clock); an hour at worst.
 */
export function tokenExpiresAt(
  response: { readonly access_token: string; readonly expires_in?: number },
  nowMs: number,
): number {
  const now = Math.floor(nowMs / 1000);
  const lifetime = response.expires_in ?? (jwtExpiry(response.access_token) ?? 0) - now;
  return now + (lifetime > 0 ? lifetime : 3600);
}
