import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiClient, errorFrom, fillPath, isApiError, queryString } from '../../console/src/api/client.ts';
import { hexDump, parseHeaders, parseValue, preview, showValue } from '../../console/src/format.ts';

/** The console's typed API layer and what it shows of records. */
describe('console API types', () => {
  it('are what openapi-typescript makes of docs/openapi.json today (npm run generate:api-types)', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'sluice-api-types-')), 'schema.d.ts');
    const cli = join('node_modules', 'openapi-typescript', 'bin', 'cli.js');
    const run = spawnSync(process.execPath, [cli, 'docs/openapi.json', '-o', out], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(readFileSync(out, 'utf8'), 'console/src/api/schema.d.ts is stale: npm run generate:api-types').toBe(
      readFileSync('console/src/api/schema.d.ts', 'utf8'),
    );
  });
});

describe('console API client', () => {
  const answering = (status: number, body: string) => {
    const calls: { url: string; init: RequestInit }[] = [];
    const fetch = (async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      return new Response(body, { status });
    }) as unknown as typeof globalThis.fetch;
    return { calls, fetch };
  };

  it('fills path parameters, encoded, and the query; sends JSON and the bearer token', async () => {
    const { calls, fetch } = answering(200, '{"offsets":[]}');
    const client = new ApiClient({ baseUrl: 'https://api.example/', token: () => 'tok', fetch });
    await client.post('/v1/topics/{topic}/records', { path: { topic: 'a/b c' }, body: { records: [{ value: 1 }] } });
    await client.get('/v1/topics/{topic}', { path: { topic: 't' }, query: { sizes: true } });
    expect(calls[0]!.url).toBe('https://api.example/v1/topics/a%2Fb%20c/records');
    expect(calls[0]!.init.method).toBe('POST');
    expect(calls[0]!.init.body).toBe('{"records":[{"value":1}]}');
    expect((calls[0]!.init.headers as Record<string, string>).authorization).toBe('Bearer tok');
    expect(calls[1]!.url).toBe('https://api.example/v1/topics/t?sizes=true');
    expect(fillPath('/v1/x/{a}', { a: 1 })).toBe('/v1/x/1');
    expect(() => fillPath('/v1/x/{a}', {})).toThrow(/a/);
    expect(queryString({ a: undefined })).toBe('');
  });

  it('signs in again when the API refuses the token', async () => {
    const { fetch } = answering(401, '{"message":"Unauthorized"}');
    let asked = 0;
    const client = new ApiClient({ baseUrl: '', token: () => 'expired', onUnauthorized: () => asked++, fetch });
    await expect(client.get('/v1/topics', {})).rejects.toMatchObject({ status: 401, message: 'Unauthorized' });
    expect(asked).toBe(1);
  });

  it('turns the API’s typed errors into ApiError, and a missing route into “not available”', async () => {
    const { fetch } = answering(409, '{"error":{"code":"GroupNotEmpty","message":"Stop its members","members":2}}');
    const client = new ApiClient({ baseUrl: '', fetch });
    const error = await client
      .post('/v1/groups/{group}/offsets/reset', {
        path: { group: 'g' },
        body: { topic: 't', to: 'earliest' },
      })
      .catch((e: unknown) => e);
    expect(isApiError(error)).toBe(true);
    expect(error).toMatchObject({
      status: 409,
      code: 'GroupNotEmpty',
      message: 'Stop its members',
      notAvailable: false,
    });
    expect((error as { details: unknown }).details).toEqual({ members: 2 });
    expect(errorFrom(404, { error: { code: 'RouteNotFound', message: 'No route' } }, '').notAvailable).toBe(true);
    expect(errorFrom(404, { message: 'Not Found' }, '').notAvailable, 'API Gateway’s own 404').toBe(true);
    expect(errorFrom(404, { error: { code: 'TopicNotFound', message: 'x' } }, '').notAvailable).toBe(false);
    expect(errorFrom(502, undefined, 'Bad gateway').message).toBe('Bad gateway');
  });
});

describe('console record display', () => {
  it('pretty-prints JSON values, and strings that hold JSON', () => {
    expect(showValue({ a: [1, 2] }, undefined)).toEqual({ kind: 'json', text: '{\n  "a": [\n    1,\n    2\n  ]\n}' });
    expect(showValue('{"b":true}', undefined)).toEqual({ kind: 'json', text: '{\n  "b": true\n}' });
    expect(showValue('{not json', undefined)).toEqual({ kind: 'text', text: '{not json' });
    expect(showValue(null, undefined).kind).toBe('null');
  });

  it('shows bytes as base64 and hex', () => {
    const shown = showValue(Buffer.from([0, 1, 0xfe, 0xff]).toString('base64'), 'base64');
    expect(shown).toEqual({ kind: 'binary', text: 'AAH+/w==', hex: '000000  00 01 fe ff' });
    expect(hexDump(new Uint8Array(40), 32).split('\n')).toHaveLength(3);
    expect(preview('AAH+/w==', 'base64')).toBe('base64:AAH+/w==');
    expect(preview({ long: 'x'.repeat(200) }, undefined, 20)).toHaveLength(20);
  });

  it('parses produce headers and values', () => {
    expect(parseHeaders('a: 1\n\n b :x:y ')).toEqual({ a: '1', b: 'x:y' });
    expect(() => parseHeaders('nocolon')).toThrow(/name: value/);
    expect(parseValue('{"n":1}')).toEqual({ n: 1 });
    expect(parseValue('plain text')).toBe('plain text');
  });
});
