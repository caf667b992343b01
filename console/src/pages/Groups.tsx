import { useState } from 'preact/hooks';
import { api } from '../api/instance.ts';
import { LagChart, lagHistory, recordLag, type LagSample } from '../components/LagChart.tsx';
import { ErrorMessage, Field, Page, Pending, Status, useAction } from '../components/ui.tsx';
import { formatTime } from '../format.ts';
import { usePoll } from '../poll.ts';
import { href } from '../router.ts';

/** Consumer groups: state, generation and members of each. */
export function GroupsPage() {
  const groups = usePoll((signal) => api().get('/v1/groups', { signal }), []);
  const list = [...(groups.data?.groups ?? [])].sort((a, b) => (a.group ?? '').localeCompare(b.group ?? ''));
  return (
    <Page title="Consumer groups">
      {groups.data === undefined ? (
        <Pending error={groups.error} loading={groups.loading} feature="Consumer groups" />
      ) : list.length === 0 ? (
        <p>No consumer groups yet: they appear when a consumer joins one.</p>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Consumer groups table">
          <table>
            <thead>
              <tr>
                <th scope="col">Group</th>
                <th scope="col">State</th>
                <th scope="col">Generation</th>
                <th scope="col">Members</th>
              </tr>
            </thead>
            <tbody>
              {list.map((g) => (
                <tr key={g.group}>
                  <th scope="row">
                    <a href={href('groups', g.group ?? '')}>{g.group}</a>
                  </th>
                  <td>{g.state}</td>
                  <td>{g.generation}</td>
                  <td>{g.members}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ErrorMessage error={groups.data === undefined ? undefined : groups.error} />
    </Page>
  );
}

interface Member {
  memberId: string;
  instanceId: string | null;
  topics: string[];
  assignments: { topic: string; partition: number }[];
  sessionExpiresAt?: number;
}

/** One group: members and their partitions, per-partition lag, lag over time, offset resets. */
export function GroupDetailPage(props: { group: string }) {
  const [samples, setSamples] = useState<readonly LagSample[]>(() => lagHistory(props.group));
  const group = usePoll(
    async (signal) => {
      const g = await api().get('/v1/groups/{group}', { path: { group: props.group }, signal });
      setSamples([...recordLag(props.group, g.totalLag)]);
      return g;
    },
    [props.group],
  );
  const g = group.data;
  const members = (g?.members ?? []) as unknown as Member[]; // the API documents members as plain objects
  const topics = [...new Set((g?.offsets ?? []).map((o) => o.topic ?? ''))].filter((t) => t !== '');
  return (
    <Page title={`Group ${props.group}`}>
      <p>
        <a href={href('groups')}>All groups</a>
      </p>
      {g === undefined ? (
        <Pending error={group.error} loading={group.loading} feature="Consumer groups" />
      ) : (
        <>
          <ErrorMessage error={group.error} />
          <dl class="facts">
            <dt>State</dt>
            <dd data-testid="group-state">{g.state}</dd>
            <dt>Generation</dt>
            <dd>{g.generation}</dd>
            <dt>Assignor</dt>
            <dd>{g.assignor ?? '—'}</dd>
            <dt>Total lag</dt>
            <dd data-testid="total-lag">{g.totalLag}</dd>
          </dl>
          <h2>Lag over time</h2>
          <LagChart samples={samples} label={`Total lag of ${props.group}`} />
          <h2>Members</h2>
          {members.length === 0 ? (
            <p>No live members: the group is empty.</p>
          ) : (
            <ul class="members">
              {members.map((m) => (
                <li key={m.memberId}>
                  <code>{m.memberId}</code>
                  {m.instanceId === null ? '' : ` (instance ${m.instanceId})`}: {m.topics.join(', ')} —{' '}
                  {m.assignments.length === 0
                    ? 'no partitions'
                    : m.assignments.map((a) => `${a.topic}/${a.partition}`).join(', ')}
                  {m.sessionExpiresAt === undefined ? '' : `; session until ${formatTime(m.sessionExpiresAt)}`}
                </li>
              ))}
            </ul>
          )}
          <h2>Offsets and lag</h2>
          <div class="table-wrap" tabIndex={0} role="region" aria-label="Offsets table">
            <table>
              <thead>
                <tr>
                  <th scope="col">Topic</th>
                  <th scope="col">Partition</th>
                  <th scope="col">Committed</th>
                  <th scope="col">High watermark</th>
                  <th scope="col">Lag</th>
                </tr>
              </thead>
              <tbody>
                {g.offsets.map((o) => (
                  <tr key={`${o.topic}/${o.partition}`}>
                    <th scope="row">
                      <a href={href('topics', o.topic ?? '')}>{o.topic}</a>
                    </th>
                    <td>{o.partition}</td>
                    <td>{o.committed ?? '—'}</td>
                    <td>{o.highWatermark}</td>
                    <td>{o.lag}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <ResetOffsets group={props.group} topics={topics} empty={g.state === 'Empty'} onReset={group.refresh} />
        </>
      )}
    </Page>
  );
}

type ResetTo = 'earliest' | 'latest' | 'timestamp' | 'offset';

function ResetOffsets(props: { group: string; topics: string[]; empty: boolean; onReset: () => void }) {
  const [topic, setTopic] = useState(props.topics[0] ?? '');
  const [to, setTo] = useState<ResetTo>('earliest');
  const [value, setValue] = useState('');
  const action = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    void action.run(async () => {
      const target =
        to === 'earliest' || to === 'latest'
          ? to
          : to === 'offset'
            ? { offset: Number(value) }
            : { timestamp: Date.parse(value) };
      if (typeof target === 'object' && 'timestamp' in target && Number.isNaN(target.timestamp))
        throw new Error('Give the timestamp as a date and time, e.g. 2026-11-30T09:00:00Z');
      await api().post('/v1/groups/{group}/offsets/reset', {
        path: { group: props.group },
        body: { topic: topic || props.topics[0] || '', to: target },
      });
      props.onReset();
      return `Offsets of ${topic || props.topics[0]} reset to ${to === 'earliest' || to === 'latest' ? to : `${to} ${value}`}`;
    });
  };
  return (
    <section aria-labelledby="reset-title">
      <h2 id="reset-title">Reset offsets</h2>
      {props.empty ? null : (
        <p class="hint" id="reset-why">
          Only while the group is empty: stop its consumers first.
        </p>
      )}
      <form onSubmit={submit} class="form-row">
        <Field label="Topic" id="reset-topic">
          <select id="reset-topic" value={topic} onChange={(e) => setTopic(e.currentTarget.value)}>
            {props.topics.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </Field>
        <Field label="To" id="reset-to">
          <select id="reset-to" value={to} onChange={(e) => setTo(e.currentTarget.value as ResetTo)}>
            <option value="earliest">earliest</option>
            <option value="latest">latest</option>
            <option value="timestamp">timestamp</option>
            <option value="offset">offset</option>
          </select>
        </Field>
        {to === 'offset' || to === 'timestamp' ? (
          <Field label={to === 'offset' ? 'Offset' : 'Timestamp (ISO 8601)'} id="reset-value">
            <input id="reset-value" required value={value} onInput={(e) => setValue(e.currentTarget.value)} />
          </Field>
        ) : null}
        <button
          type="submit"
          disabled={action.busy || !props.empty || props.topics.length === 0}
          aria-describedby={props.empty ? undefined : 'reset-why'}
        >
          Reset offsets
        </button>
      </form>
      <ErrorMessage error={action.error} />
      <Status message={action.message} />
    </section>
  );
}
