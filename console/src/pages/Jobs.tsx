import { api } from '../api/instance.ts';
import { ErrorMessage, Page, Pending } from '../components/ui.tsx';
import { formatBytes, formatTime } from '../format.ts';
import { usePoll } from '../poll.ts';
import { href } from '../router.ts';

/** Stream jobs (StreamProcessors): each with its source, watermark and lag. */
export function JobsPage() {
  const jobs = usePoll(async (signal) => {
    const { jobs } = await api().get('/v1/jobs', { query: { limit: 100 }, signal });
    return Promise.all(jobs.map((job) => api().get('/v1/jobs/{job}', { path: { job }, signal })));
  }, []);
  return (
    <Page title="Stream jobs">
      {jobs.data === undefined ? (
        <Pending error={jobs.error} loading={jobs.loading} feature="Stream jobs" />
      ) : jobs.data.length === 0 ? (
        <p>No stream jobs deployed.</p>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Stream jobs table">
          <table>
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Source</th>
                <th scope="col">Watermark</th>
                <th scope="col">Lag</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {jobs.data.map((j) => (
                <tr key={j.name}>
                  <th scope="row">
                    <a href={href('jobs', j.name)}>{j.name}</a>
                  </th>
                  <td>
                    <a href={href('topics', j.source)}>{j.source}</a>
                  </td>
                  <td>{formatTime(j.watermark)}</td>
                  <td>{j.partitions.reduce((n, p) => n + (p.lag ?? 0), 0)}</td>
                  <td>{formatBytes(j.stateBytes)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}

export function JobDetailPage(props: { job: string }) {
  const job = usePoll((signal) => api().get('/v1/jobs/{job}', { path: { job: props.job }, signal }), [props.job]);
  const j = job.data;
  return (
    <Page title={`Stream job ${props.job}`}>
      <p>
        <a href={href('jobs')}>All stream jobs</a>
      </p>
      {j === undefined ? (
        <Pending error={job.error} loading={job.loading} feature="Stream jobs" />
      ) : (
        <>
          <ErrorMessage error={job.error} />
          <dl class="facts">
            <dt>Source</dt>
            <dd>{j.source}</dd>
            <dt>Watermark</dt>
            <dd>{formatTime(j.watermark)}</dd>
            <dt>Open windows</dt>
            <dd>
              {j.openWindows.keys} keys, {j.openWindows.panes} panes, {j.openWindows.sessions} sessions,{' '}
              {j.openWindows.timers} timers
            </dd>
            <dt>State</dt>
            <dd>{formatBytes(j.stateBytes)}</dd>
          </dl>
          <div class="table-wrap" tabIndex={0} role="region" aria-label="Job partitions">
            <table>
              <thead>
                <tr>
                  <th scope="col">Partition</th>
                  <th scope="col">Next offset</th>
                  <th scope="col">High watermark</th>
                  <th scope="col">Lag</th>
                  <th scope="col">Max event time</th>
                  <th scope="col">Watermark</th>
                  <th scope="col">Idle</th>
                  <th scope="col">Last active</th>
                </tr>
              </thead>
              <tbody>
                {j.partitions.map((p) => (
                  <tr key={p.partition}>
                    <th scope="row">{p.partition}</th>
                    <td>{p.nextOffset ?? '—'}</td>
                    <td>{p.highWatermark ?? '—'}</td>
                    <td>{p.lag ?? '—'}</td>
                    <td>{formatTime(p.maxEventTime)}</td>
                    <td>{formatTime(p.watermark)}</td>
                    <td>{p.idle === null ? '—' : p.idle ? 'yes' : 'no'}</td>
                    <td>{formatTime(p.lastActiveAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </Page>
  );
}
