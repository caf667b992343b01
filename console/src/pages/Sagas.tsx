import { useState } from 'preact/hooks';
import type { Schemas } from '../api/client.ts';
import { api } from '../api/instance.ts';
import { ErrorMessage, Field, Page, Pending, Status, useAction } from '../components/ui.tsx';
import { formatTime } from '../format.ts';
import { usePoll } from '../poll.ts';
import { href, navigate } from '../router.ts';

type ExecutionStatus = Schemas['SagaExecutionSummary']['status'];
const STATUSES: ExecutionStatus[] = [
  'PENDING',
  'RUNNING',
  'COMPENSATING',
  'SUCCEEDED',
  'ABORTED',
  'COMPENSATION_FAILED',
];
const FINAL = new Set<string>(['SUCCEEDED', 'ABORTED', 'COMPENSATION_FAILED', 'FAILED']);

/** The deployed saga definitions. */
export function SagasPage() {
  const sagas = usePoll((signal) => api().get('/v1/sagas', { signal }), []);
  return (
    <Page title="Sagas">
      {sagas.data === undefined ? (
        <Pending error={sagas.error} loading={sagas.loading} feature="Sagas" />
      ) : sagas.data.sagas.length === 0 ? (
        <p>No sagas deployed.</p>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Sagas table">
          <table>
            <thead>
              <tr>
                <th scope="col">Saga</th>
                <th scope="col">Type</th>
                <th scope="col">Steps</th>
                <th scope="col">Audit topic</th>
              </tr>
            </thead>
            <tbody>
              {sagas.data.sagas.map((s) => (
                <tr key={s.name}>
                  <th scope="row">
                    <a href={href('sagas', s.name)}>{s.name}</a>
                  </th>
                  <td>{s.type}</td>
                  <td>{s.steps.join(' → ')}</td>
                  <td>
                    <a href={href('topics', s.auditTopic)}>{s.auditTopic}</a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}

/** A saga's executions, filtered by status, newest page first; start one. */
export function SagaExecutionsPage(props: { saga: string; status: string }) {
  const executions = usePoll(
    async (signal) => {
      const all: Schemas['SagaExecutionSummary'][] = [];
      let after: string | undefined;
      // Up to 1,000 executions (ten pages): a console view, not an export.
      for (let page = 0; page < 10; page++) {
        const answer = await api().get('/v1/sagas/{saga}/executions', {
          path: { saga: props.saga },
          query: { limit: 100, ...(after === undefined ? {} : { after }) },
          signal,
        });
        all.push(...answer.executions);
        if (answer.next === undefined) break;
        after = answer.next;
      }
      return all.sort((a, b) => b.createdAt - a.createdAt);
    },
    [props.saga],
  );
  const shown = (executions.data ?? []).filter((e) => props.status === '' || e.status === props.status);
  return (
    <Page title={`Saga ${props.saga}`}>
      <p>
        <a href={href('sagas')}>All sagas</a>
      </p>
      <StartExecution saga={props.saga} />
      <h2>Executions</h2>
      <div class="form-row">
        <Field label="Status" id="saga-status">
          <select
            id="saga-status"
            value={props.status}
            onChange={(e) => {
              const status = e.currentTarget.value;
              navigate(`${href('sagas', props.saga)}${status === '' ? '' : `?status=${status}`}`);
            }}
          >
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </Field>
      </div>
      {executions.data === undefined ? (
        <Pending error={executions.error} loading={executions.loading} feature="Sagas" />
      ) : shown.length === 0 ? (
        <p>No executions{props.status === '' ? '' : ` with status ${props.status}`}.</p>
      ) : (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Executions table">
          <table>
            <thead>
              <tr>
                <th scope="col">Execution</th>
                <th scope="col">Status</th>
                <th scope="col">Failed step</th>
                <th scope="col">Started</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((e) => (
                <tr key={e.executionId}>
                  <th scope="row">
                    <a href={href('sagas', props.saga, 'executions', e.executionId)}>{e.executionId}</a>
                  </th>
                  <td>{e.status}</td>
                  <td>{e.failedStep ?? '—'}</td>
                  <td>{formatTime(e.createdAt)}</td>
                  <td>{formatTime(e.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ErrorMessage error={executions.data === undefined ? undefined : executions.error} />
    </Page>
  );
}

function StartExecution(props: { saga: string }) {
  const [input, setInput] = useState('{}');
  const [name, setName] = useState('');
  const action = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    void action.run(async () => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(input);
      } catch {
        throw new Error('The input must be JSON');
      }
      const started = (await api().post('/v1/sagas/{saga}/executions', {
        path: { saga: props.saga },
        body: { input: parsed, ...(name.trim() === '' ? {} : { executionName: name.trim() }) },
      })) as { executionId?: string };
      if (started.executionId !== undefined) navigate(href('sagas', props.saga, 'executions', started.executionId));
      return `Started ${started.executionId ?? ''}`;
    });
  };
  return (
    <details class="panel">
      <summary>Start an execution</summary>
      <form onSubmit={submit} class="form-grid">
        <Field label="Execution name" id="start-name" hint="Optional; the same name and input start nothing new">
          <input
            id="start-name"
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
            aria-describedby="start-name-hint"
          />
        </Field>
        <Field label="Input (JSON)" id="start-input">
          <textarea id="start-input" rows={4} value={input} onInput={(e) => setInput(e.currentTarget.value)} />
        </Field>
        <div>
          <button type="submit" disabled={action.busy}>
            Start
          </button>
        </div>
      </form>
      <ErrorMessage error={action.error} />
      <Status message={action.message} />
    </details>
  );
}

const EVENT_TEXT: Record<Schemas['SagaEvent']['type'], string> = {
  started: 'Started',
  'step-succeeded': 'Step succeeded',
  'step-failed': 'Step failed',
  'compensation-succeeded': 'Compensation succeeded',
  'compensation-failed': 'Compensation failed',
  completed: 'Completed',
  aborted: 'Aborted',
};

/** One execution: status, each step's outcome, and the timeline of its events; live until it ends. */
export function SagaExecutionPage(props: { saga: string; executionId: string }) {
  const execution = usePoll(
    (signal) =>
      api().get('/v1/sagas/{saga}/executions/{executionId}', {
        path: { saga: props.saga, executionId: props.executionId },
        signal,
      }),
    [props.saga, props.executionId],
  );
  const x = execution.data;
  return (
    <Page title={`Execution ${props.executionId}`}>
      <p>
        <a href={href('sagas', props.saga)}>Executions of {props.saga}</a>
      </p>
      {x === undefined ? (
        <Pending error={execution.error} loading={execution.loading} feature="Sagas" />
      ) : (
        <>
          <ErrorMessage error={execution.error} />
          <dl class="facts">
            <dt>Status</dt>
            <dd data-testid="execution-status" class={`status-${x.status.toLowerCase()}`}>
              {x.status}
              {FINAL.has(x.status) ? '' : ' (refreshing)'}
            </dd>
            <dt>Started</dt>
            <dd>{formatTime(x.createdAt)}</dd>
            <dt>Updated</dt>
            <dd>{formatTime(x.updatedAt)}</dd>
            {x.failedStep === undefined ? null : (
              <>
                <dt>Failed step</dt>
                <dd>{x.failedStep}</dd>
              </>
            )}
          </dl>
          <h2>Steps</h2>
          <ol class="steps">
            {x.steps.map((s) => (
              <li key={s.step} class={`step step-${s.status}`}>
                <strong>{s.step}</strong>: {s.status}
              </li>
            ))}
          </ol>
          <h2>Timeline</h2>
          <ol class="timeline" aria-label="Execution events">
            {[...x.events]
              .sort((a, b) => a.seq - b.seq)
              .map((e) => (
                <li key={e.seq} class={`event event-${e.type}`}>
                  <time dateTime={new Date(e.at).toISOString()}>{formatTime(e.at)}</time>{' '}
                  <strong>{EVENT_TEXT[e.type] ?? e.type}</strong>
                  {e.step === undefined ? '' : `: ${e.step}`}
                  {e.failedStep === undefined ? '' : ` (failed step ${e.failedStep})`}
                  {e.error === undefined ? '' : ` — ${e.error.error ?? ''} ${e.error.message ?? ''}`}
                </li>
              ))}
          </ol>
          <h2>Input</h2>
          <pre class="code" tabIndex={0} aria-label="Execution input">
            {JSON.stringify(x.input, null, 2)}
          </pre>
        </>
      )}
    </Page>
  );
}
