import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
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

  before(async () => {
    ({ stack, tables } = await startOrderSagaStack('saga', {
      retryIntervalMs: 0,
      intercept: async ({ fn, payload }, invoke) => {
        const p = payload as { kind: 'step' | 'audit'; step?: string; phase?: 'action' | 'compensate'; type?: string; executionId: string };
        const call: Call = { fn: fn.logicalId, kind: p.kind, executionId: p.executionId, ...(p.step === undefined ? {} : { step: p.step }), ...(p.phase === undefined ? {} : { phase: p.phase }), ...(p.type === undefined ? {} : { type: p.type }) };
        calls.push(call);
        const key = JSON.stringify([call.executionId, call.kind, call.step, call.phase, call.type]);
        const attempt = (attempts.get(key) ?? 0) + 1;
        attempts.set(key, attempt);
        return fault === undefined ? invoke() : fault(call, attempt, invoke);
      },
    }));
    url = stack.url;
  });
  after(async () => {
    await stack?.stop();
  });

  async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    const res = await fetch(`${url}${path}`, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
    const text = await res.text();
    return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
  }

  /** A fresh customer and SKU per run, so runs never share rows. */
  async function freshOrder(overrides: Partial<Order> = {}): Promise<Order> {
    const id = uniqueName('o');
    const order: Order = { orderId: id, customerId: `c-${id}`, sku: `sku-${id}`, quantity: 2, amount: 300, address: '1 Main St', ...overrides };
    await seedOrderTables(dynamo(), tables, { sku: order.sku, stock: 10, customerId: order.customerId, balance: 1000 });
    return order;
  }

  async function run(order: Order, executionName = order.orderId): Promise<any> {
    const started = await api('POST', '/v1/sagas/order/executions', { input: order, executionName });
    assert.equal(started.status, 202, JSON.stringify(started.json));
    await stack.sagas!.stepFunctions.idle();
    const described = await api('GET', `/v1/sagas/order/executions/${encodeURIComponent(started.json.executionId)}`);
    assert.equal(described.status, 200);
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
      out.push(...page.json.records.filter((r: any) => r.key === executionId).map((r: any) => ({ ...r.value, offset: r.offset, partition: p })));
    }
    assert.ok(new Set(out.map((e) => e.partition)).size <= 1, 'one execution, one partition');
    return out.sort((a, b) => a.offset - b.offset);
  }

  const summary = (events: any[]) => events.map((e) => [e.seq, e.type, e.step ?? null]);

  it('runs the synthesized state machine: the one CDK synthesizes is the one executed', () => {
    const app = new App({ context: { examples: 'true', 'aws:cdk:bundling-stacks': [] } });
    const template = Template.fromStack(buildApp(app)).toJSON() as { Resources: Record<string, any> };
    const ids = Object.fromEntries(Object.keys(template.Resources).map((id) => [id, id]));
    const synthesized = [...localResources(template, ids).stateMachines.values()];
    const running = [...stack.sagas!.resources.stateMachines.values()];
    assert.equal(running.length, 1);
    assert.deepEqual(
      running.map((m) => ({ saga: m.saga, type: m.type, states: Object.keys(m.definition.States as object), definition: JSON.stringify(m.definition).replace(/arn:aws:lambda:[^"]+:function:/g, '') })),
      synthesized.map((m) => ({ saga: m.saga, type: m.type, states: Object.keys(m.definition.States as object), definition: JSON.stringify(m.definition).replace(/arn:aws:lambda:[^"]+:function:/g, '') })),
    );
  });

  it('completes an order: every step once, no compensation, stock and balance moved, the audit trail in order', async () => {
    const order = await freshOrder();
    const execution = await run(order);
    assert.equal(execution.status, 'SUCCEEDED');
    assert.deepEqual(execution.steps.map((s: any) => s.status), ['succeeded', 'succeeded', 'succeeded']);
    assert.deepEqual(stepCalls(order.orderId, 'action'), ['ReserveInventory', 'ChargePayment', 'ShipOrder']);
    assert.deepEqual(stepCalls(order.orderId, 'compensate'), []);
    assert.equal(await stockOf(dynamo(), tables.inventory, order.sku), 8);
    assert.equal(await balanceOf(dynamo(), tables.payments, order.customerId), 700);
    const expected = [
      [0, 'started', null],
      [1, 'step-succeeded', 'ReserveInventory'],
      [2, 'step-succeeded', 'ChargePayment'],
      [3, 'step-succeeded', 'ShipOrder'],
      [4, 'completed', null],
    ];
    assert.deepEqual(summary(execution.events), expected);
    const trail = await auditTrail(order.orderId);
    assert.deepEqual(summary(trail), expected);
    assert.deepEqual(trail[0].input, order, 'the started event carries the input');
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
      assert.equal(execution.status, 'ABORTED');
      assert.equal(execution.failedStep, failure.step);
      const actions = stepCalls(order.orderId, 'action');
      assert.equal(actions.filter((s) => s === failure.step).length, 1, 'a permanent error is not retried');
      assert.deepEqual(stepCalls(order.orderId, 'compensate'), failure.compensations);
      assert.equal(await stockOf(dynamo(), tables.inventory, order.sku), 10);
      assert.equal(await balanceOf(dynamo(), tables.payments, order.customerId), 1000);
      const failedAt = ['ReserveInventory', 'ChargePayment', 'ShipOrder'].indexOf(failure.step);
      const expected = [
        [0, 'started', null],
        ...['ReserveInventory', 'ChargePayment', 'ShipOrder'].slice(0, failedAt).map((s, i) => [i + 1, 'step-succeeded', s]),
        [failedAt + 1, 'step-failed', failure.step],
        ...failure.compensations.map((s, i) => [failedAt + 2 + i, 'compensation-succeeded', s]),
        [failedAt + 2 + failure.compensations.length, 'aborted', null],
      ];
      assert.deepEqual(summary(await auditTrail(order.orderId)), expected);
      assert.deepEqual(summary(execution.events), expected);
      const failed = execution.events.find((e: any) => e.type === 'step-failed');
      assert.equal(failed.error.error, 'Sluice.PermanentError');
      assert.ok(!/\bat \w|\.ts:\d/.test(JSON.stringify(execution)), 'no stack trace in the execution view');
      const sfn = stack.sagas!.stepFunctions.describeExecution([...stack.sagas!.resources.stateMachines.values()][0]!.arn.replace(':stateMachine:', ':execution:') + `:${order.orderId}`);
      assert.equal(sfn.status, 'FAILED');
      assert.equal(sfn.error, 'Sluice.SagaAborted');
    });
  }

  it('retries a transient failure and then succeeds without compensating', async () => {
    const order = await freshOrder();
    fault = async (call, attempt, invoke) => {
      if (call.executionId === order.orderId && call.step === 'ChargePayment' && call.phase === 'action' && attempt === 1) throw lambdaError('Sluice.TransientError', 'ThrottlingException: slow down');
      return invoke();
    };
    try {
      const execution = await run(order);
      assert.equal(execution.status, 'SUCCEEDED');
      assert.deepEqual(stepCalls(order.orderId, 'action'), ['ReserveInventory', 'ChargePayment', 'ChargePayment', 'ShipOrder']);
      assert.deepEqual(stepCalls(order.orderId, 'compensate'), []);
      assert.equal(await balanceOf(dynamo(), tables.payments, order.customerId), 700);
      assert.deepEqual(summary(await auditTrail(order.orderId)).map((e) => e[1]), ['started', 'step-succeeded', 'step-succeeded', 'step-succeeded', 'completed']);
    } finally {
      fault = undefined;
    }
  });

  async function charges(customerId: string): Promise<Record<string, unknown>[]> {
    const out = await dynamo().send(new ScanCommand({ TableName: tables.payments, ConsistentRead: true }));
    return (out.Items ?? []).map((i) => unmarshall(i)).filter((i) => String(i.pk).startsWith('charge#') && i.customerId === customerId);
  }

  it('does not charge twice when a charge lands but its reply is lost, and refunds it once if a later step fails', async () => {
    const lostReply = (orderId: string): Fault => async (call, attempt, invoke) => {
      const result = await invoke();
      // The function wrote the charge, then timed out before answering: Step Functions saw Lambda.Unknown.
      if (call.executionId === orderId && call.step === 'ChargePayment' && call.phase === 'action' && attempt === 1) throw lambdaError('Lambda.Unknown', 'Task timed out after 10.00 seconds');
      return result;
    };
    const order = await freshOrder();
    fault = lostReply(order.orderId);
    try {
      const execution = await run(order);
      assert.equal(execution.status, 'SUCCEEDED');
      assert.equal(stepCalls(order.orderId, 'action').filter((s) => s === 'ChargePayment').length, 2, 'the charge was retried');
      assert.equal(await balanceOf(dynamo(), tables.payments, order.customerId), 700, 'charged once');
      assert.equal((await charges(order.customerId)).length, 1);

      const failing = await freshOrder({ address: '' });
      fault = lostReply(failing.orderId);
      const aborted = await run(failing);
      assert.equal(aborted.status, 'ABORTED');
      assert.deepEqual(stepCalls(failing.orderId, 'compensate'), ['ChargePayment', 'ReserveInventory']);
      assert.equal(await balanceOf(dynamo(), tables.payments, failing.customerId), 1000, 'charged once, refunded once');
      assert.deepEqual((await charges(failing.customerId)).map((c) => c.status), ['refunded']);
      assert.equal(await stockOf(dynamo(), tables.inventory, failing.sku), 10);
    } finally {
      fault = undefined;
    }
  });

  it('refunds a charge whose every attempt lost its reply: the step itself is compensated when its outcome is unknown', async () => {
    const order = await freshOrder();
    fault = async (call, _attempt, invoke) => {
      const result = await invoke();
      if (call.executionId === order.orderId && call.step === 'ChargePayment' && call.phase === 'action') throw lambdaError('Sandbox.Timedout', 'Task timed out after 10.00 seconds');
      return result;
    };
    try {
      const execution = await run(order);
      assert.equal(execution.status, 'ABORTED');
      assert.equal(stepCalls(order.orderId, 'action').filter((s) => s === 'ChargePayment').length, 4, 'all four attempts ran (and charged at most once)');
      assert.deepEqual(stepCalls(order.orderId, 'compensate'), ['ChargePayment', 'ReserveInventory']);
      const failed = execution.events.find((e: any) => e.type === 'step-failed');
      assert.equal(failed.outcome, 'indeterminate');
      assert.equal(await balanceOf(dynamo(), tables.payments, order.customerId), 1000, 'charged once, refunded once');
      assert.deepEqual((await charges(order.customerId)).map((c) => c.status), ['refunded']);
      assert.equal(await stockOf(dynamo(), tables.inventory, order.sku), 10);
    } finally {
      fault = undefined;
    }
  });

  it('refuses a second run of an execution (an Express double start) before any step', async () => {
    const order = await freshOrder();
    const first = await run(order);
    assert.equal(first.status, 'SUCCEEDED');
    const machine = [...stack.sagas!.resources.stateMachines.values()][0]!;
    const second = stack.sagas!.stepFunctions.startExecution(machine.arn, `${order.orderId}-again`, JSON.stringify({ executionId: order.orderId, runId: 'another-run', input: order, results: {}, audit: { seq: 0, partition: null } }));
    await stack.sagas!.stepFunctions.idle();
    assert.equal(second.status, 'FAILED');
    assert.equal(second.error, 'Sluice.DuplicateRun');
    assert.deepEqual(stepCalls(order.orderId, 'action'), ['ReserveInventory', 'ChargePayment', 'ShipOrder'], 'the second run ran no step');
    const after = (await api('GET', `/v1/sagas/order/executions/${order.orderId}`)).json;
    assert.equal(after.status, 'SUCCEEDED');
    assert.equal(after.events.length, 5);
    assert.equal(await balanceOf(dynamo(), tables.payments, order.customerId), 700);
  });

  it('ends in COMPENSATION_FAILED, alerting, when a compensation runs out of attempts', async () => {
    const order = await freshOrder({ address: '' });
    fault = async (call, _attempt, invoke) => {
      if (call.executionId === order.orderId && call.step === 'ChargePayment' && call.phase === 'compensate') throw lambdaError('Sluice.PermanentError', 'PaymentGatewayDown: refunds unavailable');
      return invoke();
    };
    try {
      const execution = await run(order);
      assert.equal(execution.status, 'COMPENSATION_FAILED');
      assert.equal(stepCalls(order.orderId, 'compensate').length, 6, 'the default compensation policy: 6 attempts');
      assert.ok(!stepCalls(order.orderId, 'compensate').includes('ReserveInventory'), 'the saga stops at the failed compensation');
      const trail = await auditTrail(order.orderId);
      assert.deepEqual(trail.at(-1).type, 'compensation-failed');
      assert.equal(trail.at(-1).step, 'ChargePayment');
      assert.equal(trail.at(-1).failedStep, 'ShipOrder');
      assert.match(trail.at(-1).error.message, /refunds unavailable/);
      assert.deepEqual(execution.steps.map((s: any) => s.status), ['succeeded', 'compensation-failed', 'failed']);
      // Nothing was undone behind the operator's back: the charge and the reservation still stand.
      assert.equal(await balanceOf(dynamo(), tables.payments, order.customerId), 700);
      assert.equal(await stockOf(dynamo(), tables.inventory, order.sku), 8);
      const sfn = stack.sagas!.stepFunctions.describeExecution([...stack.sagas!.resources.stateMachines.values()][0]!.arn.replace(':stateMachine:', ':execution:') + `:${order.orderId}`);
      assert.equal(sfn.error, 'Sluice.CompensationFailed');
    } finally {
      fault = undefined;
    }
  });

  it('records each lifecycle event once when the audit call itself is retried after an ambiguous failure', async () => {
    const order = await freshOrder({ address: '' });
    fault = async (call, attempt, invoke) => {
      const result = await invoke();
      if (call.executionId === order.orderId && call.kind === 'audit' && attempt === 1) throw lambdaError('Lambda.Unknown', 'reply lost');
      return result;
    };
    try {
      const execution = await run(order);
      assert.equal(execution.status, 'ABORTED');
      const auditCalls = calls.filter((c) => c.executionId === order.orderId && c.kind === 'audit');
      assert.equal(auditCalls.length, 2 * 7, 'every audit call ran twice');
      const expected = [
        [0, 'started', null],
        [1, 'step-succeeded', 'ReserveInventory'],
        [2, 'step-succeeded', 'ChargePayment'],
        [3, 'step-failed', 'ShipOrder'],
        [4, 'compensation-succeeded', 'ChargePayment'],
        [5, 'compensation-succeeded', 'ReserveInventory'],
        [6, 'aborted', null],
      ];
      assert.deepEqual(summary(await auditTrail(order.orderId)), expected);
      assert.deepEqual(summary(execution.events), expected);
    } finally {
      fault = undefined;
    }
  });

  it('marks an execution FAILED, with a failed event, when it stops outside the saga (an audit call that keeps failing)', async () => {
    const order = await freshOrder();
    fault = async (call, _attempt, invoke) => {
      if (call.executionId === order.orderId && call.type === 'step-succeeded' && call.step === 'ChargePayment') throw lambdaError('Lambda.ServiceException', 'Lambda is unavailable');
      return invoke();
    };
    try {
      const execution = await run(order);
      assert.equal(execution.status, 'FAILED');
      assert.equal(calls.filter((c) => c.executionId === order.orderId && c.type === 'step-succeeded' && c.step === 'ChargePayment').length, 9, 'the audit call was tried 9 times');
      const expected = [
        [0, 'started', null],
        [1, 'step-succeeded', 'ReserveInventory'],
        [2, 'failed', null],
      ];
      assert.deepEqual(summary(execution.events), expected);
      assert.deepEqual(summary(await auditTrail(order.orderId)), expected);
      assert.equal(execution.events[2].error.error, 'Lambda.ServiceException');
      // Nothing was compensated: the operator alarm (SagaExecutionFailed) is what tells someone.
      assert.equal(await balanceOf(dynamo(), tables.payments, order.customerId), 700);
    } finally {
      fault = undefined;
    }
  });

  it('starts one execution per name: a repeat returns the same id, another input is a conflict', async () => {
    const order = await freshOrder();
    const name = `once-${order.orderId}`;
    const [a, b] = await Promise.all([api('POST', '/v1/sagas/order/executions', { input: order, executionName: name }), api('POST', '/v1/sagas/order/executions', { input: order, executionName: name })]);
    assert.deepEqual([a.status, b.status], [202, 202]);
    assert.equal(a.json.executionId, name);
    assert.equal(b.json.executionId, name);
    assert.deepEqual([a.json.created, b.json.created].sort(), [false, true]);
    await stack.sagas!.stepFunctions.idle();
    const again = await api('POST', '/v1/sagas/order/executions', { input: { ...order }, executionName: name });
    assert.equal(again.status, 202);
    assert.equal(again.json.created, false);
    assert.equal(again.json.status, 'SUCCEEDED');
    const conflict = await api('POST', '/v1/sagas/order/executions', { input: { ...order, quantity: 3 }, executionName: name });
    assert.equal(conflict.status, 409);
    assert.equal(conflict.json.error.code, 'ExecutionAlreadyExists');
    await stack.sagas!.stepFunctions.idle();
    assert.equal(calls.filter((c) => c.executionId === name && c.type === 'started').length, 1, 'one execution ran');
    assert.equal(await stockOf(dynamo(), tables.inventory, order.sku), 8, 'reserved once');
    assert.equal(await balanceOf(dynamo(), tables.payments, order.customerId), 700, 'charged once');
  });

  it('starts with a generated id when no name is given, and lists executions a page at a time', async () => {
    const order = await freshOrder();
    const started = await api('POST', '/v1/sagas/order/executions', { input: order });
    assert.equal(started.status, 202);
    assert.match(started.json.executionId, /^[0-9a-f-]{36}$/);
    await stack.sagas!.stepFunctions.idle();
    const all: string[] = [];
    let after: string | undefined;
    do {
      const page = await api('GET', `/v1/sagas/order/executions?limit=2${after === undefined ? '' : `&after=${encodeURIComponent(after)}`}`);
      assert.equal(page.status, 200);
      assert.ok(page.json.executions.length <= 2);
      all.push(...page.json.executions.map((e: any) => e.executionId));
      after = page.json.next;
    } while (after !== undefined);
    assert.ok(all.includes(started.json.executionId));
    assert.equal(new Set(all).size, all.length, 'no execution listed twice');
    assert.deepEqual(all, [...all].sort(), 'in id order');
    const listed = await api('GET', '/v1/sagas');
    assert.deepEqual(listed.json.sagas, [{ name: 'order', steps: ['ReserveInventory', 'ChargePayment', 'ShipOrder'], auditTopic: 'sagas.order', type: 'STANDARD', trigger: { topic: 'orders', eventType: 'OrderCreated', executionName: 'key' } }]);
  });

  it('answers bad requests with typed 4xx errors that name the limit, and starts nothing', async () => {
    const before = calls.length;
    const cases: [string, string, unknown, number, string, RegExp?][] = [
      ['POST', '/v1/sagas/nope/executions', { input: {} }, 404, 'SagaNotFound'],
      ['GET', '/v1/sagas/order/executions/never-ran', undefined, 404, 'ExecutionNotFound'],
      ['POST', '/v1/sagas/order/executions', { input: {}, executionName: 'has space' }, 400, 'InvalidArgument', /1-80 characters/],
      ['POST', '/v1/sagas/order/executions', { input: {}, executionName: 'x'.repeat(81) }, 400, 'InvalidArgument'],
      ['POST', '/v1/sagas/order/executions', { input: 'x'.repeat(70_000) }, 400, 'InvalidArgument', /65536 bytes/],
      ['POST', '/v1/sagas/order/executions', { input: {}, extra: 1 }, 400, 'InvalidRequest'],
      ['POST', '/v1/sagas/order/executions', [1, 2], 400, 'InvalidRequest'],
      ['GET', '/v1/sagas/order/executions?limit=0', undefined, 400, 'InvalidArgument', /1 to 1000/],
      ['GET', '/v1/sagas/order/executions?bogus=1', undefined, 400, 'InvalidRequest'],
    ];
    for (const [method, path, body, status, code, message] of cases) {
      const res = await api(method, path, body);
      assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(res.json)}`);
      assert.equal(res.json.error.code, code);
      if (message) assert.match(res.json.error.message, message);
    }
    await stack.sagas!.stepFunctions.idle();
    assert.equal(calls.length, before, 'no task ran');
  });

  /** Reads a whole topic (all partitions) through a throwaway consumer group. */
  async function readAll(topic: string): Promise<any[]> {
    const consumer = new GroupConsumer({ url, groupId: uniqueName('reader'), topics: [topic], autoOffsetReset: 'earliest', waitMs: 200 });
    const out: any[] = [];
    for (let idle = 0; idle < 2; ) {
      const records = await consumer.poll();
      if (records.length === 0) idle++;
      out.push(...records);
    }
    await consumer.close();
    return out;
  }

  it('starts executions from OrderCreated records on the orders topic, one per order key, skipping other types', async () => {
    assert.equal(EVENT_HEADERS.type, EVENT_TYPE_HEADER, 'the client and the trigger agree on the type header');
    await createTopics(url);
    const order = await freshOrder();
    const producer = new Producer({ url });
    await publishEvent(producer, 'orders', 'OrderCreated', { ...order }, { key: order.orderId });
    await publishEvent(producer, 'orders', 'OrderCreated', { ...order }, { key: order.orderId }); // published twice
    await publishEvent(producer, 'orders', 'OrderAmended', { ...order, quantity: 5 }, { key: `amend-${order.orderId}` });
    await producer.close();
    await stack.sagas!.runTriggers();
    await stack.sagas!.stepFunctions.idle();
    const execution = (await api('GET', `/v1/sagas/order/executions/${order.orderId}`)).json;
    assert.equal(execution.status, 'SUCCEEDED');
    assert.equal(calls.filter((c) => c.executionId === order.orderId && c.type === 'started').length, 1, 'one execution for the order');
    assert.equal((await api('GET', `/v1/sagas/order/executions/amend-${order.orderId}`)).status, 404, 'other event types start nothing');
    assert.equal(await balanceOf(dynamo(), tables.payments, order.customerId), 700);
    const group = (await api('GET', '/v1/groups/sagas.order.trigger')).json;
    assert.equal(group.totalLag, 0, 'the trigger committed what it consumed');
  });

  it('choreography feeds orchestration and back: a checked-out cart becomes an order, a saga, and a notification', async () => {
    await createTopics(url);
    const ok = await freshOrder();
    const bad = await freshOrder({ address: '' });
    const cart = (o: Order) => ({ cartId: o.orderId, customerId: o.customerId, sku: o.sku, quantity: o.quantity, unitPrice: o.amount / o.quantity, address: o.address });
    await checkOut(url, cart(ok));
    await checkOut(url, cart(bad));
    const checkout = checkoutService(url);
    const notifier = notifierService(url);
    try {
      assert.ok((await checkout.drain()) >= 2);
      await stack.sagas!.runTriggers();
      await stack.sagas!.stepFunctions.idle();
      assert.equal((await api('GET', `/v1/sagas/order/executions/order-${ok.orderId}`)).json.status, 'SUCCEEDED');
      assert.equal((await api('GET', `/v1/sagas/order/executions/order-${bad.orderId}`)).json.status, 'ABORTED');
      await notifier.drain();
    } finally {
      await checkout.close();
      await notifier.close();
    }
    const orders = (await readAll('orders')).filter((r) => [`order-${ok.orderId}`, `order-${bad.orderId}`].includes(r.key));
    assert.equal(orders.length, 2);
    for (const o of orders) {
      assert.equal(o.headers[EVENT_HEADERS.type], 'OrderCreated');
      assert.equal(o.headers[EVENT_HEADERS.correlation], o.key.replace(/^order-/, ''), 'the cart id correlates the flow');
      assert.match(o.headers[EVENT_HEADERS.causation], /^carts\/\d+\/\d+$/, 'caused by the cart event');
    }
    const notes = (await readAll('notifications')).filter((r) => [`order-${ok.orderId}`, `order-${bad.orderId}`].includes(r.value.orderId));
    assert.deepEqual(notes.map((n) => [n.headers[EVENT_HEADERS.type], n.value.orderId]).sort(), [
      ['OrderCancelled', `order-${bad.orderId}`],
      ['OrderConfirmed', `order-${ok.orderId}`],
    ]);
    const cancelled = notes.find((n) => n.headers[EVENT_HEADERS.type] === 'OrderCancelled');
    assert.equal(cancelled.value.failedStep, 'ShipOrder');
    assert.match(cancelled.headers[EVENT_HEADERS.causation], /^sagas\.order\/\d+\/\d+$/, 'caused by the saga\'s aborted event');
  });

  it('drives sagas from the client and the CLI', async () => {
    const order = await freshOrder();
    const cli = (args: string[]) => runNode('bin/sluice.mjs', ['--url', url, ...args]);
    const listed = await cli(['sagas', 'list']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /order\s+STANDARD\s+ReserveInventory → ChargePayment → ShipOrder\s+sagas\.order\s+orders \(OrderCreated\)/);
    const started = await cli(['sagas', 'start', 'order', JSON.stringify(order), '--name', order.orderId, '--wait']);
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stdout, new RegExp(`Saga order execution ${order.orderId}: SUCCEEDED`));
    assert.match(started.stdout, /ShipOrder\s+succeeded/);
    const failing = await freshOrder({ amount: 5000 });
    const declined = await cli(['sagas', 'start', 'order', JSON.stringify(failing), '--name', failing.orderId, '--wait']);
    assert.equal(declined.code, 1, 'a saga that did not succeed exits 1');
    assert.match(declined.stdout, /ABORTED \(failed at ChargePayment\)/);
    assert.match(declined.stdout, /ChargePayment\s+failed\s+Sluice\.PermanentError: PermanentStepError: Payment declined/);
    const executions = await cli(['sagas', 'executions', 'order', '--json']);
    const rows = JSON.parse(executions.stdout) as { executionId: string; status: string }[];
    assert.deepEqual(rows.filter((r) => [order.orderId, failing.orderId].includes(r.executionId)).map((r) => r.status).sort(), ['ABORTED', 'SUCCEEDED']);
    const bad = await cli(['sagas', 'start', 'order', '{not json']);
    assert.equal(bad.code, 2);
    const client = new SagaClient({ url });
    const again = await client.start('order', { ...order }, { executionName: order.orderId });
    assert.equal(again.created, false);
    assert.equal((await client.waitFor('order', order.orderId)).status, 'SUCCEEDED');
  });
});
