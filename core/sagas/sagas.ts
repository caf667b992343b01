import { randomUUID } from 'node:crypto';
import { ExecutionAlreadyExists, ExecutionNotFound, InvalidArgument, SagaNotFound } from '../errors.ts';
import {
  checkExecutionName,
  checkSagaInput,
  inputDigest,
  LaunchInProgress,
  stepHistory,
  type SagaExecution,
  type SagaExecutionStore,
  type SagaExecutionSummary,
  type SagaStatus,
} from './executions.ts';
import type { SagaTrigger } from './definition.ts';
import { executionInput, type SagaExecutionInput } from './stateMachine.ts';

/** A deployed saga, as the stack describes it to the functions (`SLUICE_SAGAS`). */
export interface SagaInfo {
  readonly name: string;
  readonly steps: readonly string[];
  readonly auditTopic: string;
  readonly type: 'STANDARD' | 'EXPRESS';
  readonly stateMachineArn: string;
  readonly trigger?: SagaTrigger;
}

/** Starts a state machine execution; must treat a repeated start of the same name as done. */
export interface SagaLauncher {
  start(saga: SagaInfo, executionId: string, input: SagaExecutionInput): Promise<void>;
}

/** How long one start call may take to launch before another may try. */
const LAUNCH_LEASE_MS = 30_000;
/** How long a start waits for a concurrent start's launch before answering LaunchInProgress. */
const LAUNCH_WAIT_MS = 5_000;

export interface StartRequest {
  readonly input?: unknown;
  readonly executionName?: unknown;
}

export type ExecutionView = SagaExecution & { steps: ReturnType<typeof stepHistory> };

/**
 * Starting, describing and listing saga executions. A start first records the execution under
 * its name (a conditional write), then asks Step Functions to run it: the same name twice is one
 * execution, for Standard and Express state machines alike.
 */
export class Sagas {
  private readonly catalog: ReadonlyMap<string, SagaInfo>;
  private readonly executions: SagaExecutionStore;
  private readonly launcher: SagaLauncher;
  private readonly now: () => number;

  private readonly launchWaitMs: number;

  /** `launchWaitMs`: how long a start waits for a concurrent start's launch (default 5 s). */
  constructor(options: {
    catalog: readonly SagaInfo[];
    executions: SagaExecutionStore;
    launcher: SagaLauncher;
    now?: () => number;
    launchWaitMs?: number;
  }) {
    this.launchWaitMs = options.launchWaitMs ?? LAUNCH_WAIT_MS;
    this.catalog = new Map(options.catalog.map((s) => [s.name, s]));
    this.executions = options.executions;
    this.launcher = options.launcher;
    this.now = options.now ?? Date.now;
  }

  list(): SagaInfo[] {
    return [...this.catalog.values()];
  }

  info(saga: string): SagaInfo {
    const info = this.catalog.get(saga);
    if (info === undefined) throw new SagaNotFound(saga);
    return info;
  }

  async start(
    saga: string,
    request: StartRequest,
  ): Promise<{ executionId: string; status: SagaStatus; created: boolean }> {
    const info = this.info(saga);
    const executionId = request.executionName === undefined ? randomUUID() : checkExecutionName(request.executionName);
    const input = checkSagaInput(request.input);
    // A new record is created holding the launch lease, so a first start costs no extra write.
    const holder = randomUUID();
    const { created, execution } = await this.executions.create({
      saga,
      executionId,
      input,
      createdAt: this.now(),
      launchLease: { holder, ttlMs: LAUNCH_LEASE_MS },
    });
    if (!created) {
      if (execution.inputDigest !== inputDigest(input)) throw new ExecutionAlreadyExists(saga, executionId);
      if (execution.launched) return { executionId, status: execution.status, created: false };
    }
    // New, or recorded by a start that failed before reaching Step Functions: (re)launch, unless
    // a concurrent start holds the launch. Should two runs still start (a launch whose reply was
    // lost, on Express, which does not de-duplicate names), the second is refused at its first
    // state by its run id, before any step.
    if (!created && !(await this.executions.leaseLaunch(saga, executionId, holder, this.now(), LAUNCH_LEASE_MS))) {
      // Another request is launching it: wait for that launch, briefly; else ask the caller to retry.
      for (let waited = 0; waited < this.launchWaitMs; waited += 250) {
        await new Promise((r) => setTimeout(r, 250));
        const current = await this.executions.get(saga, executionId);
        if (current?.launched) return { executionId, status: current.status, created };
      }
      throw new LaunchInProgress(executionId);
    }
    try {
      await this.launcher.start(info, executionId, executionInput(executionId, randomUUID(), input));
    } catch (e) {
      // Refused: the next start may try at once (a failed release only delays it to the lease's end).
      await this.executions.releaseLaunch(saga, executionId, holder).catch(() => undefined);
      throw e;
    }
    await this.executions.markLaunched(saga, executionId);
    return { executionId, status: execution.status, created };
  }

  async describe(saga: string, executionId: string): Promise<ExecutionView> {
    const info = this.info(saga);
    checkExecutionName(executionId);
    const execution = await this.executions.get(saga, executionId);
    if (execution === undefined) throw new ExecutionNotFound(saga, executionId);
    return { ...execution, steps: stepHistory(info.steps, execution.events) };
  }

  async listExecutions(
    saga: string,
    options: { limit?: unknown; after?: unknown } = {},
  ): Promise<{ executions: SagaExecutionSummary[]; next?: string }> {
    this.info(saga);
    const limit = options.limit === undefined ? 50 : Number(options.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new InvalidArgument('limit', 'limit must be an integer from 1 to 1000');
    const after = options.after === undefined ? undefined : checkExecutionName(options.after);
    return this.executions.list(saga, { limit, ...(after === undefined ? {} : { after }) });
  }
}

export function parseSagaCatalog(json: string | undefined): SagaInfo[] {
  if (json === undefined || json === '') return [];
  const parsed = JSON.parse(json) as SagaInfo[] | Record<string, Omit<SagaInfo, 'name'>>;
  return Array.isArray(parsed) ? parsed : Object.entries(parsed).map(([name, info]) => ({ ...info, name }));
}
