import { describeJob, listJobs } from '../../core/streams/describe.ts';
import { DynamoJobStateStore } from '../../core/streams/dynamoJobStateStore.ts';
import { DEFAULT_JOB_PAGE } from '../../core/streams/stateStore.ts';
import { client, sluice, tables } from '../runtime.ts';
import { httpHandler } from '../http/httpHandler.ts';
import { integerParam, onlyQuery } from '../http/wire.ts';
import { access, authorize, visible } from '../security/authorization.ts';

/** Stream jobs' state items, in the metadata table (core/streams/dynamoJobStateStore.ts). */
const jobs = new DynamoJobStateStore({ client, table: tables.metadata });

/**
 * Stream jobs (core/streams), read only: list them, and describe one (per input partition its
 * position, the source's high watermark and the lag; the watermark; open windows). Not to be
 * confused with `/v1/streams`, the event store's streams.
 */
export const handler = httpHandler({
  'GET /v1/jobs': async (event) => {
    const q = event.queryStringParameters ?? {};
    onlyQuery(q, ['after', 'limit']);
    const page = await listJobs(jobs, {
      limit: integerParam('limit', q.limit, DEFAULT_JOB_PAGE),
      ...(q.after === undefined || q.after === '' ? {} : { after: q.after }),
    });
    // A page shows the jobs the caller may describe; `next` still pages past the hidden ones.
    const shown = await visible(event, page.jobs, (job) => access('describe', 'job', job));
    return { status: 200, body: { jobs: shown, ...(page.next === undefined ? {} : { next: page.next }) } };
  },
  'GET /v1/jobs/{job}': async (event) => {
    onlyQuery(event.queryStringParameters, []);
    const name = event.pathParameters!.job!;
    await authorize(event, access('describe', 'job', name));
    return { status: 200, body: await describeJob(sluice, jobs, name) };
  },
});
