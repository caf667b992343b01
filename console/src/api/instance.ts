import { ApiClient } from './client.ts';

/** The app's one client, configured at start-up from config.json (main.tsx). */
let client = new ApiClient({ baseUrl: '' });

export function configureApi(next: ApiClient): void {
  client = next;
}

export function api(): ApiClient {
  return client;
}
