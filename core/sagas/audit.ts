import { InvalidArgument, isSluiceError } from '../errors.ts';
import { partitionForKey } from '../log/murmur2.ts';
import type { Sluice } from '../log/sluice.ts';
import {
  errorSummary,
  SAGA_EVENT_TYPES,
  TERMINAL_STATUSES,
  type SagaEvent,
  type SagaEventType,
  type SagaExecutionStore,
} from './executions.ts';

/** What an audit state sends (see `buildSagaStateMachine`). */
export interface AuditTaskEvent {
  readonly kind: 'audit';
  readonly saga: string;
  readonly topic: string;
  readonly type: SagaEventType;
  readonly executionId: string;
  /** The launch this call belongs to (see `executionInput`). */
  readonly runId: string;
  readonly seq: number;
  /** The audit topic partition chosen at `started`; null for `started` itself. */
  readonly partition: number | null;
  readonly step?: string;
  /** On `step-failed`: `indeterminate` when the step may have acted (its compensation runs too). */
  readonly outcome?: 'indeterminate';
  readonly failedStep?: string;
  /** Step Functions' error output `{Error, Cause}`. */
  readonly error?: unknown;
  readonly input?: unknown;
}

/** What an audit state puts back in the state data at `$.audit`. */
export interface AuditTaskResult {
  readonly seq: number;
  readonly partition: number;
  readonly failedStep?: string;
  /** On `aborted`: the failed step's error, for the Fail state's cause. */
  readonly cause?: string;
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
  readonly detail: {
    readonly name: string;
    readonly status: 'FAILED' | 'TIMED_OUT' | 'ABORTED';
    readonly error?: string | null;
    readonly cause?: string | null;
    readonly input?: string | null;
  };
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

  private readonly topics: Readonly<Record<string, string>> | undefined;

  /** `topics`: each deployed saga's audit topic; events of other sagas, or for other topics, are refused. */
  constructor(options: {
    sluice: Sluice;
    executions: SagaExecutionStore;
    topics?: Readonly<Record<string, string>>;
    now?: () => number;
  }) {
    this.sluice = options.sluice;
    this.executions = options.executions;
    this.topics = options.topics;
    this.now = options.now ?? Date.now;
  }

  /** The caller names saga and topic; the deployment says which pairs exist. */
  private checkTopic(saga: string, topic: string): void {
    if (this.topics === undefined) return;
    if (!Object.hasOwn(this.topics, saga) || this.topics[saga] !== topic)
      throw new InvalidArgument('topic', `Saga ${JSON.stringify(saga)} does not audit to ${JSON.stringify(topic)}`);
  }

  async record(task: AuditTaskEvent): Promise<{ result: AuditTaskResult; event: SagaEvent }> {
    const event = this.toEvent(task);
    this.checkTopic(task.saga, task.topic);
    // Every event of an execution goes to the partition its `started` went to, even if the topic
    // has grown since, so the producer's sequence numbers stay on one partition log.
    const partition = await this.append(
      task.topic,
      event,
      task.type === 'started' ? task.input : undefined,
      task.partition ?? undefined,
    );
    await this.executions.applyEvent(event, task.runId, partition);
    const failedStep = event.type === 'step-failed' ? event.step : event.failedStep;
    return {
      result: {
        seq: event.seq + 1,
        partition,
        ...(failedStep === undefined ? {} : { failedStep }),
        ...(event.type === 'aborted'
          ? { cause: event.error === undefined ? 'A step failed' : `${event.error.error}: ${event.error.message}` }
          : {}),
      },
      event,
    };
  }

  /**
   * Records that an execution stopped without reaching one of the saga's own ends (a `failed`
   * event), unless it already ended: the saga's Fail states also stop executions, after their
   * `aborted` or `compensation-failed` event. Returns the event recorded, if any.
   */
  async recordStop(stop: ExecutionStoppedEvent): Promise<SagaEvent | undefined> {
    if (
      stop?.kind !== 'stopped' ||
      typeof stop.saga !== 'string' ||
      typeof stop.detail?.name !== 'string' ||
      typeof stop.topic !== 'string'
    ) {
      throw new InvalidArgument('kind', 'Not an execution-stopped event');
    }
    this.checkTopic(stop.saga, stop.topic);
    const { name: executionId, status, error: name, cause } = stop.detail;
    const error =
      status === 'FAILED'
        ? errorSummary({ Error: name ?? 'Unknown', Cause: cause ?? '' })!
        : {
            error: status === 'TIMED_OUT' ? 'States.Timeout' : 'States.Aborted',
            message: `The execution was ${status === 'TIMED_OUT' ? 'timed out' : 'stopped'} by Step Functions`,
          };
    for (let attempt = 0; attempt < 5; attempt++) {
      const execution = await this.executions.get(stop.saga, executionId);
      const last = execution?.events.at(-1);
      if (execution?.status === 'FAILED' && last?.type === 'failed') {
        // Recorded by an earlier delivery of this event that may not have reached the topic.
        await this.append(stop.topic, last, undefined, execution.auditPartition, {
          id: `saga/${stop.saga}/${executionId}/stopped`,
          epoch: 0,
          sequence: 0,
        });
        return undefined;
      }
      if (execution === undefined || TERMINAL_STATUSES.includes(execution.status)) return undefined;
      // A second run refused at Started (Express) stops too; the first run is still the execution.
      if (
        execution.runId !== undefined &&
        runIdOf(stop.detail.input) !== undefined &&
        runIdOf(stop.detail.input) !== execution.runId
      )
        return undefined;
      const event: SagaEvent = {
        seq: execution.events.length,
        type: 'failed',
        saga: stop.saga,
        executionId,
        at: this.now(),
        error,
      };
      try {
        await this.executions.applyEvent(event);
      } catch (e) {
        if (isSluiceError(e, 'SagaEventConflict')) continue; // an audit call landed first: look again
        throw e;
      }
      // Its own producer: the number may be one an audit call of unknown outcome also used.
      await this.append(stop.topic, event, undefined, execution.auditPartition, {
        id: `saga/${stop.saga}/${executionId}/stopped`,
        epoch: 0,
        sequence: 0,
      });
      return event;
    }
    throw new Error(`Saga ${stop.saga} execution ${executionId}: could not record its stop`);
  }

  private toEvent(task: AuditTaskEvent): SagaEvent {
    if (task?.kind !== 'audit' || !SAGA_EVENT_TYPES.includes(task.type) || task.type === 'failed')
      throw new InvalidArgument('type', `Not a saga audit event: ${JSON.stringify(task?.type)}`);
    if (!Number.isInteger(task.seq) || task.seq < 0)
      throw new InvalidArgument('seq', 'seq must be a non-negative integer');
    if (
      typeof task.executionId !== 'string' ||
      typeof task.saga !== 'string' ||
      typeof task.topic !== 'string' ||
      typeof task.runId !== 'string'
    )
      throw new InvalidArgument('executionId', 'saga, topic, executionId and runId are required');
    if (task.partition !== null && !(Number.isInteger(task.partition) && task.partition >= 0))
      throw new InvalidArgument('partition', 'partition must be null or a partition number');
    const error = errorSummary(task.error);
    return {
      seq: task.seq,
      type: task.type,
      saga: task.saga,
      executionId: task.executionId,
      at: this.now(),
      ...(task.step === undefined ? {} : { step: task.step }),
      ...(task.failedStep === undefined ? {} : { failedStep: task.failedStep }),
      ...(task.outcome === 'indeterminate' ? { outcome: task.outcome } : {}),
      ...(error === undefined ? {} : { error }),
    };
  }

  /** Where a keyed record goes, as the engine places it. */
  private async keyedPartition(topic: string, key: string): Promise<number> {
    const counts = await this.sluice.partitionCounts([topic]);
    return partitionForKey(new TextEncoder().encode(key), counts[topic] ?? 1);
  }

  /** Appends once (idempotent producer); returns the partition the event is on. */
  private async append(
    topic: string,
    event: SagaEvent,
    input: unknown,
    partition?: number,
    producer = { id: `saga/${event.saga}/${event.executionId}`, epoch: 0, sequence: event.seq },
  ): Promise<number> {
    const record = {
      key: event.executionId,
      value: input === undefined ? { ...event } : { ...event, input },
      headers: { 'sluice-saga': event.saga, 'sluice-saga-event': event.type },
      ...(partition === undefined ? {} : { partition }),
    };
    for (let attempt = 0; ; attempt++) {
      try {
        return (await this.sluice.append(topic, [record], { producer }))[0]!.partition;
      } catch (e) {
        // Retention already removed the original: it was appended, which is all a retry needs.
        if (isSluiceError(e, 'DuplicateSequence'))
          return partition ?? (await this.keyedPartition(topic, event.executionId));
        // The topic was deleted and made again, so the producer's state is gone: keep the trail
        // going without de-duplication rather than stop the saga.
        if (isSluiceError(e, 'OutOfOrderSequence')) return (await this.sluice.append(topic, [record]))[0]!.partition;
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

function runIdOf(input: unknown): string | undefined {
  try {
    const parsed = (typeof input === 'string' ? JSON.parse(input) : input) as { runId?: unknown } | null;
    return typeof parsed?.runId === 'string' ? parsed.runId : undefined;
  } catch {
    return undefined;
  }
}
