import type { TopicRecord } from '../../core/ports.ts';
import { sluice } from '../runtime.ts';
import { httpHandler } from '../http/httpHandler.ts';
import { booleanParam, integerParam, objectBody, onlyKeys, onlyQuery } from '../http/wire.ts';

function topicView(topic: TopicRecord) {
  return { name: topic.name, topicId: topic.topicId, config: topic.config, createdAt: topic.createdAt };
}

/** Topic administration: create, list, describe, change, delete. */
export const handler = httpHandler({
  'POST /v1/topics': async (event) => {
    const body = objectBody(event.json);
    onlyKeys(body, ['name', 'partitions', 'config']);
    const topic = await sluice.createTopic(body.name as string, {
      partitions: body.partitions as number | undefined,
      config: body.config as object | undefined,
    });
    return { status: 201, body: await sluice.describeTopic(topic.name) };
  },
  'GET /v1/topics': async () => ({ status: 200, body: { topics: (await sluice.listTopics()).map(topicView) } }),
  'GET /v1/topics/{topic}': async (event) => {
    const query = event.queryStringParameters;
    onlyQuery(query, ['offsets', 'sizes']);
    const offsets = booleanParam('offsets', query?.offsets, true);
    const sizes = booleanParam('sizes', query?.sizes, false);
    const name = event.pathParameters!.topic!;
    return {
      status: 200,
      body: offsets ? await sluice.describeTopic(name, { sizes }) : await sluice.describeTopic(name, { offsets }),
    };
  },
  'PATCH /v1/topics/{topic}': async (event) => {
    const body = objectBody(event.json);
    onlyKeys(body, ['partitions', 'config']);
    const name = event.pathParameters!.topic!;
    await sluice.updateTopic(name, {
      partitions: body.partitions as number | undefined,
      config: body.config as object | undefined,
    });
    return { status: 200, body: await sluice.describeTopic(name) };
  },
  'POST /v1/topics/{topic}/partitions/{partition}/delete-records': async (event) => {
    const body = objectBody(event.json);
    onlyKeys(body, ['beforeOffset']);
    const partition = integerParam('partition', event.pathParameters!.partition);
    return {
      status: 200,
      body: await sluice.deleteRecords(event.pathParameters!.topic!, partition, body.beforeOffset as number),
    };
  },
  // One write whatever the topic's size; the roller removes the data (202: accepted, in progress).
  'DELETE /v1/topics/{topic}': async (event) => {
    const name = event.pathParameters!.topic!;
    await sluice.deleteTopic(name);
    return { status: 202, body: { name, deleted: true, purge: 'pending' } };
  },
});
