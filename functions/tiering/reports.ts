import type { PartitionReport } from '../../core/tiering/tiering.ts';
import { logger, metrics } from '../powertools.ts';

/** Metrics and log lines of a batch of partition reports: what rolled, expired and failed, and the roller's lag. */
export function publishReports(reports: readonly PartitionReport[]): {
  partitions: number;
  rolled: number;
  expired: number;
  failed: number;
} {
  const rolled = reports.reduce((n, p) => n + p.rolled, 0);
  const expired = reports.reduce((n, p) => n + p.expired, 0);
  const lagMs = Math.max(0, ...reports.map((p) => p.lagMs ?? 0));
  metrics.addMetric('SegmentsRolled', 'Count', rolled);
  metrics.addMetric('SegmentsExpired', 'Count', expired);
  metrics.addMetric('RollerLagSeconds', 'Seconds', Math.round(lagMs / 1000));
  const failed = reports.filter((p) => p.errors !== undefined);
  metrics.addMetric('TieringPartitionFailures', 'Count', failed.length);
  for (const p of failed)
    logger.warn('tiering step failed', { topic: p.topic, partition: p.partition, errors: p.errors });
  for (const p of reports.filter((r) => (r.lagMs ?? 0) > 0))
    logger.info('roller behind', { topic: p.topic, partition: p.partition, lagMs: p.lagMs });
  logger.info('tiering pass', { partitions: reports.length, rolled, expired, failed: failed.length, lagMs });
  return { partitions: reports.length, rolled, expired, failed: failed.length };
}
