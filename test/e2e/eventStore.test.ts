import { expect, it } from 'vitest';
import { EventStreams, isSluiceApiError } from '../../client/index.ts';
import { runNode, useApi } from '../support/e2e.ts';
import { uniqueName } from '../support/names.ts';

/**
 * The event store end to end over HTTP: the client's EventStreams, the `sluice streams` CLI and
 * the bank-account example (also in memory), on the local stack or a deployed one (SLUICE_API_URL).
 */
const api = useApi('e2e-events');
const cli = (args: string[], stdin?: string) => runNode('bin/sluice.mjs', ['--url', api.url, ...args], stdin);

it('the bank-account example runs in memory and against the stack: a stale write refused, the balance now and at T, the read model', async () => {
  for (const args of [['--in-memory'], ['--url', api.url]]) {
    const account = uniqueName('account');
    const run = await runNode('examples/eventStore/bankAccount.ts', [...args, '--account', account]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim().split('\n')).toEqual([
      `Opened ${account} for Ada`,
      'Refused a stale withdrawal: WrongExpectedVersion (the account is at version 3)',
      'Balance now: 137.50 EUR after 3 transactions (version 3 of 3)',
      expect.stringMatching(/^Balance at \d{4}-\d\d-\d\dT[\d:.]+Z: 87\.50 EUR \(version 2\)$/),
      `Read model: ${account} Ada 137.50 EUR`,
    ]);
  }
});

it('the client appends with expected versions (a stale one is 409 with the actual version), reads in pages, upcasts and loads at a time', async () => {
  const streams = new EventStreams({ url: api.url });
  const id = uniqueName('cart');
  await streams.append(id, [{ type: 'Added', data: { sku: 'a', qty: 1 } }], { expectedVersion: 'noStream' });
  const stale = await streams
    .append(id, [{ type: 'Added', data: { sku: 'b' } }], { expectedVersion: 'noStream' })
    .catch((e: unknown) => e);
  expect(isSluiceApiError(stale) && stale.status).toBe(409);
  expect(isSluiceApiError(stale) && stale.code).toBe('WrongExpectedVersion');
  expect(isSluiceApiError(stale) && stale.details.actualVersion).toBe(0);
  for (let v = 0; v < 5; v++)
    await streams.append(id, [{ type: 'Added', data: { sku: `s${v}`, qty: v }, schemaVersion: 2 }], {
      expectedVersion: v,
    });
  const page = await streams.read(id, { fromVersion: 1, maxCount: 2 });
  expect(page.events.map((e) => e.version)).toEqual([1, 2]);
  expect(page.nextVersion).toBe(3);
  streams.registerUpcaster('Added', 1, (d) => ({ ...(d as object), qty: (d as { qty: number }).qty * 10 }));
  const all = [];
  for await (const e of streams.events(id)) all.push(e);
  expect(all.map((e) => [e.version, e.schemaVersion, (e.data as { qty: number }).qty])).toEqual([
    [0, 2, 10],
    [1, 2, 0],
    [2, 2, 1],
    [3, 2, 2],
    [4, 2, 3],
    [5, 2, 4],
  ]);
  const reducer = { initial: () => 0, apply: (n: number, e: { data: unknown }) => n + (e.data as { qty: number }).qty };
  expect(await streams.load(id, reducer)).toEqual({ state: 20, version: 5 });
  expect(await streams.load(id, reducer, { at: 2 })).toEqual({ state: 11, version: 2 });
  expect(await streams.load(id, reducer, { at: { timestamp: all[0]!.timestamp - 1 } })).toEqual({
    state: 0,
    version: -1,
  });
  expect((await streams.describe(id)).version).toBe(5);
});

it('the CLI appends (from arguments and stdin), refuses a wrong expected version with exit code 1, reads and shows a stream', async () => {
  const id = uniqueName('order');
  const first = await cli([
    'streams',
    'append',
    id,
    '{"type":"Placed","data":{"total":42}}',
    '--expected-version',
    'noStream',
  ]);
  expect(first.code, first.stderr).toBe(0);
  expect(first.stdout).toMatch(
    new RegExp(`^Appended ${id} versions 0\\.\\.0 \\(partition \\d+, offsets \\d+\\.\\.\\d+\\)`),
  );
  const more = await cli(
    ['streams', 'append', id, '--expected-version', '0'],
    '{"type":"Paid","data":{}}\n{"type":"Shipped","data":{"carrier":"dhl"}}\n',
  );
  expect(more.code, more.stderr).toBe(0);
  expect(more.stdout).toMatch(/versions 1\.\.2/);
  const wrong = await cli(['streams', 'append', id, '{"type":"Cancelled","data":{}}', '--expected-version', '0']);
  expect(wrong.code).toBe(1);
  expect(wrong.stderr).toMatch(/WrongExpectedVersion/);
  const read = await cli(['streams', 'read', id, '--from-version', '1']);
  expect(read.code, read.stderr).toBe(0);
  const lines = read.stdout.trim().split('\n');
  expect(lines[0]).toMatch(/^VERSION\s+TYPE\s+TIMESTAMP\s+DATA$/);
  expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 2))).toEqual([
    ['1', 'Paid'],
    ['2', 'Shipped'],
  ]);
  const json = await cli(['streams', 'read', id, '--json', '--max', '1']);
  expect(JSON.parse(json.stdout.trim())).toMatchObject({
    streamId: id,
    version: 0,
    type: 'Placed',
    data: { total: 42 },
  });
  const show = await cli(['streams', 'show', id]);
  expect(show.stdout).toMatch(new RegExp(`^${id}: version 2, partition \\d+, last event \\d{4}-`));
  const missing = await cli(['streams', 'show', uniqueName('nobody')]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toMatch(/StreamNotFound/);
});
