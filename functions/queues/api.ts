import { JOIN_KEYS, type Ack, type ShareJoinOptions } from '../../core/queues/shareGroups.ts';
import { queues, redrive, shareGroups } from '../runtime.ts';
import { httpHandler, type HttpEvent } from '../http/httpHandler.ts';
import { InvalidRequest } from '../http/httpErrors.ts';
import { checkFits, objectBody, onlyKeys, recordToWire, wireBytes } from '../http/wire.ts';
import { access, authorize, visible } from '../security/authorization.ts';

const group = (event: HttpEvent): string => event.pathParameters!.group!;
const member = (event: HttpEvent): string => event.pathParameters!.memberId!;
const onGroup = (operation: 'read' | 'describe' | 'delete', event: HttpEvent) =>
  access(operation, 'shareGroup', group(event));
/** Naming where dead letters go needs the right to write there (as binding does). */
const deadLetterTargets = (body: Record<string, unknown>) => [
  ...(typeof body.deadLetterTopic === 'string' ? [access('write', 'topic', body.deadLetterTopic)] : []),
  ...(typeof body.deadLetterExchange === 'string' ? [access('write', 'exchange', body.deadLetterExchange)] : []),
];
const readTopics = (topics: unknown) =>
  (Array.isArray(topics) ? topics : [])
    .filter((t): t is string => typeof t === 'string')
    .map((t) => access('read', 'topic', t));

/**
 * Share groups (queues on topics): join, poll, acknowledge, leave; list, describe, delete; redrive.
 * Queues: a topic and a share group of one name (rights on both, as the name's topic and share group).
 */
export const handler = httpHandler({
  'POST /v1/share-groups/{group}/members': async (event) => {
    const body = objectBody(event.json);
    onlyKeys(body, JOIN_KEYS);
    await authorize(event, onGroup('read', event), ...readTopics(body.topics), ...deadLetterTargets(body));
    return { status: 200, body: await shareGroups.join(group(event), body as unknown as ShareJoinOptions) };
  },
  'POST /v1/share-groups/{group}/members/{memberId}/poll': async (event) => {
    const body = event.json === undefined ? {} : objectBody(event.json);
    onlyKeys(body, ['maxRecords', 'waitMs', 'maxBytes']);
    await authorize(event, onGroup('read', event));
    if (
      body.maxBytes !== undefined &&
      (!Number.isSafeInteger(body.maxBytes) || (body.maxBytes as number) < 1 || (body.maxBytes as number) > 5_000_000)
    )
      throw new InvalidRequest('maxBytes', 'maxBytes must be an integer from 1 to 5000000');
    const measure = (r: { topic: string; partition: number } & Parameters<typeof wireBytes>[0]) =>
      wireBytes(r, { topic: r.topic, partition: r.partition, deliveryCount: 99, lockedUntil: 1e13 });
    const { records } = await shareGroups.poll(group(event), member(event), {
      ...(body.maxRecords === undefined ? {} : { maxRecords: body.maxRecords as number }),
      ...(body.waitMs === undefined ? {} : { waitMs: body.waitMs as number }),
      maxBytes: (body.maxBytes as number | undefined) ?? 1024 * 1024,
      measure,
      authorizeTopics: (topics) => authorize(event, ...readTopics(topics)),
    });
    const [only] = records;
    if (only !== undefined) checkFits(only.topic, only.partition, records, (r) => measure({ ...only, ...r }));
    return {
      status: 200,
      body: {
        records: records.map((r) => ({
          topic: r.topic,
          partition: r.partition,
          deliveryCount: r.deliveryCount,
          lockedUntil: r.lockedUntil,
          ...recordToWire(r),
        })),
      },
    };
  },
  'POST /v1/share-groups/{group}/acks': async (event) => {
    const body = objectBody(event.json);
    onlyKeys(body, ['memberId', 'acks']);
    if (typeof body.memberId !== 'string') throw new InvalidRequest('memberId', 'memberId must be a string');
    await authorize(event, onGroup('read', event));
    const results = await shareGroups.acknowledge(group(event), body.memberId, body.acks as Ack[]);
    return { status: 200, body: { results } };
  },
  'DELETE /v1/share-groups/{group}/members/{memberId}': async (event) => {
    await authorize(event, onGroup('read', event));
    await shareGroups.leave(group(event), member(event));
    return { status: 204 };
  },
  'GET /v1/share-groups': async (event) => {
    const names = await visible(event, await shareGroups.list(), (g) => access('describe', 'shareGroup', g));
    return { status: 200, body: { groups: names } };
  },
  'GET /v1/share-groups/{group}': async (event) => {
    await authorize(event, onGroup('describe', event));
    return { status: 200, body: await shareGroups.describe(group(event)) };
  },
  // Dead letters back to where they came from: read on the dead-letter topic, write on each target.
  'POST /v1/topics/{topic}/redrive': async (event) => {
    const body = event.json === undefined ? {} : objectBody(event.json);
    onlyKeys(body, ['maxRecords', 'toTopic']);
    const dlq = event.pathParameters!.topic!;
    const options = {
      ...(body.maxRecords === undefined ? {} : { maxRecords: body.maxRecords as number }),
      ...(body.toTopic === undefined ? {} : { toTopic: body.toTopic as string }),
    };
    await authorize(event, access('read', 'topic', dlq));
    return {
      status: 200,
      body: await redrive.redrive(dlq, {
        ...options,
        authorizeTargets: (targets) => authorize(event, ...targets.map((t) => access('write', 'topic', t))),
      }),
    };
  },
  'POST /v1/queues': async (event) => {
    const body = objectBody(event.json);
    // A name that is not a string is refused by validation, before anything is written.
    if (typeof body.name === 'string')
      await authorize(
        event,
        access('create', 'topic', body.name),
        access('read', 'shareGroup', body.name),
        ...deadLetterTargets(body),
      );
    const { queue, created } = await queues.declare(body);
    return { status: created ? 201 : 200, body: queue };
  },
  'GET /v1/queues': async (event) => {
    const names = await visible(event, await queues.list(), (q) => access('describe', 'topic', q));
    return { status: 200, body: { queues: names } };
  },
  'GET /v1/queues/{queue}': async (event) => {
    const name = event.pathParameters!.queue!;
    await authorize(event, access('describe', 'topic', name), access('describe', 'shareGroup', name));
    return { status: 200, body: await queues.describe(name) };
  },
  'DELETE /v1/queues/{queue}': async (event) => {
    const name = event.pathParameters!.queue!;
    await authorize(event, access('delete', 'topic', name), access('delete', 'shareGroup', name));
    await queues.delete(name);
    return { status: 204 };
  },
  'DELETE /v1/share-groups/{group}': async (event) => {
    await authorize(event, onGroup('delete', event));
    await shareGroups.delete(group(event));
    return { status: 204 };
  },
});
