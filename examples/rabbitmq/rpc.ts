/**
 * RabbitMQ tutorial 6, "RPC" (rpc_server.py and rpc_client.py), on Sluice: the client sends
 * each request to the `rpc_queue` topic with `reply_to` (a reply topic of its own) and a fresh
 * `correlation_id`; the server, a member of the queue's share group (start several and they
 * share the requests), computes Fibonacci numbers and replies to `reply_to` with the same
 * `correlation_id`, which the client matches to its call. `RpcClient` and `RpcServer` are in the
 * client library. A request the server cannot serve (n outside 0..40) gets an error reply.
 *
 *   npx sluice example rabbitmq/rpc                    # fib(30)
 *   npx sluice example rabbitmq/rpc --n 10 --n 20 --servers 2
 */
import { parseArgs } from 'node:util';
import { PermanentError, RpcClient, RpcServer, isRpcError } from '../../client/index.ts';
import { URL_OPTION, declareQueue, exitAfter, unique } from './queues.ts';

const { values } = parseArgs({
  options: {
    ...URL_OPTION,
    queue: { type: 'string', default: unique('rpc_queue') },
    n: { type: 'string', multiple: true, default: ['30'] },
    servers: { type: 'string', default: '1' },
  },
});
exitAfter(60_000);
const { url, queue } = values;
await declareQueue(url, queue);

/** The tutorial's deliberately slow recursive Fibonacci. */
function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

// rpc_server.py
const servers = Array.from({ length: Number(values.servers) }, (_, i) => {
  const server = new RpcServer({ url, groupId: queue, topics: [queue], maxRecords: 1, waitMs: 500 }, (request) => {
    const n = request.value;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 40)
      throw new PermanentError(`fib(n) needs an integer n from 0 to 40, not ${JSON.stringify(n)}`);
    console.log(`[server ${i + 1}]  [.] fib(${n})`);
    return fib(n);
  });
  return { server, serving: server.run() };
});
console.log(` [x] Awaiting RPC requests on ${queue}`);

// rpc_client.py: one call at a time, as the tutorial's FibonacciRpcClient.call
const client = new RpcClient({ url, replyTimeoutMs: 30_000 });
for (const n of values.n.map(Number)) {
  console.log(` [x] Requesting fib(${n})`);
  try {
    const reply = await client.call({ topic: queue }, n);
    console.log(` [.] Got ${JSON.stringify(reply.value)} (correlation_id ${String(reply.headers.correlation_id)})`);
  } catch (e) {
    if (!isRpcError(e, 'RpcFailed')) throw e;
    console.log(` [.] Failed: ${e.message}`);
  }
}
await client.close();
for (const { server } of servers) server.stop();
await Promise.all(servers.map(async ({ server, serving }) => (await serving, await server.close())));
