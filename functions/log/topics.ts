import type { TopicRecord } from '../../core/ports.ts';
import { sluice } from '../runtime.ts';
import { httpHandler, type HttpEvent } from '../http/httpHandler.ts';
import { booleanParam, integerParam, objectBody, onlyKeys, onlyQuery } from '../http/wire.ts';
import { access, authorize, visible } from '../security/authorization.ts';

const topicName = (event: HttpEvent): string => event.pathParameters!.topic!;

function topicView(topic: TopicRecord) {
  return { name: topic.name, topicId: topic.topicId, config: topic.config, createdAt: topic.createdAt };
}

/** Topic administration: create, list, describe, change, delete. */
export const handler = httpHandler({
  'POST /v1/topics': async (event) => {
    const body = objectBody(event.json);
    onlyKeys(body, ['name', 'partitions', 'config']);
    // A name that is not a string is refused by validation, before anything is written.
    if (typeof body.name === 'string') await authorize(event, access('create', 'topic', body.name));
    const topic = await sluice.createTopic(body.name as string, {
      partitions: body.partitions as number | undefined,
      config: body.config as object | undefined,
    });
    return { status: 201, body: await sluice.describeTopic(topic.name) };
  },
  'GET /v1/topics': async (event) => {
    const topics = await visible(event, await sluice.listTopics(), (t) => access('describe', 'topic', t.name));
    return { status: 200, body: { topics: topics.map(topicView) } };
  },
  'GET /v1/topics/{topic}': async (event) => {
    const query = event.queryStringParameters;
    onlyQuery(query, ['offsets', 'sizes']);
    const offsets = booleanParam('offsets', query?.offsets, true);
    const sizes = booleanParam('sizes', query?.sizes, false);
    const name = topicName(event);
    await authorize(event, access('describe', 'topic', name));
    return {
      status: 200,
      body: offsets ? await sluice.describeTopic(name, { sizes }) : await sluice.describeTopic(name, { offsets }),
    };
  },
  'PATCH /v1/topics/{topic}': async (event) => {
    const body = objectBody(event.json);
    onlyKeys(body, ['partitions', 'config']);
    const name = topicName(event);
    await authorize(event, access('alter', 'topic', name));
    await sluice.updateTopic(name, {
      partitions: body.partitions as number | undefined,
      config: body.config as object | undefined,
    });
    return { status: 200, body: await sluice.describeTopic(name) };
  },
  'POST /v1/topics/{topic}/partitions/{partition}/delete-records': async (event) => {
    const body = objectBody(event.json);
    onlyKeys(body, ['beforeOffset']);
    await authorize(event, access('delete', 'topic', topicName(event)));
    const partition = integerParam('partition', event.pathParameters!.partition);
    return {
      status: 200,
      body: await sluice.deleteRecords(event.pathParameters!.topic!, partition, body.beforeOffset as number),
    };
  },
  // One write whatever the topic's size; the roller removes the data (202: accepted, in progress).
  'DELETE /v1/topics/{topic}': async (event) => {
    const name = topicName(event);
    await authorize(event, access('delete', 'topic', name));
    await sluice.deleteTopic(name);
    return { status: 202, body: { name, deleted: true, purge: 'pending' } };
  },
});
