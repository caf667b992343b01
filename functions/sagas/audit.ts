import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { SagaAudit, type AuditTaskEvent, type AuditTaskResult } from '../../core/sagas/audit.ts';
import { logger, metrics, sagaExecutions, sluice } from '../runtime.ts';

const audit = new SagaAudit({ sluice, executions: sagaExecutions });

/** Terminal and alerting events become metrics; `SagaCompensationFailed` is what the stack alarms on. */
const METRIC_FOR: Partial<Record<AuditTaskEvent['type'], string>> = {
  completed: 'SagaCompleted',
  aborted: 'SagaAborted',
  'compensation-failed': 'SagaCompensationFailed',
};

/**
 * The saga audit task: every lifecycle state of every saga's state machine calls it (see
 * `buildSagaStateMachine`). Appends the event to the saga's audit topic and its execution record,
 * once per event however often Step Functions retries.
 */
export const handler = async (event: AuditTaskEvent): Promise<AuditTaskResult> => {
  const { result, event: recorded } = await audit.record(event);
  const metric = METRIC_FOR[recorded.type];
  if (metric !== undefined) {
    const single = metrics.singleMetric();
    single.addDimension('Saga', recorded.saga);
    single.addMetric(metric, MetricUnit.Count, 1);
  }
  if (recorded.type === 'compensation-failed') {
    logger.error('Saga compensation failed; an operator must finish the undo', { saga: recorded.saga, executionId: recorded.executionId, step: recorded.step, error: recorded.error });
  }
  return result;
};
