import {
  DEFAULT_COMPENSATION_RETRY,
  DEFAULT_RETRY,
  DEFAULT_STEP_TIMEOUT_SECONDS,
  STEP_ERRORS,
  type RetryPolicy,
  type SagaDefinition,
} from './definition.ts';

/**
 * Amazon States Language (JSONPath, never JSONata) for a saga:
 *
 *   Started → A → A succeeded → B → B succeeded → … → Completed → Succeeded
 *                                ↘ B failed → Compensate A → A compensated → Aborted → SagaAborted (Fail)
 *                                                         ↘ Compensate A failed → CompensationFailed (Fail)
 *
 * Every lifecycle state is a Task on the audit function, which appends the event to the saga's
 * topic and to its execution record. The state data carries the audit sequence number (and the
 * audit partition chosen at `Started`), so a retried audit call is recognised and applied once.
 *
 * A step whose last attempt failed with an outcome that is not known (a timeout, a lost reply, a
 * transient error) may have acted: it goes to `<step> indeterminate` and its own compensation
 * runs first. A permanent error means it did not act: only the earlier steps are compensated.
 *
 * State data: `{ executionId, runId, input, results: { <step>: <result> }, audit: { seq, partition, failedStep?, cause? }, error?, compensationError? }`.
 */
export interface SagaResources {
  /** The function (ARN or CDK token) that runs a step's action and compensation. */
  readonly stepFunction: (step: string) => string;
  /** The function that records lifecycle events. */
  readonly auditFunction: string;
}

/** What a saga execution is started with. */
export interface SagaExecutionInput {
  readonly executionId: string;
  /** Identifies one launch: a second run under the same execution id (Express) is refused at `Started`. */
  readonly runId: string;
  readonly input: unknown;
  readonly results: Record<string, never>;
  readonly audit: { readonly seq: 0; readonly partition: null };
}

export function executionInput(executionId: string, runId: string, input: unknown): SagaExecutionInput {
  return { executionId, runId, input, results: {}, audit: { seq: 0, partition: null } };
}

/**
 * A step's Task may run this much longer than its Lambda function: the state's clock starts when
 * the task is scheduled (cold starts included), so a slow attempt ends as the function's own
 * timeout, never while it is still running.
 */
export const TASK_TIMEOUT_MARGIN_SECONDS = 15;

/** Errors a step's action is retried on: ours, a state timeout, and Lambda's own transient faults. */
export const TRANSIENT_ERRORS = [
  STEP_ERRORS.transient,
  'States.Timeout',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.TooManyRequestsException',
  'Lambda.Unknown', // a function timeout or out-of-memory: the outcome is unknown, so try again
  'Sandbox.Timedout', // how newer runtimes report a function timeout
  'Runtime.ExitError', // the function's process died (a crash, out of memory): it may have acted
  'Runtime.OutOfMemory',
] as const;

/** Failures after which a step may have acted: its own compensation runs too. */
export const INDETERMINATE_ERRORS = [...TRANSIENT_ERRORS, STEP_ERRORS.resultTooLarge] as const;

/** An audit call rides out about two minutes of trouble before the execution fails (and EventBridge reports it). */
const AUDIT_RETRY = {
  ErrorEquals: ['States.ALL'],
  IntervalSeconds: 1,
  MaxAttempts: 8,
  BackoffRate: 2,
  MaxDelaySeconds: 30,
};
/** A second run of an execution is refused by the first audit call, at once and for good. */
const DUPLICATE_RUN_RETRY = { ErrorEquals: [STEP_ERRORS.duplicateRun], MaxAttempts: 0 };

export const SAGA_STATES = {
  started: 'Started',
  completed: 'Completed',
  succeeded: 'Succeeded',
  aborted: 'Aborted',
  abortedFail: 'SagaAborted',
  compensationFailedFail: 'CompensationFailed',
  duplicateRunFail: 'DuplicateRun',
  succeededStep: (step: string) => `${step} succeeded`,
  failedStep: (step: string) => `${step} failed`,
  indeterminateStep: (step: string) => `${step} indeterminate`,
  compensate: (step: string) => `Compensate ${step}`,
  compensated: (step: string) => `${step} compensated`,
  compensationFailed: (step: string) => `Compensate ${step} failed`,
} as const;

type State = Record<string, unknown>;

export function buildSagaStateMachine(
  saga: SagaDefinition,
  resources: SagaResources,
): { Comment: string; StartAt: string; States: Record<string, State> } {
  const S = SAGA_STATES;
  const steps = saga.steps;
  const states: Record<string, State> = {};

  const audit = (type: string, next: string, extra: Record<string, unknown> = {}): State => ({
    Type: 'Task',
    Resource: resources.auditFunction,
    Parameters: {
      kind: 'audit',
      saga: saga.name,
      type,
      'executionId.$': '$.executionId',
      'runId.$': '$.runId',
      'seq.$': '$.audit.seq',
      'partition.$': '$.audit.partition',
      ...extra,
    },
    ResultPath: '$.audit',
    Retry: [AUDIT_RETRY],
    Next: next,
  });
  const stepPayload = (step: string, phase: 'action' | 'compensate', extra: Record<string, unknown> = {}) => ({
    kind: 'step',
    saga: saga.name,
    step,
    phase,
    'executionId.$': '$.executionId',
    'input.$': '$.input',
    'results.$': '$.results',
    ...extra,
  });
  /** Where compensation starts when the step at `index` failed: the nearest earlier compensable step. */
  const compensationFrom = (index: number): string => {
    for (let i = index - 1; i >= 0; i--) if (steps[i]!.compensation !== undefined) return S.compensate(steps[i]!.name);
    return S.aborted;
  };
  const afterFailure = { 'failedStep.$': '$.audit.failedStep' };

  states[S.started] = {
    ...audit('started', steps[0]!.name, { 'input.$': '$.input' }),
    Retry: [DUPLICATE_RUN_RETRY, AUDIT_RETRY],
    Catch: [{ ErrorEquals: [STEP_ERRORS.duplicateRun], ResultPath: '$.error', Next: S.duplicateRunFail }],
  };
  steps.forEach((step, i) => {
    const timeout = step.timeoutSeconds ?? DEFAULT_STEP_TIMEOUT_SECONDS;
    const retry = step.retry ?? DEFAULT_RETRY;
    states[step.name] = {
      Type: 'Task',
      Resource: resources.stepFunction(step.name),
      Parameters: stepPayload(step.name, 'action'),
      ResultPath: `$.results.${step.name}`,
      TimeoutSeconds: timeout + TASK_TIMEOUT_MARGIN_SECONDS,
      ...(retry.maxAttempts > 1 ? { Retry: [retrier([...TRANSIENT_ERRORS], retry)] } : {}),
      Catch: [
        ...(step.compensation === undefined
          ? []
          : [{ ErrorEquals: [...INDETERMINATE_ERRORS], ResultPath: '$.error', Next: S.indeterminateStep(step.name) }]),
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: S.failedStep(step.name) },
      ],
      Next: S.succeededStep(step.name),
    };
    states[S.succeededStep(step.name)] = audit(
      'step-succeeded',
      i + 1 < steps.length ? steps[i + 1]!.name : S.completed,
      { step: step.name },
    );
    states[S.failedStep(step.name)] = audit('step-failed', compensationFrom(i), {
      step: step.name,
      'error.$': '$.error',
    });
    if (step.compensation !== undefined) {
      // It may have acted: undo it too (compensations must tolerate nothing to undo).
      states[S.indeterminateStep(step.name)] = audit('step-failed', S.compensate(step.name), {
        step: step.name,
        outcome: 'indeterminate',
        'error.$': '$.error',
      });
    }
    if (step.compensation !== undefined) {
      const compensationRetry = step.compensationRetry ?? DEFAULT_COMPENSATION_RETRY;
      states[S.compensate(step.name)] = {
        Type: 'Task',
        Resource: resources.stepFunction(step.name),
        // Its result is `results[step]`, absent when the step's outcome was indeterminate.
        Parameters: stepPayload(step.name, 'compensate'),
        ResultPath: null,
        TimeoutSeconds: timeout + TASK_TIMEOUT_MARGIN_SECONDS,
        ...(compensationRetry.maxAttempts > 1 ? { Retry: [retrier(['States.ALL'], compensationRetry)] } : {}),
        Catch: [
          { ErrorEquals: ['States.ALL'], ResultPath: '$.compensationError', Next: S.compensationFailed(step.name) },
        ],
        Next: S.compensated(step.name),
      };
      states[S.compensated(step.name)] = audit('compensation-succeeded', compensationFrom(i), {
        step: step.name,
        ...afterFailure,
      });
      states[S.compensationFailed(step.name)] = audit('compensation-failed', S.compensationFailedFail, {
        step: step.name,
        'error.$': '$.compensationError',
        ...afterFailure,
      });
    }
  });
  states[S.completed] = audit('completed', S.succeeded);
  states[S.succeeded] = { Type: 'Succeed', OutputPath: '$.results' };
  states[S.aborted] = audit('aborted', S.abortedFail, { 'error.$': '$.error', ...afterFailure });
  // The cause is the failed step's error as the audit function summarized it (no stack trace).
  states[S.abortedFail] = { Type: 'Fail', Error: STEP_ERRORS.aborted, CausePath: '$.audit.cause' };
  states[S.duplicateRunFail] = {
    Type: 'Fail',
    Error: STEP_ERRORS.duplicateRun,
    Cause: 'Another run of this execution id started first; this one did nothing',
  };
  states[S.compensationFailedFail] = {
    Type: 'Fail',
    Error: STEP_ERRORS.compensationFailed,
    Cause:
      'A compensation failed after all its attempts; an operator must finish undoing this saga (see its audit trail)',
  };
  return {
    Comment: `Sluice saga ${saga.name}: ${steps.map((s) => s.name).join(' → ')}`,
    StartAt: S.started,
    States: states,
  };
}

function retrier(errors: string[], policy: RetryPolicy): State {
  return {
    ErrorEquals: errors,
    IntervalSeconds: policy.intervalSeconds ?? 1,
    MaxAttempts: policy.maxAttempts - 1, // Step Functions counts retries, the policy counts attempts
    BackoffRate: policy.backoffRate ?? 2,
    ...(policy.maxDelaySeconds === undefined ? {} : { MaxDelaySeconds: policy.maxDelaySeconds }),
  };
}
