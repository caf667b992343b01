import type { JobDescription, JobPartitionView, OpenWindows } from '../core/streams/describe.ts';
import type { JobPage } from '../core/streams/stateStore.ts';
import { Connection, type ConnectionOptions } from './http.ts';

export type { JobDescription, JobPage, JobPartitionView, OpenWindows };

const jobPath = (job: string): string => `v1/jobs/${encodeURIComponent(job)}`;

/**
 * Stream jobs over the HTTP API (routes under /v1/jobs), read only: which jobs exist, and where
 * one stands per input partition (position, high watermark, lag), its watermark and open windows.
 *
 * @example
 * const jobs = new Jobs({ url });
 * for await (const name of jobs.names()) console.log(name);
 * const d = await jobs.describeJob('fraud-detection');
 * console.log(d.partitions.reduce((n, p) => n + (p.lag ?? 0), 0), 'records behind');
 */
export class Jobs {
  private readonly http: Connection;

  constructor(options: ConnectionOptions | Connection) {
    this.http = options instanceof Connection ? options : new Connection(options);
  }

  /** One page of job names (those the caller may describe), ascending; pass `next` as `after` for the next. */
  listJobs(options: { after?: string; limit?: number } = {}): Promise<JobPage> {
    return this.http.request('GET', 'v1/jobs', { query: { after: options.after, limit: options.limit } });
  }

  /** Every job name, page after page. */
  async *names(options: { pageSize?: number } = {}): AsyncGenerator<string> {
    for (let after: string | undefined; ;) {
      const page = await this.listJobs({
        ...(after === undefined ? {} : { after }),
        ...(options.pageSize === undefined ? {} : { limit: options.pageSize }),
      });
      yield* page.jobs;
      if (page.next === undefined) return;
      after = page.next;
    }
  }

  /** A job's positions, lag and open windows (404 `JobNotFound` when it has not committed a step). */
  describeJob(job: string): Promise<JobDescription> {
    return this.http.request('GET', jobPath(job));
  }
}
