import { describe, expect, it } from 'vitest';
import { StateMachine } from 'aws-local-stepfunctions';
import {
  defineSaga,
  PermanentStepError,
  TransientStepError,
  type SagaDefinition,
} from '../../core/sagas/definition.ts';
import type { JsonValue } from '../../core/log/records.ts';
import {
  checkExecutionName,
  errorSummary,
  inputDigest,
  stepHistory,
  type SagaEvent,
} from '../../core/sagas/executions.ts';
import { buildSagaStateMachine, executionInput } from '../../core/sagas/stateMachine.ts';
import { isTransient, sagaStepHandler, type StepTaskEvent } from '../../functions/sagas/stepHandler.ts';
import { lambdaContext } from '../support/apiEvents.ts';

const noop = () => null;
const undo = () => {};

describe('defineSaga', () => {
  it('names the rule a definition breaks', () => {
    const step = { name: 'Charge', action: noop };
    const cases: [Partial<SagaDefinition>, RegExp][] = [
      [{ name: 'Bad Name', steps: [step] }, /saga name/],
      [{ name: 'ok', steps: [] }, /at least one step/],
      [{ name: 'ok', steps: [step, step] }, /two steps are named Charge/],
      [{ name: 'ok', steps: [{ name: 'lowercase', action: noop }] }, /PascalCase/],
      [{ name: 'ok', steps: [{ ...step, retry: { maxAttempts: 0 } }] }, /maxAttempts must be an integer from 1/],
      [{ name: 'ok', steps: [{ ...step, retry: { maxAttempts: 2, intervalSeconds: 0.5 } }] }, /intervalSeconds/],
      [{ name: 'ok', steps: [{ ...step, compensationRetry: { maxAttempts: 2, backoffRate: 0.5 } }] }, /backoffRate/],
      [{ name: 'ok', steps: [{ ...step, timeoutSeconds: 901 }] }, /timeoutSeconds/],
      [{ name: 'ok', steps: [step], auditTopic: 'no spaces allowed' }, /auditTopic/],
      [{ name: 'ok', steps: [{ name: 'Completed', action: noop }] }, /state machine's own states/],
      [{ name: 'ok', steps: [{ name: 'DuplicateRun', action: noop }] }, /state machine's own states/],
    ];
    for (const [definition, message] of cases) expect(() => defineSaga(definition as SagaDefinition)).toThrow(message);
    expect(defineSaga({ name: 'ok', steps: [step] }).name).toBe('ok');
  });
});

describe('buildSagaStateMachine', () => {
  const saga = defineSaga({
    name: 'trip',
    steps: [
      { name: 'BookFlight', action: noop, compensation: undo, retry: { maxAttempts: 1 } },
      { name: 'CheckVisa', action: noop }, // nothing to undo
      {
        name: 'BookHotel',
        action: noop,
        compensation: undo,
        compensationRetry: { maxAttempts: 2, intervalSeconds: 5, maxDelaySeconds: 9 },
      },
      { name: 'Pay', action: noop },
    ],
  });
  const asl = buildSagaStateMachine(saga, {
    stepFunction: (s) => `arn:aws:lambda:us-east-1:1:function:${s}`,
    auditFunction: 'arn:aws:lambda:us-east-1:1:function:audit',
  });
  const states = asl.States as Record<string, any>;

  it('skips steps without a compensation when undoing, and omits Retry for a single attempt', () => {
    expect(states['Pay failed'].Next).toBe('Compensate BookHotel');
    expect(states['BookHotel compensated'].Next, 'CheckVisa has nothing to undo').toBe('Compensate BookFlight');
    expect(states['BookHotel failed'].Next).toBe('Compensate BookFlight');
    expect(states['CheckVisa failed'].Next).toBe('Compensate BookFlight');
    expect(states['BookFlight failed'].Next).toBe('Aborted');
    expect(states.BookFlight.Retry).toBe(undefined);
    expect(states['Compensate BookHotel'].Retry).toStrictEqual([
      { ErrorEquals: ['States.ALL'], IntervalSeconds: 5, MaxAttempts: 1, BackoffRate: 2, MaxDelaySeconds: 9 },
    ]);
    expect(states['Compensate CheckVisa']).toBe(undefined);
  });

  it('runs in the States Language interpreter: a failure undoes the compensable steps in reverse', async () => {
    const log: string[] = [];
    const handlers: Record<string, (input: any) => unknown> = {};
    for (const [name, state] of Object.entries(states)) {
      if (state.Type !== 'Task') continue;
      handlers[name] = (p: any) => {
        if (p.kind === 'audit') {
          log.push(`${p.type}${p.step ? `:${p.step}` : ''}#${p.seq}`);
          expect(p.runId).toBe('run-1');
          return {
            seq: p.seq + 1,
            partition: 0,
            ...(p.type === 'step-failed' ? { failedStep: p.step } : p.failedStep ? { failedStep: p.failedStep } : {}),
            ...(p.type === 'aborted' ? { cause: 'declined' } : {}),
          };
        }
        if (p.step === 'Pay' && p.phase === 'action') {
          const e = new Error('declined');
          e.name = 'Sluice.PermanentError';
          throw e;
        }
        return p.phase === 'action' ? { done: p.step } : null;
      };
    }
    const run = new StateMachine(asl as never).run(executionInput('x1', 'run-1', { who: 'ada' }) as never, {
      overrides: { taskResourceLocalHandlers: handlers as never },
    });
    await expect(run.result).rejects.toSatisfy(
      (e: Error & { cause?: { name?: string; message?: string } }) =>
        /SagaAborted/.test(`${e.message} ${e.cause?.name ?? ''}`) &&
        /declined/.test(`${e.message} ${e.cause?.message ?? ''}`),
    );
    expect(log).toStrictEqual([
      'started#0',
      'step-succeeded:BookFlight#1',
      'step-succeeded:CheckVisa#2',
      'step-succeeded:BookHotel#3',
      'step-failed:Pay#4',
      'compensation-succeeded:BookHotel#5',
      'compensation-succeeded:BookFlight#6',
      'aborted#7',
    ]);
  });
});

describe('buildSagaStateMachine: a step whose outcome is unknown', () => {
  it('compensates the step itself after its last transient failure, but not after a permanent one', async () => {
    const saga = defineSaga({
      name: 'pay',
      steps: [
        { name: 'Hold', action: noop, compensation: undo },
        { name: 'Charge', action: noop, compensation: undo, retry: { maxAttempts: 2 } },
      ],
    });
    const asl = buildSagaStateMachine(saga, {
      stepFunction: (s) => `arn:aws:lambda:us-east-1:1:function:${s}`,
      auditFunction: 'arn:aws:lambda:us-east-1:1:function:audit',
    });
    const run = async (errorName: string): Promise<string[]> => {
      const log: string[] = [];
      const handlers: Record<string, (p: any) => unknown> = {};
      for (const [name, state] of Object.entries(asl.States as Record<string, any>)) {
        if (state.Type !== 'Task') continue;
        handlers[name] = (p: any) => {
          if (p.kind === 'audit') {
            log.push(`${p.type}${p.step ? `:${p.step}` : ''}${p.outcome ? `(${p.outcome})` : ''}`);
            return { seq: p.seq + 1, partition: 0, failedStep: p.failedStep ?? p.step, cause: 'x' };
          }
          log.push(`${p.phase}:${p.step}`);
          if (p.step === 'Charge' && p.phase === 'action') {
            const e = new Error('{}');
            e.name = errorName;
            throw e;
          }
          return null;
        };
      }
      await expect(
        new StateMachine(asl as never).run(executionInput('x', 'r', {}) as never, {
          overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides: { Charge: 0 } },
        }).result,
      ).rejects.toThrow();
      return log;
    };
    expect(await run('Sluice.TransientError')).toStrictEqual([
      'started',
      'action:Hold',
      'step-succeeded:Hold',
      'action:Charge',
      'action:Charge',
      'step-failed:Charge(indeterminate)',
      'compensate:Charge',
      'compensation-succeeded:Charge',
      'compensate:Hold',
      'compensation-succeeded:Hold',
      'aborted',
    ]);
    expect(await run('Sluice.PermanentError')).toStrictEqual([
      'started',
      'action:Hold',
      'step-succeeded:Hold',
      'action:Charge',
      'step-failed:Charge',
      'compensate:Hold',
      'compensation-succeeded:Hold',
      'aborted',
    ]);
  });
});

describe('saga step handler', () => {
  const calls: string[] = [];
  const saga = defineSaga({
    name: 'demo',
    steps: [
      {
        name: 'One',
        action: ({ idempotencyKey, input }) => {
          calls.push(`action ${idempotencyKey}`);
          if ((input as { fail?: string }).fail === 'transient') throw new TransientStepError('try later');
          if ((input as { fail?: string }).fail === 'permanent') throw new PermanentStepError('never');
          if ((input as { fail?: string }).fail === 'bug') throw new TypeError('x is undefined');
          if ((input as { fail?: string }).fail === 'huge') return 'x'.repeat(40_000);
          return undefined;
        },
        compensation: ({ result }) => void calls.push(`compensate ${JSON.stringify(result)}`),
      },
    ],
  });
  const stepHandler = sagaStepHandler(saga);
  const handler = (event: StepTaskEvent) => stepHandler(event, lambdaContext);
  const event = (input: unknown, phase: 'action' | 'compensate' = 'action') => ({
    kind: 'step' as const,
    saga: 'demo',
    step: 'One',
    phase,
    executionId: 'e1',
    input: input as never,
    results: (phase === 'compensate' ? { One: { id: 7 } } : {}) as Record<string, JsonValue>,
  });

  it('runs the action with the idempotency key and turns undefined into null', async () => {
    expect(await handler(event({}))).toBe(null);
    expect(await handler(event({}, 'compensate'))).toBe(null);
    expect(calls.splice(0)).toStrictEqual(['action e1/One', 'compensate {"id":7}']);
    await handler({ ...event({}, 'compensate'), results: {} });
    expect(calls.splice(0), 'no result when the outcome was indeterminate').toStrictEqual(['compensate null']);
  });

  it('reports errors by the name Step Functions retries or catches on', async () => {
    await expect(handler(event({ fail: 'transient' }))).rejects.toMatchObject({
      name: 'Sluice.TransientError',
      message: expect.stringMatching(/try later/),
    });
    await expect(handler(event({ fail: 'permanent' }))).rejects.toMatchObject({ name: 'Sluice.PermanentError' });
    await expect(handler(event({ fail: 'bug' }))).rejects.toMatchObject({
      name: 'Sluice.PermanentError',
      message: expect.stringMatching(/TypeError: x is undefined/),
    });
    await expect(handler({ ...event({}), step: 'Other' })).rejects.toMatchObject({ name: 'Sluice.InvalidTask' });
    await expect(handler(event({ fail: 'huge' }))).rejects.toMatchObject({
      name: 'Sluice.ResultTooLarge',
      message: expect.stringMatching(/32768 bytes/),
    });
    process.env.SLUICE_SAGA_STEP = 'Elsewhere';
    try {
      await expect(handler(event({})), 'a function serves only its own step').rejects.toMatchObject({
        name: 'Sluice.InvalidTask',
      });
    } finally {
      delete process.env.SLUICE_SAGA_STEP;
    }
  });

  it('classifies AWS SDK and network errors', () => {
    const sdk = (name: string, extra: object = {}) => Object.assign(new Error(name), { name, ...extra });
    expect(isTransient(sdk('ThrottlingException'))).toBe(true);
    expect(isTransient(sdk('ProvisionedThroughputExceededException'))).toBe(true);
    expect(isTransient(sdk('Whatever', { $retryable: { throttling: true } }))).toBe(true);
    expect(isTransient(sdk('InternalFailure', { $metadata: { httpStatusCode: 503 } }))).toBe(true);
    expect(isTransient(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(true);
    expect(
      isTransient(
        sdk('TransactionCanceledException', {
          CancellationReasons: [{ Code: 'None' }, { Code: 'TransactionConflict' }],
        }),
      ),
    ).toBe(true);
    expect(
      isTransient(sdk('TransactionCanceledException', { CancellationReasons: [{ Code: 'ConditionalCheckFailed' }] })),
    ).toBe(false);
    expect(isTransient(sdk('ValidationException', { $metadata: { httpStatusCode: 400 } }))).toBe(false);
    expect(isTransient(new PermanentStepError('no'))).toBe(false);
    expect(isTransient('a string')).toBe(false);
  });
});

describe('execution records', () => {
  it('keeps the message of a Lambda error and drops its stack trace', () => {
    const cause = JSON.stringify({
      errorType: 'Sluice.PermanentError',
      errorMessage: 'PermanentStepError: declined',
      trace: ['at charge (/var/task/index.mjs:1:2)'],
    });
    expect(errorSummary({ Error: 'Sluice.PermanentError', Cause: cause })).toStrictEqual({
      error: 'Sluice.PermanentError',
      message: 'PermanentStepError: declined',
    });
    expect(errorSummary({ Error: 'States.Timeout', Cause: 'Task timed out' })).toStrictEqual({
      error: 'States.Timeout',
      message: 'Task timed out',
    });
    expect(errorSummary(undefined)).toBe(undefined);
  });

  it('summarizes each step from the events', () => {
    const e = (seq: number, type: SagaEvent['type'], step?: string): SagaEvent => ({
      seq,
      type,
      saga: 's',
      executionId: 'x',
      at: 0,
      ...(step ? { step } : {}),
    });
    const history = stepHistory(
      ['A', 'B', 'C'],
      [
        e(0, 'started'),
        e(1, 'step-succeeded', 'A'),
        { ...e(2, 'step-failed', 'B'), error: { error: 'E', message: 'm' } },
        e(3, 'compensation-succeeded', 'A'),
        e(4, 'aborted'),
      ],
    );
    expect(history).toStrictEqual([
      { step: 'A', status: 'compensated' },
      { step: 'B', status: 'failed', error: { error: 'E', message: 'm' } },
      { step: 'C', status: 'not-run' },
    ]);
  });

  it("checks execution names by Step Functions' rules and digests inputs independent of key order", () => {
    for (const bad of ['', 'a b', 'a/b', 'x'.repeat(81), 'tab\there', 'semi;colon', 42])
      expect(() => checkExecutionName(bad)).toThrow(/executionName/);
    expect(checkExecutionName('order-42_A.b')).toBe('order-42_A.b');
    expect(inputDigest({ a: 1, b: [{ c: 2, d: 3 }] })).toBe(inputDigest({ b: [{ d: 3, c: 2 }], a: 1 }));
    expect(inputDigest({ a: 1 })).not.toBe(inputDigest({ a: 2 }));
  });
});
