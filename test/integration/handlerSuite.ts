import { beforeAll, beforeEach, describe, expect } from 'vitest';
import { fc, it } from '@fast-check/vitest';
import { apiEvent, invoke, lambdaContext, type Handler } from '../support/apiEvents.ts';
import { handlerEnvironment } from '../support/handlerEnv.ts';
import { checkExecutionName } from '../../core/sagas/executions.ts';
import { parseAclRule } from '../../core/security/acl.ts';
import { parseDeclaration } from '../../core/exchanges/exchange.ts';
import { runJobStep } from '../support/jobs.ts';

let topics: Handler;
let produce: Handler;
let fetch: Handler;
let groups: Handler;
let sagas: Handler;
let acls: Handler;
let exchanges: Handler;
let queues: Handler;
let subscriptions: Handler;
let transactions: Handler;
let eventStore: Handler;
let jobs: Handler;
let tables: { log: string; metadata: string };

const T = '/v1/topics';
const TOPIC = '/v1/topics/{topic}';
const RECORDS = '/v1/topics/{topic}/records';
const FETCH = '/v1/topics/{topic}/partitions/{partition}/records';
const OFFSETS = '/v1/topics/{topic}/partitions/{partition}/offsets';
const GROUPS = '/v1/groups';
const GROUP = '/v1/groups/{group}';
const MEMBERS = '/v1/groups/{group}/members';
const MEMBER = '/v1/groups/{group}/members/{memberId}';
const HEARTBEAT = '/v1/groups/{group}/members/{memberId}/heartbeat';
const POLL = '/v1/groups/{group}/members/{memberId}/poll';
const COMMIT = '/v1/groups/{group}/offsets';
const RESET = '/v1/groups/{group}/offsets/reset';
const EXECUTIONS = '/v1/sagas/{saga}/executions';
const EXECUTION = '/v1/sagas/{saga}/executions/{executionId}';
const EXCHANGES = '/v1/exchanges';
const EXCHANGE = '/v1/exchanges/{exchange}';
const BINDINGS = '/v1/exchanges/{exchange}/bindings';
const MESSAGES = '/v1/exchanges/{exchange}/messages';
const STREAM = '/v1/streams/{streamId}';
const STREAM_EVENTS = '/v1/streams/{streamId}/events';
const JOBS = '/v1/jobs';
const JOB = '/v1/jobs/{job}';

/** Whether a start request would be accepted (so a fuzzer must not send it: it would launch). */
function validStart(saga: string, body: string): boolean {
  if (saga !== 'fuzz') return false;
  let parsed: unknown = {};
  try {
    if (body !== '') parsed = JSON.parse(body);
  } catch {
    return false;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return false;
  const { input, executionName, ...rest } = parsed as Record<string, unknown>;
  if (Object.keys(rest).length > 0 || Buffer.byteLength(JSON.stringify(input ?? null)) > 65536) return false;
  try {
    if (executionName !== undefined) checkExecutionName(executionName);
    return true;
  } catch {
    return false;
  }
}

/** Whether a queue declaration names a legal queue that does not exist yet (a fuzzer must not send it). */
function declaresNew(body: string, existing: readonly string[] = ['fuzz-share', 'fuzzed']): boolean {
  try {
    const { name } = JSON.parse(body) as { name?: unknown };
    return typeof name === 'string' && /^[a-zA-Z0-9._-]{1,200}$/.test(name) && !existing.includes(name);
  } catch {
    return false;
  }
}

/** Whether a declaration would be accepted (a fuzzer must not send it: it would declare). */
function validDeclaration(exchange: string, body: string): boolean {
  try {
    parseDeclaration(exchange, JSON.parse(body));
    return exchange !== 'fuzz-x';
  } catch {
    return false;
  }
}

/** Whether a publish to fuzz-x would be appended (its binding routes everything to 'fuzzed'). */
function validPublish(exchange: string, body: string): boolean {
  if (exchange !== 'fuzz-x') return false;
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    const { routingKey, headers, messageId, expiration, mandatory, ...record } = parsed;
    if (typeof parsed !== 'object' || parsed === null || !('value' in parsed)) return false;
    if (typeof routingKey !== 'string' || Buffer.byteLength(routingKey) > 255) return false;
    if (messageId !== undefined && (typeof messageId !== 'string' || messageId === '' || messageId.length > 256))
      return false;
    if (expiration !== undefined && (!Number.isSafeInteger(expiration) || (expiration as number) < 0)) return false;
    if (mandatory !== undefined && typeof mandatory !== 'boolean') return false;
    if (headers !== undefined && (typeof headers !== 'object' || headers === null || 'x-exchange' in headers))
      return false;
    const { key, valueEncoding } = record;
    return (
      valueEncoding === undefined &&
      (key === undefined || key === null || typeof key === 'string') &&
      (headers === undefined || (!Array.isArray(headers) && Object.values(headers).every((v) => typeof v === 'string')))
    );
  } catch {
    return false;
  }
}

/**
 * The HTTP handlers on real API Gateway v2 events against DynamoDB Local: recorded requests, and a
 * fuzzer that sends every route junk and checks it answers a typed 4xx and writes nothing. Two
 * test files run it, each with its own tables, the fuzzed routes shared out between them.
 */
export function handlerSuite(options: {
  readonly shard: number;
  readonly shards: number;
  readonly recorded: boolean;
}): void {
  beforeAll(async () => {
    tables = await handlerEnvironment('handlers', {
      // One saga whose state machine is unreachable: a fuzzed start that got through would be a 500.
      SLUICE_SAGAS: JSON.stringify([
        {
          name: 'fuzz',
          steps: ['A'],
          auditTopic: 'sagas.fuzz',
          type: 'STANDARD',
          stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:fuzz',
        },
      ]),
      AWS_ENDPOINT_URL_SFN: 'http://127.0.0.1:9',
    });
    // Handlers read their environment at load, as in Lambda.
    topics = (await import('../../functions/log/topics.ts')).handler;
    produce = (await import('../../functions/log/produce.ts')).handler;
    fetch = (await import('../../functions/log/fetch.ts')).handler;
    groups = (await import('../../functions/groups/api.ts')).handler;
    sagas = (await import('../../functions/sagas/api.ts')).handler;
    acls = (await import('../../functions/security/acls.ts')).handler;
    exchanges = (await import('../../functions/exchanges/api.ts')).handler;
    queues = (await import('../../functions/queues/api.ts')).handler;
    subscriptions = (await import('../../functions/subscriptions/api.ts')).handler;
    transactions = (await import('../../functions/transactions/api.ts')).handler;
    eventStore = (await import('../../functions/eventStore/api.ts')).handler;
    jobs = (await import('../../functions/streams/api.ts')).handler;
  });

  if (options.recorded) {
    describe('HTTP handlers on recorded API Gateway v2 events', () => {
      it('serves the recorded produce request, then reads it back', async () => {
        expect(
          (await invoke(topics, { method: 'POST', route: T, body: { name: 'orders', partitions: 3 } })).status,
        ).toBe(201);
        const produced = await produce(
          apiEvent({ method: 'POST', route: RECORDS, pathParameters: { topic: 'orders' } }),
          lambdaContext,
        );
        // The recorded body is left as captured: one keyed record.
        const recorded = await produce(
          {
            ...apiEvent({ method: 'POST', route: RECORDS, pathParameters: { topic: 'orders' } }),
            body: JSON.stringify({ records: [{ key: 'user-42', value: { orderId: 'o-1' } }] }),
          },
          lambdaContext,
        );
        expect(produced.statusCode, 'no body is a bad request').toBe(400);
        expect(recorded.statusCode).toBe(200);
        const { offsets } = JSON.parse(recorded.body!);
        expect(offsets[0].offset).toBe(0);
        const read = await invoke(fetch, {
          method: 'GET',
          route: FETCH,
          pathParameters: { topic: 'orders', partition: String(offsets[0].partition) },
          query: { offset: '0' },
        });
        expect(read.status).toBe(200);
        expect(read.body.records.map((r: { key: string; value: unknown }) => [r.key, r.value])).toStrictEqual([
          ['user-42', { orderId: 'o-1' }],
        ]);
        expect(read.body.highWatermark).toBe(1);
      });

      it('round-trips base64 keys, values and headers, from a base64-encoded body too', async () => {
        await invoke(topics, { method: 'POST', route: T, body: { name: 'bytes' } });
        const bytes = Buffer.from([0, 1, 2, 250, 255]).toString('base64');
        const body = {
          records: [
            {
              key: bytes,
              keyEncoding: 'base64',
              value: bytes,
              valueEncoding: 'base64',
              headers: { sig: bytes, plain: 'x' },
              headerEncodings: { sig: 'base64' },
            },
          ],
        };
        const res = await invoke(produce, {
          method: 'POST',
          route: RECORDS,
          pathParameters: { topic: 'bytes' },
          body,
          base64: true,
        });
        expect(res.status).toBe(200);
        const read = await invoke(fetch, {
          method: 'GET',
          route: FETCH,
          pathParameters: { topic: 'bytes', partition: '0' },
        });
        expect(read.body.records[0]).toStrictEqual({
          offset: 0,
          timestamp: read.body.records[0].timestamp,
          ...body.records[0],
        });
      });

      it('maps errors to 4xx with a typed JSON body and never leaks internals on a 500', async () => {
        const cases: [Handler, Parameters<typeof invoke>[1], number, string][] = [
          [topics, { method: 'POST', route: T, body: '{"name":' }, 400, 'InvalidRequest'],
          [topics, { method: 'POST', route: T, body: { name: 'bad name!' } }, 400, 'InvalidTopicName'],
          [
            topics,
            { method: 'POST', route: T, body: { name: 'x', config: { colour: 'red' } } },
            400,
            'InvalidTopicConfig',
          ],
          [topics, { method: 'POST', route: T, body: { name: 'orders' } }, 409, 'TopicAlreadyExists'],
          [topics, { method: 'GET', route: TOPIC, pathParameters: { topic: 'nope' } }, 404, 'TopicNotFound'],
          [
            topics,
            { method: 'PATCH', route: TOPIC, pathParameters: { topic: 'orders' }, body: { partitions: 1 } },
            400,
            'InvalidTopicConfig',
          ],
          [
            produce,
            {
              method: 'POST',
              route: RECORDS,
              pathParameters: { topic: 'orders' },
              body: { records: [{ value: 'x'.repeat(1_100_000) }] },
            },
            413,
            'RecordTooLarge',
          ],
          [
            produce,
            {
              method: 'POST',
              route: RECORDS,
              pathParameters: { topic: 'orders' },
              body: { records: [{ value: 1, partition: 9 }] },
            },
            404,
            'PartitionNotFound',
          ],
          [
            fetch,
            {
              method: 'GET',
              route: FETCH,
              pathParameters: { topic: 'orders', partition: '0' },
              query: { offset: '5000' },
            },
            416,
            'OffsetOutOfRange',
          ],
          [
            fetch,
            { method: 'GET', route: FETCH, pathParameters: { topic: 'orders', partition: 'zero' } },
            400,
            'InvalidRequest',
          ],
          [
            fetch,
            {
              method: 'GET',
              route: OFFSETS,
              pathParameters: { topic: 'orders', partition: '0' },
              query: { at: 'yesterday' },
            },
            400,
            'InvalidRequest',
          ],
          [fetch, { method: 'GET', route: '/v1/elsewhere' }, 404, 'RouteNotFound'],
        ];
        for (const [handler, spec, status, code] of cases) {
          const res = await invoke(handler, spec);
          expect(res.status, `${spec.method} ${spec.route}: ${JSON.stringify(res.body)}`).toBe(status);
          expect(res.body.error.code).toBe(code);
          expect(typeof res.body.error.message).toBe('string');
        }
        const tooLarge = await invoke(produce, {
          method: 'POST',
          route: RECORDS,
          pathParameters: { topic: 'orders' },
          body: { records: [{ value: 'x'.repeat(1_100_000) }] },
        });
        expect(
          tooLarge.body.error.limit,
          'the binding limit is named (larger than an item, but claim checks carry those)',
        ).toBe('maxRecordBytes');
        expect(tooLarge.body.error.limitBytes).toBe(1024 * 1024);
        const outOfRange = await invoke(fetch, {
          method: 'GET',
          route: FETCH,
          pathParameters: { topic: 'orders', partition: '0' },
          query: { offset: '5000' },
        });
        expect([outOfRange.body.error.logStartOffset, outOfRange.body.error.highWatermark >= 0]).toStrictEqual([
          0,
          true,
        ]);
      });

      it('lists stream jobs and describes one: positions, high watermarks and lag per partition, open windows', async () => {
        await invoke(topics, { method: 'POST', route: T, body: { name: 'job-in', partitions: 2 } });
        const produced = await invoke(produce, {
          method: 'POST',
          route: RECORDS,
          pathParameters: { topic: 'job-in' },
          body: { records: [1, 2, 3, 14, 5].map((t, i) => ({ value: { t }, partition: i < 4 ? 0 : 1 })) },
        });
        expect(produced.status).toBe(200);
        // Three records of partition 0 and the one of partition 1 processed; one left behind.
        expect((await runJobStep(tables, { name: 'job-b', source: 'job-in', maxRecords: 3 })).records).toBe(4);
        await runJobStep(tables, { name: 'job-a', source: 'job-in' });

        // The fuzzer's job may share these tables: look at this test's own.
        const listed = await invoke(jobs, { method: 'GET', route: JOBS });
        expect(listed.status).toBe(200);
        expect(listed.body.jobs.filter((j: string) => j.startsWith('job-'))).toStrictEqual(['job-a', 'job-b']);
        const paged = await invoke(jobs, { method: 'GET', route: JOBS, query: { after: 'job', limit: '1' } });
        expect(paged.body).toStrictEqual({ jobs: ['job-a'], next: 'job-a' });
        const rest = await invoke(jobs, { method: 'GET', route: JOBS, query: { after: 'job-a', limit: '1' } });
        // DynamoDB may still give a `next` when the page ended exactly at the last job (its next page is empty).
        expect(rest.body.jobs).toStrictEqual(['job-b']);

        const described = await invoke(jobs, { method: 'GET', route: JOB, pathParameters: { job: 'job-b' } });
        expect(described.status, JSON.stringify(described.body)).toBe(200);
        expect(described.body).toMatchObject({ name: 'job-b', source: 'job-in', version: 1, watermark: 3 });
        expect(
          described.body.partitions.map((p: Record<string, unknown>) => [
            p.partition,
            p.nextOffset,
            p.highWatermark,
            p.lag,
            p.maxEventTime,
            p.watermark,
            p.idle,
          ]),
        ).toStrictEqual([
          [0, 3, 4, 1, 3, null, null],
          [1, 1, 1, 0, 5, null, null],
        ]);
        // Keys are the values' first character ('{'): one key, window [0,10) open.
        expect(described.body.openWindows).toStrictEqual({ keys: 1, panes: 1, sessions: 0, timers: 0 });

        const cases: [Parameters<typeof invoke>[1], number, string][] = [
          [{ method: 'GET', route: JOB, pathParameters: { job: 'no-such-job' } }, 404, 'JobNotFound'],
          [{ method: 'GET', route: JOBS, query: { limit: '0' } }, 400, 'InvalidArgument'],
          [{ method: 'GET', route: JOBS, query: { limit: 'ten' } }, 400, 'InvalidRequest'],
          [{ method: 'GET', route: JOBS, query: { after: 'x'.repeat(201) } }, 400, 'InvalidArgument'],
          [{ method: 'GET', route: JOBS, query: { from: 'job-a' } }, 400, 'InvalidRequest'],
        ];
        for (const [spec, status, code] of cases) {
          const res = await invoke(jobs, spec);
          expect([res.status, res.body.error.code], JSON.stringify(spec)).toStrictEqual([status, code]);
        }
      });

      it('long-polls: a fetch at the end waits and wakes up when a record arrives', async () => {
        await invoke(topics, { method: 'POST', route: T, body: { name: 'polled' } });
        const started = Date.now();
        const waiting = invoke(fetch, {
          method: 'GET',
          route: FETCH,
          pathParameters: { topic: 'polled', partition: '0' },
          query: { offset: '0', waitMs: '10000' },
        });
        await new Promise((r) => setTimeout(r, 300));
        await invoke(produce, {
          method: 'POST',
          route: RECORDS,
          pathParameters: { topic: 'polled' },
          body: { records: [{ value: 'wake up' }] },
        });
        const res = await waiting;
        expect(res.body.records[0].value).toBe('wake up');
        expect(Date.now() - started < 9000, 'returned when the record came, not at the deadline').toBeTruthy();
        const empty = await invoke(fetch, {
          method: 'GET',
          route: FETCH,
          pathParameters: { topic: 'polled', partition: '0' },
          query: { offset: '1', waitMs: '200' },
        });
        expect(empty.body.records).toStrictEqual([]);
      });
    });
  }

  describe('fuzz: every route answers junk with a 4xx JSON error and writes nothing', () => {
    const junk = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.string({ maxLength: 300 }),
      fc.constantFrom('', '{', '[]', 'null', '{"records":', '\u0000', 'x'.repeat(5000)),
    );
    const junkNumber = fc.oneof(
      fc.constantFrom('-1', '1e309', 'NaN', '0x10', '99999999999999999999', ' 1', '1.5', '', 'abc'),
      fc.string({ maxLength: 12 }),
    );
    const junkName = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.constantFrom('.', '..', 'a'.repeat(250), 'ok name', 'ünïcode', '../etc'),
    );
    const bodyish = fc.oneof(
      junk.map((j) => (typeof j === 'string' ? j : JSON.stringify(j))),
      fc.record({ name: junk, partitions: junk, config: junk }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
    );
    const recordsBody = fc.oneof(
      bodyish,
      fc
        .record(
          {
            records: fc.oneof(
              junk,
              fc.array(
                fc.record(
                  { key: junk, value: junk, headers: junk, partition: junk, timestamp: junk, valueEncoding: junk },
                  { requiredKeys: [] },
                ),
                { maxLength: 4 },
              ),
            ),
            producer: junk,
          },
          { requiredKeys: [] },
        )
        .map((o) => JSON.stringify(o)),
    );

    let member = '';
    let shareMember = '';
    const state = async () => {
      const list = await invoke(topics, { method: 'GET', route: T });
      const described = await invoke(topics, { method: 'GET', route: TOPIC, pathParameters: { topic: 'fuzzed' } });
      const groupList = await invoke(groups, { method: 'GET', route: GROUPS });
      const group = await invoke(groups, { method: 'GET', route: GROUP, pathParameters: { group: 'fuzz-group' } });
      const { sessionExpiresAt: _ignored, ...memberView } = group.body.members[0];
      const executions = await invoke(sagas, { method: 'GET', route: EXECUTIONS, pathParameters: { saga: 'fuzz' } });
      const aclList = await invoke(acls, { method: 'GET', route: '/v1/acls' });
      const exchangeList = await invoke(exchanges, { method: 'GET', route: EXCHANGES });
      const fuzzExchange = await invoke(exchanges, {
        method: 'GET',
        route: EXCHANGE,
        pathParameters: { exchange: 'fuzz-x' },
      });
      const shareList = await invoke(queues, { method: 'GET', route: '/v1/share-groups' });
      const share = await invoke(queues, {
        method: 'GET',
        route: '/v1/share-groups/{group}',
        pathParameters: { group: 'fuzz-share' },
      });
      const queueList = await invoke(queues, { method: 'GET', route: '/v1/queues' });
      const subscriptionList = await invoke(subscriptions, { method: 'GET', route: '/v1/subscriptions' });
      const fuzzSub = await invoke(subscriptions, {
        method: 'GET',
        route: '/v1/subscriptions/{subscription}',
        pathParameters: { subscription: 'fuzz-sub' },
      });
      const producer = await invoke(transactions, {
        method: 'GET',
        route: '/v1/transactions/{transactionalId}',
        pathParameters: { transactionalId: 'fuzz-txn' },
      });
      const stream = await invoke(eventStore, {
        method: 'GET',
        route: STREAM,
        pathParameters: { streamId: 'fuzz-stream' },
      });
      const streamEvents = await invoke(eventStore, {
        method: 'GET',
        route: STREAM_EVENTS,
        pathParameters: { streamId: 'fuzz-stream' },
      });
      const jobList = await invoke(jobs, { method: 'GET', route: JOBS });
      const fuzzJob = await invoke(jobs, { method: 'GET', route: JOB, pathParameters: { job: 'fuzz-job' } });
      return {
        jobs: jobList.body,
        fuzzJob: fuzzJob.body,
        producer: producer.body,
        stream: stream.body,
        streamEvents: streamEvents.body,
        subscriptions: subscriptionList.body.subscriptions,
        fuzzSub: fuzzSub.body,
        queues: queueList.body.queues,
        shareGroups: shareList.body.groups,
        share: {
          ...share.body,
          members: share.body.members.map(
            ({ expiresAt: _e, joinedAt: _j, ...m }: { expiresAt: number; joinedAt: number }) => m,
          ),
        },
        acls: aclList.body.acls,
        exchanges: exchangeList.body.exchanges,
        exchange: fuzzExchange.body,
        names: list.body.topics.map((t: { name: string }) => t.name).sort(),
        fuzzed: described.body,
        groups: groupList.body.groups,
        group: { ...group.body, members: [memberView] },
        executions: executions.body,
      };
    };
    const expectClientError = (res: { status: number; body: any }, label: string) => {
      expect(
        res.status >= 200 && res.status < 500,
        `${label} answered ${res.status}: ${JSON.stringify(res.body)}`,
      ).toBeTruthy();
      if (res.status >= 400) {
        expect(typeof res.body.error.code).toBe('string');
        expect(
          !/at .*\.ts:\d+|Error:|stack/i.test(JSON.stringify(res.body)),
          'no stack trace in a response',
        ).toBeTruthy();
      }
    };

    beforeAll(async () => {
      await invoke(topics, { method: 'POST', route: T, body: { name: 'fuzzed', partitions: 2 } });
      const appended = await invoke(eventStore, {
        method: 'POST',
        route: STREAM_EVENTS,
        pathParameters: { streamId: 'fuzz-stream' },
        body: { events: [{ type: 'Opened', data: { owner: 'fuzz' } }], expectedVersion: 'noStream' },
      });
      expect(appended.status, JSON.stringify(appended.body)).toBe(200);
      await invoke(produce, {
        method: 'POST',
        route: RECORDS,
        pathParameters: { topic: 'fuzzed' },
        body: {
          records: [
            { value: 1, partition: 0 },
            { value: 2, partition: 1 },
          ],
        },
      });
      // A stream job over 'fuzzed' (the two records above): what the jobs routes list and describe.
      expect((await runJobStep(tables, { name: 'fuzz-job', source: 'fuzzed' })).committed).toBe(true);
      const joined = await invoke(groups, {
        method: 'POST',
        route: MEMBERS,
        pathParameters: { group: 'fuzz-group' },
        body: { topics: ['fuzzed'], sessionTimeoutMs: 300_000 },
      });
      expect(joined.status).toBe(200);
      member = joined.body.memberId;
      const shared = await invoke(queues, {
        method: 'POST',
        route: '/v1/share-groups/{group}/members',
        pathParameters: { group: 'fuzz-share' },
        body: { topics: ['fuzzed'], sessionTimeoutMs: 3_600_000 },
      });
      expect(shared.status).toBe(200);
      shareMember = shared.body.memberId;
      const declared = await invoke(exchanges, {
        method: 'PUT',
        route: EXCHANGE,
        pathParameters: { exchange: 'fuzz-x' },
        body: { type: 'topic' },
      });
      expect(declared.status).toBe(201);
      // A transactional producer at epoch 1 with a transaction open: a request that got through
      // would change its state (epoch, appends, outcome) or the topic's offsets.
      for (let i = 0; i < 2; i++)
        await invoke(transactions, {
          method: 'POST',
          route: '/v1/transactions/{transactionalId}/init',
          pathParameters: { transactionalId: 'fuzz-txn' },
        });
      expect(
        (
          await invoke(transactions, {
            method: 'POST',
            route: '/v1/transactions/{transactionalId}/begin',
            pathParameters: { transactionalId: 'fuzz-txn' },
            body: { epoch: 1, timeoutMs: 900_000 }, // open for the whole run: an expired one would be aborted
          })
        ).status,
      ).toBe(200);
      const subscribed = await invoke(subscriptions, {
        method: 'POST',
        route: '/v1/subscriptions',
        body: { name: 'fuzz-sub', topic: 'fuzzed', target: { type: 'https', url: 'http://127.0.0.1:9/hook' } },
      });
      expect(subscribed.status).toBe(201);
      // A binding that routes every message to 'fuzzed': a publish that got through would change its offsets.
      await invoke(exchanges, {
        method: 'POST',
        route: BINDINGS,
        pathParameters: { exchange: 'fuzz-x' },
        body: { destination: { topic: 'fuzzed' }, bindingKey: '#' },
      });
      await invoke(groups, {
        method: 'POST',
        route: COMMIT,
        pathParameters: { group: 'fuzz-group' },
        body: {
          memberId: member,
          generation: joined.body.generation,
          offsets: [{ topic: 'fuzzed', partition: 0, offset: 1 }],
        },
      });
    });

    const routes: { name: string; run: fc.Arbitrary<() => Promise<{ status: number; body: any }>> }[] = [
      {
        name: 'POST /v1/streams/{streamId}/events',
        run: fc
          .tuple(
            fc.oneof(fc.constant('fuzz-stream'), junkName),
            fc.oneof(
              bodyish,
              fc
                .record(
                  {
                    events: fc.oneof(
                      junk,
                      fc.array(
                        fc.record(
                          { type: junk, data: junk, metadata: junk, schemaVersion: junk, extra: junk },
                          { requiredKeys: [] },
                        ),
                        { maxLength: 3 },
                      ),
                    ),
                    // A stale expected version: a well-formed append to fuzz-stream is refused (409).
                    expectedVersion: fc.oneof(junk, fc.constantFrom('noStream', -1, 7, 'latest')),
                  },
                  { requiredKeys: [] },
                )
                .map((o) => JSON.stringify(o)),
            ),
          )
          .map(
            ([streamId, body]) =>
              () =>
                invoke(eventStore, { method: 'POST', route: STREAM_EVENTS, pathParameters: { streamId }, body }),
          ),
      },
      {
        name: 'GET /v1/streams/{streamId} and …/events',
        run: fc
          .tuple(
            fc.constantFrom(STREAM, STREAM_EVENTS),
            fc.oneof(fc.constant('fuzz-stream'), junkName),
            fc.dictionary(fc.constantFrom('fromVersion', 'toVersion', 'maxCount', 'other'), junkNumber),
          )
          .map(
            ([route, streamId, query]) =>
              () =>
                invoke(eventStore, { method: 'GET', route, pathParameters: { streamId }, query }),
          ),
      },
      {
        name: 'GET /v1/jobs',
        run: fc
          .dictionary(
            fc.constantFrom('after', 'limit', 'other', 'constructor'),
            fc.oneof(junkNumber, junkName, fc.constantFrom('fuzz-job', '0', '1000', '1001')),
          )
          .map((query) => () => invoke(jobs, { method: 'GET', route: JOBS, query })),
      },
      {
        name: 'GET /v1/jobs/{job}',
        run: fc
          .tuple(fc.oneof(fc.constant('fuzz-job'), junkName), fc.dictionary(fc.constantFrom('spec', 'now'), junkName))
          .map(
            ([job, query]) =>
              () =>
                invoke(jobs, { method: 'GET', route: JOB, pathParameters: { job }, query }),
          ),
      },
      { name: 'POST /v1/topics', run: bodyish.map((body) => () => invoke(topics, { method: 'POST', route: T, body })) },
      {
        name: 'GET /v1/topics/{topic}',
        run: fc
          .tuple(
            junkName,
            fc.dictionary(
              fc.constantFrom('offsets', 'sizes', 'other', 'constructor'),
              fc.oneof(junkName, fc.constantFrom('true', 'false', '')),
            ),
          )
          .map(
            ([topic, query]) =>
              () =>
                invoke(topics, { method: 'GET', route: TOPIC, pathParameters: { topic }, query }),
          ),
      },
      {
        name: 'PATCH /v1/topics/{topic}',
        run: fc.tuple(fc.constantFrom('fuzzed', 'missing'), bodyish).map(
          ([topic, body]) =>
            () =>
              invoke(topics, { method: 'PATCH', route: TOPIC, pathParameters: { topic }, body }),
        ),
      },
      {
        name: 'DELETE /v1/topics/{topic}',
        run: junkName
          .filter((n) => n !== 'fuzzed')
          .map((topic) => () => invoke(topics, { method: 'DELETE', route: TOPIC, pathParameters: { topic } })),
      },
      {
        name: 'POST /v1/topics/{topic}/records',
        run: fc.tuple(fc.oneof(fc.constant('fuzzed'), junkName), recordsBody).map(
          ([topic, body]) =>
            () =>
              invoke(produce, { method: 'POST', route: RECORDS, pathParameters: { topic }, body }),
        ),
      },
      {
        name: 'GET …/records',
        run: fc.tuple(fc.oneof(fc.constant('fuzzed'), junkName), junkNumber, junkNumber, junkNumber).map(
          ([topic, partition, offset, maxRecords]) =>
            () =>
              invoke(fetch, {
                method: 'GET',
                route: FETCH,
                pathParameters: { topic, partition },
                query: { offset, maxRecords, waitMs: '0' },
              }),
        ),
      },
      {
        name: 'GET …/offsets',
        run: fc.tuple(fc.oneof(fc.constant('fuzzed'), junkName), junkNumber, junkNumber).map(
          ([topic, partition, at]) =>
            () =>
              invoke(fetch, { method: 'GET', route: OFFSETS, pathParameters: { topic, partition }, query: { at } }),
        ),
      },
    ];

    const junkGroup = fc.oneof(fc.constant('fuzz-group'), junkName);
    const junkMember = fc.oneof(fc.string({ maxLength: 80 }), fc.constant('00000000-0000-0000-0000-000000000000'));
    const junkPartitions = fc.oneof(
      junk,
      fc.array(fc.record({ topic: junk, partition: junk, offset: junk }, { requiredKeys: [] }), { maxLength: 3 }),
    );
    const groupBody = fc.oneof(
      bodyish,
      fc
        .record(
          {
            topics: fc.oneof(junk, fc.array(junkName, { maxLength: 3 })),
            instanceId: junk,
            sessionTimeoutMs: junk,
            rebalanceTimeoutMs: junk,
            assignor: junk,
            autoOffsetReset: junk,
          },
          { requiredKeys: [] },
        )
        .map((o) => JSON.stringify(o)),
    );
    routes.push(
      {
        name: 'POST …/delete-records',
        run: fc
          .tuple(
            fc.oneof(fc.constant('fuzzed'), junkName),
            junkNumber,
            fc.oneof(
              bodyish,
              fc
                .record({ beforeOffset: fc.oneof(junk, fc.integer({ min: -5, max: 5 })) })
                .map((o) => JSON.stringify(o)),
            ),
          )
          .map(
            ([topic, partition, body]) =>
              () =>
                invoke(topics, {
                  method: 'POST',
                  route: '/v1/topics/{topic}/partitions/{partition}/delete-records',
                  pathParameters: { topic, partition },
                  body,
                }),
          ),
      },
      {
        name: 'GET /v1/groups/{group}',
        run: junkGroup
          .filter((g) => g !== 'fuzz-group')
          .map((group) => () => invoke(groups, { method: 'GET', route: GROUP, pathParameters: { group } })),
      },
      {
        name: 'DELETE /v1/groups/{group}',
        run: junkGroup.map(
          (group) => () => invoke(groups, { method: 'DELETE', route: GROUP, pathParameters: { group } }),
        ),
      },
      // Joins are writes by design; fuzzed ones must be rejected (the valid-by-chance case is excluded).
      {
        name: 'POST /v1/groups/{group}/members',
        run: fc
          .tuple(junkGroup, groupBody)
          .filter(([, b]) => !b.includes('"topics":["fuzzed"]'))
          .map(
            ([group, body]) =>
              () =>
                invoke(groups, { method: 'POST', route: MEMBERS, pathParameters: { group }, body }),
          ),
      },
      {
        name: 'DELETE …/members/{memberId}',
        run: fc.tuple(junkGroup, junkMember).map(
          ([group, memberId]) =>
            () =>
              invoke(groups, { method: 'DELETE', route: MEMBER, pathParameters: { group, memberId } }),
        ),
      },
      {
        name: 'POST …/heartbeat',
        run: fc
          .tuple(
            junkGroup,
            junkMember,
            fc.oneof(
              bodyish,
              fc.record({ release: junkPartitions }).map((o) => JSON.stringify(o)),
            ),
          )
          .map(
            ([group, memberId, body]) =>
              () =>
                invoke(groups, { method: 'POST', route: HEARTBEAT, pathParameters: { group, memberId }, body }),
          ),
      },
      {
        name: 'POST …/poll (junk member)',
        run: fc.tuple(junkGroup, junkMember, bodyish).map(
          ([group, memberId, body]) =>
            () =>
              invoke(groups, { method: 'POST', route: POLL, pathParameters: { group, memberId }, body }),
        ),
      },
      {
        name: 'POST …/poll (junk options)',
        run: fc
          .record(
            {
              maxRecords: junk,
              maxBytes: junk,
              waitMs: fc.oneof(junk, fc.constant(5_000_000)),
              paused: junkPartitions,
              seek: junkPartitions,
              release: junkPartitions,
            },
            { requiredKeys: [] },
          )
          .filter((o) => Object.keys(o).length > 0)
          .map(
            (body) => () =>
              invoke(groups, {
                method: 'POST',
                route: POLL,
                pathParameters: { group: 'fuzz-group', memberId: member },
                body: JSON.stringify(body),
              }),
          ),
      },
      {
        name: 'POST /v1/groups/{group}/offsets',
        run: fc
          .tuple(
            junkGroup,
            fc.oneof(
              bodyish,
              fc
                .record(
                  { memberId: fc.oneof(junk, fc.constant(member)), generation: junk, offsets: junkPartitions },
                  { requiredKeys: [] },
                )
                .map((o) => JSON.stringify(o)),
            ),
          )
          .map(
            ([group, body]) =>
              () =>
                invoke(groups, { method: 'POST', route: COMMIT, pathParameters: { group }, body }),
          ),
      },
      {
        name: 'POST /v1/sagas/{saga}/executions',
        run: fc
          .tuple(
            fc.oneof(fc.constant('fuzz'), junkName),
            fc.oneof(
              bodyish,
              fc
                .record({ input: junk, executionName: fc.oneof(junk, junkName) }, { requiredKeys: [] })
                .map((o) => JSON.stringify(o)),
            ),
          )
          .filter(([saga, body]) => !validStart(saga, body))
          .map(
            ([saga, body]) =>
              () =>
                invoke(sagas, { method: 'POST', route: EXECUTIONS, pathParameters: { saga }, body }),
          ),
      },
      {
        name: 'GET /v1/sagas/{saga}/executions',
        run: fc.tuple(fc.oneof(fc.constant('fuzz'), junkName), junkNumber, junkName).map(
          ([saga, limit, after]) =>
            () =>
              invoke(sagas, { method: 'GET', route: EXECUTIONS, pathParameters: { saga }, query: { limit, after } }),
        ),
      },
      {
        name: 'GET /v1/sagas/{saga}/executions/{executionId}',
        run: fc.tuple(fc.oneof(fc.constant('fuzz'), junkName), junkName).map(
          ([saga, executionId]) =>
            () =>
              invoke(sagas, { method: 'GET', route: EXECUTION, pathParameters: { saga, executionId } }),
        ),
      },
      ...(['POST', 'DELETE'] as const).map((method) => ({
        name: `${method} /v1/acls`,
        run: fc
          .oneof(
            bodyish,
            fc
              .record(
                {
                  principal: fc.oneof(junk, fc.constantFrom('jwt:alice', '*', 'iam: spaced', 'claim:x')),
                  resourceType: fc.oneof(junk, fc.constantFrom('topic', 'cluster', 'Topic')),
                  resourceName: fc.oneof(junk, junkName),
                  patternType: fc.oneof(junk, fc.constantFrom('literal', 'prefixed', 'glob')),
                  operation: fc.oneof(junk, fc.constantFrom('read', 'all', 'READ')),
                  permission: fc.oneof(junk, fc.constantFrom('allow', 'deny', 'maybe')),
                },
                { requiredKeys: [] },
              )
              .map((o) => JSON.stringify(o)),
          )
          .filter((body) => {
            try {
              parseAclRule(JSON.parse(body)); // a valid rule would be added: not junk
              return false;
            } catch {
              return true;
            }
          })
          .map((body) => () => invoke(acls, { method, route: '/v1/acls', body })),
      })),
      {
        name: 'GET /v1/acls',
        run: fc
          .dictionary(fc.constantFrom('principal', 'resourceType', 'resourceName', 'other', '__proto__'), junkName)
          .map((query) => () => invoke(acls, { method: 'GET', route: '/v1/acls', query })),
      },
      {
        name: 'GET /v1/exchanges/{exchange}',
        run: junkName
          .filter((x) => x !== 'fuzz-x')
          .map((exchange) => () => invoke(exchanges, { method: 'GET', route: EXCHANGE, pathParameters: { exchange } })),
      },
      // Declarations are writes by design: only junk (not a valid declaration of a valid name) is sent.
      {
        name: 'PUT /v1/exchanges/{exchange}',
        run: fc
          .tuple(
            fc.oneof(fc.constant('fuzz-x'), junkName),
            fc.oneof(
              bodyish,
              fc
                .record(
                  {
                    type: fc.oneof(junk, fc.constantFrom('direct', 'topic', 'headers', 'Fanout', 'x-custom')),
                    alternateExchange: fc.oneof(junk, junkName),
                  },
                  { requiredKeys: [] },
                )
                .map((o) => JSON.stringify(o)),
            ),
          )
          .filter(([exchange, body]) => !validDeclaration(exchange, body))
          .map(
            ([exchange, body]) =>
              () =>
                invoke(exchanges, { method: 'PUT', route: EXCHANGE, pathParameters: { exchange }, body }),
          ),
      },
      {
        name: 'DELETE /v1/exchanges/{exchange}',
        run: junkName
          .filter((x) => x !== 'fuzz-x')
          .map(
            (exchange) => () => invoke(exchanges, { method: 'DELETE', route: EXCHANGE, pathParameters: { exchange } }),
          ),
      },
      ...(['POST', 'DELETE'] as const).map((method) => ({
        name: `${method} /v1/exchanges/{exchange}/bindings`,
        run: fc
          .tuple(
            fc.oneof(fc.constant('fuzz-x'), junkName),
            fc.oneof(
              bodyish,
              fc
                .record(
                  {
                    destination: fc.oneof(
                      junk,
                      fc.record({ topic: fc.oneof(junkName, fc.constant('missing')) }),
                      fc.record({ exchange: fc.oneof(junkName, fc.constant('fuzz-x')) }),
                      fc.record({ topic: junkName, exchange: junkName }),
                    ),
                    bindingKey: fc.oneof(junk, fc.constant('x'.repeat(256))),
                    arguments: fc.oneof(junk, fc.dictionary(junkName, junk, { maxKeys: 3 })),
                  },
                  { requiredKeys: [] },
                )
                .map((o) => JSON.stringify(o)),
            ),
          )
          .map(
            ([exchange, body]) =>
              () =>
                invoke(exchanges, { method, route: BINDINGS, pathParameters: { exchange }, body }),
          ),
      })),
      {
        name: 'POST /v1/exchanges/{exchange}/messages',
        run: fc
          .tuple(
            fc.oneof(fc.constant('fuzz-x'), junkName),
            fc.oneof(
              bodyish,
              fc
                .record(
                  {
                    routingKey: fc.oneof(junk, fc.constant('x'.repeat(256))),
                    value: junk,
                    key: junk,
                    headers: fc.oneof(junk, fc.constant({ 'x-exchange': 'forged' })),
                    messageId: fc.oneof(junk, fc.constant('')),
                    expiration: fc.oneof(junk, fc.constantFrom(-1, 1.5)),
                    mandatory: junk,
                    valueEncoding: junk,
                  },
                  { requiredKeys: [] },
                )
                .map((o) => JSON.stringify(o)),
            ),
          )
          .filter(([exchange, body]) => !validPublish(exchange, body))
          .map(
            ([exchange, body]) =>
              () =>
                invoke(exchanges, { method: 'POST', route: MESSAGES, pathParameters: { exchange }, body }),
          ),
      },
      {
        name: 'POST /v1/share-groups/{group}/members',
        run: fc
          .tuple(
            fc.oneof(fc.constant('fuzz-share'), junkName),
            fc.oneof(
              bodyish,
              fc
                .record(
                  {
                    topics: fc.oneof(junk, fc.array(junkName, { maxLength: 3 })),
                    start: junk,
                    lockMs: junk,
                    deliveryLimit: junk,
                    maxInFlight: junk,
                    deadLetterTopic: fc.oneof(junk, junkName),
                    sessionTimeoutMs: junk,
                  },
                  { requiredKeys: [] },
                )
                .map((o) => JSON.stringify(o)),
            ),
          )
          .filter(([, b]) => !b.includes('"topics":["fuzzed"]'))
          .map(
            ([group, body]) =>
              () =>
                invoke(queues, {
                  method: 'POST',
                  route: '/v1/share-groups/{group}/members',
                  pathParameters: { group },
                  body,
                }),
          ),
      },
      {
        name: 'POST /v1/share-groups/{group}/members/{memberId}/poll',
        run: fc
          .tuple(
            fc.oneof(fc.constant('fuzz-share'), junkName),
            fc.oneof(junkMember, fc.constant('share-member')),
            fc.oneof(
              bodyish,
              fc
                .record(
                  { maxRecords: junk, waitMs: fc.oneof(junk, fc.constant(5_000_000)), maxBytes: junk },
                  { requiredKeys: [] },
                )
                .map((o) => JSON.stringify(o)),
            ),
          )
          .filter(
            ([group, m, body]) => !(group === 'fuzz-share' && m === 'share-member' && (body === '' || body === '{}')),
          )
          .map(
            ([group, m, body]) =>
              () =>
                invoke(queues, {
                  method: 'POST',
                  route: '/v1/share-groups/{group}/members/{memberId}/poll',
                  pathParameters: { group, memberId: m === 'share-member' ? shareMember : m },
                  body,
                }),
          ),
      },
      {
        name: 'POST /v1/share-groups/{group}/acks',
        run: fc
          .tuple(
            fc.oneof(fc.constant('fuzz-share'), junkName),
            fc.oneof(
              bodyish,
              fc
                .record(
                  {
                    memberId: fc.oneof(junk, fc.constant('share-member')),
                    acks: fc.oneof(
                      junk,
                      fc.array(
                        fc.record(
                          { topic: junk, partition: junk, offset: junk, type: junk, delayMs: junk, errorMessage: junk },
                          { requiredKeys: [] },
                        ),
                        { maxLength: 3 },
                      ),
                    ),
                  },
                  { requiredKeys: [] },
                )
                .map((o) => JSON.stringify(o)),
            ),
          )
          .map(
            ([group, body]) =>
              () =>
                invoke(queues, {
                  method: 'POST',
                  route: '/v1/share-groups/{group}/acks',
                  pathParameters: { group },
                  body: body.replace('"share-member"', JSON.stringify(shareMember)),
                }),
          ),
      },
      {
        name: 'DELETE /v1/share-groups/{group}/members/{memberId}',
        run: fc.tuple(fc.oneof(fc.constant('fuzz-share'), junkName), junkMember).map(
          ([group, memberId]) =>
            () =>
              invoke(queues, {
                method: 'DELETE',
                route: '/v1/share-groups/{group}/members/{memberId}',
                pathParameters: { group, memberId },
              }),
        ),
      },
      {
        name: 'POST /v1/topics/{topic}/redrive',
        run: fc
          .tuple(
            junkName,
            fc.oneof(
              bodyish,
              fc
                .record({ maxRecords: junk, toTopic: fc.oneof(junk, junkName) }, { requiredKeys: [] })
                .map((o) => JSON.stringify(o)),
            ),
          )
          .map(
            ([topic, body]) =>
              () =>
                invoke(queues, {
                  method: 'POST',
                  route: '/v1/topics/{topic}/redrive',
                  pathParameters: { topic },
                  body,
                }),
          ),
      },
      {
        name: 'POST /v1/queues',
        run: fc
          .oneof(
            bodyish,
            fc
              .record(
                {
                  name: fc.oneof(junk, junkName, fc.constant('fuzz-share'), fc.constant('fuzzed')),
                  messageTtlMs: fc.oneof(junk, fc.constantFrom(-1, 1.5, 2 ** 33)),
                  maxLength: fc.oneof(junk, fc.constantFrom(0, -5, 1e9)),
                  overflow: fc.oneof(junk, fc.constant('drop-tail')),
                  deadLetterExchange: fc.oneof(junk, junkName),
                  deadLetterRoutingKey: fc.oneof(junk, fc.constant('x'.repeat(256))),
                  deadLetterTopic: fc.oneof(junk, junkName, fc.constant('missing')),
                  deliveryLimit: fc.oneof(junk, fc.constantFrom(0, 36)),
                  lockMs: junk,
                  maxInFlight: junk,
                },
                { requiredKeys: ['name'] },
              )
              .map((o) => JSON.stringify(o)),
          )
          // A new legal name might declare a queue: the fuzzer keeps to names that exist (and are not queues).
          .filter((body) => !declaresNew(body))
          .map((body) => () => invoke(queues, { method: 'POST', route: '/v1/queues', body })),
      },
      {
        name: 'GET and DELETE /v1/queues/{queue}',
        run: fc
          .tuple(fc.constantFrom('GET', 'DELETE'), fc.oneof(fc.constantFrom('fuzz-share', 'fuzzed'), junkName))
          .map(
            ([method, queue]) =>
              () =>
                invoke(queues, { method, route: '/v1/queues/{queue}', pathParameters: { queue } }),
          ),
      },
      {
        name: 'POST /v1/subscriptions',
        run: fc
          .oneof(
            bodyish,
            fc
              .record(
                {
                  name: fc.oneof(junk, junkName, fc.constant('fuzz-sub')),
                  topic: fc.oneof(junk, junkName, fc.constantFrom('fuzzed', 'missing')),
                  target: fc.oneof(
                    junk,
                    fc.record(
                      {
                        type: fc.oneof(junk, fc.constantFrom('lambda', 'https', 'sqs')),
                        functionName: fc.oneof(junk, junkName),
                        url: fc.oneof(junk, fc.constantFrom('http://example.com/x', 'https://u:p@h/', 'ftp://h/')),
                        secret: junk,
                      },
                      { requiredKeys: [] },
                    ),
                  ),
                  filter: fc.oneof(junk, fc.constant({ value: 5 }), fc.constant({ nope: ['x'] })),
                  batchSize: fc.oneof(junk, fc.constantFrom(0, 1001, 1.5)),
                  ordering: junk,
                  maxRetries: fc.oneof(junk, fc.constant(-1)),
                  backoff: fc.oneof(junk, fc.constant({ initialMs: 10, maxMs: 5 })),
                  maxRecordAgeMs: fc.oneof(junk, fc.constant(10)),
                  onFailure: fc.oneof(junk, fc.constant({ topic: 'missing' })),
                  parallelismPerPartition: fc.oneof(junk, fc.constant(2)),
                  startingPosition: junk,
                  paused: junk,
                },
                { requiredKeys: [] },
              )
              .map((o) => JSON.stringify(o)),
          )
          // A new legal name might create a subscription: the fuzzer keeps to the one that exists.
          .filter((body) => !declaresNew(body, ['fuzz-sub']))
          .map((body) => () => invoke(subscriptions, { method: 'POST', route: '/v1/subscriptions', body })),
      },
      {
        name: 'PATCH /v1/subscriptions/{subscription}',
        run: fc
          .tuple(
            fc.oneof(fc.constant('fuzz-sub'), junkName),
            fc.oneof(
              bodyish,
              fc
                .record(
                  {
                    batchSize: fc.oneof(junk, fc.constantFrom(0, 5000)),
                    ordering: fc.oneof(junk, fc.constant('random')),
                    parallelismPerPartition: fc.oneof(junk, fc.constant(3)),
                    target: junk,
                    paused: fc.oneof(junk, fc.constant('yes')),
                    onFailure: fc.oneof(junk, fc.constant({ topic: 'missing' })),
                    name: junk,
                  },
                  { requiredKeys: [] },
                )
                .map((o) => JSON.stringify(o)),
            ),
          )
          .map(
            ([subscription, body]) =>
              () =>
                invoke(subscriptions, {
                  method: 'PATCH',
                  route: '/v1/subscriptions/{subscription}',
                  pathParameters: { subscription },
                  body,
                }),
          ),
      },
      {
        name: 'GET and DELETE /v1/subscriptions/{subscription}, quarantine release and skip',
        run: fc
          .tuple(
            fc.constantFrom(
              ['GET', '/v1/subscriptions/{subscription}'],
              ['DELETE', '/v1/subscriptions/{subscription}'],
              ['POST', '/v1/subscriptions/{subscription}/quarantine/{key}/release'],
              ['POST', '/v1/subscriptions/{subscription}/quarantine/{key}/skip'],
            ),
            junkName,
            fc.oneof(junkName, fc.constant('k')),
          )
          // A legal name that exists would be deleted: only fuzz-sub's quarantine routes use it.
          .map(
            ([[method, route], subscription, key]) =>
              () =>
                invoke(subscriptions, {
                  method: method,
                  route: route,
                  pathParameters: { subscription: route.includes('quarantine') ? 'fuzz-sub' : subscription, key },
                }),
          ),
      },
      {
        name: 'POST /v1/transactions',
        run: fc
          .oneof(
            bodyish,
            fc
              .record(
                {
                  transactionalId: fc.oneof(junk, junkName, fc.constantFrom('fuzz-txn', 'missing-txn')),
                  epoch: fc.oneof(junk, fc.constantFrom(0, 7, -1)),
                  sequence: fc.oneof(junk, fc.constantFrom(0, 1)),
                  records: fc.oneof(
                    junk,
                    fc.array(fc.record({ value: junk, headers: junk, partition: junk }, { requiredKeys: [] }), {
                      maxLength: 3,
                    }),
                  ),
                  offsets: junk,
                },
                { requiredKeys: [] },
              )
              .map((o) => JSON.stringify(o)),
          )
          .map((body) => () => invoke(transactions, { method: 'POST', route: '/v1/transactions', body })),
      },
      {
        name: 'POST /v1/transactions/{transactionalId}/init, GET /v1/transactions/{transactionalId}',
        run: fc
          .tuple(
            fc.constantFrom('POST', 'GET'),
            // A legal id would be initialised (a write): only illegal ones, and fuzz-txn for GET.
            fc.oneof(
              junkName.filter((n) => !/^[A-Za-z0-9._-]{1,200}$/.test(n)),
              fc.constant('fuzz-txn'),
            ),
          )
          .map(
            ([method, transactionalId]) =>
              () =>
                invoke(transactions, {
                  method,
                  route:
                    method === 'GET' ? '/v1/transactions/{transactionalId}' : '/v1/transactions/{transactionalId}/init',
                  pathParameters: {
                    transactionalId: method === 'POST' && transactionalId === 'fuzz-txn' ? '' : transactionalId,
                  },
                }),
          ),
      },
      {
        name: 'POST /v1/transactions/{transactionalId}/begin|records|commit|abort',
        run: fc
          .tuple(
            fc.constantFrom('begin', 'records', 'commit', 'abort'),
            fc.oneof(junkName, fc.constant('fuzz-txn')),
            fc.oneof(
              bodyish,
              fc
                .record(
                  {
                    epoch: fc.oneof(junk, fc.constantFrom(0, 2)), // fuzz-txn is at epoch 1
                    sequence: fc.oneof(junk, fc.constantFrom(0, 1)),
                    append: fc.oneof(junk, fc.constantFrom(0, 1)),
                    timeoutMs: junk,
                    records: junk,
                    offsets: junk,
                  },
                  { requiredKeys: [] },
                )
                .map((o) => JSON.stringify(o)),
            ),
          )
          .filter(([, , body]) => !/"epoch":1[,}]/.test(body))
          .map(
            ([step, transactionalId, body]) =>
              () =>
                invoke(transactions, {
                  method: 'POST',
                  route: `/v1/transactions/{transactionalId}/${step}`,
                  pathParameters: { transactionalId },
                  body,
                }),
          ),
      },
      {
        name: 'GET and DELETE /v1/share-groups/{group}',
        run: fc.tuple(fc.constantFrom('GET', 'DELETE'), fc.oneof(fc.constant('fuzz-share'), junkName)).map(
          ([method, group]) =>
            () =>
              invoke(queues, { method, route: '/v1/share-groups/{group}', pathParameters: { group } }),
        ),
      },
      {
        name: 'POST …/offsets/reset',
        run: fc
          .tuple(
            junkGroup,
            fc.oneof(
              bodyish,
              fc
                .record({ topic: fc.oneof(junk, fc.constant('fuzzed')), to: junk }, { requiredKeys: [] })
                .map((o) => JSON.stringify(o)),
            ),
          )
          .map(
            ([group, body]) =>
              () =>
                invoke(groups, { method: 'POST', route: RESET, pathParameters: { group }, body }),
          ),
      },
    );

    // The suite outlasts the fuzz group's member session (5 minutes, the most a session may be):
    // each route's runs begin with a heartbeat, so describe never sees it expire mid-route.
    beforeEach(async () => {
      const beat = await invoke(groups, {
        method: 'POST',
        route: HEARTBEAT,
        pathParameters: { group: 'fuzz-group', memberId: member },
      });
      expect(beat.status, JSON.stringify(beat.body)).toBe(200);
    });
    // 35 inputs per route: each run snapshots every listing before and after (about 40 requests), so
    // the routes are fuzzed in two files at once (handlers.test.ts, handlers.fuzz.test.ts).
    // The routes are shared out among the suite's files (`shard` of `shards`), which run in parallel.
    for (const route of routes.filter((_, i) => i % options.shards === options.shard)) {
      it.prop([route.run], { numRuns: 35 })(route.name, async (run) => {
        const before = await state();
        const res = await run();
        expectClientError(res, route.name);
        if (res.status >= 400) expect(await state(), 'a rejected request changed nothing').toStrictEqual(before);
        else if (route.name === 'POST /v1/groups/{group}/members')
          expect.fail(`a join accepted junk: ${JSON.stringify(res.body).slice(0, 200)}`);
        else if (route.name === 'POST /v1/queues' || route.name === 'POST /v1/subscriptions')
          expect.fail(`a declaration accepted junk: ${JSON.stringify(res.body).slice(0, 200)}`);
        else if (res.status === 201)
          await invoke(topics, { method: 'DELETE', route: TOPIC, pathParameters: { topic: res.body.name } });
      });
    }
  });
}
