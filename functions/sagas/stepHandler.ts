import type { JsonValue } from '../../core/log/records.ts';
import { STEP_ERRORS, type SagaDefinition } from '../../core/sagas/definition.ts';
import { eventHandler } from '../eventHandler.ts';
import { metrics } from '../powertools.ts';

/** What the state machine sends a step function (see `buildSagaStateMachine`). */
export interface StepTaskEvent {
  readonly kind: 'step';
  readonly saga: string;
  readonly step: string;
  readonly phase: 'action' | 'compensate';
  readonly executionId: string;
  readonly input: JsonValue;
  readonly results: Record<string, JsonValue>;
}

/** An error as Step Functions sees it: its `name` is the error name Retry and Catch match on. */
class StepFailure extends Error {
  constructor(name: string, message: string) {
    super(message.slice(0, 2000));
    this.name = name;
  }
}

/**
 * The Lambda handler for a saga's steps: runs the action or the compensation the state machine
 * asks for, with the step's idempotency key. Deploy one function per step (the `Saga` construct
 * does, setting `SLUICE_SAGA_STEP` so a function serves only its own step); the local stack calls
 * the same handler.
 *
 * The handler is a middy chain with Powertools (see `eventHandler`). Errors reach Step Functions
 * by name: `TransientStepError` and errors the AWS SDK or Node call retryable (throttling, 5xx,
 * lost connections, transaction conflicts) become `Sluice.TransientError`, which the action's
 * Retry matches; anything else is `Sluice.PermanentError`, which goes straight to compensation.
 *
 * @example
 * export const handler = sagaStepHandler(orderSaga);
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any saga's definition, whatever its input type
export function sagaStepHandler(saga: SagaDefinition<any>) {
  const steps = new Map(saga.steps.map((s) => [s.name, s]));
  return eventHandler(async (event: StepTaskEvent): Promise<JsonValue> => {
    metrics.addMetric(event?.phase === 'compensate' ? 'SagaCompensationAttempts' : 'SagaStepAttempts', 'Count', 1);
    const only = process.env.SLUICE_SAGA_STEP;
    if (
      event?.kind !== 'step' ||
      event.saga !== saga.name ||
      !steps.has(event.step) ||
      (only !== undefined && only !== event.step)
    ) {
      throw new StepFailure(
        'Sluice.InvalidTask',
        `This function serves saga ${saga.name}${only === undefined ? '' : ` step ${only}`}, not ${JSON.stringify({ saga: event?.saga, step: event?.step })}`,
      );
    }
    const step = steps.get(event.step)!;
    const context = {
      saga: saga.name,
      executionId: event.executionId,
      step: step.name,
      idempotencyKey: `${event.executionId}/${step.name}`,
      input: event.input,
      results: event.results,
    };
    try {
      if (event.phase === 'compensate') {
        // No result when the action's outcome was indeterminate (it may still have acted).
        await step.compensation?.({
          ...context,
          result: Object.hasOwn(event.results ?? {}, step.name) ? event.results[step.name]! : null,
        });
        return null;
      }
      const result = await step.action(context);
      checkResultSize(step.name, result, event.results);
      return result === undefined ? null : result;
    } catch (e) {
      if (e instanceof StepFailure) throw e;
      throw new StepFailure(isTransient(e) ? STEP_ERRORS.transient : STEP_ERRORS.permanent, describe(e));
    }
  });
}

/** Results travel in the state data, which Step Functions caps at 256 KiB with the input (64 KiB). */
export const MAX_STEP_RESULT_BYTES = 32 * 1024;
export const MAX_RESULTS_BYTES = 128 * 1024;

function checkResultSize(step: string, result: unknown, earlier: Record<string, JsonValue>): void {
  const size = Buffer.byteLength(JSON.stringify(result ?? null));
  const total = size + Buffer.byteLength(JSON.stringify(earlier ?? {}));
  if (size > MAX_STEP_RESULT_BYTES || total > MAX_RESULTS_BYTES) {
    // The action has acted, so this counts as an unknown outcome: the step is compensated too.
    throw new StepFailure(
      STEP_ERRORS.resultTooLarge,
      `Step ${step} returned ${size} bytes (all results: ${total}); a result may be ${MAX_STEP_RESULT_BYTES} bytes and all results ${MAX_RESULTS_BYTES}`,
    );
  }
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
]);
const TRANSIENT_NAMES = new Set([
  'TransientStepError',
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TimeoutError',
  'TransactionInProgressException',
]);

/** Whether retrying could help: our transient error, or what AWS SDK and Node mark as retryable. */
export function isTransient(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const err = e as {
    name?: unknown;
    code?: unknown;
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: number };
    CancellationReasons?: { Code?: string }[];
  };
  if (err.name === 'PermanentStepError') return false;
  if (typeof err.name === 'string' && TRANSIENT_NAMES.has(err.name)) return true;
  if (typeof err.code === 'string' && TRANSIENT_CODES.has(err.code)) return true;
  if (err.$retryable !== undefined && err.$retryable !== false) return true;
  if ((err.$metadata?.httpStatusCode ?? 0) >= 500) return true;
  // A transaction cancelled by a conflicting one (not by a failed condition) may pass next time.
  if (err.name === 'TransactionCanceledException')
    return (err.CancellationReasons ?? []).some((r) => r.Code === 'TransactionConflict');
  return false;
}

function describe(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}
