import type { DynamoDBStreamEvent } from 'aws-lambda';
import type { TouchedPartition } from '../../core/subscriptions/watchers.ts';
import { eventHandler } from '../eventHandler.ts';
import { notifyWatchers } from './notify.ts';

/**
 * The log table's stream consumer (INSERTs: a batch was appended). Minimal: it rings WebSocket
 * watchers (the stream's keys are `<topicId>#<partition>`, see `logKey`). The subscriptions
 * dispatcher will call `notifyWatchers` from its own handler.
 */
export const handler = eventHandler(async (event: DynamoDBStreamEvent): Promise<void> => {
  await notifyWatchers(touchedPartitions(event));
});

export function touchedPartitions(event: DynamoDBStreamEvent): TouchedPartition[] {
  const touched: TouchedPartition[] = [];
  for (const record of event.Records ?? []) {
    const pk = record.eventName === 'INSERT' ? record.dynamodb?.Keys?.pk?.S : undefined;
    const at = pk?.lastIndexOf('#') ?? -1;
    const partition = at > 0 ? Number(pk!.slice(at + 1)) : NaN;
    if (Number.isSafeInteger(partition)) touched.push({ topicId: pk!.slice(0, at), partition });
  }
  return touched;
}
