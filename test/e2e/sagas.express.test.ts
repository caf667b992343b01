import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { balanceOf, seedOrderTables, stockOf } from '../../examples/order-saga/seed.ts';
import type { Order } from '../../examples/order-saga/saga.ts';
import { dynamoClientFromEnv } from '../../local/awsEnv.ts';
import type { LocalStack } from '../../local/stack.ts';
import { startOrderSagaStack } from '../support/orderSaga.ts';
import { uniqueName } from '../support/names.ts';

/** The order saga synthesized as an Express state machine (`-c sagaType=EXPRESS`), run locally. */
describe('order saga as an Express state machine', () => {
  let stack: LocalStack;
  let tables: { inventory: string; payments: string };
  const starts: string[] = [];

  beforeAll(async () => {
    ({ stack, tables } = await startOrderSagaStack('express', {
      retryIntervalMs: 0,
      triggerIntervalMs: 0,
      context: { sagaType: 'EXPRESS' },
      intercept: async ({ payload }, invoke) => {
        const p = payload as { kind?: string; type?: string; executionId?: string };
        if (p.kind === 'audit' && p.type === 'started') starts.push(p.executionId!);
        return invoke();
      },
    }));
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('runs Express, and one start per name even though Express does not de-duplicate names', async () => {
    expect([...stack.sagas!.resources.stateMachines.values()].map((m) => m.type)).toStrictEqual(['EXPRESS']);
    const id = uniqueName('o');
    const order: Order = { orderId: id, customerId: `c-${id}`, sku: `s-${id}`, quantity: 1, amount: 100, address: '' };
    await seedOrderTables(dynamoClientFromEnv(), tables, {
      sku: order.sku,
      stock: 5,
      customerId: order.customerId,
      balance: 500,
    });
    const post = () =>
      fetch(`${stack.url}/v1/sagas/order/executions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input: order, executionName: id }),
      });
    const responses = await Promise.all([post(), post(), post()]);
    expect(responses.map((r) => r.status)).toStrictEqual([202, 202, 202]);
    await stack.sagas!.stepFunctions.idle();
    expect(
      starts.filter((s) => s === id),
      'one run reached Started',
    ).toStrictEqual([id]);
    const execution = (await (await fetch(`${stack.url}/v1/sagas/order/executions/${id}`)).json()) as {
      status: string;
      steps: { status: string }[];
    };
    expect(execution.status).toBe('ABORTED');
    expect(execution.steps.map((s) => s.status)).toStrictEqual(['compensated', 'compensated', 'failed']);
    expect(await stockOf(dynamoClientFromEnv(), tables.inventory, order.sku)).toBe(5);
    expect(await balanceOf(dynamoClientFromEnv(), tables.payments, order.customerId)).toBe(500);
  });
});
