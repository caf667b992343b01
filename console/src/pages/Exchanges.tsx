import { api } from '../api/instance.ts';
import { ErrorMessage, Page, Pending } from '../components/ui.tsx';
import { formatTime } from '../format.ts';
import { usePoll } from '../poll.ts';
import { href } from '../router.ts';

/** Exchanges and, for one, its bindings. */
export function ExchangesPage() {
  const exchanges = usePoll((signal) => api().get('/v1/exchanges', { signal }), []);
  const list = [...(exchanges.data?.exchanges ?? [])].sort((a, b) => a.name.localeCompare(b.name));
  return (
    <Page title="Exchanges">
      {exchanges.data === undefined ? (
        <Pending error={exchanges.error} loading={exchanges.loading} feature="Exchanges" />
      ) : list.length === 0 ? (
        <p>No exchanges declared.</p>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Exchanges table">
          <table>
            <thead>
              <tr>
                <th scope="col">Exchange</th>
                <th scope="col">Type</th>
                <th scope="col">Alternate exchange</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {list.map((x) => (
                <tr key={x.name}>
                  <th scope="row">
                    <a href={href('exchanges', x.name)}>{x.name}</a>
                  </th>
                  <td>{x.type}</td>
                  <td>{x.alternateExchange ?? '—'}</td>
                  <td>{formatTime(x.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}

export function ExchangeDetailPage(props: { exchange: string }) {
  const exchange = usePoll(
    (signal) => api().get('/v1/exchanges/{exchange}', { path: { exchange: props.exchange }, signal }),
    [props.exchange],
  );
  const x = exchange.data;
  return (
    <Page title={`Exchange ${props.exchange}`}>
      <p>
        <a href={href('exchanges')}>All exchanges</a>
      </p>
      {x === undefined ? (
        <Pending error={exchange.error} loading={exchange.loading} feature="Exchanges" />
      ) : (
        <>
          <ErrorMessage error={exchange.error} />
          <p>
            Type <strong>{x.type}</strong>; unrouted messages go to{' '}
            <strong>{x.alternateExchange ?? 'nowhere (dropped)'}</strong>.
          </p>
          <h2>Bindings</h2>
          {x.bindings.length === 0 ? (
            <p>No bindings.</p>
          ) : (
            <div class="table-wrap" tabIndex={0} role="region" aria-label="Bindings table">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Destination</th>
                    <th scope="col">Binding key</th>
                    <th scope="col">Arguments</th>
                  </tr>
                </thead>
                <tbody>
                  {x.bindings.map((b) => (
                    <tr key={b.id}>
                      <th scope="row">
                        {'topic' in b.destination ? (
                          <a href={href('topics', b.destination.topic)}>topic {b.destination.topic}</a>
                        ) : (
                          <a href={href('exchanges', b.destination.exchange)}>exchange {b.destination.exchange}</a>
                        )}
                      </th>
                      <td>
                        <code>{b.bindingKey ?? ''}</code>
                      </td>
                      <td class="mono">{b.arguments === undefined ? '—' : JSON.stringify(b.arguments)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </Page>
  );
}
