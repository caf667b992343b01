import { useEffect, useState } from 'preact/hooks';
import type { Schemas } from '../api/client.ts';
import { api } from '../api/instance.ts';
import {
  ConfirmButton,
  ErrorMessage,
  Field,
  Page,
  Pending,
  Status,
  StorageField,
  useAction,
  type Storage,
} from '../components/ui.tsx';
import { formatBytes, formatDuration, formatTime, parseHeaders, parseValue, preview } from '../format.ts';
import { usePoll } from '../poll.ts';
import { href, navigate } from '../router.ts';

type Description = Schemas['TopicDescription'];
type RecordOut = Schemas['RecordOut'];

/** One topic: its partitions and configuration, the message browser, and produce. */
export function TopicDetailPage(props: { topic: string; query: URLSearchParams }) {
  const topic = usePoll(
    (signal) => api().get('/v1/topics/{topic}', { path: { topic: props.topic }, query: { sizes: true }, signal }),
    [props.topic],
  );
  return (
    <Page title={`Topic ${props.topic}`}>
      <p>
        <a href={href('topics')}>All topics</a>
      </p>
      {topic.data === undefined ? (
        <Pending error={topic.error} loading={topic.loading} feature="Topics" />
      ) : (
        <>
          <ErrorMessage error={topic.error} />
          <Partitions topic={topic.data} />
          <Browser topic={topic.data} query={props.query} />
          <Produce topic={topic.data} onProduced={topic.refresh} />
          <Configure topic={topic.data} onChanged={topic.refresh} />
        </>
      )}
    </Page>
  );
}

function Partitions(props: { topic: Description }) {
  const { topic } = props;
  return (
    <section aria-labelledby="partitions-title">
      <h2 id="partitions-title">Partitions</h2>
      <p>
        Storage <strong>{topic.config.storage ?? 'dynamodb'}</strong>, retention{' '}
        <strong>{formatDuration(topic.config.retentionMs)}</strong>, cleanup{' '}
        <strong>{topic.config.cleanupPolicy ?? 'delete'}</strong>, compression{' '}
        <strong>{topic.config.compression ?? 'none'}</strong>, created {formatTime(topic.createdAt)}.
      </p>
      <div class="table-wrap" tabIndex={0} role="region" aria-label="Partitions table">
        <table>
          <thead>
            <tr>
              <th scope="col">Partition</th>
              <th scope="col">Log start</th>
              <th scope="col">High watermark</th>
              <th scope="col">Tiered through</th>
              <th scope="col">Hot bytes</th>
              <th scope="col">Tiered bytes</th>
              <th scope="col">Segments</th>
            </tr>
          </thead>
          <tbody>
            {(topic.partitions ?? []).map((p) => (
              <tr key={p.partition}>
                <th scope="row">{p.partition}</th>
                <td>{p.logStartOffset}</td>
                <td data-testid={`hw-${p.partition}`}>{p.highWatermark}</td>
                <td>{p.tieredThrough ?? '—'}</td>
                <td>{formatBytes(p.hotBytes)}</td>
                <td>{formatBytes(p.tieredBytes)}</td>
                <td>{p.segments ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

type From = 'earliest' | 'latest' | 'offset' | 'timestamp';

const FROM: readonly From[] = ['earliest', 'latest', 'offset', 'timestamp'];

/**
 * The message browser: a page of records of one partition from a position, filtered by key. What
 * it shows is in the URL (`?partition=1&from=offset&at=500&key=user&n=50`), so a view can be
 * shared or bookmarked, and opening such a URL browses at once.
 */
function Browser(props: { topic: Description; query: URLSearchParams }) {
  const name = props.topic.name;
  const partitions = (props.topic.partitions ?? []).map((p) => p.partition);
  const q = props.query;
  const [partition, setPartition] = useState(q.get('partition') ?? String(partitions[0] ?? 0));
  const [from, setFrom] = useState<From>(FROM.find((f) => f === q.get('from')) ?? 'earliest');
  const [position, setPosition] = useState(q.get('at') ?? '0');
  const [keyFilter, setKeyFilter] = useState(q.get('key') ?? '');
  const [limit, setLimit] = useState(q.get('n') ?? '50');
  const [page, setPage] = useState<{ records: RecordOut[]; partition: number; next: number; hw: number }>();
  const action = useAction();

  const startOffset = async (p: number, max: number): Promise<number> => {
    const at = async (where: string) =>
      (
        await api().get('/v1/topics/{topic}/partitions/{partition}/offsets', {
          path: { topic: name, partition: p },
          query: { at: where },
        })
      ).offset;
    if (from === 'offset') return Math.max(0, Number(position));
    if (from === 'timestamp') {
      const ms = Date.parse(position);
      if (Number.isNaN(ms)) throw new Error('Give the timestamp as a date and time, e.g. 2026-11-30T09:00:00Z');
      return at(String(ms));
    }
    if (from === 'earliest') return at('earliest');
    const [earliest, latest] = await Promise.all([at('earliest'), at('latest')]);
    return Math.max(earliest, latest - max);
  };

  /** The view into the address bar, without a hashchange: the page stays as it is. */
  const keepInUrl = (key: string) => {
    const view = new URLSearchParams({ partition, from, n: limit });
    if (from === 'offset' || from === 'timestamp') view.set('at', position);
    if (key !== '') view.set('key', key);
    window.history.replaceState(null, '', `${href('topics', name)}?${view.toString()}`);
  };

  const browse = (e?: Event) => {
    e?.preventDefault();
    keepInUrl(keyFilter);
    void action.run(async () => {
      const p = Number(partition);
      const max = Math.min(10_000, Math.max(1, Number(limit)));
      const offset = await startOffset(p, max);
      const fetched = await api().get('/v1/topics/{topic}/partitions/{partition}/records', {
        path: { topic: name, partition: p },
        query: { offset, maxRecords: max },
      });
      setPage({ records: fetched.records, partition: p, next: fetched.nextOffset, hw: fetched.highWatermark });
      return `Read ${fetched.records.length} records of partition ${p} from offset ${offset}`;
    });
  };

  useEffect(() => {
    if (q.has('from')) browse(); // a shared view: show it
  }, []);

  const shown = page?.records.filter((r) => keyFilter === '' || (r.key ?? '').includes(keyFilter)) ?? [];
  return (
    <section aria-labelledby="browser-title">
      <h2 id="browser-title">Messages</h2>
      <form onSubmit={browse} class="form-row">
        <Field label="Partition" id="browse-partition">
          <select id="browse-partition" value={partition} onChange={(e) => setPartition(e.currentTarget.value)}>
            {partitions.map((p) => (
              <option key={p} value={String(p)}>
                {p}
              </option>
            ))}
          </select>
        </Field>
        <Field label="From" id="browse-from">
          <select id="browse-from" value={from} onChange={(e) => setFrom(e.currentTarget.value as From)}>
            <option value="earliest">earliest</option>
            <option value="latest">latest</option>
            <option value="offset">offset</option>
            <option value="timestamp">timestamp</option>
          </select>
        </Field>
        {from === 'offset' || from === 'timestamp' ? (
          <Field label={from === 'offset' ? 'Offset' : 'Timestamp (ISO 8601)'} id="browse-position">
            <input
              id="browse-position"
              value={position}
              inputMode={from === 'offset' ? 'numeric' : 'text'}
              onInput={(e) => setPosition(e.currentTarget.value)}
            />
          </Field>
        ) : null}
        <Field label="Records" id="browse-limit">
          <input
            id="browse-limit"
            type="number"
            min={1}
            max={10000}
            value={limit}
            onInput={(e) => setLimit(e.currentTarget.value)}
          />
        </Field>
        <Field label="Key contains" id="browse-key">
          <input
            id="browse-key"
            value={keyFilter}
            onInput={(e) => {
              setKeyFilter(e.currentTarget.value);
              if (page !== undefined) keepInUrl(e.currentTarget.value);
            }}
          />
        </Field>
        <button type="submit" disabled={action.busy}>
          Browse
        </button>
      </form>
      <ErrorMessage error={action.error} />
      <Status message={action.message} />
      {page === undefined ? null : shown.length === 0 ? (
        <p>No records{keyFilter === '' ? '' : ' with a matching key'} here.</p>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Records table">
          <table>
            <thead>
              <tr>
                <th scope="col">Offset</th>
                <th scope="col">Timestamp</th>
                <th scope="col">Key</th>
                <th scope="col">Value</th>
                <th scope="col">Headers</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((r) => (
                <tr key={r.offset}>
                  <th scope="row">
                    <a
                      href={href('topics', name, 'partitions', page.partition, 'records', r.offset)}
                      aria-label={`Record at offset ${r.offset}`}
                    >
                      {r.offset}
                    </a>
                  </th>
                  <td>{formatTime(r.timestamp)}</td>
                  <td>{r.key === null ? <em>null</em> : preview(r.key, r.keyEncoding, 40)}</td>
                  <td class="mono">{preview(r.value, r.valueEncoding)}</td>
                  <td>{Object.keys(r.headers).length}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Produce(props: { topic: Description; onProduced: () => void }) {
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const [headers, setHeaders] = useState('');
  const [partition, setPartition] = useState('');
  const action = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    void action.run(async () => {
      const record: Schemas['RecordIn'] = { key: key === '' ? null : key, value: parseValue(value) };
      const parsedHeaders = parseHeaders(headers);
      if (Object.keys(parsedHeaders).length > 0) record.headers = parsedHeaders;
      if (partition !== '') record.partition = Number(partition);
      const { offsets } = await api().post('/v1/topics/{topic}/records', {
        path: { topic: props.topic.name },
        body: { records: [record] },
      });
      props.onProduced();
      const at = offsets[0];
      return at === undefined ? 'Produced' : `Produced to partition ${at.partition} at offset ${at.offset}`;
    });
  };
  return (
    <section aria-labelledby="produce-title">
      <h2 id="produce-title">Produce a record</h2>
      <form onSubmit={submit} class="form-grid">
        <Field label="Key" id="produce-key" hint="Empty: no key">
          <input
            id="produce-key"
            value={key}
            onInput={(e) => setKey(e.currentTarget.value)}
            aria-describedby="produce-key-hint"
          />
        </Field>
        <Field label="Partition" id="produce-partition" hint="Empty: by key">
          <input
            id="produce-partition"
            type="number"
            min={0}
            value={partition}
            onInput={(e) => setPartition(e.currentTarget.value)}
            aria-describedby="produce-partition-hint"
          />
        </Field>
        <Field label="Value" id="produce-value" hint="JSON; anything else is sent as a string">
          <textarea
            id="produce-value"
            rows={4}
            required
            value={value}
            onInput={(e) => setValue(e.currentTarget.value)}
            aria-describedby="produce-value-hint"
          />
        </Field>
        <Field label="Headers" id="produce-headers" hint="One per line: name: value">
          <textarea
            id="produce-headers"
            rows={3}
            value={headers}
            onInput={(e) => setHeaders(e.currentTarget.value)}
            aria-describedby="produce-headers-hint"
          />
        </Field>
        <div>
          <button type="submit" disabled={action.busy}>
            Produce
          </button>
        </div>
      </form>
      <ErrorMessage error={action.error} />
      <Status message={action.message} />
    </section>
  );
}

function Configure(props: { topic: Description; onChanged: () => void }) {
  const { topic } = props;
  const current = topic.partitions?.length ?? topic.config.partitions ?? 1;
  const [partitions, setPartitions] = useState(String(current));
  const [retention, setRetention] = useState(String(topic.config.retentionMs ?? ''));
  const [storage, setStorage] = useState<Storage>(topic.config.storage ?? 'dynamodb');
  const action = useAction();
  const saveConfig = (e: Event) => {
    e.preventDefault();
    void action.run(async () => {
      const config: Schemas['TopicConfig'] = { storage };
      if (retention !== '') config.retentionMs = Number(retention);
      await api().patch('/v1/topics/{topic}', { path: { topic: topic.name }, body: { config } });
      props.onChanged();
      return 'Configuration saved';
    });
  };
  const addPartitions = (e: Event) => {
    e.preventDefault();
    void action.run(async () => {
      await api().patch('/v1/topics/{topic}', {
        path: { topic: topic.name },
        body: { partitions: Number(partitions) },
      });
      props.onChanged();
      return `The topic has ${partitions} partitions`;
    });
  };
  return (
    <section aria-labelledby="configure-title">
      <h2 id="configure-title">Configuration</h2>
      <form onSubmit={saveConfig} class="form-row">
        <Field label="Retention (ms, -1 forever)" id="config-retention">
          <input
            id="config-retention"
            type="number"
            min={-1}
            value={retention}
            onInput={(e) => setRetention(e.currentTarget.value)}
          />
        </Field>
        <StorageField id="config-storage" value={storage} onChange={setStorage} />
        <button type="submit" disabled={action.busy}>
          Save configuration
        </button>
      </form>
      <form onSubmit={addPartitions} class="form-row">
        <Field label="Partitions" id="config-partitions" hint={`Now ${current}; only more`}>
          <input
            id="config-partitions"
            type="number"
            min={current}
            value={partitions}
            onInput={(e) => setPartitions(e.currentTarget.value)}
            aria-describedby="config-partitions-hint"
          />
        </Field>
        <button type="submit" disabled={action.busy}>
          Add partitions
        </button>
      </form>
      <div class="form-row">
        <ConfirmButton
          label="Delete topic…"
          confirmLabel={`Delete ${topic.name}`}
          question={`Delete topic ${topic.name} and all its records?`}
          disabled={action.busy}
          onConfirm={() =>
            action.run(async () => {
              await api().delete('/v1/topics/{topic}', { path: { topic: topic.name } });
              navigate(href('topics'));
              return undefined;
            })
          }
        />
      </div>
      <ErrorMessage error={action.error} />
      <Status message={action.message} />
    </section>
  );
}
