import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../local/stack.ts';
import { startTestStack } from '../support/e2e.ts';
import { uniqueName } from '../support/names.ts';
import { rawRequest } from '../support/rawRequest.ts';

/**
 * The local stack (`npm start`'s, always: a deployed API has its own authorization) refuses what a
 * web page could send it, and writes nothing; tools and its own origin are served as before.
 */
describe('the local stack refuses browser requests from elsewhere', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startTestStack('admission');
  });
  afterAll(() => stack?.stop());

  const topics = () => `${stack.url}/v1/topics`;
  const describeTopic = (name: string) => rawRequest(`${topics()}/${name}`, 'GET', {});
  // A body the topics handler accepts whatever the content type, so only admission stands in the way.
  const create = (name: string) => JSON.stringify({ name, partitions: 1 });
  const codeOf = (body: string): unknown => JSON.parse(body).error?.code;

  it('refuses a cross-site form post and a foreign Host, and no topic is created', async () => {
    const topic = uniqueName('forged');
    const form = await rawRequest(
      topics(),
      'POST',
      { origin: 'http://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
      create(topic),
    );
    expect([form.status, codeOf(form.body)]).toStrictEqual([403, 'CrossOriginRefused']);
    const plain = await rawRequest(
      topics(),
      'POST',
      { origin: 'http://evil.example', 'content-type': 'text/plain', 'sec-fetch-site': 'cross-site' },
      create(topic),
    );
    expect([plain.status, codeOf(plain.body)]).toStrictEqual([403, 'CrossOriginRefused']);
    const rebound = await rawRequest(
      topics(),
      'POST',
      { host: `rebind.evil.example:${new URL(stack.url).port}`, 'content-type': 'application/json' },
      create(topic),
    );
    expect([rebound.status, codeOf(rebound.body)]).toStrictEqual([403, 'ForeignHost']);

    const after = await describeTopic(topic);
    expect([after.status, codeOf(after.body)], 'the topic does not exist').toStrictEqual([404, 'TopicNotFound']);
  });

  it('serves the same request from a tool (no Origin) and from its own origin', async () => {
    const fromCurl = uniqueName('curl');
    const curl = await rawRequest(
      topics(),
      'POST',
      { 'content-type': 'application/x-www-form-urlencoded' },
      create(fromCurl),
    );
    expect(curl.status, curl.body).toBe(201);
    expect((await describeTopic(fromCurl)).status).toBe(200);

    const fromPage = uniqueName('same-origin');
    const page = await rawRequest(
      topics(),
      'POST',
      { origin: stack.url, 'sec-fetch-site': 'same-origin', 'content-type': 'application/json' },
      create(fromPage),
    );
    expect(page.status, page.body).toBe(201);
    expect(Object.keys(page.headers).filter((h) => h.startsWith('access-control-'))).toStrictEqual([]);
    expect((await describeTopic(fromPage)).status).toBe(200);
  });
});
