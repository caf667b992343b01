import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StateMachine } from 'aws-local-stepfunctions';
import { defineSaga, PermanentStepError, TransientStepError, type SagaDefinition } from '../../core/sagas/definition.ts';
import type { JsonValue } from '../../core/log/records.ts';
import { checkExecutionName, errorSummary, inputDigest, stepHistory, type SagaEvent } from '../../core/sagas/executions.ts';
import { buildSagaStateMachine, executionInput } from '../../core/sagas/stateMachine.ts';
import { isTransient, sagaStepHandler } from '../../functions/sagas/stepHandler.ts';

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
    for (const [definition, message] of cases) assert.throws(() => defineSaga(definition as SagaDefinition), message);
    assert.equal(defineSaga({ name: 'ok', steps: [step] }).name, 'ok');
  });
});

describe('buildSagaStateMachine', () => {
  const saga = defineSaga({
    name: 'trip',
    steps: [
      { name: 'BookFlight', action: noop, compensation: undo, retry: { maxAttempts: 1 } },
      { name: 'CheckVisa', action: noop }, // nothing to undo
      { name: 'BookHotel', action: noop, compensation: undo, compensationRetry: { maxAttempts: 2, intervalSeconds: 5, maxDelaySeconds: 9 } },
      { name: 'Pay', action: noop },
    ],
  });
  const asl = buildSagaStateMachine(saga, { stepFunction: (s) => `arn:aws:lambda:us-east-1:1:function:${s}`, auditFunction: 'arn:aws:lambda:us-east-1:1:function:audit' });
  const states = asl.States as Record<string, any>;

  it('skips steps without a compensation when undoing, and omits Retry for a single attempt', () => {
    assert.equal(states['Pay failed'].Next, 'Compensate BookHotel');
    assert.equal(states['BookHotel compensated'].Next, 'Compensate BookFlight', 'CheckVisa has nothing to undo');
    assert.equal(states['BookHotel failed'].Next, 'Compensate BookFlight');
    assert.equal(states['CheckVisa failed'].Next, 'Compensate BookFlight');
    assert.equal(states['BookFlight failed'].Next, 'Aborted');
    assert.equal(states.BookFlight.Retry, undefined);
    assert.deepEqual(states['Compensate BookHotel'].Retry, [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 5, MaxAttempts: 1, BackoffRate: 2, MaxDelaySeconds: 9 }]);
    assert.equal(states['Compensate CheckVisa'], undefined);
  });

  it('runs in the States Language interpreter: a failure undoes the compensable steps in reverse', async () => {
    const log: string[] = [];
    const handlers: Record<string, (input: any) => unknown> = {};
    for (const [name, state] of Object.entries(states)) {
      if (state.Type !== 'Task') continue;
      handlers[name] = (p: any) => {
        if (p.kind === 'audit') {
          log.push(`${p.type}${p.step ? `:${p.step}` : ''}#${p.seq}`);
          assert.equal(p.runId, 'run-1');
          return { seq: p.seq + 1, partition: 0, ...(p.type === 'step-failed' ? { failedStep: p.step } : p.failedStep ? { failedStep: p.failedStep } : {}), ...(p.type === 'aborted' ? { cause: 'declined' } : {}) };
        }
        if (p.step === 'Pay' && p.phase === 'action') {
          const e = new Error('declined');
          e.name = 'Sluice.PermanentError';
          throw e;
        }
        return p.phase === 'action' ? { done: p.step } : null;
      };
    }
    const run = new StateMachine(asl as never).run(executionInput('x1', 'run-1', { who: 'ada' }) as never, { overrides: { taskResourceLocalHandlers: handlers as never } });
    await assert.rejects(run.result, (e: Error & { cause?: { name?: string; message?: string } }) => /SagaAborted/.test(`${e.message} ${e.cause?.name ?? ''}`) && /declined/.test(`${e.message} ${e.cause?.message ?? ''}`));
    assert.deepEqual(log, [
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
    const saga = defineSaga({ name: 'pay', steps: [{ name: 'Hold', action: noop, compensation: undo }, { name: 'Charge', action: noop, compensation: undo, retry: { maxAttempts: 2 } }] });
    const asl = buildSagaStateMachine(saga, { stepFunction: (s) => `arn:aws:lambda:us-east-1:1:function:${s}`, auditFunction: 'arn:aws:lambda:us-east-1:1:function:audit' });
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
      await assert.rejects(new StateMachine(asl as never).run(executionInput('x', 'r', {}) as never, { overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides: { Charge: 0 } } }).result);
      return log;
    };
    assert.deepEqual(await run('Sluice.TransientError'), [
      'started', 'action:Hold', 'step-succeeded:Hold', 'action:Charge', 'action:Charge',
      'step-failed:Charge(indeterminate)', 'compensate:Charge', 'compensation-succeeded:Charge', 'compensate:Hold', 'compensation-succeeded:Hold', 'aborted',
    ]);
    assert.deepEqual(await run('Sluice.PermanentError'), ['started', 'action:Hold', 'step-succeeded:Hold', 'action:Charge', 'step-failed:Charge', 'compensate:Hold', 'compensation-succeeded:Hold', 'aborted']);
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
  const handler = sagaStepHandler(saga);
  const event = (input: unknown, phase: 'action' | 'compensate' = 'action') => ({ kind: 'step' as const, saga: 'demo', step: 'One', phase, executionId: 'e1', input: input as never, results: (phase === 'compensate' ? { One: { id: 7 } } : {}) as Record<string, JsonValue> });

  it('runs the action with the idempotency key and turns undefined into null', async () => {
    assert.equal(await handler(event({})), null);
    assert.equal(await handler(event({}, 'compensate')), null);
    assert.deepEqual(calls.splice(0), ['action e1/One', 'compensate {"id":7}']);
    await handler({ ...event({}, 'compensate'), results: {} });
    assert.deepEqual(calls.splice(0), ['compensate null'], 'no result when the outcome was indeterminate');
  });

  it('reports errors by the name Step Functions retries or catches on', async () => {
    await assert.rejects(handler(event({ fail: 'transient' })), { name: 'Sluice.TransientError', message: /try later/ });
    await assert.rejects(handler(event({ fail: 'permanent' })), { name: 'Sluice.PermanentError' });
    await assert.rejects(handler(event({ fail: 'bug' })), { name: 'Sluice.PermanentError', message: /TypeError: x is undefined/ });
    await assert.rejects(handler({ ...event({}), step: 'Other' }), { name: 'Sluice.InvalidTask' });
    await assert.rejects(handler(event({ fail: 'huge' })), { name: 'Sluice.ResultTooLarge', message: /32768 bytes/ });
    process.env.SLUICE_SAGA_STEP = 'Elsewhere';
    try {
      await assert.rejects(handler(event({})), { name: 'Sluice.InvalidTask' }, 'a function serves only its own step');
    } finally {
      delete process.env.SLUICE_SAGA_STEP;
    }
  });

  it('classifies AWS SDK and network errors', () => {
    const sdk = (name: string, extra: object = {}) => Object.assign(new Error(name), { name, ...extra });
    assert.equal(isTransient(sdk('ThrottlingException')), true);
    assert.equal(isTransient(sdk('ProvisionedThroughputExceededException')), true);
    assert.equal(isTransient(sdk('Whatever', { $retryable: { throttling: true } })), true);
    assert.equal(isTransient(sdk('InternalFailure', { $metadata: { httpStatusCode: 503 } })), true);
    assert.equal(isTransient(Object.assign(new Error('reset'), { code: 'ECONNRESET' })), true);
    assert.equal(isTransient(sdk('TransactionCanceledException', { CancellationReasons: [{ Code: 'None' }, { Code: 'TransactionConflict' }] })), true);
    assert.equal(isTransient(sdk('TransactionCanceledException', { CancellationReasons: [{ Code: 'ConditionalCheckFailed' }] })), false);
    assert.equal(isTransient(sdk('ValidationException', { $metadata: { httpStatusCode: 400 } })), false);
    assert.equal(isTransient(new PermanentStepError('no')), false);
    assert.equal(isTransient('a string'), false);
  });
});

describe('execution records', () => {
  it('keeps the message of a Lambda error and drops its stack trace', () => {
    const cause = JSON.stringify({ errorType: 'Sluice.PermanentError', errorMessage: 'PermanentStepError: declined', trace: ['at charge (/var/task/index.mjs:1:2)'] });
    assert.deepEqual(errorSummary({ Error: 'Sluice.PermanentError', Cause: cause }), { error: 'Sluice.PermanentError', message: 'PermanentStepError: declined' });
    assert.deepEqual(errorSummary({ Error: 'States.Timeout', Cause: 'Task timed out' }), { error: 'States.Timeout', message: 'Task timed out' });
    assert.equal(errorSummary(undefined), undefined);
  });

  it('summarizes each step from the events', () => {
    const e = (seq: number, type: SagaEvent['type'], step?: string): SagaEvent => ({ seq, type, saga: 's', executionId: 'x', at: 0, ...(step ? { step } : {}) });
    const history = stepHistory(['A', 'B', 'C'], [e(0, 'started'), e(1, 'step-succeeded', 'A'), { ...e(2, 'step-failed', 'B'), error: { error: 'E', message: 'm' } }, e(3, 'compensation-succeeded', 'A'), e(4, 'aborted')]);
    assert.deepEqual(history, [
      { step: 'A', status: 'compensated' },
      { step: 'B', status: 'failed', error: { error: 'E', message: 'm' } },
      { step: 'C', status: 'not-run' },
    ]);
  });

  it("checks execution names by Step Functions' rules and digests inputs independent of key order", () => {
    for (const bad of ['', 'a b', 'a/b', 'x'.repeat(81), 'tab\there', 'semi;colon', 42]) assert.throws(() => checkExecutionName(bad), /executionName/);
    assert.equal(checkExecutionName('order-42_A.b'), 'order-42_A.b');
    assert.equal(inputDigest({ a: 1, b: [{ c: 2, d: 3 }] }), inputDigest({ b: [{ d: 3, c: 2 }], a: 1 }));
    assert.notEqual(inputDigest({ a: 1 }), inputDigest({ a: 2 }));
  });
});
