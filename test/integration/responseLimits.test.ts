import { beforeAll, describe, expect, it } from 'vitest';
import { apiEvent, lambdaContext, type Handler } from '../support/apiEvents.ts';
import { handlerEnvironment } from '../support/handlerEnv.ts';
import { uniqueName } from '../support/names.ts';

/**
 * Responses fit Lambda's 6 MB, whatever the records: a poll shares one budget counted as the
 * response carries the records (JSON, base64, escaping), and a record too large for any response
 * is named in a typed error instead of a response Lambda would refuse.
 */
const LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024;
let topics: Handler;
let produce: Handler;
let fetch: Handler;
let groups: Handler;
let eventStore: Handler;

beforeAll(async () => {
  await handlerEnvironment('limits');
  topics = (await import('../../functions/log/topics.ts')).handler;
  produce = (await import('../../functions/log/produce.ts')).handler;
  fetch = (await import('../../functions/log/fetch.ts')).handler;
  groups = (await import('../../functions/groups/api.ts')).handler;
  eventStore = (await import('../../functions/eventStore/api.ts')).handler;
});

async function call(handler: Handler, spec: Parameters<typeof apiEvent>[0]) {
  const res = await handler(apiEvent(spec), lambdaContext);
  const bytes = Buffer.byteLength(res.body ?? '');
  return { status: res.statusCode ?? 200, bytes, body: res.body === undefined ? undefined : JSON.parse(res.body) };
}

describe('responses fit Lambda', () => {
  it('a group poll over five partitions of 1 MiB binary records stays under 6 MB and delivers every record', async () => {
    const topic = uniqueName('big');
    const created = await call(topics, {
      method: 'POST',
      route: '/v1/topics',
      body: { name: topic, partitions: 5, config: { maxRecordBytes: 2 * 1024 * 1024 } },
    });
    expect(created.status).toBe(201);
    for (let p = 0; p < 5; p++) {
      const value = Buffer.alloc(1024 * 1024, p + 1).toString('base64');
      const res = await call(produce, {
        method: 'POST',
        route: '/v1/topics/{topic}/records',
        pathParameters: { topic },
        body: { records: [{ value, valueEncoding: 'base64', partition: p }] },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    const group = uniqueName('g');
    const joined = await call(groups, {
      method: 'POST',
      route: '/v1/groups/{group}/members',
      pathParameters: { group },
      body: { topics: [topic], autoOffsetReset: 'earliest' },
    });
    expect(joined.status).toBe(200);
    const memberId = joined.body.memberId as string;
    const seen = new Set<number>();
    for (let polls = 0; polls < 12 && seen.size < 5; polls++) {
      const res = await call(groups, {
        method: 'POST',
        route: '/v1/groups/{group}/members/{memberId}/poll',
        pathParameters: { group, memberId },
        body: { maxBytes: 4 * 1024 * 1024 },
      });
      expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
      expect(res.bytes, `poll ${polls}: ${res.body.records.length} records`).toBeLessThan(LAMBDA_RESPONSE_LIMIT);
      for (const r of res.body.records as { partition: number; value: string }[]) {
        expect(Buffer.from(r.value, 'base64').length).toBe(1024 * 1024);
        seen.add(r.partition);
      }
    }
    expect([...seen].sort(), 'every partition delivered, no member stuck').toStrictEqual([0, 1, 2, 3, 4]);
  });

  it('a fetch counts maxBytes as sent, and names a record no response can carry', async () => {
    const topic = uniqueName('escaped');
    await call(topics, {
      method: 'POST',
      route: '/v1/topics',
      body: { name: topic, config: { maxRecordBytes: 4 * 1024 * 1024 } },
    });
    // 1,000 bytes stored, 6,000 as JSON (\u0001 escapes): maxBytes of 10,000 holds one, not ten.
    const escaped = '\u0001'.repeat(1000);
    await call(produce, {
      method: 'POST',
      route: '/v1/topics/{topic}/records',
      pathParameters: { topic },
      body: { records: Array.from({ length: 10 }, () => ({ value: escaped, partition: 0 })) },
    });
    const page = await call(fetch, {
      method: 'GET',
      route: '/v1/topics/{topic}/partitions/{partition}/records',
      pathParameters: { topic, partition: '0' },
      query: { offset: '0', maxBytes: '10000' },
    });
    expect(page.status).toBe(200);
    expect(page.body.records.length).toBe(1);
    expect(page.body.nextOffset).toBe(1);
    // 3 MiB stored is 18 MiB as JSON: no response can carry it. (No HTTP request can carry it
    // either, so it comes from another writer of the engine, as the saga audit is.)
    const { sluice } = await import('../../functions/runtime.ts');
    await sluice.append(topic, [{ value: '\u0001'.repeat(3 * 1024 * 1024), partition: 0 }]);
    const refused = await call(fetch, {
      method: 'GET',
      route: '/v1/topics/{topic}/partitions/{partition}/records',
      pathParameters: { topic, partition: '0' },
      query: { offset: '10', maxBytes: '4194304' },
    });
    expect(refused.status).toBe(413);
    expect(refused.body.error).toMatchObject({ code: 'RecordTooLargeForResponse', offset: 10, partition: 0 });
    expect(refused.bytes).toBeLessThan(1000);
  });

  it('a produce out of time is a typed, retriable 503 saying what was written and what was not', async () => {
    const topic = uniqueName('late');
    await call(topics, { method: 'POST', route: '/v1/topics', body: { name: topic } });
    const spec = {
      method: 'POST' as const,
      route: '/v1/topics/{topic}/records',
      pathParameters: { topic },
      body: { records: [{ value: 'a' }, { value: 'b' }] },
    };
    // Three seconds left: the time a route keeps for answering, so no batch may start.
    const late = { ...lambdaContext, getRemainingTimeInMillis: () => 3_000 };
    const res = await produce(apiEvent(spec), late);
    expect(res.statusCode).toBe(503);
    const body = JSON.parse(res.body!) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ code: 'AppendIncomplete', appended: [], notAppended: [0, 1] });
    const offsets = await call(fetch, {
      method: 'GET',
      route: '/v1/topics/{topic}/partitions/{partition}/offsets',
      pathParameters: { topic, partition: '0' },
      query: { at: 'latest' },
    });
    expect(offsets.body.offset, 'nothing written').toBe(0);
    expect((await call(produce, spec)).status, 'with time, the same request succeeds').toBe(200);
  });

  it('a stream read pages 6 MB of events under 6 MB each, in order, and names an event no response can carry', async () => {
    const streamId = uniqueName('big-stream');
    const EVENT = '"'.repeat(150_000); // 300 KB as JSON: escaping counts
    for (let v = 0; v < 20; v++) {
      const res = await call(eventStore, {
        method: 'POST',
        route: '/v1/streams/{streamId}/events',
        pathParameters: { streamId },
        body: { events: [{ type: 'Big', data: { v, text: EVENT } }], expectedVersion: v - 1 },
      });
      expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
    }
    const versions: number[] = [];
    let pages = 0;
    for (let from: number | undefined = 0; from !== undefined; pages++) {
      const res = await call(eventStore, {
        method: 'GET',
        route: '/v1/streams/{streamId}/events',
        pathParameters: { streamId },
        query: { fromVersion: String(from) },
      });
      expect(res.status).toBe(200);
      expect(res.bytes).toBeLessThan(LAMBDA_RESPONSE_LIMIT);
      versions.push(...res.body.events.map((e: { data: { v: number } }) => e.data.v));
      from = res.body.nextVersion;
    }
    expect(versions).toStrictEqual([...Array(20).keys()]);
    expect(pages).toBeGreaterThan(1);
    // An event as large as a request carries (6 MB as JSON: control characters escape to 6 bytes
    // each): its response adds the event's version, timestamp and position, more than a response carries.
    const huge = uniqueName('huge-stream');
    const bodyOf = (data: string) => ({ events: [{ type: 'Huge', data }], expectedVersion: 'noStream' });
    const overhead = Buffer.byteLength(JSON.stringify(bodyOf('')));
    const data = '\u0001'.repeat(Math.floor((6_000_000 - overhead) / 6));
    const appended = await call(eventStore, {
      method: 'POST',
      route: '/v1/streams/{streamId}/events',
      pathParameters: { streamId: huge },
      body: bodyOf(data),
    });
    expect(appended.status, JSON.stringify(appended.body).slice(0, 300)).toBe(200);
    const refused = await call(eventStore, {
      method: 'GET',
      route: '/v1/streams/{streamId}/events',
      pathParameters: { streamId: huge },
    });
    expect(refused.status).toBe(413);
    expect(refused.body.error).toMatchObject({
      code: 'RecordTooLargeForResponse',
      offset: appended.body.positions[0].offset,
    });
  });
});
