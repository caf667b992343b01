import { InvalidArgument } from '../errors.ts';
import { validateTopicName } from '../log/topicConfig.ts';

/**
 * The roller's work, cut into units that run independently (fanned out over a queue in AWS): one
 * per partition of every topic, and one for the deleted topics' purge. Every step a unit takes is
 * conditional and resumable, so a unit run twice, or cut short by its deadline, is harmless.
 */
export type WorkUnit =
  | {
      readonly kind: 'partition';
      readonly topic: string;
      readonly topicId: string;
      readonly partition: number;
      /** Also sweep the partition's unreferenced objects (once a day). */
      readonly sweep?: boolean;
      /**
       * Also sweep the topic's batch objects (every hour, object-storage topics, on partition 0's
       * unit): what keeps their bytes in S3 about as long as their batches are hot.
       */
      readonly sweepBatches?: boolean;
    }
  | { readonly kind: 'purge' };

/** A work unit from a queue message's body, checked; `InvalidArgument` when it is not one. */
export function parseWorkUnit(body: string): WorkUnit {
  let unit: unknown;
  try {
    unit = JSON.parse(body);
  } catch {
    throw new InvalidArgument('workUnit', 'a work unit is JSON');
  }
  if (typeof unit !== 'object' || unit === null) throw new InvalidArgument('workUnit', 'a work unit is an object');
  const u = unit as Record<string, unknown>;
  if (u.kind === 'purge' && Object.keys(u).length === 1) return { kind: 'purge' };
  if (u.kind !== 'partition') throw new InvalidArgument('workUnit', 'kind must be "partition" or "purge"');
  validateTopicName(u.topic);
  if (typeof u.topicId !== 'string' || !/^[0-9a-f]{32}$/.test(u.topicId))
    throw new InvalidArgument('workUnit', 'topicId must be a topic id');
  if (!Number.isSafeInteger(u.partition) || (u.partition as number) < 0)
    throw new InvalidArgument('workUnit', 'partition must be a non-negative integer');
  if (u.sweep !== undefined && typeof u.sweep !== 'boolean')
    throw new InvalidArgument('workUnit', 'sweep must be a boolean');
  if (u.sweepBatches !== undefined && typeof u.sweepBatches !== 'boolean')
    throw new InvalidArgument('workUnit', 'sweepBatches must be a boolean');
  return {
    kind: 'partition',
    topic: u.topic,
    topicId: u.topicId,
    partition: u.partition as number,
    ...(u.sweep === true ? { sweep: true } : {}),
    ...(u.sweepBatches === true ? { sweepBatches: true } : {}),
  };
}
