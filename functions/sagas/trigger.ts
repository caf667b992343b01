import { SagaTriggers, type TriggerRun } from '../../core/sagas/triggers.ts';
import { eventHandler } from '../eventHandler.ts';
import { groups, logger, metrics } from '../runtime.ts';
import { leases } from './stores.ts';
import { sagas } from './service.ts';

const triggers = new SagaTriggers({ sagas, groups, leases, log: (message, details) => logger.warn(message, details) });

/**
 * Starts saga executions from topic records. The log table's stream invokes it when records are
 * appended (a doorbell: the records themselves are read through the trigger's consumer group),
 * and a schedule invokes it every minute in case a doorbell was missed.
 */
export const handler = eventHandler(async (_event: unknown, context): Promise<{ runs: TriggerRun[] }> => {
  // Stop polling well before the function's timeout; what is left waits for the next ring.
  const runs = await triggers.runOnce({
    maxPolls: 100,
    deadline: Date.now() + (context.getRemainingTimeInMillis?.() ?? 60_000) - 15_000,
  });
  for (const run of runs) if (run.started > 0 || run.conflicts > 0) logger.info('Saga trigger ran', { ...run });
  metrics.addMetric(
    'SagaTriggerStarts',
    'Count',
    runs.reduce((n, run) => n + run.started, 0),
  ); // 0 too: a steady series
  return { runs };
});
