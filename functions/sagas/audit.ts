import { MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  SagaAudit,
  type AuditTaskEvent,
  type AuditTaskResult,
  type ExecutionStoppedEvent,
} from '../../core/sagas/audit.ts';
import { eventHandler } from '../eventHandler.ts';
import { logger, metrics, sluice } from '../runtime.ts';
import { sagaExecutions } from './stores.ts';

const topics = process.env.SLUICE_SAGA_AUDIT_TOPICS;
const audit = new SagaAudit({
  sluice,
  executions: sagaExecutions,
  ...(topics === undefined || topics === '' ? {} : { topics: JSON.parse(topics) as Record<string, string> }),
});

/** Terminal and alerting events become metrics; the stack alarms on `SagaCompensationFailed` and `SagaExecutionFailed`. */
function count(metric: string, saga: string): void {
  const single = metrics.singleMetric();
  single.addDimension('Saga', saga);
  single.addMetric(metric, MetricUnit.Count, 1);
}

const METRIC_FOR: Partial<Record<AuditTaskEvent['type'], string>> = {
  completed: 'SagaCompleted',
  aborted: 'SagaAborted',
  'compensation-failed': 'SagaCompensationFailed',
};

/**
 * The saga audit task: every lifecycle state of every saga's state machine calls it (see
 * `buildSagaStateMachine`). Appends the event to the saga's audit topic and its execution record,
 * once per event however often Step Functions retries. EventBridge also sends it executions that
 * stopped (Standard state machines), which become a `failed` event unless the saga already ended.
 */
export const handler = eventHandler(
  async (event: AuditTaskEvent | ExecutionStoppedEvent): Promise<AuditTaskResult | { recorded: boolean }> => {
    metrics.addMetric('SagaAuditCalls', MetricUnit.Count, 1);
    if (event.kind === 'stopped') {
      const recorded = await audit.recordStop(event);
      if (recorded !== undefined) {
        count('SagaExecutionFailed', recorded.saga);
        logger.error('Saga execution stopped outside its own paths; compensations may not have run', {
          saga: recorded.saga,
          executionId: recorded.executionId,
          error: recorded.error,
        });
      }
      return { recorded: recorded !== undefined };
    }
    // A second run of an execution throws DuplicateRun, which leaves as `Sluice.DuplicateRun`
    // (see eventHandler): the Started state then fails this run at once (see buildSagaStateMachine).
    const { result, event: recorded } = await audit.record(event);
    const metric = METRIC_FOR[recorded.type];
    if (metric !== undefined) count(metric, recorded.saga);
    if (recorded.type === 'compensation-failed') {
      logger.error('Saga compensation failed; an operator must finish the undo', {
        saga: recorded.saga,
        executionId: recorded.executionId,
        step: recorded.step,
        error: recorded.error,
      });
    }
    return result;
  },
);
