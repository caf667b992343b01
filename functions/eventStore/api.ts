import type { EventInput, ExpectedVersion } from '../../core/eventStore/events.ts';
import { eventStore } from '../runtime.ts';
import { httpHandler, type HttpEvent } from '../http/httpHandler.ts';
import { InvalidRequest, RecordTooLargeForResponse } from '../http/httpErrors.ts';
import { MAX_RESPONSE_RECORD_BYTES, integerParam, objectBody, onlyKeys, onlyQuery } from '../http/wire.ts';
import { access, authorize } from '../security/authorization.ts';

const streamId = (event: HttpEvent): string => event.pathParameters!.streamId!;
/** Streams are guarded as the event store's topic: write to append, read to read, describe to describe. */
const onEvents = (operation: 'write' | 'read' | 'describe') => access(operation, 'topic', eventStore.topicName);

/**
 * Event streams (core/eventStore): append with an expected version, read a stream by versions,
 * describe a stream. Replaying everything is the event store's topic, read like any other.
 */
export const handler = httpHandler({
  'POST /v1/streams/{streamId}/events': async (event) => {
    const body = objectBody(event.json);
    onlyKeys(body, ['events', 'expectedVersion']);
    if (body.expectedVersion === undefined)
      throw new InvalidRequest(
        'expectedVersion',
        'expectedVersion is required: "any", "noStream", "streamExists" or the version of the last event',
      );
    await authorize(event, onEvents('write'));
    const result = await eventStore.appendToStream(streamId(event), body.events as EventInput[], {
      expectedVersion: body.expectedVersion as ExpectedVersion,
    });
    return { status: 200, body: result };
  },
  'GET /v1/streams/{streamId}/events': async (event) => {
    const q = event.queryStringParameters ?? {};
    onlyQuery(q, ['fromVersion', 'toVersion', 'maxCount']);
    const options = {
      fromVersion: integerParam('fromVersion', q.fromVersion, 0),
      ...(q.toVersion === undefined || q.toVersion === '' ? {} : { toVersion: integerParam('toVersion', q.toVersion) }),
      maxCount: integerParam('maxCount', q.maxCount, 500),
    };
    await authorize(event, onEvents('read'));
    // Pages stay within Lambda's 6 MB response: readStream's byte budget (4 MiB of events as JSON)
    // holds for every page but one whose first event alone is larger; that one is named instead.
    const page = await eventStore.readStream(streamId(event), options);
    const [first] = page.events;
    const bytes = Buffer.byteLength(JSON.stringify(page));
    if (first !== undefined && bytes > MAX_RESPONSE_RECORD_BYTES)
      throw new RecordTooLargeForResponse(
        eventStore.topicName,
        first.partition,
        first.offset,
        bytes,
        MAX_RESPONSE_RECORD_BYTES,
      );
    return { status: 200, body: page };
  },
  'GET /v1/streams/{streamId}': async (event) => {
    await authorize(event, onEvents('describe'));
    return { status: 200, body: await eventStore.describeStream(streamId(event)) };
  },
});
