import { api } from '../api/instance.ts';
import { Page, Pending } from '../components/ui.tsx';
import { formatTime, showValue, type Shown } from '../format.ts';
import { usePoll } from '../poll.ts';
import { href } from '../router.ts';

/** One record: key, value (JSON pretty-printed, bytes as base64 and hex), headers and timestamp. */
export function RecordDetailPage(props: { topic: string; partition: number; offset: number }) {
  const record = usePoll(
    async (signal) => {
      const page = await api().get('/v1/topics/{topic}/partitions/{partition}/records', {
        path: { topic: props.topic, partition: props.partition },
        query: { offset: props.offset, maxRecords: 1 },
        signal,
      });
      return page.records.find((r) => r.offset === props.offset) ?? null;
    },
    [props.topic, props.partition, props.offset],
    false,
  );
  const r = record.data;
  return (
    <Page title={`Record ${props.topic}/${props.partition}@${props.offset}`}>
      <p>
        <a href={href('topics', props.topic)}>Back to topic {props.topic}</a>
      </p>
      {r === undefined ? (
        <Pending error={record.error} loading={record.loading} feature="Fetching records" />
      ) : r === null ? (
        <p role="status">No record at this offset (removed by retention or compaction, or not written yet).</p>
      ) : (
        <>
          <dl class="facts">
            <dt>Topic</dt>
            <dd>{props.topic}</dd>
            <dt>Partition</dt>
            <dd>{props.partition}</dd>
            <dt>Offset</dt>
            <dd>{r.offset}</dd>
            <dt>Timestamp</dt>
            <dd>
              {formatTime(r.timestamp)} ({r.timestamp})
            </dd>
          </dl>
          <h2>Key</h2>
          <Body shown={showValue(r.key, r.keyEncoding)} label="Key" />
          <h2>Value</h2>
          <Body shown={showValue(r.value, r.valueEncoding)} label="Value" />
          <h2>Headers</h2>
          {Object.keys(r.headers).length === 0 ? (
            <p>No headers.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Value</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(r.headers).map(([name, value]) => (
                  <tr key={name}>
                    <th scope="row">{name}</th>
                    <td class="mono">{r.headerEncodings?.[name] === 'base64' ? `base64:${value}` : value}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </Page>
  );
}

function Body(props: { shown: Shown; label: string }) {
  const { shown } = props;
  if (shown.kind === 'null') return <p>null{props.label === 'Value' ? ' (a tombstone)' : ''}</p>;
  return (
    <>
      <p class="hint">{shown.kind === 'binary' ? 'Bytes, as base64:' : shown.kind === 'json' ? 'JSON:' : 'Text:'}</p>
      <pre class="code" tabIndex={0} aria-label={`${props.label} (${shown.kind})`}>
        {shown.text}
      </pre>
      {shown.hex === undefined ? null : (
        <>
          <p class="hint">Hex:</p>
          <pre class="code" tabIndex={0} aria-label={`${props.label} as hex`}>
            {shown.hex}
          </pre>
        </>
      )}
    </>
  );
}
