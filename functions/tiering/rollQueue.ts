import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mapWithLimit } from '../../core/async.ts';
import type { WorkUnit } from '../../core/tiering/workUnits.ts';
import { tracer } from '../powertools.ts';

/** SQS takes at most 10 messages per SendMessageBatch. */
const BATCH = 10;

const sqs = tracer.captureAWSv3Client(new SQSClient({}));

/**
 * Sends the roller's work units to its queue, ten per request, and returns how many could not be
 * sent (the next scheduled run plans them again).
 */
export async function sendWorkUnits(queueUrl: string, units: readonly WorkUnit[]): Promise<number> {
  const batches = Array.from({ length: Math.ceil(units.length / BATCH) }, (_, i) =>
    units.slice(i * BATCH, (i + 1) * BATCH),
  );
  const failed = await mapWithLimit(batches, 8, async (batch) => {
    const out = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: batch.map((unit, i) => ({ Id: String(i), MessageBody: JSON.stringify(unit) })),
      }),
    );
    return out.Failed?.length ?? 0;
  });
  return failed.reduce((n, f) => n + f, 0);
}
