import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { createOrdersTable, placeOrder } from '../../examples/order-saga/orderService.ts';
import { connect } from '../../core/transactions/outbox.ts';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { balanceOf, seedOrderTables, stockOf } from '../../examples/order-saga/seed.ts';
import type { Order } from '../../examples/order-saga/saga.ts';
import { buildApp } from '../../infra/app.ts';
import { dynamoClientFromEnv } from '../../local/awsEnv.ts';
import { localResources } from '../../local/cloudAssembly.ts';
import type { LocalStack } from '../../local/stack.ts';
import { startOrderSagaStack } from '../support/orderSaga.ts';
import { uniqueName } from '../support/names.ts';
import { runNode } from '../support/e2e.ts';
import { SagaClient } from '../../client/index.ts';
import { GroupConsumer, Producer } from '../../client/index.ts';
import { EVENT_HEADERS, publishEvent } from '../../client/choreography.ts';
import { EVENT_TYPE_HEADER } from '../../core/sagas/triggers.ts';
import { checkOut, checkoutService, createTopics, notifierService } from '../../examples/order-saga/choreography.ts';

/**
 * The order saga end to end on the local stack: HTTP routes → local Step Functions running the
 * state machine from the synthesized template → the example's handlers on DynamoDB Local → the
 * audit topic. Faults are injected between the state machine and the handlers, as Lambda would
 * surface them.
 */

interface Call {
  readonly fn: string;
  readonly kind: 'step' | 'audit';
  readonly step?: string;
  readonly phase?: 'action' | 'compensate';
  readonly type?: string;
  readonly executionId: string;
}

type Fault = (call: Call, attempt: number, invoke: () => Promise<unknown>) => Promise<unknown>;

/** An error as the Lambda service reports it to Step Functions. */
function lambdaError(name: string, message: string): Error {
  const e = new Error(JSON.stringify({ errorType: name, errorMessage: message }));
  e.name = name;
  return e;
}

describe('order saga on the local stack', () => {
  let stack: LocalStack;
  let url: string;
  let tables: { inventory: string; payments: string };
  const calls: Call[] = [];
  let fault: Fault | undefined;
  const attempts = new Map<string, number>();
  const dynamo = () => dynamoClientFromEnv();

  beforeAll(async () => {
    ({ stack, tables } = await startOrderSagaStack('saga', {
      retryIntervalMs: 0,
      intercept: async ({ fn, payload }, invoke) => {
        const p = payload as {
          kind: 'step' | 'audit';
          step?: string;
          phase?: 'action' | 'compensate';
          type?: string;
          executionId: string;
        };
        const call: Call = {
          fn: fn.logicalId,
          kind: p.kind,
          executionId: p.executionId,
          ...(p.step === undefined ? {} : { step: p.step }),
          ...(p.phase === undefined ? {} : { phase: p.phase }),
          ...(p.type === undefined ? {} : { type: p.type }),
        };
        calls.push(call);
        const key = JSON.stringify([call.executionId, call.kind, call.step, call.phase, call.type]);
        const attempt = (attempts.get(key) ?? 0) + 1;
        attempts.set(key, attempt);
        return fault === undefined ? invoke() : fault(call, attempt, invoke);
      },
    }));
    url = stack.url;
  });
  afterAll(async () => {
    await stack?.stop();
  });

  async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const res = await fetch(`${url}${path}`, {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
  }

  /** A fresh customer and SKU per run, so runs never share rows. */
  async function freshOrder(overrides: Partial<Order> = {}): Promise<Order> {
    const id = uniqueName('o');
    const order: Order = {
      orderId: id,
      customerId: `c-${id}`,
      sku: `sku-${id}`,
      quantity: 2,
      amount: 300,
      address: '1 Main St',
      ...overrides,
    };
    await seedOrderTables(dynamo(), tables, { sku: order.sku, stock: 10, customerId: order.customerId, balance: 1000 });
    return order;
  }

  async function run(order: Order, executionName = order.orderId): Promise<any> {
    const started = await api('POST', '/v1/sagas/order/executions', { input: order, executionName });
    expect(started.status, JSON.stringify(started.json)).toBe(202);
    await stack.sagas!.stepFunctions.idle();
    const described = await api('GET', `/v1/sagas/order/executions/${encodeURIComponent(started.json.executionId)}`);
    expect(described.status).toBe(200);
    return described.json;
  }

  const stepCalls = (executionId: string, phase: 'action' | 'compensate') =>
    calls.filter((c) => c.executionId === executionId && c.kind === 'step' && c.phase === phase).map((c) => c.step);

  /** The execution's events on the audit topic, in offset order (one key, so one partition). */
  async function auditTrail(executionId: string): Promise<any[]> {
    const topic = (await api('GET', '/v1/topics/sagas.order')).json;
    const out: any[] = [];
    for (let p = 0; p < topic.partitions.length; p++) {
      const page = await api('GET', `/v1/topics/sagas.order/partitions/${p}/records?offset=0&maxRecords=10000`);
      out.push(
        ...page.json.records
          .filter((r: any) => r.key === executionId)
          .map((r: any) => ({ ...r.value, offset: r.offset, partition: p })),
      );
    }
    expect(new Set(out.map((e) => e.partition)).size <= 1, 'one execution, one partition').toBeTruthy();
    return out.sort((a, b) => a.offset - b.offset);
  }

  const summary = (events: any[]) => events.map((e) => [e.seq, e.type, e.step ?? null]);

  it('runs the synthesized state machine: the one CDK synthesizes is the one executed', () => {
    const app = new App({ context: { examples: 'true', 'aws:cdk:bundling-stacks': [] } });
    const template = Template.fromStack(buildApp(app)).toJSON() as { Resources: Record<string, any> };
    const ids = Object.fromEntries(Object.keys(template.Resources).map((id) => [id, id]));
    const synthesized = [...localResources(template, ids).stateMachines.values()];
    const running = [...stack.sagas!.resources.stateMachines.values()];
    expect(running.length).toBe(1);
    expect(
      running.map((m) => ({
        saga: m.saga,
        type: m.type,
        states: Object.keys(m.definition.States as object),
        definition: JSON.stringify(m.definition).replace(/arn:aws:lambda:[^"]+:function:/g, ''),
      })),
    ).toStrictEqual(
      synthesized.map((m) => ({
        saga: m.saga,
        type: m.type,
        states: Object.keys(m.definition.States as object),
        definition: JSON.stringify(m.definition).replace(/arn:aws:lambda:[^"]+:function:/g, ''),
      })),
    );
  });

  it('completes an order: every step once, no compensation, stock and balance moved, the audit trail in order', async () => {
    const order = await freshOrder();
    const execution = await run(order);
    expect(execution.status).toBe('SUCCEEDED');
    expect(execution.steps.map((s: any) => s.status)).toStrictEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(stepCalls(order.orderId, 'action')).toStrictEqual(['ReserveInventory', 'ChargePayment', 'ShipOrder']);
    expect(stepCalls(order.orderId, 'compensate')).toStrictEqual([]);
    expect(await stockOf(dynamo(), tables.inventory, order.sku)).toBe(8);
    expect(await balanceOf(dynamo(), tables.payments, order.customerId)).toBe(700);
    const expected = [
      [0, 'started', null],
      [1, 'step-succeeded', 'ReserveInventory'],
      [2, 'step-succeeded', 'ChargePayment'],
      [3, 'step-succeeded', 'ShipOrder'],
      [4, 'completed', null],
    ];
    expect(summary(execution.events)).toStrictEqual(expected);
    const trail = await auditTrail(order.orderId);
    expect(summary(trail)).toStrictEqual(expected);
    expect(trail[0].input, 'the started event carries the input').toStrictEqual(order);
  });

  const failures: { step: string; order: Partial<Order>; compensations: string[] }[] = [
    { step: 'ReserveInventory', order: { quantity: 11 }, compensations: [] },
    { step: 'ChargePayment', order: { amount: 1001 }, compensations: ['ReserveInventory'] },
    { step: 'ShipOrder', order: { address: ' ' }, compensations: ['ChargePayment', 'ReserveInventory'] },
  ];
  for (const failure of failures) {
    it(`when ${failure.step} fails permanently, compensates exactly the earlier steps in reverse, once each, and restores the tables`, async () => {
      const order = await freshOrder(failure.order);
      const execution = await run(order);
      expect(execution.status).toBe('ABORTED');
      expect(execution.failedStep).toBe(failure.step);
      const actions = stepCalls(order.orderId, 'action');
      expect(actions.filter((s) => s === failure.step).length, 'a permanent error is not retried').toBe(1);
      expect(stepCalls(order.orderId, 'compensate')).toStrictEqual(failure.compensations);
      expect(await stockOf(dynamo(), tables.inventory, order.sku)).toBe(10);
      expect(await balanceOf(dynamo(), tables.payments, order.customerId)).toBe(1000);
      const failedAt = ['ReserveInventory', 'ChargePayment', 'ShipOrder'].indexOf(failure.step);
      const expected = [
        [0, 'started', null],
        ...['ReserveInventory', 'ChargePayment', 'ShipOrder']
          .slice(0, failedAt)
          .map((s, i) => [i + 1, 'step-succeeded', s]),
        [failedAt + 1, 'step-failed', failure.step],
        ...failure.compensations.map((s, i) => [failedAt + 2 + i, 'compensation-succeeded', s]),
        [failedAt + 2 + failure.compensations.length, 'aborted', null],
      ];
      expect(summary(await auditTrail(order.orderId))).toStrictEqual(expected);
      expect(summary(execution.events)).toStrictEqual(expected);
      const failed = execution.events.find((e: any) => e.type === 'step-failed');
      expect(failed.error.error).toBe('Sluice.PermanentError');
      expect(!/\bat \w|\.ts:\d/.test(JSON.stringify(execution)), 'no stack trace in the execution view').toBeTruthy();
      const sfn = stack.sagas!.stepFunctions.describeExecution(
        [...stack.sagas!.resources.stateMachines.values()][0]!.arn.replace(':stateMachine:', ':execution:') +
          `:${order.orderId}`,
      );
      expect(sfn.status).toBe('FAILED');
      expect(sfn.error).toBe('Sluice.SagaAborted');
    });
  }

  it('retries a transient failure and then succeeds without compensating', async () => {
    const order = await freshOrder();
    fault = async (call, attempt, invoke) => {
      if (
        call.executionId === order.orderId &&
        call.step === 'ChargePayment' &&
        call.phase === 'action' &&
        attempt === 1
      )
        throw lambdaError('Sluice.TransientError', 'ThrottlingException: slow down');
      return invoke();
    };
    try {
      const execution = await run(order);
      expect(execution.status).toBe('SUCCEEDED');
      expect(stepCalls(order.orderId, 'action')).toStrictEqual([
        'ReserveInventory',
        'ChargePayment',
        'ChargePayment',
        'ShipOrder',
      ]);
      expect(stepCalls(order.orderId, 'compensate')).toStrictEqual([]);
      expect(await balanceOf(dynamo(), tables.payments, order.customerId)).toBe(700);
      expect(summary(await auditTrail(order.orderId)).map((e) => e[1])).toStrictEqual([
        'started',
        'step-succeeded',
        'step-succeeded',
        'step-succeeded',
        'completed',
      ]);
    } finally {
      fault = undefined;
    }
  });

  async function charges(customerId: string): Promise<Record<string, unknown>[]> {
    const out = await dynamo().send(new ScanCommand({ TableName: tables.payments, ConsistentRead: true }));
    return (out.Items ?? [])
      .map((i) => unmarshall(i))
      .filter((i) => String(i.pk).startsWith('charge#') && i.customerId === customerId);
  }

  it('does not charge twice when a charge lands but its reply is lost, and refunds it once if a later step fails', async () => {
    const lostReply =
      (orderId: string): Fault =>
      async (call, attempt, invoke) => {
        const result = await invoke();
        // The function wrote the charge, then timed out before answering: Step Functions saw Lambda.Unknown.
        if (call.executionId === orderId && call.step === 'ChargePayment' && call.phase === 'action' && attempt === 1)
          throw lambdaError('Lambda.Unknown', 'Task timed out after 10.00 seconds');
        return result;
      };
    const order = await freshOrder();
    fault = lostReply(order.orderId);
    try {
      const execution = await run(order);
      expect(execution.status).toBe('SUCCEEDED');
      expect(
        stepCalls(order.orderId, 'action').filter((s) => s === 'ChargePayment').length,
        'the charge was retried',
      ).toBe(2);
      expect(await balanceOf(dynamo(), tables.payments, order.customerId), 'charged once').toBe(700);
      expect((await charges(order.customerId)).length).toBe(1);

      const failing = await freshOrder({ address: '' });
      fault = lostReply(failing.orderId);
      const aborted = await run(failing);
      expect(aborted.status).toBe('ABORTED');
      expect(stepCalls(failing.orderId, 'compensate')).toStrictEqual(['ChargePayment', 'ReserveInventory']);
      expect(await balanceOf(dynamo(), tables.payments, failing.customerId), 'charged once, refunded once').toBe(1000);
      expect((await charges(failing.customerId)).map((c) => c.status)).toStrictEqual(['refunded']);
      expect(await stockOf(dynamo(), tables.inventory, failing.sku)).toBe(10);
    } finally {
      fault = undefined;
    }
  });

  it('refunds a charge whose every attempt lost its reply: the step itself is compensated when its outcome is unknown', async () => {
    const order = await freshOrder();
    fault = async (call, _attempt, invoke) => {
      const result = await invoke();
      if (call.executionId === order.orderId && call.step === 'ChargePayment' && call.phase === 'action')
        throw lambdaError('Sandbox.Timedout', 'Task timed out after 10.00 seconds');
      return result;
    };
    try {
      const execution = await run(order);
      expect(execution.status).toBe('ABORTED');
      expect(
        stepCalls(order.orderId, 'action').filter((s) => s === 'ChargePayment').length,
        'all four attempts ran (and charged at most once)',
      ).toBe(4);
      expect(stepCalls(order.orderId, 'compensate')).toStrictEqual(['ChargePayment', 'ReserveInventory']);
      const failed = execution.events.find((e: any) => e.type === 'step-failed');
      expect(failed.outcome).toBe('indeterminate');
      expect(await balanceOf(dynamo(), tables.payments, order.customerId), 'charged once, refunded once').toBe(1000);
      expect((await charges(order.customerId)).map((c) => c.status)).toStrictEqual(['refunded']);
      expect(await stockOf(dynamo(), tables.inventory, order.sku)).toBe(10);
    } finally {
      fault = undefined;
    }
  });

  it('refuses a second run of an execution (an Express double start) before any step', async () => {
    const order = await freshOrder();
    const first = await run(order);
    expect(first.status).toBe('SUCCEEDED');
    const machine = [...stack.sagas!.resources.stateMachines.values()][0]!;
    const second = stack.sagas!.stepFunctions.startExecution(
      machine.arn,
      `${order.orderId}-again`,
      JSON.stringify({
        executionId: order.orderId,
        runId: 'another-run',
        input: order,
        results: {},
        audit: { seq: 0, partition: null },
      }),
    );
    await stack.sagas!.stepFunctions.idle();
    expect(second.status).toBe('FAILED');
    expect(second.error).toBe('Sluice.DuplicateRun');
    expect(stepCalls(order.orderId, 'action'), 'the second run ran no step').toStrictEqual([
      'ReserveInventory',
      'ChargePayment',
      'ShipOrder',
    ]);
    const after = (await api('GET', `/v1/sagas/order/executions/${order.orderId}`)).json;
    expect(after.status).toBe('SUCCEEDED');
    expect(after.events.length).toBe(5);
    expect(await balanceOf(dynamo(), tables.payments, order.customerId)).toBe(700);
  });

  it('ends in COMPENSATION_FAILED, alerting, when a compensation runs out of attempts', async () => {
    const order = await freshOrder({ address: '' });
    fault = async (call, _attempt, invoke) => {
      if (call.executionId === order.orderId && call.step === 'ChargePayment' && call.phase === 'compensate')
        throw lambdaError('Sluice.PermanentError', 'PaymentGatewayDown: refunds unavailable');
      return invoke();
    };
    try {
      const execution = await run(order);
      expect(execution.status).toBe('COMPENSATION_FAILED');
      expect(stepCalls(order.orderId, 'compensate').length, 'the default compensation policy: 6 attempts').toBe(6);
      expect(
        !stepCalls(order.orderId, 'compensate').includes('ReserveInventory'),
        'the saga stops at the failed compensation',
      ).toBeTruthy();
      const trail = await auditTrail(order.orderId);
      expect(trail.at(-1).type).toStrictEqual('compensation-failed');
      expect(trail.at(-1).step).toBe('ChargePayment');
      expect(trail.at(-1).failedStep).toBe('ShipOrder');
      expect(trail.at(-1).error.message).toMatch(/refunds unavailable/);
      expect(execution.steps.map((s: any) => s.status)).toStrictEqual(['succeeded', 'compensation-failed', 'failed']);
      // Nothing was undone behind the operator's back: the charge and the reservation still stand.
      expect(await balanceOf(dynamo(), tables.payments, order.customerId)).toBe(700);
      expect(await stockOf(dynamo(), tables.inventory, order.sku)).toBe(8);
      const sfn = stack.sagas!.stepFunctions.describeExecution(
        [...stack.sagas!.resources.stateMachines.values()][0]!.arn.replace(':stateMachine:', ':execution:') +
          `:${order.orderId}`,
      );
      expect(sfn.error).toBe('Sluice.CompensationFailed');
    } finally {
      fault = undefined;
    }
  });

  it('records each lifecycle event once when the audit call itself is retried after an ambiguous failure', async () => {
    const order = await freshOrder({ address: '' });
    fault = async (call, attempt, invoke) => {
      const result = await invoke();
      if (call.executionId === order.orderId && call.kind === 'audit' && attempt === 1)
        throw lambdaError('Lambda.Unknown', 'reply lost');
      return result;
    };
    try {
      const execution = await run(order);
      expect(execution.status).toBe('ABORTED');
      const auditCalls = calls.filter((c) => c.executionId === order.orderId && c.kind === 'audit');
      expect(auditCalls.length, 'every audit call ran twice').toBe(2 * 7);
      const expected = [
        [0, 'started', null],
        [1, 'step-succeeded', 'ReserveInventory'],
        [2, 'step-succeeded', 'ChargePayment'],
        [3, 'step-failed', 'ShipOrder'],
        [4, 'compensation-succeeded', 'ChargePayment'],
        [5, 'compensation-succeeded', 'ReserveInventory'],
        [6, 'aborted', null],
      ];
      expect(summary(await auditTrail(order.orderId))).toStrictEqual(expected);
      expect(summary(execution.events)).toStrictEqual(expected);
    } finally {
      fault = undefined;
    }
  });

  it('marks an execution FAILED, with a failed event, when it stops outside the saga (an audit call that keeps failing)', async () => {
    const order = await freshOrder();
    fault = async (call, _attempt, invoke) => {
      if (call.executionId === order.orderId && call.type === 'step-succeeded' && call.step === 'ChargePayment')
        throw lambdaError('Lambda.ServiceException', 'Lambda is unavailable');
      return invoke();
    };
    try {
      const execution = await run(order);
      expect(execution.status).toBe('FAILED');
      expect(
        calls.filter(
          (c) => c.executionId === order.orderId && c.type === 'step-succeeded' && c.step === 'ChargePayment',
        ).length,
        'the audit call was tried 9 times',
      ).toBe(9);
      const expected = [
        [0, 'started', null],
        [1, 'step-succeeded', 'ReserveInventory'],
        [2, 'failed', null],
      ];
      expect(summary(execution.events)).toStrictEqual(expected);
      expect(summary(await auditTrail(order.orderId))).toStrictEqual(expected);
      expect(execution.events[2].error.error).toBe('Lambda.ServiceException');
      // Nothing was compensated: the operator alarm (SagaExecutionFailed) is what tells someone.
      expect(await balanceOf(dynamo(), tables.payments, order.customerId)).toBe(700);
    } finally {
      fault = undefined;
    }
  });

  it('starts one execution per name: a repeat returns the same id, another input is a conflict', async () => {
    const order = await freshOrder();
    const name = `once-${order.orderId}`;
    const [a, b] = await Promise.all([
      api('POST', '/v1/sagas/order/executions', { input: order, executionName: name }),
      api('POST', '/v1/sagas/order/executions', { input: order, executionName: name }),
    ]);
    expect([a.status, b.status]).toStrictEqual([202, 202]);
    expect(a.json.executionId).toBe(name);
    expect(b.json.executionId).toBe(name);
    expect([a.json.created, b.json.created].sort()).toStrictEqual([false, true]);
    await stack.sagas!.stepFunctions.idle();
    const again = await api('POST', '/v1/sagas/order/executions', { input: { ...order }, executionName: name });
    expect(again.status).toBe(202);
    expect(again.json.created).toBe(false);
    expect(again.json.status).toBe('SUCCEEDED');
    const conflict = await api('POST', '/v1/sagas/order/executions', {
      input: { ...order, quantity: 3 },
      executionName: name,
    });
    expect(conflict.status).toBe(409);
    expect(conflict.json.error.code).toBe('ExecutionAlreadyExists');
    await stack.sagas!.stepFunctions.idle();
    expect(calls.filter((c) => c.executionId === name && c.type === 'started').length, 'one execution ran').toBe(1);
    expect(await stockOf(dynamo(), tables.inventory, order.sku), 'reserved once').toBe(8);
    expect(await balanceOf(dynamo(), tables.payments, order.customerId), 'charged once').toBe(700);
  });

  it('starts with a generated id when no name is given, and lists executions a page at a time', async () => {
    const order = await freshOrder();
    const started = await api('POST', '/v1/sagas/order/executions', { input: order });
    expect(started.status).toBe(202);
    expect(started.json.executionId).toMatch(/^[0-9a-f-]{36}$/);
    await stack.sagas!.stepFunctions.idle();
    const all: string[] = [];
    let after: string | undefined;
    do {
      const page = await api(
        'GET',
        `/v1/sagas/order/executions?limit=2${after === undefined ? '' : `&after=${encodeURIComponent(after)}`}`,
      );
      expect(page.status).toBe(200);
      expect(page.json.executions.length <= 2).toBeTruthy();
      all.push(...page.json.executions.map((e: any) => e.executionId));
      after = page.json.next;
    } while (after !== undefined);
    expect(all.includes(started.json.executionId)).toBeTruthy();
    expect(new Set(all).size, 'no execution listed twice').toBe(all.length);
    expect(all, 'in id order').toStrictEqual([...all].sort());
    const listed = await api('GET', '/v1/sagas');
    expect(listed.json.sagas).toStrictEqual([
      {
        name: 'order',
        steps: ['ReserveInventory', 'ChargePayment', 'ShipOrder'],
        auditTopic: 'sagas.order',
        type: 'STANDARD',
        trigger: { topic: 'orders', eventType: 'OrderCreated', executionName: 'key' },
      },
    ]);
  });

  it('answers bad requests with typed 4xx errors that name the limit, and starts nothing', async () => {
    const before = calls.length;
    const cases: [string, string, unknown, number, string, RegExp?][] = [
      ['POST', '/v1/sagas/nope/executions', { input: {} }, 404, 'SagaNotFound'],
      ['GET', '/v1/sagas/order/executions/never-ran', undefined, 404, 'ExecutionNotFound'],
      [
        'POST',
        '/v1/sagas/order/executions',
        { input: {}, executionName: 'has space' },
        400,
        'InvalidArgument',
        /1-80 characters/,
      ],
      ['POST', '/v1/sagas/order/executions', { input: {}, executionName: 'x'.repeat(81) }, 400, 'InvalidArgument'],
      ['POST', '/v1/sagas/order/executions', { input: 'x'.repeat(70_000) }, 400, 'InvalidArgument', /65536 bytes/],
      ['POST', '/v1/sagas/order/executions', { input: {}, extra: 1 }, 400, 'InvalidRequest'],
      ['POST', '/v1/sagas/order/executions', [1, 2], 400, 'InvalidRequest'],
      ['GET', '/v1/sagas/order/executions?limit=0', undefined, 400, 'InvalidArgument', /1 to 1000/],
      ['GET', '/v1/sagas/order/executions?bogus=1', undefined, 400, 'InvalidRequest'],
    ];
    for (const [method, path, body, status, code, message] of cases) {
      const res = await api(method, path, body);
      expect(res.status, `${method} ${path}: ${JSON.stringify(res.json)}`).toBe(status);
      expect(res.json.error.code).toBe(code);
      if (message) expect(res.json.error.message).toMatch(message);
    }
    await stack.sagas!.stepFunctions.idle();
    expect(calls.length, 'no task ran').toBe(before);
  });

  /** Reads a whole topic (all partitions) through a throwaway consumer group. */
  async function readAll(topic: string): Promise<any[]> {
    const consumer = new GroupConsumer({
      url,
      groupId: uniqueName('reader'),
      topics: [topic],
      autoOffsetReset: 'earliest',
      waitMs: 200,
    });
    const out: any[] = [];
    for (let idle = 0; idle < 2;) {
      const records = await consumer.poll();
      if (records.length === 0) idle++;
      out.push(...records);
    }
    await consumer.close();
    return out;
  }

  it('starts executions from OrderCreated records on the orders topic, one per order key, skipping other types', async () => {
    expect(EVENT_HEADERS.type, 'the client and the trigger agree on the type header').toBe(EVENT_TYPE_HEADER);
    await createTopics(url);
    const order = await freshOrder();
    const producer = new Producer({ url });
    await publishEvent(producer, 'orders', 'OrderCreated', { ...order }, { key: order.orderId });
    await publishEvent(producer, 'orders', 'OrderCreated', { ...order }, { key: order.orderId }); // published twice
    await publishEvent(
      producer,
      'orders',
      'OrderAmended',
      { ...order, quantity: 5 },
      { key: `amend-${order.orderId}` },
    );
    await producer.close();
    await stack.sagas!.runTriggers();
    await stack.sagas!.stepFunctions.idle();
    const execution = (await api('GET', `/v1/sagas/order/executions/${order.orderId}`)).json;
    expect(execution.status).toBe('SUCCEEDED');
    expect(
      calls.filter((c) => c.executionId === order.orderId && c.type === 'started').length,
      'one execution for the order',
    ).toBe(1);
    expect(
      (await api('GET', `/v1/sagas/order/executions/amend-${order.orderId}`)).status,
      'other event types start nothing',
    ).toBe(404);
    expect(await balanceOf(dynamo(), tables.payments, order.customerId)).toBe(700);
    const group = (await api('GET', '/v1/groups/sagas.order.trigger')).json;
    expect(group.totalLag, 'the trigger committed what it consumed').toBe(0);
  });

  it('the order service writes its row and OrderCreated in one transaction (the outbox): each order is placed, and its saga run, exactly once however often it is placed', async () => {
    await createTopics(url);
    const ordersTable = uniqueName('orders-table');
    await createOrdersTable(dynamo(), ordersTable);
    const sluice = connect({ tables: stack.tables, client: dynamo() });
    const orders = [await freshOrder(), await freshOrder()];
    const placed = await Promise.all(
      orders.flatMap((o) => [placeOrder(sluice, ordersTable, o), placeOrder(sluice, ordersTable, o)]),
    );
    expect(placed.map((p) => p.placed).sort()).toEqual([false, false, true, true]); // one of each pair wins
    expect(await placeOrder(sluice, ordersTable, orders[0]!)).toEqual({ placed: false });
    // A refused transaction writes neither part: an order whose event cannot be appended has no row.
    const orphan = await freshOrder();
    await expect(
      sluice.transact({
        append: [{ topic: 'no-such-topic', key: orphan.orderId, value: orphan }],
        writes: [{ Put: { TableName: ordersTable, Item: marshall({ pk: `order#${orphan.orderId}` }) } }],
      }),
    ).rejects.toMatchObject({ code: 'TopicNotFound' });
    const row = await dynamo().send(
      new GetItemCommand({
        TableName: ordersTable,
        Key: marshall({ pk: `order#${orphan.orderId}` }),
        ConsistentRead: true,
      }),
    );
    expect(row.Item).toBeUndefined();

    await stack.sagas!.runTriggers();
    await stack.sagas!.stepFunctions.idle();
    for (const order of orders) {
      expect((await api('GET', `/v1/sagas/order/executions/${order.orderId}`)).json.status).toBe('SUCCEEDED');
      expect(calls.filter((c) => c.executionId === order.orderId && c.type === 'started').length).toBe(1);
      expect(await balanceOf(dynamo(), tables.payments, order.customerId)).toBe(700); // charged once
    }
    const created = (await readAll('orders')).filter((r) => orders.some((o) => o.orderId === r.key));
    expect(created.length, 'one OrderCreated per order').toBe(2);
  });

  it('choreography feeds orchestration and back: a checked-out cart becomes an order, a saga, and a notification', async () => {
    await createTopics(url);
    const ok = await freshOrder();
    const bad = await freshOrder({ address: '' });
    const cart = (o: Order) => ({
      cartId: o.orderId,
      customerId: o.customerId,
      sku: o.sku,
      quantity: o.quantity,
      unitPrice: o.amount / o.quantity,
      address: o.address,
    });
    await checkOut(url, cart(ok));
    await checkOut(url, cart(bad));
    const checkout = checkoutService(url);
    const notifier = notifierService(url);
    try {
      expect((await checkout.drain()) >= 2).toBeTruthy();
      await stack.sagas!.runTriggers();
      await stack.sagas!.stepFunctions.idle();
      expect((await api('GET', `/v1/sagas/order/executions/order-${ok.orderId}`)).json.status).toBe('SUCCEEDED');
      expect((await api('GET', `/v1/sagas/order/executions/order-${bad.orderId}`)).json.status).toBe('ABORTED');
      await notifier.drain();
    } finally {
      await checkout.close();
      await notifier.close();
    }
    const orders = (await readAll('orders')).filter((r) =>
      [`order-${ok.orderId}`, `order-${bad.orderId}`].includes(r.key),
    );
    expect(orders.length).toBe(2);
    for (const o of orders) {
      expect(o.headers[EVENT_HEADERS.type]).toBe('OrderCreated');
      expect(o.headers[EVENT_HEADERS.correlation], 'the cart id correlates the flow').toBe(
        o.key.replace(/^order-/, ''),
      );
      expect(o.headers[EVENT_HEADERS.causation], 'caused by the cart event').toMatch(/^carts\/\d+\/\d+$/);
    }
    const notes = (await readAll('notifications')).filter((r) =>
      [`order-${ok.orderId}`, `order-${bad.orderId}`].includes(r.value.orderId),
    );
    expect(notes.map((n) => [n.headers[EVENT_HEADERS.type], n.value.orderId]).sort()).toStrictEqual([
      ['OrderCancelled', `order-${bad.orderId}`],
      ['OrderConfirmed', `order-${ok.orderId}`],
    ]);
    const cancelled = notes.find((n) => n.headers[EVENT_HEADERS.type] === 'OrderCancelled');
    expect(cancelled.value.failedStep).toBe('ShipOrder');
    expect(cancelled.headers[EVENT_HEADERS.causation], "caused by the saga's aborted event").toMatch(
      /^sagas\.order\/\d+\/\d+$/,
    );
  });

  it('drives sagas from the client and the CLI', async () => {
    const order = await freshOrder();
    const cli = (args: string[]) => runNode('bin/sluice.mjs', ['--url', url, ...args]);
    const listed = await cli(['sagas', 'list']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(
      /order\s+STANDARD\s+ReserveInventory → ChargePayment → ShipOrder\s+sagas\.order\s+orders \(OrderCreated\)/,
    );
    const started = await cli(['sagas', 'start', 'order', JSON.stringify(order), '--name', order.orderId, '--wait']);
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout).toMatch(new RegExp(`Saga order execution ${order.orderId}: SUCCEEDED`));
    expect(started.stdout).toMatch(/ShipOrder\s+succeeded/);
    const failing = await freshOrder({ amount: 5000 });
    const declined = await cli([
      'sagas',
      'start',
      'order',
      JSON.stringify(failing),
      '--name',
      failing.orderId,
      '--wait',
    ]);
    expect(declined.code, 'a saga that did not succeed exits 1').toBe(1);
    expect(declined.stdout).toMatch(/ABORTED \(failed at ChargePayment\)/);
    expect(declined.stdout).toMatch(
      /ChargePayment\s+failed\s+Sluice\.PermanentError: PermanentStepError: Payment declined/,
    );
    const executions = await cli(['sagas', 'executions', 'order', '--json']);
    const rows = JSON.parse(executions.stdout) as { executionId: string; status: string }[];
    expect(
      rows
        .filter((r) => [order.orderId, failing.orderId].includes(r.executionId))
        .map((r) => r.status)
        .sort(),
    ).toStrictEqual(['ABORTED', 'SUCCEEDED']);
    const bad = await cli(['sagas', 'start', 'order', '{not json']);
    expect(bad.code).toBe(2);
    const client = new SagaClient({ url });
    const again = await client.start('order', { ...order }, { executionName: order.orderId });
    expect(again.created).toBe(false);
    expect((await client.waitFor('order', order.orderId)).status).toBe('SUCCEEDED');
  });
});
