import { useState } from 'preact/hooks';
import { api } from '../api/instance.ts';
import { Field, Page, Pending } from '../components/ui.tsx';
import { formatTime } from '../format.ts';
import { usePoll } from '../poll.ts';
import { href, navigate } from '../router.ts';

/**
 * Transactional producers and event streams have no list in the API (they are looked up by id),
 * so these pages start from a form, and each answer has its own URL.
 */
function LookupForm(props: { label: string; id: string; route: string; initial: string }) {
  const [value, setValue] = useState(props.initial);
  return (
    <form
      class="form-row"
      role="search"
      onSubmit={(e) => {
        e.preventDefault();
        if (value.trim() !== '') navigate(href(props.route, value.trim()));
      }}
    >
      <Field label={props.label} id={props.id}>
        <input id={props.id} required value={value} onInput={(e) => setValue(e.currentTarget.value)} />
      </Field>
      <button type="submit">Look up</button>
    </form>
  );
}

/** A transactional producer: its epoch, state, open transaction and last outcome. */
export function TransactionsPage(props: { transactionalId?: string }) {
  const id = props.transactionalId;
  return (
    <Page title={id === undefined ? 'Transactions' : `Transactional producer ${id}`}>
      <LookupForm label="Transactional id" id="transactional-id" route="transactions" initial={id ?? ''} />
      {id === undefined ? null : <TransactionalProducer id={id} />}
    </Page>
  );
}

function TransactionalProducer(props: { id: string }) {
  const producer = usePoll(
    (signal) => api().get('/v1/transactions/{transactionalId}', { path: { transactionalId: props.id }, signal }),
    [props.id],
  );
  const p = producer.data;
  if (p === undefined) return <Pending error={producer.error} loading={producer.loading} feature="Transactions" />;
  return (
    <>
      <dl class="facts">
        <dt>State</dt>
        <dd data-testid="transaction-state">{p.state}</dd>
        <dt>Epoch</dt>
        <dd>{p.epoch}</dd>
        <dt>Next sequence</dt>
        <dd>{p.nextSequence}</dd>
        <dt>Last outcome</dt>
        <dd>{p.last === undefined ? '—' : `${p.last.outcome ?? '?'} (sequence ${p.last.sequence ?? '?'})`}</dd>
      </dl>
      {p.open === undefined ? (
        <p>No transaction open.</p>
      ) : (
        <>
          <h2>Open transaction</h2>
          <p>
            Sequence {p.open.sequence}, started {formatTime(p.open.startedAt)}, times out {formatTime(p.open.deadline)},{' '}
            {p.open.appends} appends.
          </p>
          <ul>
            {(p.open.partitions ?? []).map((t) => (
              <li key={`${t.topic}/${t.partition}`}>
                <a href={href('topics', t.topic ?? '')}>{t.topic}</a>/{t.partition} from offset {t.firstOffset}
              </li>
            ))}
          </ul>
        </>
      )}
    </>
  );
}

/** An event stream: its version and snapshots, and its events in order. */
export function StreamsPage(props: { streamId?: string }) {
  const id = props.streamId;
  return (
    <Page title={id === undefined ? 'Event streams' : `Event stream ${id}`}>
      <LookupForm label="Stream id" id="stream-id" route="streams" initial={id ?? ''} />
      {id === undefined ? null : <EventStream id={id} />}
    </Page>
  );
}

function EventStream(props: { id: string }) {
  const stream = usePoll(
    async (signal) => {
      const path = { streamId: props.id };
      const [description, page] = await Promise.all([
        api().get('/v1/streams/{streamId}', { path, signal }),
        api().get('/v1/streams/{streamId}/events', { path, query: { maxCount: 200 }, signal }),
      ]);
      return { description, events: page.events };
    },
    [props.id],
  );
  const s = stream.data;
  if (s === undefined) return <Pending error={stream.error} loading={stream.loading} feature="Event streams" />;
  return (
    <>
      <dl class="facts">
        <dt>Version</dt>
        <dd data-testid="stream-version">{s.description.version}</dd>
        <dt>Partition</dt>
        <dd>{s.description.partition}</dd>
        <dt>Last event</dt>
        <dd>{formatTime(s.description.lastTimestamp)}</dd>
        <dt>Snapshots</dt>
        <dd>
          {Object.entries(s.description.snapshots)
            .map(([name, snap]) => `${name} at version ${snap.version}`)
            .join(', ') || 'none'}
        </dd>
      </dl>
      <div class="table-wrap" tabIndex={0} role="region" aria-label="Events table">
        <table>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Type</th>
              <th scope="col">Time</th>
              <th scope="col">Data</th>
            </tr>
          </thead>
          <tbody>
            {s.events.map((e) => (
              <tr key={e.version}>
                <th scope="row">{e.version}</th>
                <td>
                  {e.type} (v{e.schemaVersion})
                </td>
                <td>{formatTime(e.timestamp)}</td>
                <td class="mono">{JSON.stringify(e.data)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
