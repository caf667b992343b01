import { describe, expect, it } from 'vitest';
import { Admin, PartitionConsumer, Publisher, isSluiceApiError } from '../../client/index.ts';
import { runNode, useApi } from '../support/e2e.ts';
import { uniqueName } from '../support/names.ts';

/** Exchanges over HTTP with the client and the CLI, on the local stack (or SLUICE_API_URL). */
describe('exchanges end to end', () => {
  const api = useApi('exchanges');
  const cli = (args: string[]) => runNode('bin/sluice.mjs', ['--url', api.url, '--json', ...args]);

  /** Every record of a topic's partitions, in partition then offset order. */
  async function records(topic: string, partitions: number) {
    const out = [];
    for (let partition = 0; partition < partitions; partition++) {
      const consumer = new PartitionConsumer({ url: api.url, topic, partition, fromOffset: 0, waitMs: 0 });
      out.push(...(await consumer.poll()));
    }
    return out;
  }

  it('declares, binds topics and an exchange, publishes once per destination, with alternates, mandatory and loops', async () => {
    const admin = new Admin({ url: api.url });
    const publisher = new Publisher({ url: api.url });
    const [eu, all, audit, lost] = ['eu', 'all', 'audit', 'lost'].map((t) => uniqueName(t));
    for (const t of [eu!, all!, audit!, lost!]) await admin.createTopic(t, { partitions: 2 });
    const [orders, copy, spill] = ['orders', 'copy', 'spill'].map((x) => uniqueName(x));

    // The CLI declares and binds; the client does the rest.
    const declared = await cli(['exchanges', 'declare', orders!, '--type', 'topic', '--alternate', spill!]);
    expect(declared.code, declared.stderr).toBe(0);
    expect(JSON.parse(declared.stdout)).toMatchObject({ name: orders, type: 'topic', created: true });
    await publisher.declare(copy!, { type: 'fanout' });
    await publisher.declare(spill!, { type: 'fanout' });
    const bound = await cli(['bind', orders!, '--topic', eu!, '--key', 'order.eu.*']);
    expect(bound.code, bound.stderr).toBe(0);
    await publisher.bind(orders!, { destination: { topic: all! }, bindingKey: 'order.#' });
    await publisher.bind(orders!, { destination: { exchange: copy! }, bindingKey: 'order.eu.#' });
    await publisher.bind(copy!, { destination: { topic: audit! } });
    await publisher.bind(copy!, { destination: { topic: eu! } }); // a second path to eu
    await publisher.bind(spill!, { destination: { topic: lost! } });

    const message = { routingKey: 'order.eu.created', key: 'o-1', value: { id: 1 }, messageId: 'm-1' };
    const first = await publisher.publish(orders!, message);
    expect(first.routed.map((r) => r.topic).sort()).toStrictEqual([all!, audit!, eu!].sort());
    expect(await publisher.publish(orders!, message), 'a retry answers the original offsets').toStrictEqual(first);
    for (const t of [eu!, all!, audit!]) {
      const got = await records(t, 2);
      expect(got.length, `${t} has the message once`).toBe(1);
      expect(got[0]).toMatchObject({ key: 'o-1', value: { id: 1 } });
      expect(got[0]!.headers).toMatchObject({ 'x-exchange': orders, 'x-routing-key': 'order.eu.created' });
    }

    const published = await cli(['publish', orders!, 'invoice.paid', '{"n":2}', '--header', 'source=cli']);
    expect(published.code, published.stderr).toBe(0);
    expect(JSON.parse(published.stdout).routed.map((r: { topic: string }) => r.topic)).toStrictEqual([lost]);
    expect((await records(lost!, 2))[0]).toMatchObject({ value: { n: 2 }, headers: { source: 'cli' } });

    const noRoute = await publisher.publish(copy!, { routingKey: 'x', value: 1 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(noRoute, 'a fanout with bindings routes anything').toBeUndefined();
    await publisher.unbind(copy!, { destination: { topic: audit! } });
    await publisher.unbind(copy!, { destination: { topic: eu! } });
    expect((await publisher.publish(copy!, { routingKey: 'x', value: 1 })).routed).toStrictEqual([]);
    const mandatory = await cli(['publish', copy!, 'x', '1', '--mandatory']);
    expect(mandatory.code).toBe(1);
    expect(JSON.parse(mandatory.stderr).error.code).toBe('NoRoute');
    const loop = await publisher.bind(copy!, { destination: { exchange: orders! } }).catch((e: unknown) => e);
    expect(isSluiceApiError(loop, 'BindingLoop') && loop.status).toBe(409);

    const described = JSON.parse((await cli(['exchanges', 'describe', orders!])).stdout);
    expect(described.bindings.length).toBe(3);
    expect((await cli(['exchanges', 'delete', copy!])).code).toBe(0);
    expect((await publisher.describe(orders!)).bindings.length, 'the binding to copy went with it').toBe(2);
    expect((await publisher.list()).map((x) => x.name)).toContain(orders);
  });
});
