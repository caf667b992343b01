import type { AuthConfig } from '../config.ts';
import {
  authorizeUrl,
  challengeFor,
  createVerifier,
  logoutUrl,
  mayGoToSignIn,
  parseRedirect,
  tokenExpiresAt,
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
  /** Epoch seconds, by this browser's clock. */
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

/** When this tab last went to sign in (ms): a guard against a sign-in loop. */
const LAST_REDIRECT = 'sluice.signInAt';
let signingIn = false;

/**
 * Goes to the provider's sign-in page, once at a time (a page's parallel requests may all be
 * refused), and not again within 30 s of the last time: a token the API keeps refusing (a wrong
 * audience, say) would otherwise send the tab round the provider for ever. Returns false when it
 * did not go.
 */
export async function signIn(auth: AuthConfig, options: { force?: boolean } = {}): Promise<boolean> {
  const last = sessionStorage.getItem(LAST_REDIRECT);
  const now = Date.now();
  const lastAt = last === null ? undefined : Number(last);
  if (!mayGoToSignIn({ inProgress: signingIn, lastAt, now, ...options })) return false;
  signingIn = true;
  sessionStorage.setItem(LAST_REDIRECT, String(Date.now()));
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
  return true;
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
  const json = (await response.json()) as { access_token: string; expires_in?: number };
  // This browser's clock, from when the token arrived: a clock set wrong must not make a fresh
  // token look expired (the token's own `exp` is the provider's clock).
  const expiresAt = tokenExpiresAt(json, Date.now());
  // Only the access token is kept: nothing here reads the ID token.
  sessionStorage.setItem(TOKENS, JSON.stringify({ accessToken: json.access_token, expiresAt }));
  window.history.replaceState(null, '', `${window.location.pathname}${pending.hash}`);
  return true;
}

export function signOut(auth: AuthConfig): void {
  sessionStorage.removeItem(TOKENS);
  window.location.assign(logoutUrl(auth.authority, auth.clientId, redirectUri(auth)));
}
