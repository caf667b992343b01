import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { isApiError } from '../api/client.ts';
import type { Schemas } from '../api/client.ts';

/** The first page the app shows keeps the browser's focus order: the skip link comes first. */
let firstPage = true;

/**
 * The page frame: its heading takes focus when another page opens, so a keyboard or screen-reader
 * user lands on the new content after following a link.
 */
export function Page(props: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${props.title} · Sluice console`;
    if (firstPage) firstPage = false;
    else heading.current?.focus();
  }, [props.title]);
  return (
    <section aria-labelledby="page-title">
      <div class="page-head">
        <h1 id="page-title" tabIndex={-1} ref={heading}>
          {props.title}
        </h1>
        {props.actions}
      </div>
      {props.children}
    </section>
  );
}

/** An API error as the user should read it: its code and message. */
export function ErrorMessage(props: { error: unknown }) {
  if (props.error === undefined || props.error === null) return null;
  const e = props.error;
  const text = isApiError(e)
    ? `${e.code}: ${e.message}`
    : e instanceof Error
      ? e.message
      : typeof e === 'string'
        ? e
        : 'Unexpected error';
  return (
    <p class="error" role="alert">
      {text}
    </p>
  );
}

/** A route the API at hand does not have: said plainly, not as a failure. */
export function NotAvailable(props: { feature: string }) {
  return (
    <p class="not-available" role="status">
      {props.feature} is not available on this API: it does not have the route this page needs.
    </p>
  );
}

export function isNotAvailable(error: unknown): boolean {
  return isApiError(error) && error.notAvailable;
}

/** What a polled page shows before it has data: loading, the error, or "not available". */
export function Pending(props: { error: unknown; loading: boolean; feature: string }) {
  if (isNotAvailable(props.error)) return <NotAvailable feature={props.feature} />;
  if (props.error !== undefined) return <ErrorMessage error={props.error} />;
  return props.loading ? <p aria-busy="true">Loading…</p> : null;
}

/** A status line for the outcome of an action, announced politely. */
export function Status(props: { message: string | undefined }) {
  return (
    <p class="status" role="status" aria-live="polite">
      {props.message ?? ''}
    </p>
  );
}

/**
 * Runs an action, keeping its error and outcome for display; `busy` while it runs, so buttons
 * are disabled and a double click does not send twice.
 */
export function useAction(): {
  busy: boolean;
  error: unknown;
  message: string | undefined;
  run: (action: () => Promise<string | undefined>) => Promise<void>;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [message, setMessage] = useState<string | undefined>(undefined);
  const run = async (action: () => Promise<string | undefined>) => {
    setBusy(true);
    setError(undefined);
    setMessage(undefined);
    try {
      setMessage(await action());
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, message, run };
}

/**
 * A destructive action behind a confirmation: the first button asks, the second does it (or
 * Cancel). The confirm button takes focus so Enter confirms and Escape is one Tab away.
 */
export function ConfirmButton(props: {
  label: string;
  confirmLabel: string;
  question: string;
  disabled?: boolean;
  onConfirm: () => void | Promise<void>;
}) {
  const [asking, setAsking] = useState(false);
  const confirm = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) confirm.current?.focus();
  }, [asking]);
  if (!asking)
    return (
      <button type="button" class="danger" disabled={props.disabled} onClick={() => setAsking(true)}>
        {props.label}
      </button>
    );
  return (
    <span class="confirm" role="group" aria-label={props.question}>
      <span>{props.question}</span>{' '}
      <button
        type="button"
        class="danger"
        ref={confirm}
        onClick={() => {
          setAsking(false);
          void props.onConfirm();
        }}
      >
        {props.confirmLabel}
      </button>{' '}
      <button type="button" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

/** A labelled form control. */
export function Field(props: { label: string; id: string; hint?: string; children: ComponentChildren }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint === undefined ? null : (
        <small id={`${props.id}-hint`} class="hint">
          {props.hint}
        </small>
      )}
    </div>
  );
}

/** A topic's storage kind, as docs/openapi.json lists them. */
export type Storage = NonNullable<Schemas['TopicConfig']['storage']>;
const STORAGES: readonly Storage[] = ['dynamodb', 's3', 's3-express'];

/** The storage select of the topic forms (create and change config). */
export function StorageField(props: { id: string; value: Storage; onChange: (storage: Storage) => void }) {
  return (
    <Field label="Storage" id={props.id}>
      <select id={props.id} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value as Storage)}>
        {STORAGES.map((s) => (
          <option key={s} value={s}>
            {s}
          </option>
        ))}
      </select>
    </Field>
  );
}
