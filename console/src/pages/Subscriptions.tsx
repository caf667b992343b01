import { api } from '../api/instance.ts';
import { ConfirmButton, ErrorMessage, Page, Pending, Status, useAction } from '../components/ui.tsx';
import { formatTime } from '../format.ts';
import { usePoll } from '../poll.ts';
import { href } from '../router.ts';

/** Push subscriptions: target, topic, and whether paused. */
export function SubscriptionsPage() {
  const subscriptions = usePoll((signal) => api().get('/v1/subscriptions', { signal }), []);
  const list = [...(subscriptions.data?.subscriptions ?? [])].sort((a, b) => a.name.localeCompare(b.name));
  return (
    <Page title="Subscriptions">
      {subscriptions.data === undefined ? (
        <Pending error={subscriptions.error} loading={subscriptions.loading} feature="Subscriptions" />
      ) : list.length === 0 ? (
        <p>No subscriptions.</p>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Subscriptions table">
          <table>
            <thead>
              <tr>
                <th scope="col">Subscription</th>
                <th scope="col">Topic</th>
                <th scope="col">Target</th>
                <th scope="col">Ordering</th>
                <th scope="col">On failure</th>
                <th scope="col">Paused</th>
              </tr>
            </thead>
            <tbody>
              {list.map((s) => (
                <tr key={s.name}>
                  <th scope="row">
                    <a href={href('subscriptions', s.name)}>{s.name}</a>
                  </th>
                  <td>
                    <a href={href('topics', s.topic)}>{s.topic}</a>
                  </td>
                  <td>{s.target.type === 'lambda' ? `lambda ${s.target.functionName}` : s.target.url}</td>
                  <td>{s.ordering}</td>
                  <td>
                    {s.onFailure?.topic === undefined ? (
                      'dropped'
                    ) : (
                      <a href={href('dead-letters', s.onFailure.topic)}>{s.onFailure.topic}</a>
                    )}
                  </td>
                  <td>{s.paused ? 'yes' : 'no'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}

/** One subscription: per-partition position and lag, and its quarantined keys (release or skip). */
export function SubscriptionDetailPage(props: { subscription: string }) {
  const sub = usePoll(
    (signal) => api().get('/v1/subscriptions/{subscription}', { path: { subscription: props.subscription }, signal }),
    [props.subscription],
  );
  const action = useAction();
  const s = sub.data;
  const act = (what: 'release' | 'skip', key: string) =>
    action.run(async () => {
      const path = { subscription: props.subscription, key };
      const done =
        what === 'release'
          ? await api().post('/v1/subscriptions/{subscription}/quarantine/{key}/release', { path })
          : await api().post('/v1/subscriptions/{subscription}/quarantine/{key}/skip', { path });
      sub.refresh();
      return `${what === 'release' ? 'Released' : 'Skipped'} key ${key}: ${(done as { records?: number }).records ?? 0} records`;
    });
  return (
    <Page title={`Subscription ${props.subscription}`}>
      <p>
        <a href={href('subscriptions')}>All subscriptions</a>
      </p>
      {s === undefined ? (
        <Pending error={sub.error} loading={sub.loading} feature="Subscriptions" />
      ) : (
        <>
          <ErrorMessage error={sub.error} />
          <h2>Partitions</h2>
          <div class="table-wrap" tabIndex={0} role="region" aria-label="Subscription partitions">
            <table>
              <thead>
                <tr>
                  <th scope="col">Partition</th>
                  <th scope="col">Position</th>
                  <th scope="col">High watermark</th>
                  <th scope="col">Lag</th>
                  <th scope="col">Delivered</th>
                  <th scope="col">Dead-lettered</th>
                </tr>
              </thead>
              <tbody>
                {(s.partitions ?? []).map((p) => (
                  <tr key={p.partition}>
                    <th scope="row">{p.partition}</th>
                    <td>{p.position ?? '—'}</td>
                    <td>{p.highWatermark}</td>
                    <td>{p.lag}</td>
                    <td>{p.delivered}</td>
                    <td>{p.deadLettered}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <h2>Quarantined keys</h2>
          {(s.quarantined ?? []).length === 0 ? (
            <p>No quarantined keys.</p>
          ) : (
            <div class="table-wrap" tabIndex={0} role="region" aria-label="Quarantined keys">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Key</th>
                    <th scope="col">Partition</th>
                    <th scope="col">Records</th>
                    <th scope="col">Since</th>
                    <th scope="col">Last error</th>
                    <th scope="col">Actions</th>
                  </tr>
                </thead>
                <tbody>
                  {(s.quarantined ?? []).map((q) => (
                    <tr key={`${q.partition}/${q.keyId}`}>
                      <th scope="row">{q.key ?? <em>null</em>}</th>
                      <td>{q.partition}</td>
                      <td>{q.records}</td>
                      <td>{formatTime(q.since)}</td>
                      <td>{q.lastError}</td>
                      <td>
                        <button
                          type="button"
                          disabled={action.busy || q.releasing === true}
                          onClick={() => void act('release', q.key ?? '')}
                        >
                          Release {q.key}
                        </button>{' '}
                        <ConfirmButton
                          label={`Skip ${q.key ?? ''}…`}
                          confirmLabel="Skip its records"
                          question={`Skip the parked records of key ${q.key ?? ''}?`}
                          disabled={action.busy}
                          onConfirm={() => act('skip', q.key ?? '')}
                        />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <ErrorMessage error={action.error} />
          <Status message={action.message} />
        </>
      )}
    </Page>
  );
}
