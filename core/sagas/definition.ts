import type { JsonValue } from '../log/records.ts';

/**
 * A saga: an ordered list of steps, each a local transaction with a compensation that undoes it.
 * The definition is plain data plus handlers; `buildSagaStateMachine` turns it into Amazon States
 * Language, the CDK `Saga` construct deploys that, and the local stack runs the same definition.
 *
 * @example
 * export const orderSaga = defineSaga<Order>({
 *   name: 'order',
 *   steps: [
 *     { name: 'ReserveInventory', action: reserve, compensation: release, retry: { maxAttempts: 3 } },
 *     { name: 'ChargePayment', action: charge, compensation: refund, timeoutSeconds: 10 },
 *     { name: 'ShipOrder', action: ship },
 *   ],
 * });
 */
export interface SagaDefinition<I extends JsonValue = JsonValue> {
  /** Saga name: 1-64 of a-z, 0-9 and "-" (it names routes, topics and AWS resources). */
  readonly name: string;
  readonly steps: readonly SagaStep<I>[];
  /**
   * Topic the lifecycle events go to, keyed by execution id.
   * @default `sagas.<name>`
   */
  readonly auditTopic?: string;
  /** Start an execution for records on a topic (choreography feeding orchestration). */
  readonly trigger?: SagaTrigger;
}

/**
 * Records that start executions. A trigger is a consumer group (`sagas.<name>.trigger`) that reads
 * the topic from its earliest retained record, starts an execution per matching record with the
 * record's JSON value as input, and commits after the starts: an execution per record, at least
 * once, made exactly once by the execution name.
 */
export interface SagaTrigger {
  readonly topic: string;
  /** Only records of this type: the `sluice-event-type` header, else the value's `type` field. */
  readonly eventType?: string;
  /**
   * How executions are named: `record` (`<topic>.<partition>.<offset>`: one per record) or `key`
   * (the record key: one per business key, so a re-published event starts nothing new).
   * @default 'record'
   */
  readonly executionName?: 'record' | 'key';
}

export interface SagaStep<I extends JsonValue = JsonValue> {
  /** PascalCase, unique within the saga: it names states (`ChargePayment failed`) and results. */
  readonly name: string;
  /**
   * The local transaction. Its return value (JSON) is kept as `results[name]` for later steps and
   * for this step's compensation. It may run more than once (retries, an ambiguous failure): make
   * it idempotent with `context.idempotencyKey`.
   */
  readonly action: (context: StepContext<I>) => Promise<JsonValue | void> | JsonValue | void;
  /**
   * Undoes the action; runs when a later step failed, and when this step's own last attempt
   * failed with an unknown outcome (a timeout, a lost reply: it may have acted). Retried on any
   * error, so it must be idempotent and must accept that there is nothing to undo. Omit for a step
   * with nothing to undo.
   */
  readonly compensation?: (context: CompensationContext<I>) => Promise<void> | void;
  /** Retries of the action on transient errors. @default DEFAULT_RETRY */
  readonly retry?: RetryPolicy;
  /** Retries of the compensation on any error. @default DEFAULT_COMPENSATION_RETRY */
  readonly compensationRetry?: RetryPolicy;
  /** Each attempt of the action or the compensation may take this long. @default 30 */
  readonly timeoutSeconds?: number;
}

export interface RetryPolicy {
  /** Attempts in all, the first one included (1: no retry). */
  readonly maxAttempts: number;
  /** Wait before the first retry. @default 1 */
  readonly intervalSeconds?: number;
  /** Each wait is this many times the previous one. @default 2 */
  readonly backoffRate?: number;
  /** Cap on a single wait. @default no cap */
  readonly maxDelaySeconds?: number;
}

export interface StepContext<I extends JsonValue = JsonValue> {
  readonly saga: string;
  readonly executionId: string;
  readonly step: string;
  /** `<executionId>/<step>`: the same on every attempt of this step in this execution. */
  readonly idempotencyKey: string;
  readonly input: I;
  /** Results of the steps that ran before this one, by step name. */
  readonly results: Readonly<Record<string, JsonValue>>;
}

export interface CompensationContext<I extends JsonValue = JsonValue> extends StepContext<I> {
  /** What this step's action returned; null when its outcome was indeterminate. */
  readonly result: JsonValue;
}

export const DEFAULT_RETRY: Required<Omit<RetryPolicy, 'maxDelaySeconds'>> = {
  maxAttempts: 3,
  intervalSeconds: 1,
  backoffRate: 2,
};
export const DEFAULT_COMPENSATION_RETRY: Required<Omit<RetryPolicy, 'maxDelaySeconds'>> = {
  maxAttempts: 6,
  intervalSeconds: 1,
  backoffRate: 2,
};
export const DEFAULT_STEP_TIMEOUT_SECONDS = 30;
/** Step Functions caps a retrier at 99,999,999 attempts; sagas need far fewer. */
const MAX_ATTEMPTS = 100;

/**
 * An action error that may pass if the step is simply tried again (a throttled call, a lost
 * connection). The step is retried per its policy; when attempts run out, the saga compensates.
 */
export class TransientStepError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransientStepError';
  }
}

/** An action error that retrying cannot fix (out of stock, card declined): compensate now. */
export class PermanentStepError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentStepError';
  }
}

/** Headers that carry an event's type and lineage from service to service (triggers match the type). */
export const EVENT_HEADERS = {
  type: 'sluice-event-type',
  correlation: 'sluice-correlation-id',
  causation: 'sluice-causation-id',
} as const;

/** Error names as Step Functions sees them (a Lambda's `errorType` is the thrown error's `name`). */
export const STEP_ERRORS = {
  transient: 'Sluice.TransientError',
  permanent: 'Sluice.PermanentError',
  aborted: 'Sluice.SagaAborted',
  compensationFailed: 'Sluice.CompensationFailed',
  duplicateRun: 'Sluice.DuplicateRun',
  resultTooLarge: 'Sluice.ResultTooLarge',
} as const;

/** Names of the state machine's own states; a step may not take one. */
const RESERVED_STEP_NAMES = new Set([
  'Started',
  'Completed',
  'Succeeded',
  'Aborted',
  'SagaAborted',
  'CompensationFailed',
  'DuplicateRun',
]);

const SAGA_NAME = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
const STEP_NAME = /^[A-Z][A-Za-z0-9]{0,59}$/;

/** Checks a definition and fills in defaults; throws with the rule broken. */
export function defineSaga<I extends JsonValue = JsonValue>(definition: SagaDefinition<I>): SagaDefinition<I> {
  const where = `saga ${JSON.stringify(definition.name)}`;
  if (!SAGA_NAME.test(definition.name))
    throw new Error(`${where}: a saga name is 1-64 of a-z, 0-9 and "-", not starting or ending with "-"`);
  if (definition.steps.length === 0) throw new Error(`${where}: a saga needs at least one step`);
  if (definition.steps.length > 40)
    throw new Error(`${where}: at most 40 steps (the state machine grows by 6 states per step)`);
  const seen = new Set<string>();
  for (const step of definition.steps) {
    if (!STEP_NAME.test(step.name))
      throw new Error(
        `${where}: step name ${JSON.stringify(step.name)} must be PascalCase letters and digits, at most 60`,
      );
    if (seen.has(step.name)) throw new Error(`${where}: two steps are named ${step.name}`);
    if (RESERVED_STEP_NAMES.has(step.name))
      throw new Error(
        `${where}: ${step.name} names one of the state machine's own states (${[...RESERVED_STEP_NAMES].join(', ')})`,
      );
    seen.add(step.name);
    if (typeof step.action !== 'function') throw new Error(`${where}: step ${step.name} has no action`);
    if (step.compensation !== undefined && typeof step.compensation !== 'function')
      throw new Error(`${where}: step ${step.name}: compensation must be a function`);
    for (const [label, policy] of [
      ['retry', step.retry],
      ['compensationRetry', step.compensationRetry],
    ] as const) {
      if (policy !== undefined) checkRetry(`${where}: step ${step.name}: ${label}`, policy);
    }
    const timeout = step.timeoutSeconds ?? DEFAULT_STEP_TIMEOUT_SECONDS;
    if (!Number.isInteger(timeout) || timeout < 1 || timeout > 900)
      throw new Error(`${where}: step ${step.name}: timeoutSeconds must be an integer from 1 to 900 (Lambda's limit)`);
  }
  if (definition.auditTopic !== undefined && !/^[A-Za-z0-9._-]{1,249}$/.test(definition.auditTopic)) {
    throw new Error(`${where}: auditTopic must be a valid topic name`);
  }
  const trigger = definition.trigger;
  if (trigger !== undefined) {
    if (!/^[A-Za-z0-9._-]{1,249}$/.test(trigger.topic))
      throw new Error(`${where}: trigger.topic must be a valid topic name`);
    if (trigger.eventType !== undefined && (typeof trigger.eventType !== 'string' || trigger.eventType === ''))
      throw new Error(`${where}: trigger.eventType must be a non-empty string`);
    if (trigger.executionName !== undefined && !['record', 'key'].includes(trigger.executionName))
      throw new Error(`${where}: trigger.executionName is 'record' or 'key'`);
  }
  return definition;
}

function checkRetry(where: string, policy: RetryPolicy): void {
  if (!Number.isInteger(policy.maxAttempts) || policy.maxAttempts < 1 || policy.maxAttempts > MAX_ATTEMPTS) {
    throw new Error(`${where}.maxAttempts must be an integer from 1 to ${MAX_ATTEMPTS}`);
  }
  const interval = policy.intervalSeconds ?? 1;
  if (!Number.isInteger(interval) || interval < 1 || interval > 3600)
    throw new Error(`${where}.intervalSeconds must be an integer from 1 to 3600 (Step Functions waits whole seconds)`);
  if (!((policy.backoffRate ?? 2) >= 1) || (policy.backoffRate ?? 2) > 10)
    throw new Error(`${where}.backoffRate must be from 1 to 10`);
  if (
    policy.maxDelaySeconds !== undefined &&
    (!Number.isInteger(policy.maxDelaySeconds) || policy.maxDelaySeconds < 1)
  ) {
    throw new Error(`${where}.maxDelaySeconds must be a positive integer`);
  }
}

export function auditTopicOf(definition: Pick<SagaDefinition, 'name' | 'auditTopic'>): string {
  return definition.auditTopic ?? `sagas.${definition.name}`;
}
