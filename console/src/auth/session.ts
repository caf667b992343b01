import type { AuthConfig } from '../config.ts';
import {
  authorizeUrl,
  challengeFor,
  createVerifier,
  jwtExpiry,
  logoutUrl,
  parseRedirect,
  tokenRequestBody,
  tokenUrl,
} from './pkce.ts';

/**
 * The signed-in session, in sessionStorage (gone when the tab closes; never localStorage). The
 * verifier and state of a sign-in in progress live there too, for the redirect back.
 */
const TOKENS = 'sluice.tokens';
const PENDING = 'sluice.pkce';

interface Tokens {
  readonly accessToken: string;
  readonly idToken?: string;
  readonly expiresAt: number;
}

export function redirectUri(auth: AuthConfig): string {
  return new URL(auth.redirectPath, window.location.origin).toString();
}

/** The token to send as `Authorization: Bearer`, while it is still valid. */
export function currentToken(): string | undefined {
  const raw = sessionStorage.getItem(TOKENS);
  if (raw === null) return undefined;
  const tokens = JSON.parse(raw) as Tokens;
  if (tokens.expiresAt <= Date.now() / 1000 + 30) return undefined;
  return tokens.accessToken;
}

export async function signIn(auth: AuthConfig): Promise<void> {
  const verifier = createVerifier();
  const state = createVerifier();
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, hash: window.location.hash }));
  window.location.assign(
    authorizeUrl({
      authority: auth.authority,
      clientId: auth.clientId,
      redirectUri: redirectUri(auth),
      scopes: auth.scopes,
      state,
      challenge: await challengeFor(verifier),
    }),
  );
}

/**
 * On the redirect back: redeems the code for tokens and cleans the URL. Returns true when the
 * page is signed in afterwards.
 */
export async function completeSignIn(auth: AuthConfig): Promise<boolean> {
  const back = parseRedirect(window.location.search);
  if (back.error !== undefined) throw new Error(`Sign-in failed: ${back.error}`);
  if (back.code === undefined) return currentToken() !== undefined;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null') as {
    verifier: string;
    state: string;
    hash: string;
  } | null;
  sessionStorage.removeItem(PENDING);
  if (pending === null || pending.state !== back.state) throw new Error('Sign-in failed: the state does not match');
  const response = await fetch(tokenUrl(auth.authority), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: tokenRequestBody({
      clientId: auth.clientId,
      redirectUri: redirectUri(auth),
      code: back.code,
      verifier: pending.verifier,
    }),
  });
  if (!response.ok) throw new Error(`Sign-in failed: the token endpoint answered ${response.status}`);
  const json = (await response.json()) as { access_token: string; id_token?: string; expires_in?: number };
  const expiresAt = jwtExpiry(json.access_token) ?? Math.floor(Date.now() / 1000) + (json.expires_in ?? 3600);
  sessionStorage.setItem(
    TOKENS,
    JSON.stringify({
      accessToken: json.access_token,
      ...(json.id_token === undefined ? {} : { idToken: json.id_token }),
      expiresAt,
    }),
  );
  window.history.replaceState(null, '', `${window.location.pathname}${pending.hash}`);
  return true;
}

export function signOut(auth: AuthConfig): void {
  sessionStorage.removeItem(TOKENS);
  window.location.assign(logoutUrl(auth.authority, auth.clientId, redirectUri(auth)));
}
