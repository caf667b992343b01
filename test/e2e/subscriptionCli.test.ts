import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Admin,
  Producer,
  SUBSCRIPTION_HEADERS,
  isSluiceApiError,
  signPayload,
  verifySignature,
  type SubscriptionEvent,
} from '../../client/index.ts';
import { signature } from '../../functions/subscriptions/targets.ts';
import { runNode, useApi } from '../support/e2e.ts';
import { uniqueName } from '../support/names.ts';

/**
 * Subscriptions' admin surface end to end over HTTP, with the client (`Admin.createSubscription`
 * and the rest) and the CLI (`sluice subscriptions`, `sluice quarantine`): the local stack, or a
 * deployed one when SLUICE_API_URL is set. Delivery itself is tested by subscriptions.test.ts and
 * the contract tests; one check here sees the local stack's dispatcher deliver to the webhook.
 */
const api = useApi('e2e-subscription-cli');
const cli = (args: string[]) => runNode('bin/sluice.mjs', ['--url', api.url, ...args]);

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

/** A webhook receiver on loopback (http is allowed there): it keeps each delivery and answers success. */
let hook: Server;
let hookUrl: string;
const received: { headers: Record<string, string | string[] | undefined>; event: SubscriptionEvent }[] = [];
beforeAll(async () => {
  hook = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      received.push({ headers: req.headers, event: JSON.parse(body) as SubscriptionEvent });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"batchItemFailures":[]}');
    });
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
});
afterAll(async () => {
  await new Promise((resolve) => hook.close(resolve));
});

describe('verifySignature', () => {
  const secret = 'whsec-test';
  const body = JSON.stringify({
    eventSource: 'sluice:subscription',
    subscription: 'orders-to-billing',
    records: [
      {
        eventSource: 'sluice:subscription',
        topic: 'orders',
        partition: 0,
        offset: 7,
        timestamp: 1_700_000_000_000,
        key: 'user-1',
        value: { total: 42 },
        headers: {},
      },
    ],
  } satisfies SubscriptionEvent);
  /** Now, in epoch seconds, as a delivery's `x-sluice-timestamp` says it. */
  const seconds = () => Math.floor(Date.now() / 1000);

  it('accepts a fresh delivery signed with the secret, as the dispatcher signs it', () => {
    const ts = String(seconds());
    const header = signPayload(secret, ts, body);
    expect(header).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(header, 'the dispatcher’s own signature').toBe(signature(secret, ts, body));
    expect(verifySignature(secret, ts, body, header)).toBe(true);
    expect(verifySignature(secret, ts, Buffer.from(body), header), 'the raw bytes').toBe(true);
    expect(verifySignature(secret, ts, body, `v1=${'0'.repeat(64)}, ${header}`), 'one of several').toBe(true);
  });

  it('refuses a tampered body, another secret, another timestamp, and malformed headers', () => {
    const ts = String(seconds());
    const header = signPayload(secret, ts, body);
    expect(verifySignature(secret, ts, body.replace('42', '43'), header)).toBe(false);
    expect(verifySignature('another secret', ts, body, header)).toBe(false);
    expect(verifySignature(secret, String(Number(ts) - 1), body, header), 'the timestamp is signed').toBe(false);
    expect(verifySignature(secret, ts, body, header.slice(0, -2))).toBe(false);
    expect(verifySignature(secret, ts, body, header.replace('v1=', 'v0='))).toBe(false);
    expect(verifySignature(secret, ts, body, undefined)).toBe(false);
    expect(verifySignature(secret, undefined, body, header)).toBe(false);
    expect(verifySignature(secret, 'yesterday', body, header)).toBe(false);
  });

  it('refuses a delivery older (or further ahead) than the tolerance, even correctly signed', () => {
    const old = String(seconds() - 400);
    const sign = (t: string) => signPayload(secret, t, body);
    expect(verifySignature(secret, old, body, sign(old))).toBe(false);
    expect(verifySignature(secret, old, body, sign(old), 600), 'a wider tolerance').toBe(true);
    const ahead = String(seconds() + 400);
    expect(verifySignature(secret, ahead, body, sign(ahead))).toBe(false);
    // At the edge, with the clock given: 300 s old is in, 301 s is out.
    const at = 1_800_000_000;
    const edge = (age: number) =>
      verifySignature(secret, String(at - age), body, sign(String(at - age)), 300, at * 1000);
    expect([edge(300), edge(301), edge(-300), edge(-301)]).toStrictEqual([true, false, true, false]);
    expect(SUBSCRIPTION_HEADERS).toStrictEqual({
      signature: 'x-sluice-signature',
      timestamp: 'x-sluice-timestamp',
      subscription: 'x-sluice-subscription',
    });
  });
});

it('the client creates, lists, describes, updates, pauses, resumes and deletes a subscription, with typed errors', async () => {
  const admin = new Admin({ url: api.url });
  const [topic, dead, name] = ['sub-orders', 'sub-dead', 'billing'].map((n) => uniqueName(n)) as [
    string,
    string,
    string,
  ];
  await admin.createTopic(topic, { partitions: 2 });
  await admin.createTopic(dead, { partitions: 1 });
  const producer = new Producer({ url: api.url });
  await producer.sendBatch(topic, [
    { key: 'user-1', value: { n: 1 }, partition: 0 },
    { key: 'user-1', value: { n: 2 }, partition: 0 },
    { key: 'user-2', value: { n: 3 }, partition: 1 },
  ]);
  await producer.close();

  const created = await admin.createSubscription({
    name,
    topic,
    target: { type: 'https', url: hookUrl },
    startingPosition: 'earliest',
    ordering: 'key',
    parallelismPerPartition: 2,
    backoff: { initialMs: 200 },
    filter: { value: { n: [{ numeric: ['>', 0] }] } },
    paused: true, // nothing is delivered while it is described below
  });
  expect(created).toStrictEqual({
    name,
    topic,
    target: { type: 'https', url: hookUrl },
    filter: { value: { n: [{ numeric: ['>', 0] }] } },
    batchSize: 100,
    maxBatchingWindowMs: 0,
    startingPosition: 'earliest',
    ordering: 'key',
    maxRetries: 3,
    backoff: { initialMs: 200, multiplier: 2, maxMs: 60_000 },
    maxRecordAgeMs: -1,
    parallelismPerPartition: 2,
    paused: true,
    createdAt: expect.any(Number),
    version: 0,
  });
  expect((await admin.listSubscriptions()).map((s) => s.name)).toContain(name);

  const again = await failure(admin.createSubscription({ name, topic, target: { type: 'lambda', functionName: 'f' } }));
  expect(isSluiceApiError(again, 'SubscriptionAlreadyExists') && again.status, String(again)).toBe(409);
  const noTopic = await failure(
    admin.createSubscription({
      name: uniqueName('s'),
      topic: uniqueName('none'),
      target: { type: 'lambda', functionName: 'f' },
    }),
  );
  expect(isSluiceApiError(noTopic, 'TopicNotFound') && noTopic.status, String(noTopic)).toBe(404);
  const bad = await failure(
    admin.createSubscription({
      name: uniqueName('s'),
      topic,
      target: { type: 'https', url: 'http://example.com/hook' },
    }),
  );
  expect(isSluiceApiError(bad, 'InvalidArgument') && [bad.status, bad.details.field], String(bad)).toStrictEqual([
    400,
    'target.url',
  ]);

  // Paused before any delivery: no position, and from `earliest` everything is lag.
  const described = await admin.describeSubscription(name);
  expect(described.group).toBe(`subscriptions.${name}`);
  expect(described.quarantined).toStrictEqual([]);
  expect(described.partitions).toStrictEqual([
    { partition: 0, position: null, highWatermark: 2, lag: 2, retry: null, delivered: 0, deadLettered: 0 },
    { partition: 1, position: null, highWatermark: 1, lag: 1, retry: null, delivered: 0, deadLettered: 0 },
  ]);

  const updated = await admin.updateSubscription(name, {
    batchSize: 10,
    filter: null,
    onFailure: { topic: dead },
    maxRecordAgeMs: 60_000,
  });
  expect(updated).toMatchObject({ batchSize: 10, onFailure: { topic: dead }, maxRecordAgeMs: 60_000, version: 1 });
  expect(updated.filter, 'null removes it').toBeUndefined();
  const resumed = await admin.resumeSubscription(name);
  expect([resumed.paused, resumed.version]).toStrictEqual([false, 2]);
  expect((await admin.describeSubscription(name)).paused).toBe(false);
  if (process.env.SLUICE_API_URL === undefined) {
    // The local stack's dispatcher delivers the three records to the webhook (a deployed one cannot reach it).
    // At least once: a record may come twice, so each is counted once by its partition and offset.
    const delivered = () => {
      const byOffset = new Map<string, unknown[]>();
      for (const { event } of received.filter((r) => r.event.subscription === name))
        for (const r of event.records)
          byOffset.set(`${r.partition}/${r.offset}`, [r.eventSource, r.topic, r.partition, r.offset, r.key, r.value]);
      return [...byOffset.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, r]) => r);
    };
    const state = async () => ({
      positions: (await admin.describeSubscription(name)).partitions.map((p) => [p.position, p.lag, p.delivered]),
      records: delivered(),
    });
    const expected = {
      positions: [
        [2, 0, 2],
        [1, 0, 1],
      ],
      records: [
        ['sluice:subscription', topic, 0, 0, 'user-1', { n: 1 }],
        ['sluice:subscription', topic, 0, 1, 'user-1', { n: 2 }],
        ['sluice:subscription', topic, 1, 0, 'user-2', { n: 3 }],
      ],
    };
    let seen = await state();
    for (const deadline = Date.now() + 30_000; Date.now() < deadline && !isDeepStrictEqual(seen, expected);) {
      await new Promise((r) => setTimeout(r, 200));
      seen = await state();
    }
    expect(seen, 'the records at the webhook, and positions past them').toStrictEqual(expected);
    const first = received.find((r) => r.event.subscription === name)!;
    expect(first.headers).toMatchObject({
      'x-sluice-subscription': name,
      'x-sluice-timestamp': expect.stringMatching(/^\d+$/),
    });
    expect(first.headers['x-sluice-signature'], 'no secret: unsigned').toBeUndefined();
  }
  expect((await admin.pauseSubscription(name)).paused).toBe(true);
  expect((await admin.describeSubscription(name)).paused).toBe(true);
  const cleared = await admin.updateSubscription(name, { onFailure: null });
  expect(cleared.onFailure).toBeUndefined();
  const invalid = await failure(admin.updateSubscription(name, { ordering: 'partition' }));
  expect(
    isSluiceApiError(invalid, 'InvalidArgument') && invalid.details.field,
    'parallelism above 1 needs key ordering',
  ).toBe('parallelismPerPartition');

  for (const key of ['user-1', 'a key/with ?odd #chars ü']) {
    for (const skip of [false, true]) {
      const e = await failure(skip ? admin.skipKey(name, key) : admin.releaseKey(name, key));
      expect(isSluiceApiError(e, 'KeyNotQuarantined') && [e.status, e.details.key], String(e)).toStrictEqual([
        404,
        key,
      ]);
    }
  }

  await admin.deleteSubscription(name);
  expect((await admin.listSubscriptions()).map((s) => s.name)).not.toContain(name);
  const gone = await failure(admin.describeSubscription(name));
  expect(isSluiceApiError(gone, 'SubscriptionNotFound') && gone.status).toBe(404);
  const goneAgain = await failure(admin.deleteSubscription(name));
  expect(isSluiceApiError(goneAgain, 'SubscriptionNotFound')).toBe(true);
  const released = await failure(admin.releaseKey(name, 'user-1'));
  expect(isSluiceApiError(released, 'SubscriptionNotFound')).toBe(true);
});

it('the CLI creates, lists, describes, pauses, resumes, updates and deletes a subscription, and releases and skips keys', async () => {
  const admin = new Admin({ url: api.url });
  const topic = uniqueName('cli-sub-orders');
  const dead = uniqueName('cli-sub-dead');
  const name = uniqueName('cli-sub');
  await admin.createTopic(topic, { partitions: 3 });
  await admin.createTopic(dead, { partitions: 1 });
  const producer = new Producer({ url: api.url });
  await producer.sendBatch(topic, [{ value: 1, partition: 2 }]);
  await producer.close();

  const create = [
    'subscriptions',
    'create',
    name,
    '--topic',
    topic,
    '--https',
    hookUrl,
    '--batch-size',
    '50',
    '--ordering',
    'key',
    '--parallelism',
    '4',
    '--max-retries',
    '5',
    '--backoff-initial-ms',
    '250',
    '--backoff-multiplier',
    '1.5',
    '--backoff-max-ms',
    '10000',
    '--max-record-age-ms=-1', // a value starting with a dash goes after an =
    '--on-failure',
    dead,
    '--filter',
    '{"headers":{"type":[{"prefix":"order."}]}}',
    '--paused', // nothing is delivered while it is described below
    '--isolation',
    'read_committed',
  ];
  const created = await cli(create);
  expect(created.code, created.stderr).toBe(0);
  expect(created.stdout.trim()).toBe(`Created subscription ${name}`);
  expect(await admin.describeSubscription(name)).toMatchObject({
    topic,
    target: { type: 'https', url: hookUrl },
    batchSize: 50,
    ordering: 'key',
    parallelismPerPartition: 4,
    maxRetries: 5,
    backoff: { initialMs: 250, multiplier: 1.5, maxMs: 10_000 },
    maxRecordAgeMs: -1,
    onFailure: { topic: dead },
    filter: { headers: { type: [{ prefix: 'order.' }] } },
    startingPosition: 'latest',
    paused: true,
    isolation: 'read_committed',
  });

  const twice = await cli(create);
  expect([twice.code, twice.stderr]).toStrictEqual([
    1,
    `Error SubscriptionAlreadyExists: Subscription ${name} already exists; change it with PATCH\n`,
  ]);
  const twiceJson = await cli([...create, '--json']);
  expect(twiceJson.code).toBe(1);
  expect(JSON.parse(twiceJson.stderr)).toMatchObject({
    error: { code: 'SubscriptionAlreadyExists', subscription: name },
  });

  // Bad definitions: the server's typed errors (exit 1), and the CLI's own usage errors (exit 2).
  const other = uniqueName('cli-sub-bad');
  const base = ['subscriptions', 'create', other, '--topic', topic];
  const [tooBig, parallel, plainHttp, badFilter, noTopic] = await Promise.all([
    cli([...base, '--lambda', 'fn', '--batch-size', '5000']),
    cli([...base, '--lambda', 'fn', '--parallelism', '2', '--json']),
    cli([...base, '--https', 'http://example.com/hook']),
    cli([...base, '--lambda', 'fn', '--filter', '{"value":{"n":[{"regex":"x"}]}}']),
    cli(['subscriptions', 'create', other, '--topic', uniqueName('none'), '--lambda', 'fn']),
  ]);
  expect([tooBig.code, tooBig.stderr]).toStrictEqual([
    1,
    'Error InvalidArgument: batchSize must be an integer from 1 to 1000\n',
  ]);
  expect(parallel.code).toBe(1);
  expect(JSON.parse(parallel.stderr)).toMatchObject({
    error: { code: 'InvalidArgument', field: 'parallelismPerPartition' },
  });
  expect([plainHttp.code, plainHttp.stderr]).toStrictEqual([
    1,
    'Error InvalidArgument: url must be an absolute https URL (http only for a loopback address)\n',
  ]);
  expect([badFilter.code, badFilter.stderr.split(':')[0]]).toStrictEqual([1, 'Error InvalidArgument']);
  expect([noTopic.code, noTopic.stderr.split(':')[0]]).toStrictEqual([1, 'Error TopicNotFound']);
  const usageErrors: (readonly [readonly string[], string])[] = [
    [[...base], 'subscriptions create needs --lambda or --https'],
    [[...base, '--lambda', 'fn', '--https', hookUrl], 'give one of --lambda and --https'],
    [[...base, '--lambda', 'fn', '--secret', 'hook-secret'], '--secret goes with --https'],
    [[...base, '--lambda', 'fn', '--ordering', 'none'], '--ordering is partition or key'],
    [
      [...base, '--lambda', 'fn', '--filter', '{not json'],
      `--filter must be JSON, e.g. '{"value":{"type":["order.created"]}}'`,
    ],
    [['subscriptions', 'create', other, '--lambda', 'fn'], 'subscriptions create needs a NAME and --topic'],
  ];
  const outs = await Promise.all(usageErrors.map(([args]) => cli([...args])));
  expect(outs.map((o) => [o.code, o.stderr.split('\n')[0]])).toStrictEqual(
    usageErrors.map(([, message]) => [2, message]),
  );
  expect(
    (await admin.listSubscriptions()).map((s) => s.name),
    'nothing written',
  ).not.toContain(other);

  const listed = await cli(['subscriptions', 'list']);
  expect(listed.code, listed.stderr).toBe(0);
  expect(listed.stdout.split('\n')[0]).toMatch(/^SUBSCRIPTION +TOPIC +TARGET +ORDERING +STATE$/);
  expect(listed.stdout).toMatch(new RegExp(`^${name} +${topic} +https ${hookUrl} +key +paused$`, 'm'));
  const listedJson = JSON.parse((await cli(['subscriptions', 'list', '--json'])).stdout) as { name: string }[];
  expect(listedJson.map((s) => s.name)).toContain(name);

  const described = await cli(['subscriptions', 'describe', name]);
  expect(described.code, described.stderr).toBe(0);
  const lines = described.stdout.trimEnd().split('\n');
  expect(lines.slice(0, 3)).toStrictEqual([
    `Subscription ${name}: paused, topic ${topic} → https ${hookUrl}, group subscriptions.${name}`,
    `Settings ordering=key parallelismPerPartition=4 batchSize=50 maxBatchingWindowMs=0 startingPosition=latest maxRetries=5 backoff=250ms×1.5≤10000ms maxRecordAgeMs=-1 onFailure=${dead}`,
    'Filter {"headers":{"type":[{"prefix":"order."}]}}',
  ]);
  expect(lines[3]).toMatch(/^PARTITION +POSITION +HIGH WATERMARK +LAG +DELIVERED +DEAD-LETTERED +RETRY$/);
  // From `latest`, before any delivery: no position and no lag, whatever is in the topic.
  expect(lines.slice(4, 7).map((l) => l.split(/ +/))).toStrictEqual([
    ['0', '-', '0', '0', '0', '0', '-'],
    ['1', '-', '0', '0', '0', '0', '-'],
    ['2', '-', '1', '0', '0', '0', '-'],
  ]);
  expect(lines.slice(7)).toStrictEqual([
    'Quarantined keys:',
    expect.stringMatching(/^PARTITION +KEY +RECORDS +FIRST OFFSET +SINCE +ATTEMPTS +STATE +LAST ERROR$/),
    '(none)',
  ]);
  const describedJson = JSON.parse((await cli(['subscriptions', 'describe', name, '--json'])).stdout);
  expect(describedJson).toMatchObject({ name, group: `subscriptions.${name}`, quarantined: [] });
  expect(describedJson.partitions[2]).toStrictEqual({
    partition: 2,
    position: null,
    highWatermark: 1,
    lag: 0,
    retry: null,
    delivered: 0,
    deadLettered: 0,
  });

  const resumed = await cli(['subscriptions', 'resume', name]);
  expect([resumed.code, resumed.stdout.trim()], resumed.stderr).toStrictEqual([0, `Resumed subscription ${name}`]);
  expect((await cli(['subscriptions', 'list'])).stdout).toMatch(new RegExp(`^${name} .* active$`, 'm'));
  expect((await cli(['subscriptions', 'describe', name])).stdout).toMatch(`Subscription ${name}: active,`);
  const paused = await cli(['subscriptions', 'pause', name, '--json']);
  expect(paused.code, paused.stderr).toBe(0);
  expect(JSON.parse(paused.stdout)).toMatchObject({ name, paused: true, version: 2 });
  expect((await cli(['subscriptions', 'describe', name])).stdout).toMatch(`Subscription ${name}: paused,`);

  // An update keeps the backoff fields it does not name; --no-filter and --no-on-failure remove.
  const updated = await cli([
    'subscriptions',
    'update',
    name,
    '--backoff-initial-ms',
    '1000',
    '--batch-size',
    '20',
    '--no-filter',
    '--no-on-failure',
    '--lambda',
    'billing-fn',
  ]);
  expect([updated.code, updated.stdout.trim()], updated.stderr).toStrictEqual([0, `Updated subscription ${name}`]);
  const after = await admin.describeSubscription(name);
  expect(after).toMatchObject({
    target: { type: 'lambda', functionName: 'billing-fn' },
    batchSize: 20,
    backoff: { initialMs: 1000, multiplier: 1.5, maxMs: 10_000 },
  });
  expect([after.filter, after.onFailure]).toStrictEqual([undefined, undefined]);
  const fixed = await cli(['subscriptions', 'update', name, '--topic', dead]);
  expect(fixed.code).toBe(2);
  const nothing = await cli(['subscriptions', 'update', name]);
  expect([nothing.code, nothing.stderr.split('\n')[0]]).toStrictEqual([
    2,
    'subscriptions update needs something to change',
  ]);
  const badUpdate = await cli(['subscriptions', 'update', name, '--max-record-age-ms', '5']);
  expect([badUpdate.code, badUpdate.stderr]).toStrictEqual([
    1,
    'Error InvalidArgument: maxRecordAgeMs is -1 (no limit) or at least 1000\n',
  ]);

  for (const action of ['release', 'skip']) {
    const key = 'user/1 ü';
    const out = await cli(['quarantine', action, name, key]);
    expect([out.code, out.stderr]).toStrictEqual([
      1,
      `Error KeyNotQuarantined: Subscription ${name} has no quarantined key ${JSON.stringify(key)}\n`,
    ]);
    const json = await cli(['quarantine', action, name, key, '--json']);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: 'KeyNotQuarantined', subscription: name, key } });
  }
  const usage = await cli(['quarantine', 'release', name]);
  expect([usage.code, usage.stderr.split('\n')[0]]).toStrictEqual([
    2,
    'quarantine release|skip needs a SUBSCRIPTION and a KEY',
  ]);

  const deleted = await cli(['subscriptions', 'delete', name]);
  expect([deleted.code, deleted.stdout.trim()], deleted.stderr).toStrictEqual([0, `Deleted subscription ${name}`]);
  expect((await cli(['subscriptions', 'list'])).stdout).not.toContain(name);
  const gone = await cli(['subscriptions', 'describe', name]);
  expect([gone.code, gone.stderr]).toStrictEqual([
    1,
    `Error SubscriptionNotFound: Subscription ${name} does not exist\n`,
  ]);
  const help = await cli(['--help']);
  expect(help.stdout).toContain(
    'sluice subscriptions create NAME --topic T (--lambda FUNCTION | --https URL [--secret REF])',
  );
  expect(help.stdout).toContain('sluice quarantine release SUBSCRIPTION KEY');
});
