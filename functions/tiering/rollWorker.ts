import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { isSluiceError } from '../../core/errors.ts';
import type { PartitionReport } from '../../core/tiering/tiering.ts';
import { parseWorkUnit } from '../../core/tiering/workUnits.ts';
import { eventHandler } from '../eventHandler.ts';
import { logger, tiering } from '../runtime.ts';
import { publishReports } from './reports.ts';

/** Time left for wrapping up after the last unit (metrics, the response). */
const MARGIN_MS = 20_000;

/**
 * The roll queue's worker: runs the work units the roller planned, one partition (or the purge)
 * each, until its deadline. A unit whose step failed, or that the deadline cut short before it
 * started, is reported back (`batchItemFailures`) so that SQS delivers it again, and after a few
 * attempts moves it to the dead-letter queue (alarmed); the others are done.
 */
export const handler = eventHandler(async (event: SQSEvent, context): Promise<SQSBatchResponse> => {
  const deadline = Date.now() + (context.getRemainingTimeInMillis?.() ?? 300_000) - MARGIN_MS;
  const reports: PartitionReport[] = [];
  const batchItemFailures: { itemIdentifier: string }[] = [];
  for (const record of event.Records) {
    let unit;
    try {
      unit = parseWorkUnit(record.body);
    } catch (e) {
      // Not a unit the roller sends: nothing to retry, so it is dropped (and logged by code only).
      logger.error('not a work unit', { code: isSluiceError(e) ? e.code : 'Unknown' });
      continue;
    }
    if (Date.now() >= deadline) {
      batchItemFailures.push({ itemIdentifier: record.messageId });
      continue;
    }
    try {
      const done = await tiering.runUnit(unit, deadline);
      reports.push(...done);
      if (done.some((r) => r.errors !== undefined)) batchItemFailures.push({ itemIdentifier: record.messageId });
    } catch (e) {
      logger.warn('work unit failed', { kind: unit.kind, code: isSluiceError(e) ? e.code : (e as Error).name });
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  publishReports(reports);
  return { batchItemFailures };
});
