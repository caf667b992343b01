import { describe, expect, it } from 'vitest';
import {
  authorizeUrl,
  base64url,
  challengeFor,
  createVerifier,
  jwtExpiry,
  logoutUrl,
  mayGoToSignIn,
  SIGN_IN_LOOP_GUARD_MS,
  parseRedirect,
  tokenExpiresAt,
  tokenRequestBody,
  tokenUrl,
} from '../../console/src/auth/pkce.ts';
import { parseConfig } from '../../console/src/config.ts';

/** The web console's sign-in helpers: PKCE (RFC 7636) and Cognito's hosted UI URLs. */
describe('console PKCE helpers', () => {
  it('derives the S256 challenge of RFC 7636 appendix B', async () => {
    // The RFC's own example: its verifier and the challenge it gives.
    expect(await challengeFor('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe(
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    );
  });

  it('makes verifiers of 43 unreserved characters, from 32 random bytes, each new', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const verifier = createVerifier();
      expect(verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
      seen.add(verifier);
    }
    expect(seen.size).toBe(50);
    expect(createVerifier((b) => b.fill(0xff))).toBe('_'.repeat(42) + '8');
  });

  it('encodes base64url without padding', () => {
    expect(base64url(new Uint8Array([0xfb, 0xff]))).toBe('-_8');
    expect(base64url(new Uint8Array([]))).toBe('');
  });

  it('builds the authorize URL with the code flow, S256 and every parameter encoded', () => {
    const url = new URL(
      authorizeUrl({
        authority: 'https://sluice.auth.eu-west-1.amazoncognito.com/',
        clientId: 'abc123',
        redirectUri: 'https://d1.cloudfront.net/console/',
        scopes: ['openid', 'email', 'sluice/api'],
        state: 's t',
        challenge: 'E9Mel',
      }),
    );
    expect(url.origin + url.pathname).toBe('https://sluice.auth.eu-west-1.amazoncognito.com/oauth2/authorize');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: 'code',
      client_id: 'abc123',
      redirect_uri: 'https://d1.cloudfront.net/console/',
      scope: 'openid email sluice/api',
      state: 's t',
      code_challenge: 'E9Mel',
      code_challenge_method: 'S256',
    });
  });

  it('redeems the code at /oauth2/token with the verifier and no client secret', () => {
    expect(tokenUrl('https://a.example/')).toBe('https://a.example/oauth2/token');
    const body = tokenRequestBody({ clientId: 'c', redirectUri: 'https://x/console/', code: 'k', verifier: 'v' });
    expect(Object.fromEntries(body)).toEqual({
      grant_type: 'authorization_code',
      client_id: 'c',
      code: 'k',
      redirect_uri: 'https://x/console/',
      code_verifier: 'v',
    });
    expect(body.has('client_secret')).toBe(false);
  });

  it('signs out through /logout back to the console', () => {
    const url = new URL(logoutUrl('https://a.example', 'c', 'https://x/console/'));
    expect(url.pathname).toBe('/logout');
    expect(url.searchParams.get('client_id')).toBe('c');
    expect(url.searchParams.get('logout_uri')).toBe('https://x/console/');
  });

  it('reads the redirect back: code and state, or the error the server sent', () => {
    expect(parseRedirect('?code=abc&state=xyz')).toEqual({ code: 'abc', state: 'xyz' });
    expect(parseRedirect('?error=access_denied&error_description=User+cancelled')).toEqual({
      error: 'User cancelled',
    });
    expect(parseRedirect('')).toEqual({});
  });

  it('reads a JWT’s expiry and shrugs at anything else', () => {
    const payload = base64url(new TextEncoder().encode(JSON.stringify({ sub: 'u', exp: 1_800_000_000 })));
    expect(jwtExpiry(`h.${payload}.s`)).toBe(1_800_000_000);
    expect(jwtExpiry('not-a-jwt')).toBeUndefined();
    expect(jwtExpiry('a.%%%.c')).toBeUndefined();
  });
});

describe('console config.json', () => {
  it('accepts the local shape and the deployed one', () => {
    expect(parseConfig({ apiUrl: '', auth: null })).toEqual({ apiUrl: '', auth: null });
    expect(
      parseConfig({
        apiUrl: '',
        auth: { authority: 'https://a.example/', clientId: 'c', scopes: ['openid'], redirectPath: '/console/' },
      }).auth,
    ).toEqual({ authority: 'https://a.example', clientId: 'c', scopes: ['openid'], redirectPath: '/console/' });
  });

  it('says what is wrong with a broken one', () => {
    expect(() => parseConfig({ auth: null })).toThrow(/apiUrl/);
    expect(() => parseConfig({ apiUrl: '', auth: { authority: 'nope', clientId: 'c', scopes: [] } })).toThrow(
      /authority/,
    );
    expect(() => parseConfig({ apiUrl: '', auth: { authority: 'https://a', clientId: 'c', scopes: [1] } })).toThrow(
      /scopes/,
    );
  });

  it('goes to sign in once at a time, and not again on its own within 30 s (no loop on a token the API refuses)', () => {
    const now = 1_800_000_000_000;
    expect(mayGoToSignIn({ inProgress: false, lastAt: undefined, now })).toBe(true);
    expect(mayGoToSignIn({ inProgress: true, lastAt: undefined, now }), 'one at a time').toBe(false);
    expect(mayGoToSignIn({ inProgress: false, lastAt: now - 1000, now }), 'refused again at once').toBe(false);
    expect(mayGoToSignIn({ inProgress: false, lastAt: now - 1000, now, force: true }), 'the user’s click').toBe(true);
    expect(mayGoToSignIn({ inProgress: false, lastAt: now - SIGN_IN_LOOP_GUARD_MS, now })).toBe(true);
  });

  it('dates a new token by this browser’s clock and expires_in, not by the provider’s exp', () => {
    const now = 1_800_000_000_000;
    // exp two hours behind this browser's clock (a clock set wrong), valid for an hour.
    const stale = `h.${Buffer.from(JSON.stringify({ exp: now / 1000 - 7200 })).toString('base64url')}.s`;
    expect(tokenExpiresAt({ access_token: stale, expires_in: 3600 }, now)).toBe(now / 1000 + 3600);
    const fresh = `h.${Buffer.from(JSON.stringify({ exp: now / 1000 + 600 })).toString('base64url')}.s`;
    expect(tokenExpiresAt({ access_token: fresh }, now), 'no expires_in: the token’s own lifetime').toBe(
      now / 1000 + 600,
    );
    expect(tokenExpiresAt({ access_token: 'opaque' }, now), 'neither: an hour').toBe(now / 1000 + 3600);
  });
});
