import { InvalidArgument, isSluiceError } from '../errors.ts';
import type { Sluice } from '../sluice.ts';
import { errorSummary, SAGA_EVENT_TYPES, TERMINAL_STATUSES, type SagaEvent, type SagaEventType, type SagaExecutionStore } from './executions.ts';

/** What an audit state sends (see `buildSagaStateMachine`). */
export interface AuditTaskEvent {
  readonly kind: 'audit';
  readonly saga: string;
  readonly topic: string;
  readonly type: SagaEventType;
  readonly executionId: string;
  readonly seq: number;
  readonly step?: string;
  readonly failedStep?: string;
  /** Step Functions' error output `{Error, Cause}`. */
  readonly error?: unknown;
  readonly input?: unknown;
}

/** What an audit state puts back in the state data at `$.audit`. */
export interface AuditTaskResult {
  readonly seq: number;
  readonly failedStep?: string;
}

/**
 * Step Functions reporting that an execution stopped (EventBridge's "Step Functions Execution
 * Status Change", for Standard state machines), shaped by the rule's input transformer.
 */
export interface ExecutionStoppedEvent {
  readonly kind: 'stopped';
  readonly saga: string;
  readonly topic: string;
  /** The event's detail: the execution name is the execution id. */
  readonly detail: { readonly name: string; readonly status: 'FAILED' | 'TIMED_OUT' | 'ABORTED'; readonly error?: string | null; readonly cause?: string | null };
}

/** Partitions of an audit topic the audit function creates on first use. */
export const AUDIT_TOPIC_PARTITIONS = 3;

/**
 * Records one saga lifecycle event, exactly once however often Step Functions retries the call:
 * - appended to the saga's audit topic, keyed by execution id (so one execution's events share a
 *   partition and keep their order), through an idempotent producer whose id is the execution
 *   and whose sequence number is the event's `seq`: a retry gets the original offset back;
 * - applied to the execution record under a condition on `seq`.
 */
export class SagaAudit {
  private readonly sluice: Sluice;
  private readonly executions: SagaExecutionStore;
  private readonly now: () => number;

  constructor(options: { sluice: Sluice; executions: SagaExecutionStore; now?: () => number }) {
    this.sluice = options.sluice;
    this.executions = options.executions;
    this.now = options.now ?? Date.now;
  }

  async record(task: AuditTaskEvent): Promise<{ result: AuditTaskResult; event: SagaEvent }> {
    const event = this.toEvent(task);
    await this.append(task.topic, event, task.type === 'started' ? task.input : undefined);
    await this.executions.applyEvent(event);
    const failedStep = event.type === 'step-failed' ? event.step : event.failedStep;
    return { result: failedStep === undefined ? { seq: event.seq + 1 } : { seq: event.seq + 1, failedStep }, event };
  }

  /**
   * Records that an execution stopped without reaching one of the saga's own ends (a `failed`
   * event), unless it already ended: the saga's Fail states also stop executions, after their
   * `aborted` or `compensation-failed` event. Returns the event recorded, if any.
   */
  async recordStop(stop: ExecutionStoppedEvent): Promise<SagaEvent | undefined> {
    if (stop?.kind !== 'stopped' || typeof stop.saga !== 'string' || typeof stop.detail?.name !== 'string' || typeof stop.topic !== 'string') {
      throw new InvalidArgument('kind', 'Not an execution-stopped event');
    }
    const { name: executionId, status, error: name, cause } = stop.detail;
    const execution = await this.executions.get(stop.saga, executionId);
    if (execution === undefined || TERMINAL_STATUSES.includes(execution.status)) return undefined;
    const error =
      status === 'FAILED'
        ? errorSummary({ Error: name ?? 'Unknown', Cause: cause ?? '' })!
        : { error: status === 'TIMED_OUT' ? 'States.Timeout' : 'States.Aborted', message: `The execution was ${status === 'TIMED_OUT' ? 'timed out' : 'stopped'} by Step Functions` };
    const event: SagaEvent = { seq: execution.events.length, type: 'failed', saga: stop.saga, executionId, at: this.now(), error };
    // Its own producer: a stop may follow an audit call whose outcome is unknown, whose sequence number it must not reuse.
    await this.append(stop.topic, event, undefined, { id: `saga/${stop.saga}/${executionId}/stopped`, epoch: 0, sequence: 0 });
    await this.executions.applyEvent(event);
    return event;
  }

  private toEvent(task: AuditTaskEvent): SagaEvent {
    if (task?.kind !== 'audit' || !SAGA_EVENT_TYPES.includes(task.type) || task.type === 'failed') throw new InvalidArgument('type', `Not a saga audit event: ${JSON.stringify(task?.type)}`);
    if (!Number.isInteger(task.seq) || task.seq < 0) throw new InvalidArgument('seq', 'seq must be a non-negative integer');
    if (typeof task.executionId !== 'string' || typeof task.saga !== 'string' || typeof task.topic !== 'string') throw new InvalidArgument('executionId', 'saga, topic and executionId are required');
    const error = errorSummary(task.error);
    return {
      seq: task.seq,
      type: task.type,
      saga: task.saga,
      executionId: task.executionId,
      at: this.now(),
      ...(task.step === undefined ? {} : { step: task.step }),
      ...(task.failedStep === undefined ? {} : { failedStep: task.failedStep }),
      ...(error === undefined ? {} : { error }),
    };
  }

  private async append(topic: string, event: SagaEvent, input: unknown, producer = { id: `saga/${event.saga}/${event.executionId}`, epoch: 0, sequence: event.seq }): Promise<void> {
    const record = {
      key: event.executionId,
      value: input === undefined ? { ...event } : { ...event, input },
      headers: { 'sluice-saga': event.saga, 'sluice-saga-event': event.type },
    };
    for (let attempt = 0; ; attempt++) {
      try {
        await this.sluice.append(topic, [record], { producer });
        return;
      } catch (e) {
        // Retention already removed the original: it was appended, which is all a retry needs.
        if (isSluiceError(e, 'DuplicateSequence')) return;
        if (!isSluiceError(e, 'TopicNotFound') || attempt > 0) throw e;
        try {
          await this.sluice.createTopic(topic, { partitions: AUDIT_TOPIC_PARTITIONS });
        } catch (created) {
          if (!isSluiceError(created, 'TopicAlreadyExists')) throw created;
        }
      }
    }
  }
}
