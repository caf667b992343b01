import { useRef, useState } from 'preact/hooks';
import type { Schemas } from '../api/client.ts';
import { api } from '../api/instance.ts';
import {
  ErrorMessage,
  Field,
  Page,
  Pending,
  Status,
  StorageField,
  useAction,
  type Storage,
} from '../components/ui.tsx';
import { formatBytes, formatDuration } from '../format.ts';
import { usePoll } from '../poll.ts';
import { href } from '../router.ts';

/** Describes are one request per topic; past this many the list shows names only. */
const DESCRIBE_LIMIT = 50;

type Description = Schemas['TopicDescription'];

/**
 * Topics: partitions, high watermarks, hot and tiered bytes, retention and storage; create one.
 * The list shows as soon as it comes; each topic's figures fill in as its describe returns.
 */
export function TopicsPage() {
  const [details, setDetails] = useState<ReadonlyMap<string, Description>>(new Map());
  const inFlight = useRef(new Set<string>());
  const topics = usePoll(async (signal) => {
    const { topics } = await api().get('/v1/topics', { signal });
    const sorted = [...topics].sort((a, b) => a.name.localeCompare(b.name));
    for (const t of sorted.slice(0, DESCRIBE_LIMIT)) {
      if (inFlight.current.has(t.name)) continue; // a slow describe is not asked again on top of itself
      inFlight.current.add(t.name);
      api()
        .get('/v1/topics/{topic}', { path: { topic: t.name }, query: { sizes: true }, signal })
        .then(
          (d) => setDetails((m) => new Map(m).set(t.name, d)),
          () => undefined, // deleted since the list, or not readable: its name and configuration only
        )
        .finally(() => inFlight.current.delete(t.name));
    }
    return sorted;
  }, []);
  return (
    <Page title="Topics">
      <CreateTopic onCreated={topics.refresh} />
      {topics.data === undefined ? (
        <Pending error={topics.error} loading={topics.loading} feature="Topics" />
      ) : (
        <>
          <ErrorMessage error={topics.error} />
          <TopicTable
            topics={topics.data.map((t) => details.get(t.name) ?? t)}
            described={topics.data.slice(0, DESCRIBE_LIMIT).every((t) => details.has(t.name))}
          />
        </>
      )}
    </Page>
  );
}

function TopicTable(props: { topics: Description[]; described: boolean }) {
  if (props.topics.length === 0) return <p>No topics yet. Create one above.</p>;
  return (
    <div
      class="table-wrap"
      tabIndex={0}
      role="region"
      aria-label="Topics table"
      aria-busy={!props.described}
      data-described={props.described}
    >
      <table>
        <caption class="visually-hidden">Topics</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Partitions</th>
            <th scope="col">Records (high watermarks)</th>
            <th scope="col">Hot bytes</th>
            <th scope="col">Tiered bytes</th>
            <th scope="col">Retention</th>
            <th scope="col">Storage</th>
          </tr>
        </thead>
        <tbody>
          {props.topics.map((t) => {
            const parts = t.partitions ?? [];
            const sum = (f: (p: (typeof parts)[number]) => number | undefined) =>
              parts.length === 0 ? undefined : parts.reduce((n, p) => n + (f(p) ?? 0), 0);
            return (
              <tr key={t.name}>
                <th scope="row">
                  <a href={href('topics', t.name)}>{t.name}</a>
                </th>
                <td>{parts.length || (t.config.partitions ?? '—')}</td>
                <td title={parts.map((p) => `p${p.partition}: ${p.highWatermark}`).join(', ')}>
                  {parts.length === 0 ? '—' : parts.map((p) => p.highWatermark).join(' / ')}
                </td>
                <td>{formatBytes(sum((p) => p.hotBytes))}</td>
                <td>{formatBytes(sum((p) => p.tieredBytes))}</td>
                <td>{formatDuration(t.config.retentionMs)}</td>
                <td>{t.config.storage ?? 'dynamodb'}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function CreateTopic(props: { onCreated: () => void }) {
  const [name, setName] = useState('');
  const [partitions, setPartitions] = useState('3');
  const [retention, setRetention] = useState('');
  const [storage, setStorage] = useState<Storage>('dynamodb');
  const action = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    void action.run(async () => {
      const config: Schemas['TopicConfig'] = { storage };
      if (retention.trim() !== '') config.retentionMs = Number(retention);
      await api().post('/v1/topics', { body: { name: name.trim(), partitions: Number(partitions), config } });
      props.onCreated();
      setName('');
      return `Created topic ${name.trim()}`;
    });
  };
  return (
    <details class="panel">
      <summary>Create a topic</summary>
      <form onSubmit={submit} class="form-row">
        <Field label="Name" id="topic-name">
          <input id="topic-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <Field label="Partitions" id="topic-partitions">
          <input
            id="topic-partitions"
            type="number"
            min={1}
            required
            value={partitions}
            onInput={(e) => setPartitions(e.currentTarget.value)}
          />
        </Field>
        <Field label="Retention (ms, -1 forever)" id="topic-retention">
          <input
            id="topic-retention"
            type="number"
            min={-1}
            placeholder="default"
            value={retention}
            onInput={(e) => setRetention(e.currentTarget.value)}
          />
        </Field>
        <StorageField id="topic-storage" value={storage} onChange={setStorage} />
        <button type="submit" disabled={action.busy}>
          Create topic
        </button>
      </form>
      <ErrorMessage error={action.error} />
      <Status message={action.message} />
    </details>
  );
}
