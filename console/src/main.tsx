import { render } from 'preact';
import { ApiClient } from './api/client.ts';
import { configureApi } from './api/instance.ts';
import { App } from './app.tsx';
import { completeSignIn, currentToken, signIn } from './auth/session.ts';
import { loadConfig } from './config.ts';
import './styles.css';

/**
 * Start-up: read config.json, sign in through the Cognito hosted UI when it names one (PKCE),
 * then render. Locally `auth` is null and the API is on the same origin.
 */
async function start(root: HTMLElement): Promise<void> {
  const config = await loadConfig(import.meta.env.BASE_URL);
  let signedIn = false;
  if (config.auth !== null) {
    signedIn = await completeSignIn(config.auth);
    if (!signedIn) {
      render(<SignIn onSignIn={() => void signIn(config.auth!, { force: true })} />, root);
      return;
    }
  }
  const auth = config.auth;
  configureApi(
    new ApiClient({
      baseUrl: config.apiUrl,
      token: currentToken,
      // Tokens last an hour (Cognito's default) and are not refreshed: the hosted UI's own
      // session signs the user straight back in, to the page they were on.
      // A second refusal within 30 s shows the sign-in page instead of going round again.
      ...(auth === null
        ? {}
        : {
            onUnauthorized: () =>
              void signIn(auth).then((went) => {
                if (!went) render(<SignIn onSignIn={() => void signIn(auth, { force: true })} />, root);
              }),
          }),
    }),
  );
  render(<App config={config} signedIn={signedIn} />, root);
}

function SignIn(props: { onSignIn: () => void }) {
  return (
    <main id="main" class="sign-in">
      <h1>Sluice console</h1>
      <p>Sign in to see your topics, groups and sagas.</p>
      <button type="button" onClick={props.onSignIn}>
        Sign in
      </button>
    </main>
  );
}

const root = document.getElementById('app')!;
start(root).catch((e: unknown) => {
  render(
    <main id="main">
      <h1>Sluice console</h1>
      <p class="error" role="alert">
        The console could not start: {e instanceof Error ? e.message : String(e)}
      </p>
    </main>,
    root,
  );
});
