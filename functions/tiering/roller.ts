import { eventHandler } from '../eventHandler.ts';
import { logger, metrics, tiering } from '../runtime.ts';

/**
 * The segment roller, on a schedule: rolls old batches of every partition into S3 segments and
 * applies retention. Each roll is a state machine in DynamoDB, so a run that dies or times out is
 * finished by the next one.
 */
export const handler = eventHandler(async (_event: unknown, context) => {
  // Stop well before the function's timeout; what is left is resumed by the next run.
  const deadline = Date.now() + (context.getRemainingTimeInMillis?.() ?? 300_000) - 30_000;
  const { reports: partitions, complete, remaining } = await tiering.runUntil(deadline);
  if (!complete) logger.warn('tiering pass stopped at its deadline', { remaining });
  const rolled = partitions.reduce((n, p) => n + p.rolled, 0);
  const expired = partitions.reduce((n, p) => n + p.expired, 0);
  metrics.addMetric('SegmentsRolled', 'Count', rolled);
  metrics.addMetric('SegmentsExpired', 'Count', expired);
  const failed = partitions.filter((p) => p.errors !== undefined);
  metrics.addMetric('TieringPartitionFailures', 'Count', failed.length);
  for (const p of failed)
    logger.warn('tiering step failed', { topic: p.topic, partition: p.partition, errors: p.errors });
  logger.info('tiering pass', { partitions: partitions.length, rolled, expired, failed: failed.length });
  return { partitions: partitions.length, rolled, expired, failed: failed.length, complete, remaining };
});
