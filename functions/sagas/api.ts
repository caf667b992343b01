import { sagas } from './service.ts';
import { httpHandler, type HttpEvent } from '../http/httpHandler.ts';
import { objectBody, onlyKeys } from '../http/wire.ts';
import { access, authorize, visible } from '../security/authorization.ts';

const saga = (event: HttpEvent): string => event.pathParameters!.saga!;

/** Sagas: start executions (idempotent by name), read their status and step history, list them. */
export const handler = httpHandler({
  'GET /v1/sagas': async (event) => ({
    status: 200,
    body: {
      sagas: (await visible(event, sagas.list(), (s) => access('describe', 'saga', s.name))).map(
        ({ name, steps, auditTopic, type, trigger }) => ({
          name,
          steps,
          auditTopic,
          type,
          ...(trigger === undefined ? {} : { trigger }),
        }),
      ),
    },
  }),
  'POST /v1/sagas/{saga}/executions': async (event) => {
    const body = event.json === undefined ? {} : objectBody(event.json);
    onlyKeys(body, ['input', 'executionName']);
    await authorize(event, access('write', 'saga', saga(event)));
    const started = await sagas.start(saga(event), body);
    return {
      status: 202,
      body: { saga: saga(event), executionId: started.executionId, status: started.status, created: started.created },
    };
  },
  'GET /v1/sagas/{saga}/executions': async (event) => {
    const query = event.queryStringParameters ?? {};
    onlyKeys(query, ['limit', 'after']);
    await authorize(event, access('describe', 'saga', saga(event)));
    return { status: 200, body: await sagas.listExecutions(saga(event), { limit: query.limit, after: query.after }) };
  },
  'GET /v1/sagas/{saga}/executions/{executionId}': async (event) => {
    await authorize(event, access('describe', 'saga', saga(event)));
    return { status: 200, body: await sagas.describe(saga(event), event.pathParameters!.executionId!) };
  },
});
