import type { Isolation } from '../../core/log/sluice.ts';
import type { JoinOptions, TopicPartition } from '../../core/groups/consumerGroups.ts';
import { validateTopicName } from '../../core/log/topicConfig.ts';
import { groups } from '../runtime.ts';
import { httpHandler, type HttpEvent } from '../http/httpHandler.ts';
import { InvalidRequest } from '../http/httpErrors.ts';
import { checkFits, objectBody, onlyKeys, recordToWire, wireBytes } from '../http/wire.ts';
import { access, authorize, visible } from '../security/authorization.ts';

const onGroup = (operation: 'read' | 'describe' | 'alter' | 'delete', event: HttpEvent) =>
  access(operation, 'group', group(event));

/** Read on each named topic (names that are not strings are left to validation, which refuses them). */
const readTopics = (topics: unknown) =>
  (Array.isArray(topics) ? topics : [])
    .map((t: unknown) => (typeof t === 'object' && t !== null ? (t as { topic?: unknown }).topic : t))
    .filter((t): t is string => typeof t === 'string')
    .map((t) => access('read', 'topic', t));

const group = (event: HttpEvent): string => event.pathParameters!.group!;
const member = (event: HttpEvent): string => event.pathParameters!.memberId!;

/** An optional body: absent means `{}`. */
function optionalBody(event: HttpEvent): Record<string, unknown> {
  return event.json === undefined ? {} : objectBody(event.json);
}

function partitions(field: string, value: unknown): TopicPartition[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length > 10_000)
    throw new InvalidRequest(field, `${field} must be an array of { topic, partition }`);
  return value.map((v, i) => {
    if (
      typeof v !== 'object' ||
      v === null ||
      typeof v.topic !== 'string' ||
      !Number.isSafeInteger(v.partition) ||
      v.partition < 0 ||
      v.partition > 100_000
    ) {
      throw new InvalidRequest(
        `${field}[${i}]`,
        `${field}[${i}] must be { topic, partition } with a partition from 0 to 100000`,
      );
    }
    validateTopicName(v.topic);
    return { topic: v.topic, partition: v.partition, ...(v.offset === undefined ? {} : { offset: v.offset }) };
  });
}

/** Consumer groups: membership, polling, commits, lag, admin. */
export const handler = httpHandler({
  'POST /v1/groups/{group}/members': async (event) => {
    const body = objectBody(event.json);
    onlyKeys(body, ['topics', 'instanceId', 'sessionTimeoutMs', 'rebalanceTimeoutMs', 'assignor', 'autoOffsetReset']);
    // A member may join only with topics it can read (its polls check them again).
    await authorize(event, onGroup('read', event), ...readTopics(body.topics));
    return { status: 200, body: await groups.join(group(event), body as unknown as JoinOptions) };
  },
  'POST /v1/groups/{group}/members/{memberId}/heartbeat': async (event) => {
    const body = optionalBody(event);
    onlyKeys(body, ['release']);
    await authorize(event, onGroup('read', event));
    const release = partitions('release', body.release);
    return {
      status: 200,
      body: await groups.heartbeat(group(event), member(event), release === undefined ? {} : { release }),
    };
  },
  'POST /v1/groups/{group}/members/{memberId}/poll': async (event) => {
    const body = optionalBody(event);
    onlyKeys(body, ['maxRecords', 'maxBytes', 'waitMs', 'paused', 'seek', 'release', 'isolation']);
    await authorize(event, onGroup('read', event));
    const result = await groups.poll(group(event), member(event), {
      // Every subscribed topic, as the member's state names them: a rule removed since the join counts.
      authorizeTopics: (topics) => authorize(event, ...readTopics(topics)),
      ...(body.maxRecords === undefined ? {} : { maxRecords: body.maxRecords as number }),
      ...(body.maxBytes === undefined ? {} : { maxBytes: body.maxBytes as number }),
      ...(body.waitMs === undefined ? {} : { waitMs: body.waitMs as number }),
      ...(body.isolation === undefined ? {} : { isolation: body.isolation as Isolation }),
      ...(body.paused === undefined ? {} : { paused: partitions('paused', body.paused)! }),
      ...(body.seek === undefined
        ? {}
        : { seek: partitions('seek', body.seek) as (TopicPartition & { offset: number })[] }),
      ...(body.release === undefined ? {} : { release: partitions('release', body.release)! }),
      // maxBytes counts records as this response carries them (JSON, base64), so it bounds the response.
      measure: (r) => wireBytes(r, { topic: r.topic, partition: r.partition }),
    });
    const [only] = result.records;
    if (only !== undefined)
      checkFits(only.topic, only.partition, result.records, (r) =>
        wireBytes(r, { topic: only.topic, partition: only.partition }),
      );
    return {
      status: 200,
      body: {
        ...result,
        records: result.records.map((r) => ({ topic: r.topic, partition: r.partition, ...recordToWire(r) })),
      },
    };
  },
  'DELETE /v1/groups/{group}/members/{memberId}': async (event) => {
    await authorize(event, onGroup('read', event));
    await groups.leave(group(event), member(event));
    return { status: 204 };
  },
  'POST /v1/groups/{group}/offsets': async (event) => {
    const body = objectBody(event.json);
    onlyKeys(body, ['memberId', 'generation', 'offsets']);
    await authorize(event, onGroup('read', event), ...readTopics(body.offsets));
    await groups.commit(group(event), body as never);
    return { status: 204 };
  },
  'POST /v1/groups/{group}/offsets/reset': async (event) => {
    const body = objectBody(event.json);
    onlyKeys(body, ['topic', 'to']);
    await authorize(event, onGroup('alter', event), ...readTopics([body.topic]));
    return {
      status: 200,
      body: { offsets: await groups.resetOffsets(group(event), body.topic as string, body.to as never) },
    };
  },
  'GET /v1/groups': async (event) => {
    const listed = await groups.listGroups();
    return { status: 200, body: { groups: await visible(event, listed, (g) => access('describe', 'group', g.group)) } };
  },
  'GET /v1/groups/{group}': async (event) => {
    await authorize(event, onGroup('describe', event));
    return { status: 200, body: await groups.describe(group(event)) };
  },
  'DELETE /v1/groups/{group}': async (event) => {
    await authorize(event, onGroup('delete', event));
    await groups.deleteGroup(group(event));
    return { status: 204 };
  },
});
