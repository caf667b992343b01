import { randomUUID } from 'node:crypto';
import { Connection, type ConnectionOptions } from './http.ts';
import type { SagaTrigger } from '../core/sagas/definition.ts';
import {
  TERMINAL_STATUSES,
  type SagaEvent,
  type SagaExecutionSummary,
  type SagaStatus,
  type StepStatus,
} from '../core/sagas/executions.ts';
import type { Value } from './records.ts';

export type { SagaEvent, SagaExecutionSummary, SagaStatus };

export interface SagaSummary {
  readonly name: string;
  readonly steps: string[];
  readonly auditTopic: string;
  readonly type: 'STANDARD' | 'EXPRESS';
  readonly trigger?: SagaTrigger;
}

export interface SagaExecution extends SagaExecutionSummary {
  readonly input: Value;
  readonly events: SagaEvent[];
  readonly steps: { step: string; status: StepStatus; error?: { error: string; message: string } }[];
}

/** Statuses an execution never leaves. */
export const FINAL_SAGA_STATUSES = TERMINAL_STATUSES;

const executions = (saga: string): string => `v1/sagas/${encodeURIComponent(saga)}/executions`;

/**
 * Sagas over the HTTP API: start executions (idempotent by name), follow them, list them.
 *
 * @example
 * const sagas = new SagaClient({ url });
 * const { executionId } = await sagas.start('order', order, { executionName: order.orderId });
 * const done = await sagas.waitFor('order', executionId);
 * if (done.status !== 'SUCCEEDED') console.log(done.steps);
 */
export class SagaClient {
  private readonly http: Connection;

  constructor(options: ConnectionOptions | Connection) {
    this.http = options instanceof Connection ? options : new Connection(options);
  }

  async list(): Promise<SagaSummary[]> {
    return (await this.http.request<{ sagas: SagaSummary[] }>('GET', 'v1/sagas')).sagas;
  }

  /**
   * Starts an execution; with the same `executionName` and input again, returns the same one
   * (`created: false`). Without a name, one is made here, so the client's own retries of this
   * call cannot start a second execution.
   */
  start(
    saga: string,
    input: Value,
    options: { executionName?: string } = {},
  ): Promise<{ saga: string; executionId: string; status: SagaStatus; created: boolean }> {
    return this.http.request('POST', executions(saga), {
      body: { input, executionName: options.executionName ?? randomUUID() },
    });
  }

  describe(saga: string, executionId: string): Promise<SagaExecution> {
    return this.http.request('GET', `${executions(saga)}/${encodeURIComponent(executionId)}`);
  }

  listExecutions(
    saga: string,
    options: { limit?: number; after?: string } = {},
  ): Promise<{ executions: SagaExecutionSummary[]; next?: string }> {
    return this.http.request('GET', executions(saga), { query: { limit: options.limit, after: options.after } });
  }

  /** Polls until the execution reaches a final status (or the timeout passes, which throws). */
  async waitFor(
    saga: string,
    executionId: string,
    options: { timeoutMs?: number; intervalMs?: number } = {},
  ): Promise<SagaExecution> {
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    for (;;) {
      const execution = await this.describe(saga, executionId);
      if (FINAL_SAGA_STATUSES.includes(execution.status)) return execution;
      if (Date.now() >= deadline)
        throw new Error(
          `Saga ${saga} execution ${executionId} is still ${execution.status} after ${options.timeoutMs ?? 60_000} ms`,
        );
      await new Promise((r) => setTimeout(r, options.intervalMs ?? 500));
    }
  }
}
