import { api } from '../api/instance.ts';
import { ErrorMessage, Page, Pending } from '../components/ui.tsx';
import { formatDuration } from '../format.ts';
import { usePoll } from '../poll.ts';
import { href } from '../router.ts';

/** Queues (RabbitMQ-style declarations) and every share group, with their depths. */
export function QueuesPage() {
  const queues = usePoll(async (signal) => {
    const { queues } = await api().get('/v1/queues', { signal });
    return Promise.all(
      [...queues].sort().map((name) => api().get('/v1/queues/{queue}', { path: { queue: name }, signal })),
    );
  }, []);
  const shareGroups = usePoll((signal) => api().get('/v1/share-groups', { signal }), []);
  return (
    <Page title="Queues and share groups">
      <h2>Queues</h2>
      {queues.data === undefined ? (
        <Pending error={queues.error} loading={queues.loading} feature="Queues" />
      ) : queues.data.length === 0 ? (
        <p>No queues declared.</p>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Queues table">
          <table>
            <thead>
              <tr>
                <th scope="col">Queue</th>
                <th scope="col">Messages</th>
                <th scope="col">Ready</th>
                <th scope="col">Unacknowledged</th>
                <th scope="col">Archived</th>
                <th scope="col">Consumers</th>
                <th scope="col">Dead letters to</th>
              </tr>
            </thead>
            <tbody>
              {queues.data.map((q) => (
                <tr key={q.name}>
                  <th scope="row">
                    <a href={href('share-groups', q.name)}>{q.name}</a>
                  </th>
                  <td>{q.messages}</td>
                  <td>{q.ready}</td>
                  <td>{q.unacknowledged}</td>
                  <td>{q.archived}</td>
                  <td>{q.consumers}</td>
                  <td>{q.settings.deadLetterTopic ?? q.settings.deadLetterExchange ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h2>Share groups</h2>
      {shareGroups.data === undefined ? (
        <Pending error={shareGroups.error} loading={shareGroups.loading} feature="Share groups" />
      ) : (shareGroups.data.groups ?? []).length === 0 ? (
        <p>No share groups yet.</p>
      ) : (
        <ul>
          {[...(shareGroups.data.groups ?? [])].sort().map((g) => (
            <li key={g}>
              <a href={href('share-groups', g)}>{g}</a>
            </li>
          ))}
        </ul>
      )}
    </Page>
  );
}

/** One share group: settings, members and per-partition in-flight state. */
export function ShareGroupPage(props: { group: string }) {
  const group = usePoll(
    (signal) => api().get('/v1/share-groups/{group}', { path: { group: props.group }, signal }),
    [props.group],
  );
  const g = group.data;
  const s = g?.settings;
  return (
    <Page title={`Share group ${props.group}`}>
      <p>
        <a href={href('queues')}>Queues and share groups</a>
      </p>
      {g === undefined ? (
        <Pending error={group.error} loading={group.loading} feature="Share groups" />
      ) : (
        <>
          <ErrorMessage error={group.error} />
          <dl class="facts">
            <dt>Lock</dt>
            <dd>{formatDuration(s?.lockMs)}</dd>
            <dt>Delivery limit</dt>
            <dd>{s?.deliveryLimit ?? '—'}</dd>
            <dt>Dead letters</dt>
            <dd>
              {s?.deadLetterTopic === undefined ? (
                (s?.deadLetterExchange ?? 'dropped')
              ) : (
                <a href={href('dead-letters', s.deadLetterTopic)}>{s.deadLetterTopic}</a>
              )}
            </dd>
            <dt>Members</dt>
            <dd>{(g.members ?? []).length}</dd>
          </dl>
          <div class="table-wrap" tabIndex={0} role="region" aria-label="Share group partitions">
            <table>
              <thead>
                <tr>
                  <th scope="col">Partition</th>
                  <th scope="col">Start</th>
                  <th scope="col">Next</th>
                  <th scope="col">High watermark</th>
                  <th scope="col">In flight</th>
                  <th scope="col">Acquired</th>
                  <th scope="col">Available</th>
                  <th scope="col">Archived</th>
                  <th scope="col">Lag</th>
                </tr>
              </thead>
              <tbody>
                {(g.partitions ?? []).map((p) => (
                  <tr key={p.partition}>
                    <th scope="row">{p.partition}</th>
                    <td>{p.startOffset}</td>
                    <td>{p.nextOffset}</td>
                    <td>{p.highWatermark}</td>
                    <td>{p.inFlight}</td>
                    <td>{p.acquired}</td>
                    <td>{p.available}</td>
                    <td>{p.archived}</td>
                    <td>{p.lag}</td>
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
