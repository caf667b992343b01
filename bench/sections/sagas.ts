import { createTables } from '../../core/adapters/dynamodb/createTables.ts';
import { DynamoStore } from '../../core/adapters/dynamodb/dynamoStore.ts';
import { SagaAudit, type AuditTaskEvent } from '../../core/sagas/audit.ts';
import { DynamoSagaExecutionStore } from '../../core/sagas/dynamoExecutionStore.ts';
import { Sagas } from '../../core/sagas/sagas.ts';
import { Sluice } from '../../core/log/sluice.ts';
import { balanceOf, seedOrderTables } from '../../examples/order-saga/seed.ts';
import { orderSaga, type Order } from '../../examples/order-saga/saga.ts';
import { dynamoClientFromEnv } from '../../local/awsEnv.ts';
import { startLocalStack } from '../../local/stack.ts';
import { meteredClient } from '../meteredClient.ts';
import type { BenchSection } from '../section.ts';

const STEPS = orderSaga.steps.map((s) => s.name);
/** Standard workflows: USD per state transition (us-east-1 list price, 2026). */
const STANDARD_PRICE_PER_TRANSITION = 0.000025;

/**
 * Sagas: what the machinery costs per execution (DynamoDB requests and capacity for the start and
 * the audit events, measured with ReturnConsumedCapacity), how many Lambda invocations and state
 * transitions an execution takes (counted while the local stack runs the synthesized state
 * machine), and the local overhead of orchestration as a ratio to calling the three actions directly.
 */
export const sagasSection: BenchSection = {
  name: 'sagas',
  async run() {
    // ---- machinery cost: start + audit events, happy and aborted paths
    const meter = meteredClient();
    const tables = { log: 'bench-sagas-log', metadata: 'bench-sagas-meta' };
    await createTables(meter.client, tables);
    const store = new DynamoStore({ client: meter.client, tables });
    const sluice = new Sluice({ log: store, metadata: store });
    const executions = new DynamoSagaExecutionStore({ client: meter.client, table: tables.metadata });
    const audit = new SagaAudit({ sluice, executions });
    const sagas = new Sagas({
      catalog: [
        { name: 'bench', steps: STEPS, auditTopic: 'sagas.bench', type: 'STANDARD', stateMachineArn: 'arn:bench' },
      ],
      executions,
      launcher: { start: async () => {} },
    });
    await audit.record({
      kind: 'audit',
      saga: 'bench',
      topic: 'sagas.bench',
      type: 'started',
      executionId: 'warm-up',
      runId: 'r',
      seq: 0,
      partition: null,
      input: {},
    }); // creates the topic
    const paths: Record<
      'completed' | 'aborted',
      Omit<AuditTaskEvent, 'kind' | 'saga' | 'topic' | 'executionId' | 'seq' | 'runId' | 'partition'>[]
    > = {
      completed: [
        { type: 'started', input: { orderId: 'x' } },
        ...STEPS.map((step) => ({ type: 'step-succeeded' as const, step })),
        { type: 'completed' },
      ],
      aborted: [
        { type: 'started', input: { orderId: 'x' } },
        { type: 'step-succeeded', step: STEPS[0] },
        { type: 'step-succeeded', step: STEPS[1] },
        { type: 'step-failed', step: STEPS[2], error: { Error: 'Sluice.PermanentError', Cause: 'no address' } },
        { type: 'compensation-succeeded', step: STEPS[1], failedStep: STEPS[2] },
        { type: 'compensation-succeeded', step: STEPS[0], failedStep: STEPS[2] },
        { type: 'aborted', failedStep: STEPS[2], error: { Error: 'Sluice.PermanentError', Cause: 'no address' } },
      ],
    };
    const machinery: Record<string, { requests: number; read: number; write: number }> = {};
    const runs = 20;
    for (const [path, events] of Object.entries(paths)) {
      meter.reset();
      for (let i = 0; i < runs; i++) {
        const { executionId } = await sagas.start('bench', {
          input: { orderId: `o-${i}` },
          executionName: `${path}-${i}`,
        });
        let partition: number | null = null;
        for (const [seq, e] of events.entries())
          partition = (
            await audit.record({
              ...e,
              kind: 'audit',
              saga: 'bench',
              topic: 'sagas.bench',
              executionId,
              runId: 'bench-run',
              seq,
              partition,
            })
          ).result.partition;
      }
      const m = meter.read();
      machinery[path] = { requests: m.requests / runs, read: m.read / runs, write: m.write / runs };
    }

    // ---- the order saga on the local stack: invocations, transitions, overhead
    const invocations = new Map<string, number>();
    const stack = await startLocalStack({
      port: 0,
      tieringIntervalMs: 0,
      dynamoEndpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB ?? process.env.AWS_ENDPOINT_URL!,
      tables: { log: 'bench-saga-stack-log', metadata: 'bench-saga-stack-meta' },
      sagas: {
        retryIntervalMs: 0,
        triggerIntervalMs: 0,
        intercept: async ({ payload }, invoke) => {
          const id = (payload as { executionId?: string }).executionId ?? '';
          invocations.set(id, (invocations.get(id) ?? 0) + 1);
          return invoke();
        },
      },
    });
    const dynamo = dynamoClientFromEnv();
    const ids = Object.keys(stack.sagas!.tables);
    const orderTables = {
      inventory: stack.sagas!.tables[ids.find((i) => i.includes('Inventory'))!]!,
      payments: stack.sagas!.tables[ids.find((i) => i.includes('Payments'))!]!,
    };
    const order = (i: number, address = '1 Main St'): Order => ({
      orderId: `bench-${address === '' ? 'x' : 'o'}-${i}`,
      customerId: 'bench-customer',
      sku: 'bench-sku',
      quantity: 1,
      amount: 1,
      address,
    });
    await seedOrderTables(dynamo, orderTables, {
      sku: 'bench-sku',
      stock: 1_000_000,
      customerId: 'bench-customer',
      balance: 1_000_000,
    });
    const timed = async (address: string): Promise<{ ms: number; tasks: number }> => {
      const t0 = performance.now();
      for (let i = 0; i < runs; i++) {
        const res = await fetch(`${stack.url}/v1/sagas/order/executions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ input: order(i, address), executionName: order(i, address).orderId }),
        });
        if (res.status !== 202) throw new Error(`start failed: ${res.status}`);
        await stack.sagas!.stepFunctions.idle();
      }
      const ms = (performance.now() - t0) / runs;
      const tasks =
        [...invocations.entries()]
          .filter(([id]) => id.startsWith(`bench-${address === '' ? 'x' : 'o'}-`))
          .reduce((n, [, c]) => n + c, 0) / runs;
      return { ms, tasks };
    };
    const happy = await timed('1 Main St');
    const aborted = await timed('');
    const balance = await balanceOf(dynamo, orderTables.payments, 'bench-customer');
    // The same three actions called directly, in sequence, on the same tables.
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) {
      const input = { ...order(1000 + i) };
      const results: Record<string, never> = {};
      for (const step of orderSaga.steps)
        await step.action({
          saga: 'order',
          executionId: input.orderId,
          step: step.name,
          idempotencyKey: `${input.orderId}/${step.name}`,
          input,
          results,
        });
    }
    const directMs = (performance.now() - t0) / runs;
    await stack.stop();
    if (balance !== 1_000_000 - runs)
      throw new Error(`the bench's saga runs charged ${1_000_000 - balance}, expected ${runs}`);

    const transitions = { completed: happy.tasks + 1, aborted: aborted.tasks + 1 }; // each Task state, plus the final Succeed or Fail
    const row = (label: string, a: number | string, b: number | string) => `| ${label} | ${a} | ${b} |`;
    return {
      title: 'Sagas: machinery cost per execution, and local orchestration overhead',
      table: [
        '| per execution of the 3-step order saga | completed | aborted at the last step |',
        '|---|---:|---:|',
        row(
          'DynamoDB requests by Sluice (start + audit events)',
          machinery.completed!.requests.toFixed(1),
          machinery.aborted!.requests.toFixed(1),
        ),
        row(
          'write capacity units by Sluice',
          machinery.completed!.write.toFixed(1),
          machinery.aborted!.write.toFixed(1),
        ),
        row('read capacity units by Sluice', machinery.completed!.read.toFixed(1), machinery.aborted!.read.toFixed(1)),
        row('Lambda invocations (steps + audit)', happy.tasks.toFixed(0), aborted.tasks.toFixed(0)),
        row('Step Functions state transitions (Standard bills these)', transitions.completed, transitions.aborted),
        row(
          'Standard workflow price per 1M executions (USD, at $0.025 per 1,000 transitions)',
          (transitions.completed * STANDARD_PRICE_PER_TRANSITION * 1e6).toFixed(0),
          (transitions.aborted * STANDARD_PRICE_PER_TRANSITION * 1e6).toFixed(0),
        ),
        row('local: ms per execution through the state machine', happy.ms.toFixed(1), aborted.ms.toFixed(1)),
        row('local: ms for the 3 actions called directly', directMs.toFixed(1), '-'),
        row('ratio orchestrated / direct (local)', (happy.ms / directMs).toFixed(2), '-'),
      ].join('\n'),
      notes: [
        `Machinery cost is measured on DynamoDB Local with ReturnConsumedCapacity over ${runs} executions per path; the example's own inventory and payment writes are not included.`,
        'Each audit event is one idempotent append (a transaction with the producer state) plus one conditional update of the execution record; the start is one conditional put (holding the launch lease) and one update.',
        'Transitions are counted from the Task invocations the local interpreter made, plus the final state; Express workflows are billed by requests and duration instead.',
      ],
      summary: {
        sagaDynamoRequestsPerCompletedExecution: Number(machinery.completed!.requests.toFixed(1)),
        sagaWriteUnitsPerCompletedExecution: Number(machinery.completed!.write.toFixed(1)),
        sagaTransitionsPerCompletedExecution: transitions.completed,
        sagaTransitionsPerAbortedExecution: transitions.aborted,
        sagaOrchestratedVsDirectRatio: Number((happy.ms / directMs).toFixed(2)),
      },
    };
  },
};
