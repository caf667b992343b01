import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { HandlerName } from '../../functions/http/routes.ts';
import { startLocalGateway, type LambdaHttpHandler } from '../../local/gateway.ts';

/** The local gateway answers as API Gateway and Lambda would at their limits, so tests see what AWS does. */
describe('local gateway limits', () => {
  let gateway: Awaited<ReturnType<typeof startLocalGateway>>;
  const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  const answer: { next: LambdaHttpHandler } = { next: async () => ({ statusCode: 200, body: '{}' }) };
  const handler: LambdaHttpHandler = (event, context) => answer.next(event, context);

  beforeAll(async () => {
    const handlers = Object.fromEntries(
      (
        ['topics', 'produce', 'fetch', 'groups', 'tiering', 'sagas', 'acls', 'queues', 'exchanges'] as HandlerName[]
      ).map((h) => [h, handler]),
    ) as Record<HandlerName, LambdaHttpHandler>;
    gateway = await startLocalGateway({ port: 0, handlers, integrationTimeoutMs: 200 });
  });
  afterAll(async () => {
    await gateway.close();
    errors.mockRestore();
  });

  const post = (bytes: number) =>
    fetch(`${gateway.url}/v1/topics/t/records`, { method: 'POST', body: JSON.stringify({ pad: 'x'.repeat(bytes) }) });

  it('refuses requests over 10 MB, and over Lambda\u2019s 6 MB event', async () => {
    expect((await post(11 * 1024 * 1024)).status).toBe(413);
    expect((await post(7 * 1024 * 1024)).status).toBe(413);
    expect((await post(1024)).status).toBe(200);
  });

  it('turns a response over 6 MB into a 500 and a handler slower than the integration timeout into a 503, saying why', async () => {
    answer.next = async () => ({ statusCode: 200, body: 'x'.repeat(7 * 1024 * 1024) });
    expect((await post(10)).status).toBe(500);
    answer.next = () => new Promise((resolve) => setTimeout(() => resolve({ statusCode: 200 }), 1000));
    expect((await post(10)).status).toBe(503);
    answer.next = async () => {
      throw new Error('boom');
    };
    const res = await post(10);
    expect(res.status).toBe(500);
    expect(await res.text(), 'nothing internal in the answer').not.toMatch(/boom/);
    const printed = errors.mock.calls.map((c) => c.map(String).join(' ')).join('\n');
    expect(printed).toMatch(/over Lambda's 6 MB/);
    expect(printed).toMatch(/did not answer within 200 ms/);
    expect(printed, 'the cause of a 500 is printed locally').toMatch(/boom/);
  });
});
