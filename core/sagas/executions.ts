import { createHash } from 'node:crypto';
import { InvalidArgument, SluiceError } from '../errors.ts';

/** An event number already holds another event: a different run, or a racing stop. */
export class SagaEventConflict extends SluiceError {
  readonly executionId: string;
  readonly seq: number;
  constructor(executionId: string, seq: number, reason: string) {
    super(`Execution ${executionId}: event ${seq} ${reason}`);
    this.executionId = executionId;
    this.seq = seq;
  }
}

/** Another start call is launching this execution right now; retry shortly. */
export class LaunchInProgress extends SluiceError {
  readonly executionId: string;
  constructor(executionId: string) {
    super(`Execution ${executionId} is being launched by another request; retry in a few seconds`, { retriable: true });
    this.executionId = executionId;
  }
}

/** A second run of an execution (an Express state machine started twice under one id). */
export class DuplicateRun extends SluiceError {
  readonly executionId: string;
  constructor(executionId: string) {
    super(`Execution ${executionId} is already run by another launch; this run does nothing`);
    this.executionId = executionId;
  }
}
import type { JsonValue } from '../log/records.ts';

/**
 * A saga execution as Sluice records it: created by the start call, then advanced by each
 * lifecycle event the state machine's audit states send. The same record serves Standard and
 * Express state machines and the local interpreter, so status and history never depend on
 * Step Functions' own (Standard-only, 90-day) history.
 */
export type SagaStatus =
  /** Recorded; the state machine has not reported in yet. */
  | 'PENDING'
  | 'RUNNING'
  /** A step failed; compensations are running. */
  | 'COMPENSATING'
  | 'SUCCEEDED'
  /** A step failed and every compensation succeeded: the saga is undone. */
  | 'ABORTED'
  /** A compensation ran out of attempts: an operator must finish the undo. */
  | 'COMPENSATION_FAILED'
  /**
   * The execution stopped outside the saga's own paths (it timed out, an operator stopped it, or
   * an audit call kept failing): compensations may not have run, and an operator is alerted.
   */
  | 'FAILED';

/** Statuses an execution never leaves. */
export const TERMINAL_STATUSES: readonly SagaStatus[] = ['SUCCEEDED', 'ABORTED', 'COMPENSATION_FAILED', 'FAILED'];

export const SAGA_EVENT_TYPES = [
  'started',
  'step-succeeded',
  'step-failed',
  'compensation-succeeded',
  'compensation-failed',
  'completed',
  'aborted',
  'failed',
] as const;
export type SagaEventType = (typeof SAGA_EVENT_TYPES)[number];

export interface SagaEvent {
  /** 0 for `started`, then one more per event: the order within the execution. */
  readonly seq: number;
  readonly type: SagaEventType;
  readonly saga: string;
  readonly executionId: string;
  /** Epoch milliseconds. */
  readonly at: number;
  readonly step?: string;
  /** On events after a failure: the step whose failure is being compensated. */
  readonly failedStep?: string;
  /** On `step-failed`: the step may have acted (a timeout, a lost reply), so it is compensated too. */
  readonly outcome?: 'indeterminate';
  /** Error name and message (never a stack trace). */
  readonly error?: { readonly error: string; readonly message: string };
}

export interface SagaExecution {
  readonly saga: string;
  readonly executionId: string;
  readonly status: SagaStatus;
  readonly input: JsonValue;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Whether the start request reached the state machine service. */
  readonly launched: boolean;
  /** The run that owns the execution (set by its `started` event). */
  readonly runId?: string;
  /** The audit topic partition its events go to (set by its `started` event). */
  readonly auditPartition?: number;
  readonly failedStep?: string;
  readonly events: readonly SagaEvent[];
}

export type SagaExecutionSummary = Omit<SagaExecution, 'events' | 'input'>;

export function statusAfter(type: SagaEventType): SagaStatus {
  switch (type) {
    case 'started':
    case 'step-succeeded':
      return 'RUNNING';
    case 'step-failed':
    case 'compensation-succeeded':
      return 'COMPENSATING';
    case 'compensation-failed':
      return 'COMPENSATION_FAILED';
    case 'completed':
      return 'SUCCEEDED';
    case 'aborted':
      return 'ABORTED';
    case 'failed':
      return 'FAILED';
  }
}

export type StepStatus = 'not-run' | 'succeeded' | 'failed' | 'compensated' | 'compensation-failed';

/** Each step's outcome, in definition order, from the execution's events. */
export function stepHistory(
  steps: readonly string[],
  events: readonly SagaEvent[],
): { step: string; status: StepStatus; error?: SagaEvent['error'] }[] {
  const byStep = new Map<string, { step: string; status: StepStatus; error?: SagaEvent['error'] }>(
    steps.map((s) => [s, { step: s, status: 'not-run' }]),
  );
  for (const e of events) {
    const entry = e.step === undefined ? undefined : byStep.get(e.step);
    if (entry === undefined) continue;
    if (e.type === 'step-succeeded') entry.status = 'succeeded';
    else if (e.type === 'step-failed') Object.assign(entry, { status: 'failed', error: e.error });
    else if (e.type === 'compensation-succeeded') entry.status = 'compensated';
    else if (e.type === 'compensation-failed') Object.assign(entry, { status: 'compensation-failed', error: e.error });
  }
  return [...byStep.values()];
}

/**
 * Step Functions' error output `{Error, Cause}` as a name and a message. A Lambda's Cause is JSON
 * with `errorMessage` and a stack `trace`; only the message is kept.
 */
export function errorSummary(value: unknown): { error: string; message: string } | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { Error: name, Cause: cause } = value as { Error?: unknown; Cause?: unknown };
  let message = typeof cause === 'string' ? cause : '';
  try {
    const parsed = JSON.parse(message) as { errorMessage?: unknown };
    if (typeof parsed?.errorMessage === 'string') message = parsed.errorMessage;
  } catch {
    // a plain-text cause (a timeout, a Fail state)
  }
  return { error: typeof name === 'string' ? name.slice(0, 200) : 'Unknown', message: message.slice(0, 1000) };
}

/** Step Functions' execution-name rules: 1-80 characters, none of whitespace, `<>{}[]?*"#%\^|~\`$&,;:/` or controls. */
// eslint-disable-next-line no-control-regex -- the control characters are what the pattern refuses
const EXECUTION_NAME = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]{1,80}$/u;
/** Inputs are stored in the execution record and passed to every step: kept well under Step Functions' 256 KiB. */
export const MAX_SAGA_INPUT_BYTES = 64 * 1024;

export function checkExecutionName(name: unknown): string {
  if (typeof name !== 'string' || !EXECUTION_NAME.test(name)) {
    throw new InvalidArgument(
      'executionName',
      'executionName must be 1-80 characters with no whitespace, control characters or any of < > { } [ ] ? * " # % \\ ^ | ~ ` $ & , ; : /',
    );
  }
  return name;
}

export function checkSagaInput(input: unknown): JsonValue {
  if (input === undefined) return null;
  const bytes = Buffer.byteLength(JSON.stringify(input));
  if (bytes > MAX_SAGA_INPUT_BYTES)
    throw new InvalidArgument(
      'input',
      `A saga's input is limited to ${MAX_SAGA_INPUT_BYTES} bytes of JSON; this one is ${bytes}`,
    );
  return input as JsonValue;
}

/** A stable digest of a JSON value (object keys sorted), to tell a repeated start from a conflicting one. */
export function inputDigest(input: JsonValue): string {
  const canonical = (v: JsonValue): JsonValue =>
    Array.isArray(v)
      ? v.map(canonical)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canonical(v[k]!)]),
          )
        : v;
  return createHash('sha256')
    .update(JSON.stringify(canonical(input)))
    .digest('base64url');
}

/** Where executions are kept. */
export interface SagaExecutionStore {
  /** Records a new execution, holding its launch lease; if the id is taken, returns the existing one instead. */
  create(execution: {
    saga: string;
    executionId: string;
    input: JsonValue;
    createdAt: number;
    launchLease: { holder: string; ttlMs: number };
  }): Promise<{ created: boolean; execution: SagaExecution & { inputDigest: string } }>;
  markLaunched(saga: string, executionId: string): Promise<void>;
  get(saga: string, executionId: string): Promise<SagaExecution | undefined>;
  /** Executions by id, a page at a time. */
  list(
    saga: string,
    options: { limit: number; after?: string },
  ): Promise<{ executions: SagaExecutionSummary[]; next?: string }>;
  /**
   * Applies an event once: a repeat of an applied event (same `seq`, type and step) changes
   * nothing; another event at that `seq` is a `SagaEventConflict`, and an event of another run
   * than the one that started the execution is a `DuplicateRun`.
   */
  applyEvent(event: SagaEvent, runId?: string, auditPartition?: number): Promise<void>;
  /** Takes the right to launch an execution for `ttlMs` (false: another start holds it). */
  leaseLaunch(saga: string, executionId: string, holder: string, now: number, ttlMs: number): Promise<boolean>;
  /** Gives the launch lease back after a launch that was refused (only if `holder` still holds it). */
  releaseLaunch(saga: string, executionId: string, holder: string): Promise<void>;
}
