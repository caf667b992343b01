import { fc, test } from '@fast-check/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HandlerName } from '../../functions/http/routes.ts';
import { refuseForeignRequest } from '../../local/admission.ts';
import { startLocalGateway, type LambdaHttpHandler } from '../../local/gateway.ts';
import { rawRequest, type RawAnswer } from '../support/rawRequest.ts';

/** The local gateway refuses DNS-rebound and cross-origin browser requests before any handler runs. */
describe('local gateway admission', () => {
  let gateway: Awaited<ReturnType<typeof startLocalGateway>>;
  let port: number;
  const reached: string[] = [];
  const handler: LambdaHttpHandler = async (event) => {
    reached.push(`${event.requestContext.http.method} ${event.rawPath} ${event.body ?? ''}`);
    return { statusCode: 201, headers: { 'content-type': 'application/json' }, body: '{"name":"orders"}' };
  };

  beforeAll(async () => {
    const handlers = Object.fromEntries(
      (['topics', 'produce', 'fetch', 'groups', 'tiering', 'sagas'] as HandlerName[]).map((h) => [h, handler]),
    ) as Record<HandlerName, LambdaHttpHandler>;
    gateway = await startLocalGateway({ port: 0, handlers });
    port = new URL(gateway.url).port === '' ? 80 : Number(new URL(gateway.url).port);
  });
  afterAll(() => gateway.close());

  const topics = () => `${gateway.url}/v1/topics`;
  const json = { 'content-type': 'application/json' };
  const createBody = '{"name":"orders","partitions":1}';

  /** Asserts a typed 403 refusal that reached no handler and sent no CORS header. */
  async function expectRefused(answer: Promise<RawAnswer>, code: string): Promise<void> {
    const before = reached.length;
    const { status, headers, body } = await answer;
    expect(status).toBe(403);
    expect(headers['content-type']).toBe('application/json');
    const parsed = JSON.parse(body);
    expect(parsed.error.code).toBe(code);
    expect(typeof parsed.error.message).toBe('string');
    expect(Object.keys(headers).filter((h) => h.startsWith('access-control-'))).toStrictEqual([]);
    expect(reached.length, 'nothing reached a handler').toBe(before);
  }

  async function expectAdmitted(answer: Promise<RawAnswer>): Promise<void> {
    const before = reached.length;
    const { status, headers } = await answer;
    expect(status).toBe(201);
    expect(Object.keys(headers).filter((h) => h.startsWith('access-control-'))).toStrictEqual([]);
    expect(reached.length, 'the handler ran').toBe(before + 1);
  }

  it('refuses a Host that is not a loopback name (DNS rebinding), whatever the port', async () => {
    for (const host of [
      'evil.example',
      `evil.example:${port}`,
      `127.0.0.1.nip.io:${port}`,
      `localhost.evil.example:${port}`,
      `localhost:${port}@evil.example`,
      '0.0.0.0',
      `192.168.1.10:${port}`,
      '[::ffff:7f00:1]',
      `localhost:99999`,
      '',
    ]) {
      await expectRefused(rawRequest(topics(), 'POST', { host, ...json }, createBody), 'ForeignHost');
    }
    // Node itself answers 400 to an HTTP/1.1 request without Host; HTTP/1.0 may omit it, and is refused.
    expect((await rawRequest(topics(), 'POST', { host: null, ...json }, createBody)).status).toBe(400);
    expect(JSON.parse(refuseForeignRequest({}, port)!.body!).error.code).toBe('ForeignHost');
  });

  it('answers curl-like requests addressed to a loopback name, on its port or another (a port forward)', async () => {
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      `LOCALHOST:${port}`,
      `[::1]:${port}`,
      'localhost',
      '127.0.0.1:8080',
    ])
      await expectAdmitted(rawRequest(topics(), 'POST', { host, ...json }, createBody));
  });

  it('refuses a cross-site HTML form post, and its preflight-free text/plain twin, without running the handler', async () => {
    const form = { origin: 'http://evil.example', 'content-type': 'application/x-www-form-urlencoded' };
    await expectRefused(rawRequest(topics(), 'POST', form, createBody), 'CrossOriginRefused');
    await expectRefused(
      rawRequest(topics(), 'POST', { origin: 'http://evil.example', 'content-type': 'text/plain' }, createBody),
      'CrossOriginRefused',
    );
    // The same request from a tool (no Origin) goes through, so the Origin alone was refused.
    await expectAdmitted(rawRequest(topics(), 'POST', { 'content-type': form['content-type'] }, createBody));
  });

  it('refuses other origins, preflights included, and Sec-Fetch-Site cross-site or same-site', async () => {
    for (const origin of [
      'http://evil.example',
      'null',
      `http://localhost:${port + 1}`,
      `https://localhost:${port}`,
      `http://127.0.0.1:${port}.evil.example`,
      `http://evil.example:${port}`,
    ]) {
      await expectRefused(rawRequest(topics(), 'POST', { origin, ...json }, createBody), 'CrossOriginRefused');
      await expectRefused(rawRequest(topics(), 'GET', { origin }), 'CrossOriginRefused');
    }
    const preflight = {
      origin: 'http://evil.example',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type',
    };
    await expectRefused(rawRequest(topics(), 'OPTIONS', preflight), 'CrossOriginRefused');
    for (const site of ['cross-site', 'same-site'])
      await expectRefused(
        rawRequest(topics(), 'POST', { 'sec-fetch-site': site, ...json }, createBody),
        'CrossOriginRefused',
      );
  });

  it('answers requests from its own origin, and a browser’s own navigations', async () => {
    for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`, `http://[::1]:${port}`])
      await expectAdmitted(
        rawRequest(topics(), 'POST', { origin, 'sec-fetch-site': 'same-origin', ...json }, createBody),
      );
    await expectAdmitted(rawRequest(topics(), 'POST', { 'sec-fetch-site': 'none', ...json }, createBody));
    await expectAdmitted(rawRequest(topics(), 'POST', json, createBody));
  });

  // Names that start like a loopback name and go on are the interesting inputs: a plain fc.string() rarely is one.
  const nearLoopback = fc
    .tuple(fc.constantFrom('localhost', '127.0.0.1', '[::1]', 'http://localhost', 'http://127.0.0.1'), fc.string())
    .map(([name, rest]) => name + rest);
  const anyText = fc.oneof(fc.string(), nearLoopback);
  test.prop([anyText, fc.option(anyText, { nil: undefined })])(
    'admits no Host outside the loopback names and no Origin but its own, whatever the text',
    (host, origin) => {
      const refused = refuseForeignRequest({ host, ...(origin === undefined ? {} : { origin }) }, 7070);
      if (refused === undefined) {
        expect(host).toMatch(/^(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/i);
        if (origin !== undefined) expect(origin).toMatch(/^http:\/\/(localhost|127\.0\.0\.1|\[::1\]):7070$/i);
      } else {
        expect(refused.statusCode).toBe(403);
      }
    },
  );
});
