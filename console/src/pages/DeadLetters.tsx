import { useState } from 'preact/hooks';
import { api } from '../api/instance.ts';
import { ErrorMessage, Field, Page, Pending, Status, useAction } from '../components/ui.tsx';
import { formatTime, preview } from '../format.ts';
import { usePoll } from '../poll.ts';
import { href } from '../router.ts';

/**
 * Dead-letter topics: those that share groups, queues and subscriptions name, and topics named
 * like one (`….dlq`). The API has no list of its own; any topic can be redriven by URL.
 */
export function DeadLettersPage() {
  const found = usePoll(async (signal) => {
    const names = new Map<string, string[]>();
    const add = (topic: string | undefined | null, by: string) => {
      if (topic === undefined || topic === null || topic === '') return;
      names.set(topic, [...(names.get(topic) ?? []), by]);
    };
    const [topics, shareGroups, subscriptions] = await Promise.all([
      api().get('/v1/topics', { signal }),
      api()
        .get('/v1/share-groups', { signal })
        .catch(() => ({ groups: [] as string[] })),
      api()
        .get('/v1/subscriptions', { signal })
        .catch(() => ({ subscriptions: [] })),
    ]);
    for (const t of topics.topics) if (/[.-]dlq$|dead-?letters?$/i.test(t.name)) add(t.name, 'named like one');
    const groups = await Promise.all(
      (shareGroups.groups ?? []).map((g) =>
        api()
          .get('/v1/share-groups/{group}', { path: { group: g }, signal })
          .catch(() => undefined),
      ),
    );
    for (const g of groups) add(g?.settings?.deadLetterTopic, `share group ${g?.group ?? ''}`);
    for (const s of subscriptions.subscriptions ?? []) add(s.onFailure?.topic, `subscription ${s.name}`);
    const existing = new Set(topics.topics.map((t) => t.name));
    return [...names]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([topic, by]) => ({ topic, by, exists: existing.has(topic) }));
  }, []);
  return (
    <Page title="Dead letters">
      {found.data === undefined ? (
        <Pending error={found.error} loading={found.loading} feature="Dead letters" />
      ) : found.data.length === 0 ? (
        <p>No dead-letter topics: none is named by a share group, queue or subscription.</p>
      ) : (
        <ul>
          {found.data.map((d) => (
            <li key={d.topic}>
              <a href={href('dead-letters', d.topic)}>{d.topic}</a> ({d.by.join('; ')}
              {d.exists ? '' : '; nothing dead-lettered yet'})
            </li>
          ))}
        </ul>
      )}
    </Page>
  );
}

/** One dead-letter topic: the dead letters (newest first) with why they failed, and redrive. */
export function DeadLetterDetailPage(props: { topic: string }) {
  const letters = usePoll(
    async (signal) => {
      const topic = await api().get('/v1/topics/{topic}', { path: { topic: props.topic }, signal });
      const pages = await Promise.all(
        (topic.partitions ?? []).map((p) =>
          api()
            .get('/v1/topics/{topic}/partitions/{partition}/records', {
              path: { topic: props.topic, partition: p.partition },
              query: { offset: Math.max(p.logStartOffset, p.highWatermark - 50), maxRecords: 50 },
              signal,
            })
            .then((page) => page.records.map((r) => ({ ...r, partition: p.partition }))),
        ),
      );
      return pages.flat().sort((a, b) => b.timestamp - a.timestamp);
    },
    [props.topic],
  );
  const [max, setMax] = useState('100');
  const [toTopic, setToTopic] = useState('');
  const action = useAction();
  const redrive = (e: Event) => {
    e.preventDefault();
    void action.run(async () => {
      const result = await api().post('/v1/topics/{topic}/redrive', {
        path: { topic: props.topic },
        body: { maxRecords: Number(max), ...(toTopic.trim() === '' ? {} : { toTopic: toTopic.trim() }) },
      });
      letters.refresh();
      const moved = (result.redriven ?? []).filter((r) => r.skipped === undefined).length;
      return `Redrove ${moved} dead letters; ${result.remaining ?? 0} remain`;
    });
  };
  return (
    <Page title={`Dead letters in ${props.topic}`}>
      <p>
        <a href={href('dead-letters')}>All dead-letter topics</a> ·{' '}
        <a href={href('topics', props.topic)}>Browse as a topic</a>
      </p>
      <section aria-labelledby="redrive-title">
        <h2 id="redrive-title">Redrive</h2>
        <p class="hint">Appends the dead letters, oldest first, to their original topics (or another), each once.</p>
        <form onSubmit={redrive} class="form-row">
          <Field label="At most" id="redrive-max">
            <input
              id="redrive-max"
              type="number"
              min={1}
              max={1000}
              value={max}
              onInput={(e) => setMax(e.currentTarget.value)}
            />
          </Field>
          <Field label="To topic" id="redrive-to" hint="Empty: each record’s original topic">
            <input
              id="redrive-to"
              value={toTopic}
              onInput={(e) => setToTopic(e.currentTarget.value)}
              aria-describedby="redrive-to-hint"
            />
          </Field>
          <button type="submit" disabled={action.busy}>
            Redrive
          </button>
        </form>
        <ErrorMessage error={action.error} />
        <Status message={action.message} />
      </section>
      <h2>Latest dead letters</h2>
      {letters.data === undefined ? (
        <Pending error={letters.error} loading={letters.loading} feature="Dead letters" />
      ) : letters.data.length === 0 ? (
        <p>No dead letters.</p>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Dead letters table">
          <table>
            <thead>
              <tr>
                <th scope="col">Record</th>
                <th scope="col">From</th>
                <th scope="col">Reason</th>
                <th scope="col">Error</th>
                <th scope="col">Failed at</th>
                <th scope="col">Value</th>
              </tr>
            </thead>
            <tbody>
              {letters.data.map((r) => (
                <tr key={`${r.partition}/${r.offset}`}>
                  <th scope="row">
                    <a href={href('topics', props.topic, 'partitions', r.partition, 'records', r.offset)}>
                      {r.partition}@{r.offset}
                    </a>
                  </th>
                  <td>
                    {r.headers.original_topic ?? '—'}
                    {r.headers.original_offset === undefined
                      ? ''
                      : ` ${r.headers.original_partition ?? '?'}@${r.headers.original_offset}`}
                  </td>
                  <td>{r.headers.reason ?? (r.headers.redriven_from === undefined ? '—' : 'redriven')}</td>
                  <td>{r.headers.error_message ?? '—'}</td>
                  <td>{failedAt(r.headers.failed_at, r.timestamp)}</td>
                  <td class="mono">{preview(r.value, r.valueEncoding, 60)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}

/** The failed_at header (epoch ms or an ISO time), else the record's timestamp. */
function failedAt(header: string | undefined, timestamp: number): string {
  if (header === undefined) return formatTime(timestamp);
  return /^\d+$/.test(header) ? formatTime(Number(header)) : header;
}
