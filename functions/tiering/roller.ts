import { eventHandler } from '../eventHandler.ts';
import { logger, metrics, tiering } from '../runtime.ts';
import { sendWorkUnits } from './rollQueue.ts';
import { publishReports } from './reports.ts';

/**
 * The segment roller, on a schedule. In the stack it only plans: one work unit per partition (and
 * one for purging deleted topics) goes to the roll queue, whose worker (`rollWorker.ts`) runs them
 * in parallel, each bounded by its own time and retried alone when it fails. Without a queue
 * (`SLUICE_ROLL_QUEUE_URL` unset) it runs the whole pass itself until its deadline; every step is
 * a resumable state machine in DynamoDB, so what it leaves is done by the next run.
 */
export const handler = eventHandler(async (_event: unknown, context) => {
  const queueUrl = process.env.SLUICE_ROLL_QUEUE_URL;
  if (queueUrl !== undefined && queueUrl !== '') {
    // Once a day (the run that starts in the first five minutes after 03:00 UTC) the units also
    // sweep unreferenced objects; once an hour, object-storage topics' batch objects.
    const now = new Date();
    const units = await tiering.plan({
      sweep: now.getUTCHours() === 3 && now.getUTCMinutes() < 5,
      sweepBatches: now.getUTCMinutes() < 5,
    });
    const unsent = await sendWorkUnits(queueUrl, units);
    metrics.addMetric('RollUnitsDispatched', 'Count', units.length - unsent);
    if (unsent > 0) logger.warn('work units not sent; the next run plans them again', { unsent });
    return { dispatched: units.length - unsent, unsent };
  }
  // Stop well before the function's timeout; what is left is resumed by the next run.
  const deadline = Date.now() + (context.getRemainingTimeInMillis?.() ?? 300_000) - 30_000;
  const { reports, complete, remaining } = await tiering.runUntil(deadline);
  if (!complete) logger.warn('tiering pass stopped at its deadline', { remaining });
  return { ...publishReports(reports), complete, remaining };
});
