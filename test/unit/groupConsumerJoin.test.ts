import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, it } from 'vitest';
import { GroupConsumer, isSluiceApiError } from '../../client/index.ts';

/** A stand-in API whose first `failures` joins answer UnknownMember (the member expired mid-join). */
async function api(failures: number) {
  let joins = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      joins++;
      const body =
        joins <= failures
          ? { status: 404, json: { error: { code: 'UnknownMember', message: 'Member m is not in group g' } } }
          : {
              status: 200,
              json: {
                memberId: `m-${joins}`,
                generation: 1,
                assignments: [{ topic: 't', partition: 0 }],
                revoking: [],
              },
            };
      res.writeHead(body.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body.json));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    joins: () => joins,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

it('connect joins again when the join finds its own new member expired, up to three times', async () => {
  const twice = await api(2);
  try {
    const consumer = new GroupConsumer({ url: twice.url, groupId: 'g', topics: ['t'], heartbeatIntervalMs: 60_000 });
    await consumer.connect();
    expect([twice.joins(), consumer.assignment()]).toStrictEqual([3, [{ topic: 't', partition: 0 }]]);
    await consumer.close().catch(() => undefined);
  } finally {
    await twice.close();
  }
  const always = await api(10);
  try {
    const consumer = new GroupConsumer({ url: always.url, groupId: 'g', topics: ['t'] });
    const e = await consumer.connect().catch((x: unknown) => x);
    expect(isSluiceApiError(e, 'UnknownMember')).toBe(true);
    expect(always.joins(), 'it gives up after three').toBe(3);
  } finally {
    await always.close();
  }
});
