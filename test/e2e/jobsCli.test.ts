import { beforeAll, describe, expect, it } from 'vitest';
import { Admin, Jobs, Producer, isSluiceApiError } from '../../client/index.ts';
import { runNode, useApi } from '../support/e2e.ts';
import { runJobStep } from '../support/jobs.ts';
import { uniqueName } from '../support/names.ts';

/**
 * `sluice jobs list|describe` and the `Jobs` client over HTTP, on the local stack: a stream job
 * is stepped on the stack's own tables (as a runner deployed next to it would), then read back.
 * Skipped against a deployed API (SLUICE_API_URL), whose tables these tests cannot reach.
 */
const api = useApi('e2e-jobs-cli');
const cli = (args: string[]) => runNode('bin/sluice.mjs', ['--url', api.url, ...args]);
const source = uniqueName('clicks');
const behind = `${source}-per-10ms`;
const caughtUp = `${source}-audit`;

describe.skipIf(process.env.SLUICE_API_URL !== undefined)('sluice jobs, and the Jobs client', () => {
  beforeAll(async () => {
    await new Admin({ url: api.url }).createTopic(source, { partitions: 2 });
    const producer = new Producer({ url: api.url });
    await producer.sendBatch(
      source,
      [1, 2, 3, 4, 11, 12].map((t, i) => ({ value: { t }, partition: i % 2 })),
    );
    await producer.close();
    // Two records of each partition processed (one left on each); the other job reads everything.
    expect((await runJobStep(api.tables!, { name: behind, source, maxRecords: 2 })).records).toBe(4);
    expect((await runJobStep(api.tables!, { name: caughtUp, source })).records).toBe(6);
  });

  it('jobs list prints every job, paging through them', async () => {
    const run = await cli(['jobs', 'list']);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toBe('JOB');
    expect(lines.filter((l) => l.startsWith(source))).toStrictEqual([caughtUp, behind]);
    const json = await cli(['jobs', 'list', '--json']);
    expect((JSON.parse(json.stdout) as string[]).filter((n) => n.startsWith(source))).toStrictEqual([caughtUp, behind]);
  });

  it('jobs describe prints a row per partition (position, high watermark, lag, event time) and the open windows', async () => {
    const run = await cli(['jobs', 'describe', behind]);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toBe(`Job ${behind}: source ${source}, version 1, watermark 3, total lag 2`);
    const rows = lines.slice(1, 4).map((l) => l.split(/\s{2,}/));
    expect(rows).toStrictEqual([
      ['PARTITION', 'POSITION', 'HIGH WATERMARK', 'LAG', 'MAX EVENT TIME', 'WATERMARK', 'IDLE'],
      ['0', '2', '3', '1', '3', '-', '-'],
      ['1', '2', '3', '1', '4', '-', '-'],
    ]);
    expect(lines[4]).toMatch(/^Open windows: 1 keys, 1 panes, 0 sessions, 0 timers; state \d+ bytes$/);

    const json = await cli(['jobs', 'describe', caughtUp, '--json']);
    const described = JSON.parse(json.stdout);
    expect(described).toStrictEqual(await new Jobs({ url: api.url }).describeJob(caughtUp));
    expect(described.partitions.map((p: { lag: number }) => p.lag)).toStrictEqual([0, 0]);
    expect(described.openWindows).toMatchObject({ keys: 1, panes: 1 }); // [10,20) is open
  });

  it('says what is wrong: an unknown job (exit 1), a missing JOB or action (exit 2)', async () => {
    const unknown = await cli(['jobs', 'describe', `${source}-nope`]);
    expect([unknown.code, unknown.stderr]).toStrictEqual([
      1,
      `Error JobNotFound: Stream job "${source}-nope" does not exist (it has not committed a step yet)\n`,
    ]);
    const missing = await cli(['jobs', 'describe']);
    expect([missing.code, missing.stderr.split('\n')[0]]).toStrictEqual([2, 'jobs describe needs a JOB']);
    const wrong = await cli(['jobs', 'restart', behind]);
    expect([wrong.code, wrong.stderr.split('\n')[0]]).toStrictEqual([2, 'Unknown jobs action restart']);
  });

  it('the Jobs client pages through names and maps a missing job to its typed error', async () => {
    const jobs = new Jobs({ url: api.url });
    const names: string[] = [];
    for await (const name of jobs.names({ pageSize: 1 })) names.push(name);
    expect(names.filter((n) => n.startsWith(source))).toStrictEqual([caughtUp, behind]);
    const page = await jobs.listJobs({ after: `${source}-`, limit: 1 });
    expect(page).toStrictEqual({ jobs: [caughtUp], next: caughtUp });
    const refused = await jobs.describeJob('').catch((e: unknown) => e);
    expect(isSluiceApiError(refused)).toBe(true);
    const missing = await jobs.describeJob(`${source}-nope`).catch((e: unknown) => e);
    expect(isSluiceApiError(missing) && [missing.status, missing.code]).toStrictEqual([404, 'JobNotFound']);
  });
});
